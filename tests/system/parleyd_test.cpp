// parleyd as a real process: clean stop on SIGTERM and SIGINT, and a demo
// population that survives a restart with a data directory.

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
    test::child_process p{{parleyd, "--agents", "20"}};
    ASSERT_TRUE(p.started());
    ASSERT_TRUE(p.wait_for_output("press Ctrl-C to stop", 20s)) << p.output();
    ASSERT_TRUE(p.wait_for_output("messages", 10s)) << "no summary line:\n" << p.output();
    p.signal(sig);
    EXPECT_EQ(p.wait_exit(10s), 0) << p.output();
    EXPECT_NE(p.output().find("stopped:"), std::string::npos) << p.output();
  }
}

// Verifies a population built with --data-dir is recovered by the next start, not built again.
TEST(Parleyd, DemoPopulationSurvivesRestart) {
  test::temp_dir dir;
  {
    test::child_process p{{parleyd, "--data-dir", dir.str(), "--duration", "1"}};
    ASSERT_TRUE(p.started());
    EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
    EXPECT_NE(p.output().find("recovered 0 agents ("), std::string::npos) << p.output();
    EXPECT_NE(p.output().find("demo population: 36 agents, 18 rooms"), std::string::npos)
      << p.output();
  }
  test::child_process p{{parleyd, "--data-dir", dir.str(), "--duration", "1"}};
  ASSERT_TRUE(p.started());
  EXPECT_EQ(p.wait_exit(30s), 0) << p.output();
  EXPECT_NE(p.output().find("recovered 36 agents ("), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("demo population: 36 agents, 18 rooms"), std::string::npos)
    << p.output();
}

// Verifies bad flags and a foreign data directory fail with a message and a non-zero exit.
TEST(Parleyd, RefusesBadConfiguration) {
  {
    test::child_process p{{parleyd, "--durability", "sync"}};
    EXPECT_NE(p.wait_exit(10s), 0);
    EXPECT_NE(p.output().find("data_dir is required"), std::string::npos) << p.output();
  }
  {
    test::child_process p{{parleyd, "--threads", "0"}};
    EXPECT_NE(p.wait_exit(10s), 0);
  }
  test::temp_dir dir;
  { std::ofstream{dir.sub("notes.txt")} << "not a store"; }
  test::child_process p{{parleyd, "--data-dir", dir.str()}};
  EXPECT_EQ(p.wait_exit(10s), 1) << p.output();
  EXPECT_NE(p.output().find("not a Parley store"), std::string::npos) << p.output();
}

} // namespace
} // namespace parley
