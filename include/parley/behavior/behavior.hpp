#pragma once

// The behaviour plug-in: what an agent does with an input. The agent actor
// calls it with the agent's manifest and the dialogue's context and carries
// out the actions it returns. Built-ins live here; external agents driven
// over gRPC (a later issue) implement the same interface.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "parley/model/attention.hpp"
#include "parley/model/manifest.hpp"
#include "parley/model/message.hpp"
#include "parley/model/room.hpp"

namespace parley {

struct behavior_input {
  enum class kind : uint8_t {
    /// A message served from the attention queue (`msg` is set).
    message,
    /// The moderator of `room` granted this agent the turn.
    turn_granted,
    /// A stimulus from outside (the demo driver, a simulation step).
    nudge,
    /// `by` invited this agent into `room` as `role`.
    invited,
  };
  kind k = kind::message;
  const message* msg = nullptr;
  room_id room;
  /// turn_granted: the turn's number.
  uint64_t turn = 0;
  /// invited: who invited, and the role offered.
  agent_id by;
  room_role role = room_role::member;
};

/// What the behaviour sees when it decides.
struct behavior_view {
  /// The agent's manifest; its `skills` are in `skills` below instead.
  const manifest& self;
  /// The agent's skills (shared with other agents that have the same ones).
  const std::vector<std::shared_ptr<const skill>>& skills;
  /// The dialogue's context (for messages), else nullptr.
  const dialogue_context* context = nullptr;
  /// Time of the decision.
  timestamp now = 0;
};

struct behavior_action {
  enum class kind : uint8_t { send, request_turn, yield_turn };
  kind k = kind::send;
  /// For send: to, type, content, reply_to (id and from are filled in).
  message msg;
  /// For request_turn / yield_turn.
  room_id room;

  static behavior_action send(address to, std::string content, message_id reply_to = {});
  static behavior_action request_turn(room_id r);
  static behavior_action yield_turn(room_id r);
};

class agent_behavior {
public:
  virtual ~agent_behavior() = default;
  /// Called on the agent's actor, never concurrently for one agent. Appends
  /// the actions to `out`.
  virtual void react(const behavior_view& view, const behavior_input& in,
                     std::vector<behavior_action>& out) = 0;
  /// Short name for manifests and logs ("echo", "chatty", ...).
  virtual std::string_view name() const noexcept = 0;
  /// Whether the agent may serve its next message now. A behaviour that
  /// passes messages on (an external agent's link) says no while it has
  /// nowhere to put them; they then wait in the inbox.
  virtual bool ready() const noexcept { return true; }
  /// True when served messages stay in the durable inbox until
  /// acknowledged (external agents); false: serving is reading.
  virtual bool acknowledges() const noexcept { return false; }
  /// Whether react() reads the dialogue context. The agent keeps no context
  /// for behaviours that do not (an external agent keeps its own; a silent
  /// one reads nothing), so it holds no text it never reads.
  virtual bool uses_context() const noexcept { return true; }
};

/// How to build one of the built-in behaviours.
struct behavior_spec {
  enum class kind : uint8_t {
    /// Answers each direct message with the same content.
    echo,
    /// Does nothing (reads and stays quiet).
    silent,
    /// Answers a direct or room message whose content matches a key of
    /// `script` with that value; else stays quiet.
    scripted,
    /// Seeded random talker for load and demos (see chatty_params).
    chatty,
    /// Driven by an external process through a link (external_behavior).
    external,
  };
  kind k = kind::silent;
  std::map<std::string, std::string> script;
  /// chatty: generator seed (mixed with the agent id). Default: 1.
  uint64_t seed = 1;
  /// chatty: chance to answer a direct message. Default: 0.5.
  double reply_probability = 0.5;
  /// chatty: messages posted per granted turn before yielding. Default: 1.
  uint32_t messages_per_turn = 1;
  /// chatty: ask for the turn again right after yielding. Default: false.
  bool rerequest_after_yield = false;

  friend bool operator==(const behavior_spec&, const behavior_spec&) = default;
};

std::string_view to_string(behavior_spec::kind k) noexcept;
expected<behavior_spec::kind> parse_behavior_kind(std::string_view text);

/// A behaviour for the agent `self` (stateless kinds return a shared
/// instance, so a million silent agents cost one object).
std::shared_ptr<agent_behavior> make_behavior(const behavior_spec& spec, std::string_view self);

} // namespace parley
