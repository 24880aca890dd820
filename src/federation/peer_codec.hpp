#pragma once

// Requests and replies between nodes <-> federation.proto's messages.
// Decoding checks what the wire allows (a request without a body, an
// unknown principal form); the node validates the rest as for any call.

#include "parley/federation/peers.hpp"
#include "parley/v1/federation.pb.h"

namespace parley::federation {

namespace pb = ::parley::v1;

/// Everything but the sequence number, which the link sets when it sends.
void to_pb(const remote_request& r, pb::PeerRequest& out);
expected<remote_request> from_pb(const pb::PeerRequest& r);

void to_pb(const expected<remote_reply>& r, pb::PeerReply& out);
expected<remote_reply> from_pb(const pb::PeerReply& r);

} // namespace parley::federation
