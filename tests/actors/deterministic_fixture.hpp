#pragma once

// A node's actor layer, built by hand on CAF 0.17's deterministic scheduler
// (caf/scheduler/test_coordinator.hpp, selected with scheduler.policy
// "testing"): the event bus, agents and room moderators of one runtime on a
// manual clock, without a store (durability memory). Nothing runs until the
// test says so: run_once_on(actor) lets that actor handle exactly one
// message, run_all() drains every mailbox. The test thread is the only
// thread, so behaviours and sinks record without locks.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <caf/all.hpp>
#include <caf/scheduler/test_coordinator.hpp>

#include "actors/agent_actor.hpp"
#include "actors/event_bus.hpp"
#include "actors/room_moderator.hpp"

namespace parley::test {

/// What an agent's probe behaviour received, in order.
struct probe_entry {
  behavior_input::kind kind;
  room_id room;
  /// message: its sender and content; turn_granted: the turn number.
  std::string from;
  std::string content;
  uint64_t turn = 0;
};

/// A behaviour that records every input and acts as told: on a nudge it
/// runs `on_nudge` (ask for a turn, post, yield); on a granted turn it posts
/// once to the room if `speak_on_grant`.
class probe_behavior final : public agent_behavior {
public:
  void react(const behavior_view& view, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    probe_entry e{in.k, in.room, {}, {}, in.turn};
    if (in.msg) {
      e.from = in.msg->from;
      e.content = in.msg->content;
    }
    if (in.k == behavior_input::kind::nudge) {
      out.insert(out.end(), on_nudge.begin(), on_nudge.end());
      on_nudge.clear();
    } else if (in.k == behavior_input::kind::turn_granted && speak_on_grant) {
      out.push_back(behavior_action::send(address::room(in.room), view.self.id + " speaks in turn "
                                                                    + std::to_string(in.turn)));
    }
    log.push_back(std::move(e));
  }
  std::string_view name() const noexcept override { return "probe"; }

  /// Room messages received (the content of each).
  std::vector<std::string> room_messages() const {
    std::vector<std::string> out;
    for (auto& e : log)
      if (e.kind == behavior_input::kind::message)
        out.push_back(e.content);
    return out;
  }
  size_t grants() const {
    size_t n = 0;
    for (auto& e : log)
      n += e.kind == behavior_input::kind::turn_granted;
    return n;
  }

  std::vector<probe_entry> log;
  std::vector<behavior_action> on_nudge;
  bool speak_on_grant = false;
};

class DeterministicActors : public ::testing::Test {
protected:
  using coordinator = caf::scheduler::test_coordinator;

  DeterministicActors() {
    cfg_.set("scheduler.policy", caf::atom("testing"));
    cfg_.set("logger.file-verbosity", caf::atom("quiet"));
    sys_.emplace(cfg_);
    sched_ = &dynamic_cast<coordinator&>(sys_->scheduler());
    self_.emplace(*sys_, true);
    rt_ = std::make_unique<runtime>(*sys_, clock_, attention_params{});
    rt_->bus = sys_->spawn(event_bus, rt_.get(), event_retention{}, event_log_seed{});
    // Every event, in offset order, as the bus hands it out.
    auto sink = std::make_shared<std::function<bool(const event&)>>([this](const event& e) {
      events_.push_back(e);
      return true;
    });
    (*self_)->send(rt_->bus, atoms::subscribe_live::value, all_topics, uint64_t{0}, event_sink{sink});
    run_all();
    (*self_)->receive([](subscription_start&) {}, [](caf::error& e) { ADD_FAILURE() << to_string(e); },
                      caf::after(std::chrono::seconds(0)) >> [] { ADD_FAILURE() << "bus did not answer"; });
  }

  ~DeterministicActors() override {
    auto quit = [](const caf::actor& a) { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); };
    for (auto& [id, a] : rt_->routes.agents().snapshot())
      quit(a);
    for (auto& [id, a] : rt_->routes.rooms().snapshot())
      quit(a);
    quit(rt_->bus);
    rt_->routes.agents().clear();
    rt_->routes.rooms().clear();
    rt_->bus = nullptr;
    run_all();
    self_.reset();
    sys_.reset(); // waits for every actor, which has quit by now
  }

  // -- building the population ----------------------------------------------

  /// Spawns agent `id` with a probe behaviour and publishes it.
  std::shared_ptr<probe_behavior> add_agent(const agent_id& id) {
    auto probe = std::make_shared<probe_behavior>();
    agent_seed seed;
    seed.man.id = id;
    seed.man.display_name = "Agent " + id;
    seed.behavior = probe;
    auto a = sys_->spawn<agent_actor>(rt_.get(), std::move(seed));
    rt_->routes.agents().publish(id, a);
    run_all();
    return probe;
  }

