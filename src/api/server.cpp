#include "parley/api/server.hpp"

#include <fstream>
#include <sstream>
#include <vector>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>

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

expected<std::shared_ptr<grpc::ServerCredentials>> credentials(const server_options& opt) {
  if (opt.tls_cert_file.empty() && opt.tls_key_file.empty())
    return grpc::InsecureServerCredentials();
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
  return grpc::SslServerCredentials(ssl);
}

} // namespace

struct server::impl {
  explicit impl(node& n, server_options opt) : st{n, std::move(opt), 0, {}, {}} {}

  api_state st;
  std::vector<std::unique_ptr<grpc::Service>> services;
  std::unique_ptr<grpc::Server> grpc_server;
  int port = 0;
  std::string host;
};

server::server(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

server::~server() {
  shutdown(std::chrono::milliseconds(0));
}

expected<std::unique_ptr<server>> server::start(node& n, server_options opt) {
  auto creds = credentials(opt);
  if (!creds)
    return unexpected{creds.error()};
  auto p = std::make_unique<impl>(n, opt);
  p->st.started_at = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  p->host = opt.listen.substr(0, opt.listen.rfind(':'));
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder b;
  b.AddListeningPort(opt.listen, *creds, &p->port);
  b.SetMaxReceiveMessageSize(opt.max_request_bytes);
  // Notice dead clients (a host gone without closing its link) within a
  // minute, so their agents can link again.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  for (auto make : {make_agents_service, make_rooms_service, make_turns_service,
                    make_messages_service, make_events_service, make_admin_service,
                    make_link_service}) {
    p->services.push_back(make(p->st));
    b.RegisterService(p->services.back().get());
  }
  p->grpc_server = b.BuildAndStart();
  if (!p->grpc_server || p->port == 0)
    return unexpected{errc::unavailable, "cannot listen on '" + opt.listen
                                           + "' (address in use or not valid?)"};
  auto* raw = p.get();
  p->st.begin_drain = [raw] {
    raw->st.draining = true;
    if (auto* health = raw->grpc_server->GetHealthCheckService())
      health->SetServingStatus(false);
  };
  return std::unique_ptr<server>(new server(std::move(p)));
}

int server::port() const noexcept {
  return impl_->port;
}

std::string server::address() const {
  return impl_->host + ":" + std::to_string(impl_->port);
}

void server::begin_drain() {
  if (impl_->grpc_server)
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
  impl_->grpc_server.reset();
}

} // namespace parley::api
