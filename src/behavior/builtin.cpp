#include "parley/behavior/behavior.hpp"
#include "parley/behavior/external.hpp"

#include <string>

#include "model/enum_names.hpp"
#include "parley/model/random.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<behavior_spec::kind, 5> kind_names{{
  {behavior_spec::kind::echo, "echo"},
  {behavior_spec::kind::silent, "silent"},
  {behavior_spec::kind::scripted, "scripted"},
  {behavior_spec::kind::chatty, "chatty"},
  {behavior_spec::kind::external, "external"},
}};

/// Where an answer to `m` goes: back to the sender, or into the same room.
address answer_address(const message& m) {
  return m.to.is_room() ? m.to : address::agent(m.from);
}

class echo_behavior final : public agent_behavior {
public:
  void react(const behavior_view&, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    // Direct messages only: echoing into a room would make every echo agent
    // answer every other one.
    if (in.k == behavior_input::kind::message && !in.msg->to.is_room()) {
      out.push_back(behavior_action::send(address::agent(in.msg->from), in.msg->content, in.msg->id));
      out.back().msg.type = in.msg->type; // the same content: json stays json
    }
  }
  std::string_view name() const noexcept override { return "echo"; }
  // It answers each message alone and never reads the dialogue's context.
  bool uses_context() const noexcept override { return false; }
};

class silent_behavior final : public agent_behavior {
public:
  void react(const behavior_view&, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    // Holding a turn it will not use would block the room: give it back.
    if (in.k == behavior_input::kind::turn_granted)
      out.push_back(behavior_action::yield_turn(in.room));
  }
  std::string_view name() const noexcept override { return "silent"; }
  bool uses_context() const noexcept override { return false; }
};

class scripted_behavior final : public agent_behavior {
public:
  explicit scripted_behavior(std::map<std::string, std::string> script)
    : script_(std::move(script)) {}

  void react(const behavior_view&, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    if (in.k == behavior_input::kind::turn_granted) {
      out.push_back(behavior_action::yield_turn(in.room));
      return;
    }
    if (in.k != behavior_input::kind::message)
      return;
    auto i = script_.find(in.msg->content);
    if (i != script_.end())
      out.push_back(behavior_action::send(answer_address(*in.msg), i->second, in.msg->id));
  }
  std::string_view name() const noexcept override { return "scripted"; }

private:
  std::map<std::string, std::string> script_;
};


constexpr const char* phrases[] = {
  "what do you think?", "I agree.", "let me check that.", "interesting point",
  "can you elaborate?", "here is my plan", "that works for me", "I have a question",
};

class chatty_behavior final : public agent_behavior {
public:
  chatty_behavior(const behavior_spec& spec, std::string_view self)
    : rng_(spec.seed ^ fnv1a(self)), reply_p_(spec.reply_probability),
      per_turn_(spec.messages_per_turn), rerequest_(spec.rerequest_after_yield) {}

  void react(const behavior_view& view, const behavior_input& in,
             std::vector<behavior_action>& out) override {
    switch (in.k) {
      case behavior_input::kind::message:
        if (!in.msg->to.is_room() && chance(reply_p_))
          out.push_back(behavior_action::send(address::agent(in.msg->from), phrase(), in.msg->id));
        break;
      case behavior_input::kind::turn_granted:
        for (uint32_t i = 0; i < per_turn_; ++i)
          out.push_back(behavior_action::send(address::room(in.room), phrase()));
        out.push_back(behavior_action::yield_turn(in.room));
        if (rerequest_)
          out.push_back(behavior_action::request_turn(in.room));
        break;
      case behavior_input::kind::nudge:
        if (!view.self.rooms.empty())
          out.push_back(behavior_action::request_turn(
            view.self.rooms[splitmix64(rng_) % view.self.rooms.size()]));
        break;
      case behavior_input::kind::invited:
        break; // joins only rooms it is put in
    }
  }
  std::string_view name() const noexcept override { return "chatty"; }

private:
  bool chance(double p) { return static_cast<double>(splitmix64(rng_) >> 11) * 0x1.0p-53 < p; }
  std::string phrase() { return phrases[splitmix64(rng_) % std::size(phrases)]; }

  uint64_t rng_;
  double reply_p_;
  uint32_t per_turn_;
  bool rerequest_;
};

} // namespace

behavior_action behavior_action::send(address to, std::string content, message_id reply_to) {
  behavior_action a;
  a.k = kind::send;
  a.msg.to = std::move(to);
  a.msg.content = std::move(content);
  a.msg.reply_to = std::move(reply_to);
  return a;
}

behavior_action behavior_action::request_turn(room_id r) {
  behavior_action a;
  a.k = kind::request_turn;
  a.room = std::move(r);
  return a;
}

behavior_action behavior_action::yield_turn(room_id r) {
  behavior_action a;
  a.k = kind::yield_turn;
  a.room = std::move(r);
  return a;
}

std::string_view to_string(behavior_spec::kind k) noexcept {
  return detail::enum_name(kind_names, k);
}

expected<behavior_spec::kind> parse_behavior_kind(std::string_view text) {
  return detail::enum_parse(kind_names, text, "behavior");
}

std::shared_ptr<agent_behavior> make_behavior(const behavior_spec& spec, std::string_view self) {
  // Stateless kinds are shared by every agent of the process: a million
  // silent agents then cost one object, not a million.
  static const auto echo = std::make_shared<echo_behavior>();
  static const auto silent = std::make_shared<silent_behavior>();
  switch (spec.k) {
    case behavior_spec::kind::echo:
      return echo;
    case behavior_spec::kind::silent:
      return silent;
    case behavior_spec::kind::scripted:
      return std::make_shared<scripted_behavior>(spec.script);
    case behavior_spec::kind::chatty:
      return std::make_shared<chatty_behavior>(spec, self);
    case behavior_spec::kind::external:
      return std::make_shared<external_behavior>();
  }
  return silent;
}

} // namespace parley
