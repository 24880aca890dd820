// Client certificates (mTLS): a node with TLS and client CAs takes the
// principal from a verified certificate (a URI SAN "parley:<principal>", or
// the subject's common name), refuses a caller without one, and refuses a
// certificate of another CA at the handshake. The certificates are made
// for each run with the openssl command line tool.

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

std::string slurp(const std::string& path) {
  std::ifstream in{path};
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

// A CA, a server certificate for 127.0.0.1, and client certificates.
struct pki {
  explicit pki(const test::temp_dir& d) : dir(d) {}

  bool make() {
    auto p = [&](const std::string& f) { return dir.sub(f); };
    std::ofstream{p("server.ext")} << "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
    std::ofstream{p("uri.ext")} << "subjectAltName=URI:parley:operator:ci\n";
    return run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=parley-test-ca -keyout "
               + p("ca.key") + " -out " + p("ca.crt"))
           && run("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other-ca -keyout "
                  + p("other.key") + " -out " + p("other.crt"))
           && sign("server", "/CN=localhost", p("server.ext"), "ca")
           && sign("carol", "/CN=agent:carol", "", "ca")
           && sign("ci", "/CN=ignored-when-a-uri-is-set", p("uri.ext"), "ca")
           && sign("bad", "/CN=root", "", "ca")
           && sign("stranger", "/CN=agent:stranger", "", "other");
  }

  bool sign(const std::string& name, const std::string& subject, const std::string& ext,
            const std::string& ca) {
    auto p = [&](const std::string& f) { return dir.sub(f); };
    return run("openssl req -newkey rsa:2048 -nodes -subj " + subject + " -keyout " + p(name + ".key")
               + " -out " + p(name + ".csr"))
           && run("openssl x509 -req -days 1 -in " + p(name + ".csr") + " -CA " + p(ca + ".crt")
                  + " -CAkey " + p(ca + ".key") + " -CAcreateserial -out " + p(name + ".crt")
                  + (ext.empty() ? "" : " -extfile " + ext));
  }

  const test::temp_dir& dir;
};

class MutualTls : public ApiFixture {
protected:
  void SetUp() override {
    if (std::system("openssl version >/dev/null 2>&1") != 0)
      GTEST_SKIP() << "the openssl command is not installed (scripts/setup installs it)";
    ASSERT_TRUE(certs_.make()) << "openssl could not make the test certificates";
    ApiFixture::SetUp();
  }

  void configure_server(api::server_options& o) override {
    o.auth.token_key.reset();
    o.tls_cert_file = certs_dir_.sub("server.crt");
    o.tls_key_file = certs_dir_.sub("server.key");
    o.auth.client_ca_file = certs_dir_.sub("ca.crt");
  }

  // A stub over TLS presenting `cert` (none if empty).
  std::unique_ptr<pb::Admin::Stub> admin_as(const std::string& cert) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = slurp(certs_dir_.sub("ca.crt"));
    if (!cert.empty()) {
      ssl.pem_cert_chain = slurp(certs_dir_.sub(cert + ".crt"));
      ssl.pem_private_key = slurp(certs_dir_.sub(cert + ".key"));
    }
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("localhost");
    auto ch = grpc::CreateCustomChannel(srv().address(), grpc::SslCredentials(ssl), args);
    return pb::Admin::NewStub(ch);
  }

  grpc::Status info(const std::string& cert, pb::NodeInfoResponse& out) {
    return admin_as(cert)->NodeInfo(context_for(std::nullopt).get(), {}, &out);
  }

  test::temp_dir certs_dir_;
  pki certs_{certs_dir_};
};

// Verifies the principal comes from the certificate: its subject CN, or a
// URI SAN "parley:..." when it has one.
TEST_F(MutualTls, PrincipalComesFromTheCertificate) {
  pb::NodeInfoResponse out;
  ASSERT_TRUE(is_ok(info("carol", out)));
  EXPECT_EQ(out.caller(), "agent:carol");
  EXPECT_NE(out.security().find("TLS"), std::string::npos) << out.security();
  ASSERT_TRUE(is_ok(info("ci", out)));
  EXPECT_EQ(out.caller(), "operator:ci");
}

// Verifies a caller without a certificate (and without a token) is
// UNAUTHENTICATED, and one whose certificate names no principal too.
TEST_F(MutualTls, NoOrBadCertificateIsUnauthenticated) {
  pb::NodeInfoResponse out;
  EXPECT_TRUE(is_error(info("", out), StatusCode::UNAUTHENTICATED, {"no credentials"}));
  EXPECT_TRUE(is_error(info("bad", out), StatusCode::UNAUTHENTICATED, {"certificate"}));
}

// Verifies a certificate of a CA the node does not trust never gets a
// call through (the handshake fails).
TEST_F(MutualTls, CertificateOfAnotherCaIsRefused) {
  pb::NodeInfoResponse out;
  auto s = info("stranger", out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error_code(), StatusCode::OK);
  EXPECT_NE(out.caller(), "agent:stranger");
}

// Verifies an agent's certificate acts only as that agent.
TEST_F(MutualTls, CertificateAgentActsOnlyAsItself) {
  for (auto id : {"carol", "dave"})
    ASSERT_TRUE(test_support::succeeded(n().introduce(principal::admin(), test_support::make_spec(id))));
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = slurp(certs_dir_.sub("ca.crt"));
  ssl.pem_cert_chain = slurp(certs_dir_.sub("carol.crt"));
  ssl.pem_private_key = slurp(certs_dir_.sub("carol.key"));
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto msgs = pb::Messages::NewStub(grpc::CreateCustomChannel(srv().address(), grpc::SslCredentials(ssl), args));
  pb::SendRequest req;
  *req.mutable_message() = text_to_agent("carol", "dave", "hi");
  pb::SendResponse out;
  EXPECT_TRUE(is_ok(msgs->Send(context_for(std::nullopt).get(), req, &out)));
  *req.mutable_message() = text_to_agent("dave", "carol", "as dave");
  EXPECT_TRUE(is_error(msgs->Send(context_for(std::nullopt).get(), req, &out), StatusCode::PERMISSION_DENIED,
                       {"agent 'carol' may not"}));
}

} // namespace
} // namespace parley::api_test
