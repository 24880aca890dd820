#pragma once

// The direct messages of a pair whose agents live on two nodes: each node
// keeps what its own agent received (docs/federation.md).

#include "node/node_impl.hpp"

namespace parley {

/// What this node keeps of the pair (a, b): the messages its agent `a`
/// received (and any other of the pair stored here). not_found if `a` is
/// not an agent of this node; failed_precondition without a store.
expected<history_page> kept_pair_history(node::impl& im, const agent_id& a, const agent_id& b,
                                         const history_query& q);

} // namespace parley
