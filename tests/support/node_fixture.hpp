#pragma once

// Shared helpers for the node tests: a fixture that runs a node on a manual
// clock, an event recorder that lets a test wait (bounded, no sleeps) for an
// event, a gate for custom behaviours that must block, and assertion helpers
// for expected<T>.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parley/node/node.hpp"
#include "parley/storage/disk_faults.hpp"
#include "parley/storage/state_store.hpp"

namespace parley {

// gtest prints unknown enums as numbers; these make failures readable.
inline void PrintTo(errc x, std::ostream* os) {
  *os << to_string(x);
}
inline void PrintTo(event_kind x, std::ostream* os) {
  *os << to_string(x);
}
inline void PrintTo(agent_status x, std::ostream* os) {
  *os << to_string(x);
}
inline void PrintTo(room_role x, std::ostream* os) {
  *os << to_string(x);
}
inline void PrintTo(message_status x, std::ostream* os) {
  *os << to_string(x);
}

} // namespace parley

namespace parley::test_support {

/// The principal tests act as unless they test authorization.
inline const principal as_admin = principal::admin("tests");

/// How long a test waits for an asynchronous effect before it fails.
inline constexpr std::chrono::milliseconds wait_timeout{5000};

// -- expected<T> assertions ---------------------------------------------------

template <class T>
::testing::AssertionResult succeeded(const expected<T>& r) {
  if (r)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "failed with " << to_string(r.error());
}

/// Passes when `r` failed with `code` and its message contains every needle.
template <class T>
::testing::AssertionResult fails_with(const expected<T>& r, errc code,
                                      std::vector<std::string_view> needles = {}) {
  if (r)
    return ::testing::AssertionFailure() << "succeeded, expected " << to_string(code);
  if (r.error().code != code)
    return ::testing::AssertionFailure()
           << "failed with " << to_string(r.error()) << ", expected " << to_string(code);
  for (auto n : needles)
    if (r.error().message.find(n) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message \"" << r.error().message << "\" lacks \"" << n << "\"";
  return ::testing::AssertionSuccess();
}

// -- events -------------------------------------------------------------------

using event_predicate = std::function<bool(const event&)>;

/// Matches `kind`, and `agent` / `room` / `detail` when they are not empty.
inline event_predicate is_event(event_kind kind, std::string agent = {}, std::string room = {},
                                std::string detail = {}) {
  return [=](const event& e) {
    return e.kind == kind && (agent.empty() || e.agent == agent)
           && (room.empty() || e.room == room) && (detail.empty() || e.detail == detail);
  };
}

/// A message_delivered event of message `from`/`id` into `to`'s inbox.
inline event_predicate delivered_to(std::string to, std::string from, std::string id) {
  return is_event(event_kind::message_delivered, std::move(to), {}, from + "/" + id);
}

/// Records the events of one subscription: pulls them from the node's
/// event_stream on the thread that asks (no thread of its own). Must not
/// outlive its node (declare it after the node, or detach() first).
class event_recorder {
public:
  event_recorder() = default;
  event_recorder(const event_recorder&) = delete;
  event_recorder& operator=(const event_recorder&) = delete;

  /// Subscribes to `mask` on `n` (from_seq as subscription_spec) as `who`.
  expected<void> attach(node& n, topic_mask mask = all_topics, uint64_t from_seq = 0,
                        const principal& who = principal::admin("tests")) {
    subscription_spec spec;
    spec.topics = mask;
    spec.from_seq = from_seq;
    auto s = n.subscribe(who, spec);
    if (!s)
      return unexpected{s.error()};
    std::lock_guard guard{mtx_};
    stream_ = std::move(*s);
    return {};
  }

  expected<void> detach() {
    std::lock_guard guard{mtx_};
    stream_.reset();
    return {};
  }

  std::vector<event> events() {
    std::lock_guard guard{mtx_};
    pull(std::chrono::milliseconds(0));
    return events_;
  }

  std::vector<event> matching(const event_predicate& p) {
    std::vector<event> out;
    for (auto& e : events())
      if (p(e))
        out.push_back(e);
    return out;
  }

  size_t count(const event_predicate& p) { return matching(p).size(); }

  /// Waits until at least `n` recorded events match `p` (counting those
  /// recorded before the call). False on timeout.
  bool wait_count(const event_predicate& p, size_t n, std::chrono::milliseconds timeout = wait_timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      {
        std::lock_guard guard{mtx_};
        pull(std::chrono::milliseconds(10));
        size_t k = 0;
        for (auto& e : events_)
          if (p(e) && ++k >= n)
            return true;
      }
      if (std::chrono::steady_clock::now() >= until)
        return false;
    }
  }

  /// The first recorded event matching `p`, waiting for it if needed.
  std::optional<event> wait_for(const event_predicate& p, std::chrono::milliseconds timeout = wait_timeout) {
    if (!wait_count(p, 1, timeout))
      return std::nullopt;
    for (auto& e : events())
      if (p(e))
        return e;
    return std::nullopt;
  }

  /// Why the stream ended, if it did.
  std::optional<error> ended() {
    std::lock_guard guard{mtx_};
    pull(std::chrono::milliseconds(0));
    return stream_ ? stream_->ended() : std::nullopt;
  }

private:
  // Takes what the stream has (waiting up to `wait` for the first).
  void pull(std::chrono::milliseconds wait) {
    if (!stream_)
      return;
    for (;;) {
      auto got = stream_->next(4096, wait);
      events_.insert(events_.end(), got.begin(), got.end());
      if (got.size() < 4096)
        return;
      wait = std::chrono::milliseconds(0);
    }
  }

  std::mutex mtx_;
  std::unique_ptr<event_stream> stream_;
  std::vector<event> events_;
};

/// Polls `cond` (typically a blocking node query) until it holds or the
/// timeout passes. Each poll is a round trip to an actor, so no sleep.
inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds timeout = wait_timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  do {
    if (cond())
      return true;
  } while (std::chrono::steady_clock::now() < until);
  return cond();
}

