#include "actors/storage_writer.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "support/temp_dir.hpp"
#include "support/test_store.hpp"

using namespace parley;

namespace {

struct StorageWriter : ::testing::Test {
  void SetUp() override {
    faults = std::make_shared<storage::disk_faults>();
    store = test::open_test_store(dir.str(), faults);
    ASSERT_TRUE(store);
    cfg.set("scheduler.max-threads", size_t{2});
    sys.emplace(cfg);
    writer = sys->spawn<caf::detached>(storage_writer, store.get(), nullptr, &deferred);
  }

  void TearDown() override {
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    writer = nullptr;
    sys.reset();
  }

  test::temp_dir dir;
  std::shared_ptr<storage::disk_faults> faults;
  std::unique_ptr<storage::state_store> store;
  deferred_writes deferred;
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
    self->receive([&](commit_outcome&) { ++acked; },
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
    self->receive([&](commit_outcome&) { ADD_FAILURE() << "a write succeeded on a failing disk"; },
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
    .receive([](commit_outcome&) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_TRUE(store->get(storage::column::messages, "k99").value().has_value());
}

// Verifies a batch guarded by require_absent is written only while its key
// is absent, also when the key comes from an earlier batch of the same
// group; a refused batch writes nothing and answers the value found.
TEST_F(StorageWriter, PreconditionRefusesAPresentKey) {
  caf::scoped_actor self{*sys};
  auto guarded = [](const std::string& tag) {
    storage::write_batch b;
    b.put(storage::column::attention, "key", "first-" + tag);
    b.put(storage::column::messages, "msg-" + tag, tag);
    b.require_absent(storage::column::attention, "key");
    return b;
  };
  // Queued together: one group, the second sees the first's put.
  self->send(writer, atoms::commit::value, guarded("a"));
  self->send(writer, atoms::commit::value, guarded("b"));
  std::vector<std::optional<std::string>> found;
  for (int i = 0; i < 2; ++i)
    self->receive([&](commit_outcome& o) { found.push_back(o.already_present); },
                  [&](caf::error& e) { ADD_FAILURE() << sys->render(e); },
                  caf::after(std::chrono::seconds(30)) >> [&] { ADD_FAILURE() << "no answer"; });
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], std::nullopt);
  EXPECT_EQ(found[1], std::optional<std::string>{"first-a"});
  EXPECT_TRUE(store->get(storage::column::messages, "msg-a").value().has_value());
  EXPECT_FALSE(store->get(storage::column::messages, "msg-b").value().has_value());
  // A predicate may say a value found does not count (an expired key).
  storage::write_batch late;
  late.put(storage::column::attention, "key", "second");
  late.require_absent(storage::column::attention, "key", [](std::string_view v) { return v != "first-a"; });
  self->request(writer, caf::infinite, atoms::commit::value, std::move(late))
    .receive([](commit_outcome& o) { EXPECT_EQ(o.already_present, std::nullopt); },
             [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(store->get(storage::column::attention, "key").value(), std::optional<std::string>{"second"});
}

// Verifies read-modify-writes see the batches committed before them (also
// in the same group) and their own batch's puts, and can delete.
TEST_F(StorageWriter, ModifyReadsTheLatestValue) {
  caf::scoped_actor self{*sys};
  auto append = [](const std::string& x) {
    storage::write_batch b;
    b.modify(storage::column::meta, "list", [x](const std::optional<std::string>& old) {
      return std::optional<std::string>{old.value_or("") + x};
    });
    return b;
  };
  for (auto x : {"a", "b", "c"})
    self->send(writer, atoms::commit::value, append(x));
  for (int i = 0; i < 3; ++i)
    self->receive([](commit_outcome&) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); },
                  caf::after(std::chrono::seconds(30)) >> [&] { ADD_FAILURE() << "no answer"; });
  EXPECT_EQ(store->get(storage::column::meta, "list").value(), std::optional<std::string>{"abc"});
  storage::write_batch own;
  own.put(storage::column::meta, "list", "x");
  own.modify(storage::column::meta, "list", [](const std::optional<std::string>& old) {
    return std::optional<std::string>{old.value_or("?") + "y"};
  });
  own.modify(storage::column::meta, "gone", [](const std::optional<std::string>&) {
    return std::optional<std::string>{};
  });
  self->request(writer, caf::infinite, atoms::commit::value, std::move(own))
    .receive([](commit_outcome&) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(store->get(storage::column::meta, "list").value(), std::optional<std::string>{"xy"});
  EXPECT_FALSE(store->get(storage::column::meta, "gone").value().has_value());
}

// Verifies a later batch of the same group sees the group's last change of
// a key: a delete after a put, and a range erase after a put, make the key
// absent for its precondition.
TEST_F(StorageWriter, PreconditionsSeeDeletesAndRangeErasesOfTheGroup) {
  caf::scoped_actor self{*sys};
  storage::write_batch put;
  put.put(storage::column::inbox, "a-1", "x");
  put.put(storage::column::inbox, "b-1", "x");
  storage::write_batch drop;
  drop.erase(storage::column::inbox, "a-1");
  drop.erase_range(storage::column::inbox, "b-", "b-~");
  auto guarded = [](const std::string& key) {
    storage::write_batch b;
    b.require_absent(storage::column::inbox, key);
    b.put(storage::column::meta, "saw-" + key, "absent");
    return b;
  };
  // Queued together: one group.
  self->send(writer, atoms::commit::value, std::move(put));
  self->send(writer, atoms::commit::value, std::move(drop));
  self->send(writer, atoms::commit::value, guarded("a-1"));
  self->send(writer, atoms::commit::value, guarded("b-1"));
  std::vector<std::optional<std::string>> found;
  for (int i = 0; i < 4; ++i)
    self->receive([&](commit_outcome& o) { found.push_back(o.already_present); },
                  [&](caf::error& e) { ADD_FAILURE() << sys->render(e); },
                  caf::after(std::chrono::seconds(30)) >> [&] { ADD_FAILURE() << "no answer"; });
  ASSERT_EQ(found.size(), 4u);
  EXPECT_EQ(found[2], std::nullopt) << "the delete of a-1 was not seen";
  EXPECT_EQ(found[3], std::nullopt) << "the range erase of b-1 was not seen";
  EXPECT_TRUE(store->get(storage::column::meta, "saw-a-1").value().has_value());
  EXPECT_TRUE(store->get(storage::column::meta, "saw-b-1").value().has_value());
}

storage::write_batch put_of(const std::string& key, const std::string& value) {
  storage::write_batch b;
  b.put(storage::column::meta, key, value);
  return b;
}

// Verifies changes written behind are written with the next group commit,
// before the batches queued for it: a queued batch's newer value of the
// same key wins.
TEST_F(StorageWriter, DeferredChangesGoFirstInTheNextGroup) {
  caf::scoped_actor self{*sys};
  EXPECT_TRUE(deferred.add(put_of("k", "older")));
  EXPECT_FALSE(deferred.add(put_of("d", "behind"))) << "a second change reported an empty queue";
  self->request(writer, caf::infinite, atoms::commit::value, put_of("k", "newer"))
    .receive([](commit_outcome&) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(store->get(storage::column::meta, "k").value(), std::optional<std::string>{"newer"});
  EXPECT_EQ(store->get(storage::column::meta, "d").value(), std::optional<std::string>{"behind"});
  EXPECT_TRUE(deferred.take().empty());
}

// Verifies a flush writes changes written behind when no commit is queued.
TEST_F(StorageWriter, AFlushWritesDeferredChangesAlone) {
  caf::scoped_actor self{*sys};
  deferred.add(put_of("alone", "1"));
  self->send(writer, atoms::flush::value);
  bool written = false;
  for (int i = 0; i < 500 && !written; ++i) {
    written = store->get(storage::column::meta, "alone").value() == std::optional<std::string>{"1"};
    if (!written)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(written) << "the deferred change was not written";
}

// Verifies a failed write keeps the changes written behind for the next
// write instead of dropping them.
TEST_F(StorageWriter, AFailedWriteKeepsDeferredChanges) {
  caf::scoped_actor self{*sys};
  faults->fail_writes(true);
  deferred.add(put_of("kept", "1"));
  self->request(writer, caf::infinite, atoms::commit::value, one_put(1))
    .receive([](commit_outcome&) { ADD_FAILURE() << "a write succeeded on a failing disk"; },
             [](caf::error&) {});
  faults->fail_writes(false);
  EXPECT_FALSE(store->get(storage::column::meta, "kept").value().has_value());
  self->request(writer, caf::infinite, atoms::commit::value, one_put(2))
    .receive([](commit_outcome&) {}, [&](caf::error& e) { ADD_FAILURE() << sys->render(e); });
  EXPECT_EQ(store->get(storage::column::meta, "kept").value(), std::optional<std::string>{"1"});
}
