#include "parley/api/server.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>

#include "api/services.hpp"

namespace parley::api {

namespace {

expected<std::string> read_file(const std::string& path, const char* what) {
  std::ifstream in{path};
  if (!in)
    return unexpected{errc::invalid_argument, std::string{what} + " '" + path + "' cannot be read"};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string host_of(const std::string& listen) {
  auto colon = listen.rfind(':');
  auto host = colon == std::string::npos ? listen : listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return host;
}

// The transport: TLS (with client certificates when CAs are given) and the
// auth processor; plaintext on loopback with gRPC's local credentials (which
// also run the processor and refuse peers that are not on this machine);
// plaintext anywhere only with auth.insecure (then handlers authenticate).
struct transport {
  std::shared_ptr<grpc::ServerCredentials> creds;
  std::string description;
};

expected<transport> make_transport(const server_options& opt, std::shared_ptr<authenticator> auth) {
  const bool tls = !opt.tls_cert_file.empty() || !opt.tls_key_file.empty();
  auto& a = opt.auth;
  std::string who = a.token_key ? "bearer tokens" : "";
  if (!a.client_ca_file.empty())
    who += std::string{who.empty() ? "" : " and "} + "client certificates";
  if (!a.has_credentials())
    who = "none (development node: every caller is the admin 'local')";
  if (tls) {
    if (opt.tls_cert_file.empty() || opt.tls_key_file.empty())
      return unexpected{errc::invalid_argument, "TLS needs both a certificate and a key file"};
    auto cert = read_file(opt.tls_cert_file, "TLS certificate");
    if (!cert)
      return unexpected{cert.error()};
    auto key = read_file(opt.tls_key_file, "TLS key");
    if (!key)
      return unexpected{key.error()};
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    if (!a.client_ca_file.empty()) {
      auto ca = read_file(a.client_ca_file, "client CA bundle");
      if (!ca)
        return unexpected{ca.error()};
      ssl.pem_root_certs = *ca;
      // Optional, but verified when presented: token callers need none.
      ssl.client_certificate_request = GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
    }
    if (!a.has_credentials() && !is_loopback(opt.listen) && !a.insecure)
      return unexpected{errc::invalid_argument,
                        "listen address '" + opt.listen
                          + "' is not loopback and no credentials are configured (a token key or "
                            "client CAs): every caller would be admin; configure credentials, "
                            "listen on 127.0.0.1, or pass --insecure"};
    auto creds = grpc::SslServerCredentials(ssl);
    creds->SetAuthMetadataProcessor(make_auth_processor(std::move(auth)));
    return transport{creds, "TLS; callers authenticated by " + who};
  }
  if (!a.client_ca_file.empty())
    return unexpected{errc::invalid_argument, "client certificates (auth.client_ca_file) need TLS "
                                              "(api.tls_cert_file and api.tls_key_file)"};
  if (is_loopback(opt.listen)) {
    auto creds = grpc::experimental::LocalServerCredentials(LOCAL_TCP);
    creds->SetAuthMetadataProcessor(make_auth_processor(std::move(auth)));
    return transport{creds, "plaintext on loopback (this machine only); callers authenticated by " + who};
  }
  if (!a.insecure)
    return unexpected{errc::invalid_argument,
                      "listen address '" + opt.listen
                        + "' is not loopback: serve it with TLS (api.tls_cert_file, api.tls_key_file), "
                          "or pass --insecure to serve it in plaintext anyway"};
  // gRPC's insecure credentials take no auth processor: the handlers
  // authenticate (the same authenticator, at the start of every call).
  return transport{grpc::InsecureServerCredentials(),
                   "INSECURE: plaintext on a network address; callers authenticated by " + who};
}

} // namespace

bool is_loopback(const std::string& listen) {
  auto host = host_of(listen);
  return host == "localhost" || host == "::1" || host.starts_with("127.");
}

struct server::impl {
  explicit impl(node& n, server_options opt) : st(n, std::move(opt)) {}

