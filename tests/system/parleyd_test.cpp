// parleyd as a real process: clean stop on SIGTERM and SIGINT, and a demo
// population that survives a restart with a data directory.

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace parley {
namespace {

using namespace std::chrono_literals;

const std::string parleyd = PARLEYD_PATH;

// Verifies SIGTERM and SIGINT stop a running daemon with exit code 0 within a bounded time.
TEST(Parleyd, StopsCleanlyOnSignals) {
  for (int sig : {SIGTERM, SIGINT}) {
    test::child_process p{{parleyd, "--listen", "127.0.0.1:0", "--agents", "20"}};
    ASSERT_TRUE(p.started());
    ASSERT_TRUE(p.wait_for_output("press Ctrl-C to stop", 20s)) << p.output();
    ASSERT_TRUE(p.wait_for_output("messages", 10s)) << "no summary line:\n" << p.output();
    p.signal(sig);
    EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
    EXPECT_NE(p.output().find("stopped in"), std::string::npos) << p.output();
  }
}

// Verifies a population built with --data-dir is recovered by the next start, not built again.
TEST(Parleyd, DemoPopulationSurvivesRestart) {
  test::temp_dir dir;
  {
    test::child_process p{{parleyd, "--listen", "127.0.0.1:0", "--data-dir", dir.str(), "--duration", "1"}};
    ASSERT_TRUE(p.started());
    EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
    EXPECT_NE(p.output().find("recovered 0 agents ("), std::string::npos) << p.output();
    EXPECT_NE(p.output().find("demo population: 36 agents, 18 rooms"), std::string::npos)
      << p.output();
  }
  test::child_process p{{parleyd, "--listen", "127.0.0.1:0", "--data-dir", dir.str(), "--duration", "1"}};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
  EXPECT_NE(p.output().find("recovered 36 agents ("), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("demo population: 36 agents, 18 rooms"), std::string::npos)
    << p.output();
}

// Verifies bad flags and a foreign data directory fail with a message and a non-zero exit.
TEST(Parleyd, RefusesBadConfiguration) {
  {
    test::child_process p{{parleyd, "--no-api", "--durability", "sync"}};
    EXPECT_NE(p.wait_exit(10s), 0);
    EXPECT_NE(p.output().find("data_dir is required"), std::string::npos) << p.output();
  }
  {
    test::child_process p{{parleyd, "--no-api", "--threads", "0"}};
    EXPECT_NE(p.wait_exit(10s), 0);
  }
  test::temp_dir dir;
  { std::ofstream{dir.sub("notes.txt")} << "not a store"; }
  test::child_process p{{parleyd, "--no-api", "--data-dir", dir.str()}};
  EXPECT_EQ(p.wait_exit(10s), 1) << p.output();
  EXPECT_NE(p.output().find("not a Parley store"), std::string::npos) << p.output();
}

// Verifies a config file sets the daemon up, flags override it, and a bad one is refused naming the key.
TEST(Parleyd, ReadsItsConfigFile) {
  test::temp_dir dir;
  {
    std::ofstream{dir.sub("good.yaml")} << "node:\n  id: yaml-node\n  threads: 1\n"
                                           "api:\n  listen: 127.0.0.1:0\n"
                                           "demo:\n  agents: 4\n  group_rooms: 1\n  direct_rooms: 1\n";
    test::child_process p{{parleyd, "--config", dir.sub("good.yaml"), "--seed", "7", "--duration", "1"}};
    EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
    EXPECT_NE(p.output().find("node 'yaml-node' started with 1 scheduler threads"), std::string::npos)
      << p.output();
    EXPECT_NE(p.output().find("gRPC API listening on 127.0.0.1:"), std::string::npos) << p.output();
    EXPECT_NE(p.output().find("demo population: 4 agents"), std::string::npos) << p.output();
  }
  {
    std::ofstream{dir.sub("typo.yaml")} << "node:\n  treads: 4\n";
    test::child_process p{{parleyd, "--config", dir.sub("typo.yaml")}};
    EXPECT_EQ(p.wait_exit(10s), 2) << p.output();
    EXPECT_NE(p.output().find("unknown setting 'node.treads'"), std::string::npos) << p.output();
  }
  {
    std::ofstream{dir.sub("type.yaml")} << "node:\n  threads: many\n";
    test::child_process p{{parleyd, "--config", dir.sub("type.yaml")}};
    EXPECT_EQ(p.wait_exit(10s), 2) << p.output();
    EXPECT_NE(p.output().find("'node.threads' has a value of the wrong type"), std::string::npos)
      << p.output();
  }
  test::child_process p{{parleyd, "--config", dir.sub("missing.yaml")}};
  EXPECT_EQ(p.wait_exit(10s), 2) << p.output();
  EXPECT_NE(p.output().find("cannot be read"), std::string::npos) << p.output();
}

// Verifies the README's run command works on a fresh checkout: `make run`
// starts parleyd with --config nodes/configs/demo.yaml from the checkout's
// top, whose data directory (data/demo-node) does not exist yet. Before, the
// store could not be created because data/ was missing.
TEST(Parleyd, RunsTheReadmeCommandOnAFreshCheckout) {
  test::temp_dir checkout;
  std::filesystem::create_directories(checkout.sub("nodes/configs"));
  std::filesystem::copy_file(std::string{PARLEY_SOURCE_DIR} + "/nodes/configs/demo.yaml",
                             checkout.sub("nodes/configs/demo.yaml"));
  ASSERT_FALSE(std::filesystem::exists(checkout.sub("data")));
  // As the Makefile runs it (RUN_ARGS), on a free port, for two seconds.
  test::child_process p{{parleyd, "--config", "nodes/configs/demo.yaml", "--listen", "127.0.0.1:0",
                         "--duration", "2"},
                        checkout.str()};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(60s), 0) << p.output();
  EXPECT_NE(p.output().find("demo population"), std::string::npos) << p.output();
  EXPECT_TRUE(std::filesystem::is_directory(checkout.sub("data/demo-node"))) << p.output();
}

// Verifies a node serves a network address only with TLS (or an explicit,
// loud --insecure), and says in its log how callers are authenticated.
TEST(Parleyd, ServesANetworkAddressOnlyWhenToldHow) {
  {
    test::child_process p{{parleyd, "--no-demo", "--listen", "0.0.0.0:0"}};
    EXPECT_EQ(p.wait_exit(20s), 1) << p.output();
    EXPECT_NE(p.output().find("not loopback"), std::string::npos) << p.output();
    EXPECT_NE(p.output().find("--insecure"), std::string::npos) << p.output();
  }
  test::child_process p{{parleyd, "--no-demo", "--listen", "0.0.0.0:0", "--insecure"}};
  ASSERT_TRUE(p.wait_for_output("gRPC API listening", 20s)) << p.output();
  EXPECT_NE(p.output().find("*** --insecure"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("INSECURE"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("development node"), std::string::npos) << p.output();
  p.signal(SIGTERM);
  EXPECT_EQ(p.wait_exit(20s), 0) << p.output();
}

// Verifies the token key comes from a file or the environment, that the
// log says tokens are required, and that the key is never printed, not
// even when it is refused.
TEST(Parleyd, TakesTheTokenKeyWithoutEverPrintingIt) {
  test::temp_dir dir;
  const std::string key = "k3y-that-must-never-be-logged-0123456789abcdef";
  { std::ofstream{dir.sub("key")} << key << "\n"; }
  for (auto how : {0, 1}) {
    auto args = std::vector<std::string>{parleyd, "--no-demo", "--listen", "127.0.0.1:0", "--duration", "1"};
    std::vector<std::string> env;
    if (how == 0) {
      args.insert(args.end(), {"--token-key-file", dir.sub("key")});
    } else {
      env.push_back("PARLEY_TOKEN_KEY=" + key);
    }
    test::child_process p{args, {}, env};
    EXPECT_EQ(p.wait_exit(20s), 0) << p.output();
    EXPECT_NE(p.output().find("callers authenticated by bearer tokens"), std::string::npos) << p.output();
    EXPECT_EQ(p.output().find(key), std::string::npos) << "the key was printed";
  }
  { std::ofstream{dir.sub("short")} << "short-secret\n"; }
  test::child_process p{{parleyd, "--no-demo", "--token-key-file", dir.sub("short")}};
  EXPECT_EQ(p.wait_exit(20s), 2) << p.output();
  EXPECT_NE(p.output().find("auth.token_key_file"), std::string::npos) << p.output();
  EXPECT_EQ(p.output().find("short-secret"), std::string::npos) << p.output();
}

} // namespace
} // namespace parley
