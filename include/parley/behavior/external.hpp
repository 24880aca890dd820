#pragma once

// The behaviour of an agent driven by an external process (an LLM agent in
// Python, say) through a link: the agent actor hands it what the agent
// receives, the link's thread takes that out and streams it, and the
// process acknowledges messages once it has handled them. Between the two
// sits a credit window: the agent serves a message only while the link has
// credit, so unread input waits in the agent's (bounded, durable) inbox.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <limits>
#include <deque>
#include <mutex>
#include <optional>
#include <vector>

#include "parley/behavior/behavior.hpp"
#include "parley/model/ready_signal.hpp"

namespace parley {

/// One thing a linked process receives.
struct link_item {
  enum class kind : uint8_t { message, granted, invited };
  kind k = kind::message;
  /// message: the delivery (with its delivery number).
  message msg;
  /// granted / invited: the room; granted: the turn number.
  room_id room;
  uint64_t turn = 0;
  /// invited: who invited, with which role.
  agent_id by;
  room_role role = room_role::member;
};

class external_behavior final : public agent_behavior {
public:
  // -- the agent's side (its actor thread) -----------------------------------
  void react(const behavior_view& view, const behavior_input& in,
             std::vector<behavior_action>& out) override;
  std::string_view name() const noexcept override { return "external"; }
  /// A link is open and its credit exceeds the messages already queued
  /// for it.
  bool ready() const noexcept override;
  bool acknowledges() const noexcept override { return true; }
  bool uses_context() const noexcept override { return false; }

  // -- the link's side (any thread) ------------------------------------------
  /// Opens the link with `credit` deliveries. Messages handed out before
  /// and not acknowledged are handed out again first (a new link resumes
  /// from the oldest unacknowledged). failed_precondition if a link is open.
  expected<void> attach(uint32_t credit);
  /// Closes the link; what it had not acknowledged waits for the next.
  void detach();
  bool attached() const;
  /// Adds `n` to the credit window, which never exceeds `max` (a client
  /// granting credit forever cannot wrap it around).
  void add_credit(uint32_t n, uint32_t max = UINT32_MAX);
  /// The next item, waiting up to `timeout`; nullopt on timeout or when the
  /// link was closed.
  /// A message item uses one credit; grants and invitations need none and
  /// may pass messages that wait for credit.
  std::optional<link_item> next(std::chrono::milliseconds timeout);
  /// The next item without waiting; nullopt if none may be taken now (or
  /// the link is closed). A miss arms the on_ready function: it runs once,
  /// on the thread that makes an item takeable (the agent's actor, or
  /// whoever adds credit), after the next such change.
  std::optional<link_item> try_next();
  /// Sets the function a missed try_next wakes (nullptr clears it; detach
  /// clears it too). Clearing waits for a call in progress, so the caller
  /// may go once it returns. The function must not block; it may call
  /// try_next.
  void on_ready(std::function<void()> fn);
  /// Marks deliveries handled, whether the link took them or they still
  /// wait for it; returns the acknowledged messages. Numbers it does not
  /// hold go to `unknown` (if given): the agent may still hold those.
  std::vector<message> acknowledge(const std::vector<uint64_t>& deliveries,
                                   std::vector<uint64_t>* unknown = nullptr);
  /// Messages waiting for the link: unacknowledged and not yet taken.
  size_t waiting() const;
  /// Messages handed out and not acknowledged.
  size_t unacknowledged() const;

private:
  // Takes the first takeable item; nullopt if none. Under mtx_.
  std::optional<link_item> take_locked();
  // Wakes next() and an armed try_next after a change that may make an
  // item takeable. Releases `guard`.
  void wake(std::unique_lock<std::mutex>& guard);

  mutable std::mutex mtx_;
  std::condition_variable cv_;
  ready_signal ready_;
  bool attached_ = false;
  /// Messages the link may still take.
  uint32_t credit_ = 0;
  /// Message items in pending_.
  size_t queued_ = 0;
  /// Not yet taken by the link, oldest first.
  std::deque<link_item> pending_;
  /// Taken by the link (messages only), not yet acknowledged, oldest first.
  std::deque<message> unacked_;
};

} // namespace parley