// -- a behaviour that blocks --------------------------------------------------

/// A gate a custom behaviour waits at: the test learns when the behaviour
/// arrived and decides when it may go on.
class gate {
public:
  /// Called by the behaviour: marks arrival, waits until open (bounded, so a
  /// failing test cannot hang the node's shutdown forever).
  void arrive_and_wait() {
    std::unique_lock guard{mtx_};
    ++arrivals_;
    cv_.notify_all();
    cv_.wait_for(guard, 2 * wait_timeout, [this] { return open_; });
  }

  /// Waits until the behaviour arrived `n` times in total.
  bool wait_arrivals(int n, std::chrono::milliseconds timeout = wait_timeout) {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, timeout, [&] { return arrivals_ >= n; });
  }

  void open() {
    std::lock_guard guard{mtx_};
    open_ = true;
    cv_.notify_all();
  }

private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int arrivals_ = 0;
  bool open_ = false;
};

/// Opens the gate when it goes out of scope (also when an assertion fails).
class gate_opener {
public:
  explicit gate_opener(std::shared_ptr<gate> g) : g_(std::move(g)) {}
  ~gate_opener() { g_->open(); }
  gate_opener(const gate_opener&) = delete;
  gate_opener& operator=(const gate_opener&) = delete;

private:
  std::shared_ptr<gate> g_;
};

/// Blocks at the gate while reacting to its first message, then reacts to
/// nothing (it neither answers nor holds turns).
class blocking_behavior final : public agent_behavior {
public:
  explicit blocking_behavior(std::shared_ptr<gate> g) : g_(std::move(g)) {}

  void react(const behavior_view&, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    if (in.k == behavior_input::kind::turn_granted) {
      out.push_back(behavior_action::yield_turn(in.room));
      return;
    }
    if (in.k == behavior_input::kind::message && !blocked_once_) {
      blocked_once_ = true;
      g_->arrive_and_wait();
    }
  }
  std::string_view name() const noexcept override { return "blocking"; }

private:
  std::shared_ptr<gate> g_;
  bool blocked_once_ = false;
};

// -- builders -----------------------------------------------------------------

inline manifest make_manifest(agent_id id) {
  manifest m;
  m.id = std::move(id);
  m.display_name = "Agent " + m.id;
  return m;
}

inline agent_spec make_spec(agent_id id, behavior_spec::kind k = behavior_spec::kind::silent) {
  agent_spec s;
  s.man = make_manifest(std::move(id));
  s.behavior.k = k;
  return s;
}

inline message direct_message(agent_id from, agent_id to, std::string content) {
  message m;
  m.from = std::move(from);
  m.to = address::agent(std::move(to));
  m.content = std::move(content);
  return m;
}

inline message room_message(agent_id from, room_id to, std::string content) {
  message m;
  m.from = std::move(from);
  m.to = address::room(std::move(to));
  m.content = std::move(content);
  return m;
}

