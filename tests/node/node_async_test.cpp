// The asynchronous facade (x_async): calls finish from the actors' answers
// without a thread waiting for each, on an actor's thread, and a stopped
// node answers at once.

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "support/node_fixture.hpp"

namespace parley {
namespace {

using namespace test_support;

constexpr auto silent = behavior_spec::kind::silent;

class NodeAsync : public NodeFixture {};

// Verifies 2,000 sends started from one thread, which never waits for any
// of them, all finish delivered with distinct ids: no thread is held per
// call in flight. (To 8 recipients: 2,000 at once would overflow the inbox
// of one, 1024 by default, and be refused.)
TEST_F(NodeAsync, ManySendsInFlightFromOneThreadAllFinish) {
  std::vector<agent_id> to;
  for (int i = 0; i < 8; ++i)
    to.push_back("bob" + std::to_string(i));
  ASSERT_TRUE(add_agents({"alice"}, silent));
  ASSERT_TRUE(add_agents(to, silent));
  constexpr int n_sends = 2000;
  std::optional<error> first_failure;
  std::mutex mtx;
  std::set<message_id> ids;
  std::atomic<int> done{0};
  for (int i = 0; i < n_sends; ++i)
    start(n().send_async(as_admin, direct_message("alice", to[i % to.size()], "m" + std::to_string(i))),
          [&](expected<message> m) {
            std::lock_guard guard{mtx};
            if (m && m->status == message_status::delivered)
              ids.insert(m->id);
            else if (!first_failure)
              first_failure = m ? error{errc::internal, "status " + std::string{to_string(m->status)}} : m.error();
            ++done;
          });
  ASSERT_TRUE(eventually([&] { return done.load() == n_sends; }, std::chrono::seconds(30)))
    << done.load() << " of " << n_sends << " finished";
  EXPECT_FALSE(first_failure) << first_failure->message;
  EXPECT_EQ(ids.size(), size_t{n_sends});
}

// Verifies a call finishes on the thread of the actor that answered, not
// the caller's, and its result is the same as the blocking form's.
TEST_F(NodeAsync, FinishesOnAnActorThreadWithTheBlockingResult) {
  ASSERT_TRUE(add_agents({"alice"}, silent));
  std::atomic<bool> finished{false};
  std::thread::id on;
  std::optional<expected<manifest>> got;
  start(n().get_manifest_async(as_admin, "alice"), [&](expected<manifest> m) {
    on = std::this_thread::get_id();
    got.emplace(std::move(m));
    finished = true;
  });
  ASSERT_TRUE(eventually([&] { return finished.load(); }));
  EXPECT_NE(on, std::this_thread::get_id());
  ASSERT_TRUE(succeeded(*got));
  auto blocking = n().get_manifest(as_admin, "alice");
  ASSERT_TRUE(succeeded(blocking));
  EXPECT_EQ((*got)->id, blocking->id);
  EXPECT_EQ((*got)->display_name, blocking->display_name);
}

// Verifies failures come back as values: an unknown agent is not_found, a
// forbidden read permission_denied, without waiting for an actor.
TEST_F(NodeAsync, FailuresComeBackAsValues) {
  ASSERT_TRUE(add_agents({"alice"}, silent));
  auto missing = wait(n().get_manifest_async(as_admin, "nobody"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, errc::not_found);
  auto other = wait(n().retire_async(principal::agent("mallory"), "alice"));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, errc::permission_denied);
}

// Verifies a stopped node answers an asynchronous call at once with
// unavailable instead of leaving it pending.
TEST_F(NodeAsync, StoppedNodeAnswersUnavailable) {
  ASSERT_TRUE(add_agents({"alice", "bob"}, silent));
  auto t = n().send_async(as_admin, direct_message("alice", "bob", "late"));
  n().stop();
  auto r = wait(std::move(t));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::unavailable) << r.error().message;
}

} // namespace
} // namespace parley
