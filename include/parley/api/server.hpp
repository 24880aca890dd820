#pragma once

// The public gRPC API of a node (proto/parley/v1/api.proto): the services,
// the standard health service and server reflection, on one listening
// address. No gRPC type appears here.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "parley/error.hpp"
#include "parley/node/node.hpp"

namespace parley::api {

struct server_options {
  /// host:port to listen on; port 0 picks a free port (see port()).
  /// Default: "127.0.0.1:7700".
  std::string listen = "127.0.0.1:7700";
  /// PEM files for TLS; both empty = plaintext. Default: empty.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// Callers presenting this token (metadata parley-admin-token) are
  /// admins. Empty: every caller is an admin (a development node).
  /// Default: empty.
  std::string admin_token;
  /// Largest request accepted, bytes. Default: 1 MiB.
  int max_request_bytes = 1 << 20;
  /// Hint sent with RESOURCE_EXHAUSTED (trailer retry-after-ms). Default: 100.
  int retry_after_ms = 100;
};

class server {
public:
  /// Starts serving `n` (which must outlive the server). unavailable if the
  /// address cannot be bound; invalid_argument for unreadable TLS files.
  static expected<std::unique_ptr<server>> start(node& n, server_options opt);
  ~server();

  /// The bound port.
  int port() const noexcept;
  /// The address clients use, host:port.
  std::string address() const;

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
