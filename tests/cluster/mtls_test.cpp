// Node identity from mutual TLS: two nodes with TLS on their API ports,
// client certificates required (no token key at all), each presenting its
// node certificate (URI SAN parley:node:<id>) on its links. They carry
// calls between them; a certificate links only as the node it names; an
// agent's certificate cannot link; a caller without a certificate is
// refused. The certificates are made for each run with openssl.

#include "cluster/cluster_fixture.hpp"

#include <cstdlib>

namespace parley::cluster_test {
namespace {

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

std::string slurp(const std::filesystem::path& file) {
  std::ifstream in{file};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class MutualTls : public Federation {
protected:
  void SetUp() override {
    pki_ = std::filesystem::temp_directory_path() / ("parley-mtls-" + std::to_string(::getpid()));
    std::filesystem::remove_all(pki_);
    std::filesystem::create_directories(pki_);
    ASSERT_TRUE(run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=parley-test-ca -keyout "
                    + p("ca.key") + " -out " + p("ca.crt")));
    for (auto& id : node_names())
      ASSERT_TRUE(sign(id, "/CN=node:" + id, "IP:127.0.0.1,DNS:localhost,URI:parley:node:" + id));
    ASSERT_TRUE(sign("admin", "/CN=admin:test", ""));
    ASSERT_TRUE(sign("carol", "/CN=agent:carol", ""));
    Federation::SetUp();
    if (HasFatalFailure())
      return;
    // The test calls as an admin with a certificate.
    for (auto& n : nodes_)
      n->channel = channel_to(*n, "admin");
  }

  void TearDown() override {
    Federation::TearDown();
    std::filesystem::remove_all(pki_);
  }

  std::vector<std::string> args_of(const std::string& id) override {
    auto config = pki_ / (id + ".yaml");
    std::ofstream(config) << "cluster:\n  peer_ca_file: " << p("ca.crt") << "\n  peer_cert_file: " << p(id + ".crt")
                          << "\n  peer_key_file: " << p(id + ".key") << "\n";
    return {"--config", config.string(), "--tls-cert", p(id + ".crt"), "--tls-key", p(id + ".key"), "--client-ca",
            p("ca.crt")};
  }

  std::string p(const std::string& file) const { return (pki_ / file).string(); }

  bool sign(const std::string& name, const std::string& subject, const std::string& san) {
    if (!san.empty())
      std::ofstream(p(name + ".ext")) << "subjectAltName=" << san << "\n";
    return run("openssl req -newkey rsa:2048 -nodes -subj " + subject + " -keyout " + p(name + ".key") + " -out "
               + p(name + ".csr"))
           && run("openssl x509 -req -days 1 -in " + p(name + ".csr") + " -CA " + p("ca.crt") + " -CAkey " + p("ca.key")
                  + " -CAcreateserial -out " + p(name + ".crt") + (san.empty() ? "" : " -extfile " + p(name + ".ext")));
  }

  // A TLS channel to `n` presenting the certificate `who` (empty: none).
  std::shared_ptr<grpc::Channel> channel_to(const node_process& n, const std::string& who) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = slurp(p("ca.crt"));
    if (!who.empty()) {
      ssl.pem_cert_chain = slurp(p(who + ".crt"));
      ssl.pem_private_key = slurp(p(who + ".key"));
    }
    return grpc::CreateChannel(n.address, grpc::SslCredentials(ssl));
  }

  // The status a raw link presenting `who` ends with after a hello as `as`.
  grpc::Status link_as(const std::string& who, const std::string& as) {
    raw_link link(channel_to(node("node-b"), who));
    pb::PeerFrame hello;
    hello.mutable_hello()->set_node(as);
    hello.mutable_hello()->set_session(9);
    (void) link.stream->Write(hello);
    pb::PeerFrame in;
    while (link.stream->Read(&in)) {
    }
    return link.stream->Finish();
  }

  std::filesystem::path pki_;
};

// Verifies nodes whose only credentials are their certificates carry a message between them.
TEST_F(MutualTls, NodesCarryCallsWithTheirCertificatesAlone) {
  auto [a, b] = one_id_on_each();
  for (auto& id : {a, b})
    ASSERT_TRUE(introduce(node("node-a"), id, pb::Behavior::KIND_EXTERNAL).ok()) << id;
  pb::SendResponse sent;
  auto s = send(node("node-a"), a, b, "t1", "over mutual TLS", &sent);
  ASSERT_TRUE(s.ok()) << s.error_message();
  auto got = inbox(node("node-b"), b);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].content(), "over mutual TLS");
  EXPECT_EQ(got[0].from(), a);
}

// Verifies a node's certificate links only as that node, an agent's certificate not at all, and no certificate is
// unauthenticated.
TEST_F(MutualTls, ACertificateLinksOnlyAsTheNodeItNames) {
  auto s = link_as("node-a", "node-b");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("cannot link as node 'node-b'"), std::string::npos) << s.error_message();

  s = link_as("carol", "node-a");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("only nodes"), std::string::npos) << s.error_message();

  s = link_as("", "node-a");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();

  // A node's certificate opens no other door.
  grpc::ClientContext ctx;
  pb::Manifest out;
  pb::GetManifestRequest req;
  req.set_agent("anyone");
  s = pb::Agents::NewStub(channel_to(node("node-b"), "node-a"))->GetManifest(&ctx, req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
}

// Verifies a node that wants certificates from its callers but has neither a certificate nor a token key for its own
// links refuses to start, naming what to set.
TEST_F(MutualTls, ANodeWithoutCredentialsForItsLinksDoesNotStart) {
  node_process lost(etcd_, "node-c", (dir_ / "node-c").string(), 3,
                    {"--tls-cert", p("node-a.crt"), "--tls-key", p("node-a.key"), "--client-ca", p("ca.crt")});
  EXPECT_EQ(lost.proc.wait_exit(20s), 1) << lost.proc.output();
  EXPECT_NE(lost.proc.output().find("cluster.peer_cert_file"), std::string::npos) << lost.proc.output();
}

} // namespace
} // namespace parley::cluster_test