inline speaker_rules unmoderated() {
  speaker_rules r;
  r.policy = speaker_policy::none;
  r.turn_slot_ms = 0;
  return r;
}

/// Moderated rules with no time limit and unlimited messages per turn, so a
/// turn ends only when the test says so.
inline speaker_rules moderated(speaker_policy p) {
  speaker_rules r;
  r.policy = p;
  r.turn_slot_ms = 0;
  r.max_messages_per_turn = 0;
  return r;
}

// -- fixture ------------------------------------------------------------------

/// Starts a node whose time source is a manual clock; stops it afterwards.
/// Override configure() to change the config before the start.
class NodeFixture : public ::testing::Test {
protected:
  virtual void configure(node_config&) {}

  void SetUp() override {
    node_config cfg;
    cfg.scheduler_threads = 2;
    cfg.time_source = clock_;
    configure(cfg);
    auto n = node::start(std::move(cfg));
    ASSERT_TRUE(n) << to_string(n.error());
    node_ = std::move(*n);
  }

  void TearDown() override {
    if (node_)
      node_->stop();
  }

  node& n() { return *node_; }

  ::testing::AssertionResult add_agent(agent_id id,
                                       behavior_spec::kind k = behavior_spec::kind::silent) {
    return succeeded(node_->introduce(as_admin, make_spec(std::move(id), k)));
  }

  ::testing::AssertionResult add_agents(const std::vector<agent_id>& ids,
                                        behavior_spec::kind k = behavior_spec::kind::silent) {
    for (auto& id : ids)
      if (auto r = add_agent(id, k); !r)
        return r << " (introducing '" << id << "')";
    return ::testing::AssertionSuccess();
  }

  /// Creates group room `id` owned by `owner` with `members` joined in order.
  ::testing::AssertionResult add_group(room_id id, agent_id owner, speaker_rules rules,
                                       const std::vector<agent_id>& members = {},
                                       room_access access = room_access::open) {
    group_spec g;
    g.id = id;
    g.topic = "test room";
    g.rules = std::move(rules);
    g.access = access;
    if (auto r = succeeded(node_->create_group(as_admin, owner, std::move(g))); !r)
      return r << " (creating '" << id << "')";
    for (auto& m : members)
      if (auto r = succeeded(node_->join(as_admin, id, m)); !r)
        return r << " (joining '" << m << "' to '" << id << "')";
    return ::testing::AssertionSuccess();
  }

  /// Returns once every event published by calls that have returned has
  /// reached the subscribers' queues: those calls published before
  /// answering, and the bus hands events out once they are durable.
  void settle() { EXPECT_TRUE(succeeded(node_->sync_events(as_admin))); }

  /// The current speaker of `r`, or "" (also on failure).
  std::string holder(const room_id& r) {
    auto t = node_->turns(as_admin, r);
    if (!t || !t->current)
      return {};
    return t->current->speaker;
  }

  std::vector<agent_id> waiting(const room_id& r) {
    std::vector<agent_id> out;
    if (auto t = node_->turns(as_admin, r))
      for (auto& w : t->waiting)
        out.push_back(w.who);
    return out;
  }

  std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
  std::unique_ptr<node> node_;
};

// -- nodes with a store --------------------------------------------------------

/// A node config with a RocksDB store (sync) in `dir` on a manual clock.
inline node_config durable_config(const std::string& dir,
                                  std::shared_ptr<storage::disk_faults> faults = nullptr) {
  node_config cfg;
  cfg.data_dir = dir;
  cfg.durability = durability::sync;
  cfg.time_source = std::make_shared<manual_clock>();
  cfg.disk_faults = std::move(faults);
  return cfg;
}

/// Opens the store a stopped node left in `dir` (nullptr and a failure if
/// it cannot).
inline std::unique_ptr<storage::state_store> open_stopped(const std::string& dir) {
  storage::store_options o;
  o.path = dir;
  o.create_if_missing = false;
  auto s = storage::open_store(o);
  EXPECT_TRUE(succeeded(s));
  return s ? std::move(*s) : nullptr;
}

/// Starts a node, failing the test (and returning nullptr) if it cannot.
inline std::unique_ptr<node> start_ok(const node_config& cfg) {
  auto n = node::start(cfg);
  if (!n) {
    ADD_FAILURE() << to_string(n.error());
    return nullptr;
  }
  return std::move(*n);
}

} // namespace parley::test_support
