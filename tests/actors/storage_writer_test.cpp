#include "actors/storage_writer.hpp"

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

using namespace parley;

namespace {

struct StorageWriter : ::testing::Test {
  void SetUp() override {
    faults = std::make_shared<storage::disk_faults>();
    storage::store_options o;
    o.path = dir.str();
    o.mode = storage::durability::sync;
    o.faults = faults;
    auto s = storage::open_store(o);
    ASSERT_TRUE(s.has_value()) << to_string(s.error());
    store = std::move(*s);
    cfg.set("scheduler.max-threads", size_t{2});
    sys.emplace(cfg);
    writer = sys->spawn<caf::detached>(storage_writer, store.get());
  }

  void TearDown() override {
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    writer = nullptr;
    sys.reset();
  }

  test::temp_dir dir;
  std::shared_ptr<storage::disk_faults> faults;
  std::unique_ptr<storage::state_store> store;
  caf::actor_system_config cfg;
  std::optional<caf::actor_system> sys;
  caf::actor writer;
};

storage::write_batch one_put(int i) {
  storage::write_batch b;
  b.put(storage::column::messages, "k" + std::to_string(i), "v" + std::to_string(i));
  return b;
}

} // namespace

// Verifies every commit is acknowledged after it is readable, and concurrent commits share writes.
TEST_F(StorageWriter, GroupCommitsConcurrentBatches) {
  constexpr int n = 500;
  caf::scoped_actor self{*sys};
  for (int i = 0; i < n; ++i)
    self->send(writer, atoms::commit::value, one_put(i));
  int acked = 0;
  for (int i = 0; i < n; ++i)
    self->receive([&](caf::ok_atom) { ++acked; },
                  [&](caf::error& e) { ADD_FAILURE() << sys->render(e); },
                  caf::after(std::chrono::seconds(30)) >> [&] { ADD_FAILURE() << "no answer"; });
  EXPECT_EQ(acked, n);
  for (int i = 0; i < n; i += 37)
    EXPECT_EQ(store->get(storage::column::messages, "k" + std::to_string(i)).value(),
              std::optional<std::string>{"v" + std::to_string(i)});
  uint64_t commits = 0;
  uint64_t batches = 0;
  self->request(writer, caf::infinite, atoms::writer_stats::value)
    .receive([&](uint64_t c, uint64_t b) {
      commits = c;
      batches = b;
    },
             [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(batches, static_cast<uint64_t>(n));
  // 500 fsyncs one by one would take far longer than queueing 500 sends.
  EXPECT_LT(commits, batches) << "no batch was grouped with another";
}

// Verifies a failing disk fails every batch of the group with storage_failure and writes nothing.
TEST_F(StorageWriter, FailedWriteFailsTheWholeGroup) {
  faults->fail_writes(true);
  caf::scoped_actor self{*sys};
  for (int i = 0; i < 20; ++i)
    self->send(writer, atoms::commit::value, one_put(i));
  int failed = 0;
  for (int i = 0; i < 20; ++i)
    self->receive([&](caf::ok_atom) { ADD_FAILURE() << "a write succeeded on a failing disk"; },
                  [&](caf::error& e) {
                    EXPECT_EQ(from_caf(e, *sys).code, errc::storage_failure);
                    ++failed;
                  },
                  caf::after(std::chrono::seconds(30)) >> [&] { ADD_FAILURE() << "no answer"; });
  EXPECT_EQ(failed, 20);
  faults->fail_writes(false);
  for (int i = 0; i < 20; ++i) {
    auto v = store->get(storage::column::messages, "k" + std::to_string(i));
    ASSERT_TRUE(v.has_value()) << to_string(v.error());
    EXPECT_FALSE(v->has_value());
  }
  // The disk is back: the next commit goes through.
  self->request(writer, caf::infinite, atoms::commit::value, one_put(99))
    .receive([](caf::ok_atom) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_TRUE(store->get(storage::column::messages, "k99").value().has_value());
}