  api_state st;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> grpc_server;
  std::unique_ptr<grpc::Server> health_server;
  int port = 0;
  int health_port = 0;
  std::string host;
};

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

server::~server() {
  shutdown(std::chrono::milliseconds(0));
}

expected<std::unique_ptr<server>> server::start(node& n, server_options opt) {
  if (opt.limits.streams_per_principal == 0 || opt.limits.max_threads < 8)
    return unexpected{errc::invalid_argument,
                      "limits: streams_per_principal must be at least 1 and max_threads at least 8"};
  auto p = std::make_unique<impl>(n, opt);
  auto t = make_transport(opt, p->st.auth);
  if (!t)
    return unexpected{t.error()};
  p->st.security = t->description;
  p->st.started_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  p->host = host_of(opt.listen);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder b;
  b.AddListeningPort(opt.listen, t->creds, &p->port);
  b.SetMaxReceiveMessageSize(opt.max_request_bytes);
  // Every sync call holds a thread while it runs (streams and callback
  // calls do not): the quota caps them (new calls beyond it are refused
  // with RESOURCE_EXHAUSTED by gRPC), and the memory gRPC may use for
  // buffers.
  grpc::ResourceQuota quota{"parley-api"};
  quota.SetMaxThreads(opt.limits.max_threads);
  quota.Resize(opt.limits.max_memory);
  b.SetResourceQuota(quota);
  // Notice dead clients (a host gone without closing its link) within a
  // minute, so their agents can link again.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // gRPC sets SO_REUSEPORT by default: a second node started on a port in
  // use would bind it too and silently take half of the connections.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  for (auto make : {make_agents_service, make_rooms_service, make_turns_service,
                    make_messages_service, make_events_service, make_admin_service,
                    make_link_service, make_federation_service}) {
    p->services.push_back(make(p->st));
    b.RegisterService(p->services.back().get());
  }
  p->grpc_server = b.BuildAndStart();
  if (!p->grpc_server || p->port == 0)
    return unexpected{errc::unavailable, "cannot listen on '" + opt.listen
                                           + "' (address in use or not valid?)"};
  p->st.grpc_server = p->grpc_server.get();
  if (!opt.health_listen.empty()) {
    // Only the default health service (EnableDefaultHealthCheckService):
    // plaintext is safe here because nothing but the status is served.
    grpc::ServerBuilder hb;
    hb.AddListeningPort(opt.health_listen, grpc::InsecureServerCredentials(), &p->health_port);
    hb.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    p->health_server = hb.BuildAndStart();
    if (!p->health_server || p->health_port == 0) {
      p->grpc_server->Shutdown(std::chrono::system_clock::now());
      p->grpc_server->Wait();
      return unexpected{errc::unavailable, "cannot listen on '" + opt.health_listen
                                             + "' for health probes (address in use or not valid?)"};
    }
    p->st.health_server = p->health_server.get();
  }
  // A drain that came during the start flips health now.
  if (p->st.draining)
    p->st.begin_drain();
  return std::unique_ptr<server>(new server(std::move(p)));
}

int server::port() const noexcept {
  return impl_->port;
}

int server::health_port() const noexcept {
  return impl_->health_port;
}

std::string server::address() const {
  return impl_->host + ":" + std::to_string(impl_->port);
}

std::string server::security_mode() const {
  return impl_->st.security;
}

void server::begin_drain() {
  impl_->st.begin_drain();
}

bool server::draining() const noexcept {
  return impl_->st.draining.load();
}

void server::shutdown(std::chrono::milliseconds grace) {
  if (!impl_->grpc_server)
    return;
  begin_drain();
  impl_->grpc_server->Shutdown(std::chrono::system_clock::now() + grace);
  impl_->grpc_server->Wait();
  impl_->st.grpc_server = nullptr;
  impl_->grpc_server.reset();
  if (impl_->health_server) {
    impl_->health_server->Shutdown(std::chrono::system_clock::now());
    impl_->health_server->Wait();
    impl_->st.health_server = nullptr;
    impl_->health_server.reset();
  }
}

} // namespace parley::api