  /// Spawns the moderator of group room `id` with `members` (the first is
  /// the owner) and tells them, as node::create_group does.
  caf::actor add_room(const room_id& id, const std::vector<agent_id>& members, speaker_rules rules) {
    room r;
    r.id = id;
    r.kind = room_kind::group;
    r.created_by = members.front();
    r.rules = std::move(rules);
    r.created_at = r.last_activity = clock_->now();
    for (size_t i = 0; i < members.size(); ++i)
      r.members.push_back({members[i], i == 0 ? room_role::owner : room_role::member, clock_->now()});
    moderator_seed seed;
    seed.r = r;
    seed.next_position = members.size();
    auto mod = sys_->spawn(room_moderator, rt_.get(), std::move(seed));
    rt_->routes.rooms().publish(id, mod);
    for (auto& m : members)
      caf::anon_send(agent(m), atoms::joined_room::value, id);
    run_all();
    return mod;
  }

  static speaker_rules rules(speaker_policy p, int64_t slot_ms = 0) {
    speaker_rules r;
    r.policy = p;
    r.turn_slot_ms = slot_ms;
    r.max_messages_per_turn = 0;
    return r;
  }

  caf::actor agent(const agent_id& id) const { return rt_->routes.agent(id); }
  caf::actor room_of(const room_id& id) const { return rt_->routes.room(id); }

  // -- driving the scheduler ----------------------------------------------------

  /// Lets `a` handle exactly one message now; false if it has none queued.
  bool run_once_on(const caf::actor& a) {
    if (!sched_->prioritize(a))
      return false;
    sched_->run_once();
    return true;
  }

  /// Runs every queued message (not the timers), until all mailboxes are empty.
  size_t run_all() { return sched_->run(); }

  /// Whether `a` has a message waiting.
  bool has_mail(const caf::actor& a) {
    auto* ptr = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(a));
    return std::find(sched_->jobs.begin(), sched_->jobs.end(), ptr) != sched_->jobs.end();
  }

  // -- asking and reading (runs everything queued) ----------------------------------

  /// Sends `xs` to `dest` from the test's own actor, runs everything and
  /// returns the answer (or the error).
  template <class T, class... Ts>
  expected<T> ask(const caf::actor& dest, Ts&&... xs) {
    tell(dest, std::forward<Ts>(xs)...);
    run_all();
    return answer<T>();
  }

  /// Sends without waiting; the answer is taken later with answer<T>().
  template <class... Ts>
  void tell(const caf::actor& dest, Ts&&... xs) {
    (*self_)->send(dest, std::forward<Ts>(xs)...);
  }

  /// The next answer to a tell() (after the scheduler ran it).
  template <class T>
  expected<T> answer() {
    std::optional<expected<T>> out;
    (*self_)->receive([&](T& v) { out.emplace(std::move(v)); },
                      [&](caf::error& e) { out.emplace(unexpected{from_caf(e, *sys_)}); },
                      caf::after(std::chrono::seconds(0)) >> [&] {
                        out.emplace(unexpected{errc::internal, "no answer"});
                      });
    return std::move(*out);
  }

  room read_room(const room_id& id) {
    auto r = ask<room>(room_of(id), atoms::read_room::value, admin_);
    EXPECT_TRUE(r.has_value());
    return r ? *r : room{};
  }
  turn_state read_turns(const room_id& id) {
    auto t = ask<turn_state>(room_of(id), atoms::read_turns::value, admin_);
    EXPECT_TRUE(t.has_value());
    return t ? *t : turn_state{};
  }
  manifest read_manifest(const agent_id& id) {
    auto m = ask<manifest>(agent(id), atoms::read_manifest::value);
    EXPECT_TRUE(m.has_value());
    return m ? *m : manifest{};
  }
  std::vector<agent_id> members_of(const room_id& id) {
    std::vector<agent_id> out;
    for (auto& m : read_room(id).members)
      out.push_back(m.id);
    return out;
  }
  /// The recorded events of `kind` (about `agent`, if given), as "agent detail".
  std::vector<std::string> events_of(event_kind kind, const agent_id& agent = {}) const {
    std::vector<std::string> out;
    for (auto& e : events_)
      if (e.kind == kind && (agent.empty() || e.agent == agent))
        out.push_back(e.agent + (e.detail.empty() ? "" : " " + e.detail));
    return out;
  }

  caf::actor_system_config cfg_;
  std::optional<caf::actor_system> sys_;
  coordinator* sched_ = nullptr;
  std::optional<caf::scoped_actor> self_;
  std::shared_ptr<manual_clock> clock_ = std::make_shared<manual_clock>();
  std::unique_ptr<runtime> rt_;
  std::vector<event> events_;
  const principal admin_ = principal::admin("tests");
};

} // namespace parley::test
