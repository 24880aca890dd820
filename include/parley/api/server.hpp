#pragma once

// The public gRPC API of a node (proto/parley/v1/api.proto): the services,
// the standard health service and server reflection, on one listening
// address. Every call is authenticated before any handler runs (a bearer
// token, or a client certificate) and carries its principal into the node,
// which authorizes it (docs/security.md). No gRPC type appears here.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "parley/auth/token.hpp"
#include "parley/error.hpp"
#include "parley/node/node.hpp"

namespace parley::api {

/// Who may call, and how they prove it.
struct auth_options {
  /// The HS256 key bearer tokens are signed with (metadata
  /// `authorization: Bearer <token>`); unset = tokens are not accepted.
  /// Default: unset.
  std::optional<auth::token_key> token_key;
  /// Tokens must name this issuer ("iss") and audience ("aud").
  /// Default: "parley" and "parley".
  std::string issuer = "parley";
  std::string audience = "parley";
  /// Clock skew allowed for a token's exp and nbf, seconds. Default: 30.
  int64_t leeway_s = 30;
  /// PEM bundle of the CAs whose client certificates are accepted (mTLS;
  /// needs TLS): the principal is the certificate's URI SAN "parley:<principal>"
  /// or else its subject CN ("agent:alice", "operator:ci"). Empty = no
  /// client certificates. Default: empty.
  std::string client_ca_file;
  /// Serve a non-loopback address without TLS (tokens then cross the
  /// network in the clear). Default: false.
  bool insecure = false;

  /// True when some credential is configured (a token key or client CAs).
  /// A node without any is a development node: it serves only loopback,
  /// and every caller is the admin "local".
  bool has_credentials() const noexcept { return token_key.has_value() || !client_ca_file.empty(); }
};

/// What one caller can make the server hold. Refusals are RESOURCE_EXHAUSTED
/// with a `retry-after-ms` trailer.
struct api_limits {
  /// Requests per second one principal may make (token bucket), and the
  /// burst it may spend at once. 0 = unlimited. Default: 2000 and 4000.
  double requests_per_second = 2000;
  double request_burst = 4000;
  /// Open streams (event subscriptions and agent links) of one principal.
  /// Default: 32.
  uint32_t streams_per_principal = 32;
  /// Threads gRPC may use for the synchronous calls (each holds one while
  /// it runs; streams and the asynchronous unary calls hold none): the
  /// server refuses new calls beyond. Default: 512.
  int max_threads = 512;
  /// Memory gRPC may use for buffers, bytes. Default: 512 MiB.
  size_t max_memory = size_t{512} << 20;
  /// Principals whose request rate is tracked at once; beyond it, those
  /// with the fullest buckets are forgotten first (a forgotten principal
  /// starts again with a full burst). Default: 100000.
  size_t tracked_principals = 100000;
};

struct server_options {
  /// host:port to listen on; port 0 picks a free port (see port()). Without
  /// TLS only a loopback address is accepted, unless auth.insecure.
  /// Default: "127.0.0.1:7700".
  std::string listen = "127.0.0.1:7700";
  /// PEM files for TLS; both empty = plaintext. Default: empty.
  std::string tls_cert_file;
  std::string tls_key_file;
  auth_options auth;
  api_limits limits;
  /// Largest request accepted, bytes. Default: 1 MiB.
  int max_request_bytes = 1 << 20;
  /// Hint sent with RESOURCE_EXHAUSTED (trailer retry-after-ms). Default: 100.
  int retry_after_ms = 100;
  /// host:port of a second, plaintext port that serves grpc.health.v1 only,
  /// with the API's status (NOT_SERVING while draining): for probes that
  /// cannot speak TLS, such as the kubelet's gRPC probe. No other call is
  /// served there. Empty (the default): none.
  std::string health_listen;
};

/// True for a host part of an address that only this machine reaches
/// (127.0.0.0/8, ::1, localhost).
bool is_loopback(const std::string& listen);

class server {
public:
  /// Starts serving `n` (which must outlive the server). unavailable if the
  /// address cannot be bound; invalid_argument for unreadable TLS files, a
  /// non-loopback address without TLS (and without auth.insecure), or
  /// client CAs without TLS.
  static expected<std::unique_ptr<server>> start(node& n, server_options opt);
  ~server();

  /// The bound port.
  int port() const noexcept;
  /// The bound port of health_listen (0 without one).
  int health_port() const noexcept;
  /// The address clients use, host:port.
  std::string address() const;
  /// A sentence for the log: transport security and how callers are
  /// authenticated.
  std::string security_mode() const;

  /// Graceful shutdown, step 1: new calls get UNAVAILABLE, health says
  /// NOT_SERVING, event streams and links end; calls already running go on.
  void begin_drain();
  bool draining() const noexcept;
  /// Waits for running calls until `deadline`, then cancels the rest.
  void shutdown(std::chrono::milliseconds grace);

  server(const server&) = delete;
  server& operator=(const server&) = delete;

private:
  struct impl;
  explicit server(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

} // namespace parley::api
