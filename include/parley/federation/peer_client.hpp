#pragma once

// The gRPC peer transport: one long-lived Federation.Link stream to each
// peer node, opened on first use, fed from a bounded in-memory outbox of
// numbered requests in batches, and opened again after a failure (backoff
// up to 1 s), resending every request not yet answered, in order.
// docs/federation.md has the protocol and what is not built yet (the
// durable outbox).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "parley/federation/peers.hpp"

namespace parley::federation {

struct peer_client_options {
  /// This node's name, sent in each link's hello.
  std::string node;
  /// host:port of a peer node by name; empty while it is unknown (not a
  /// member): its requests then wait in the outbox.
  std::function<std::string(const std::string& node)> address_of;
  /// Called for each stream it opens: a token sent as "authorization:
  /// Bearer <token>" (empty: none). A function, so that a long-lived link
  /// presents a fresh token each time.
  std::function<std::string()> bearer_token;
  /// PEM file of the CA that signed the peers' server certificates; empty =
  /// plaintext (loopback or a private network only).
  std::string tls_ca_file;
  /// PEM certificate and key this node presents to its peers (mutual TLS):
  /// its identity there (URI SAN "parley:node:<id>" or CN "node:<id>").
  /// Empty: none (the peers then need a token from it).
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Requests waiting for one peer (sent or not, unanswered), and their
  /// bytes: beyond either, call() answers overloaded at once.
  size_t max_pending = 100000;
  size_t max_pending_bytes = size_t{64} << 20;
  /// Requests written in one frame at most.
  size_t batch = 128;
  /// How long a peer may be out of the network (no address) before the
  /// requests waiting for it are answered unavailable.
  std::chrono::milliseconds forget_after{3000};
};

/// The transport; it stops its links when destroyed (unanswered requests
/// then get unavailable).
expected<std::shared_ptr<peer_transport>> make_peer_client(peer_client_options opts);

} // namespace parley::federation
