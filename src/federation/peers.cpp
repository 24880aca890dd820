// Names and the stale-owner refusal of requests between nodes.

#include "parley/federation/peers.hpp"

namespace parley::federation {

namespace {
// The refusal's message starts with this; the sender recognises it.
constexpr std::string_view stale_prefix = "stale shard owner: ";
} // namespace

std::string_view to_string(remote_request::kind k) noexcept {
  switch (k) {
    case remote_request::kind::deliver_direct: return "deliver_direct";
    case remote_request::kind::send_as: return "send_as";
    case remote_request::kind::read_manifest: return "read_manifest";
    case remote_request::kind::introduce: return "introduce";
    case remote_request::kind::retire: return "retire";
    case remote_request::kind::update_manifest: return "update_manifest";
    case remote_request::kind::read_inbox: return "read_inbox";
    case remote_request::kind::room_call: return "room_call";
    case remote_request::kind::room_post: return "room_post";
    case remote_request::kind::room_delivery: return "room_delivery";
    case remote_request::kind::read_history: return "read_history";
    case remote_request::kind::mark_read: return "mark_read";
    case remote_request::kind::list_agents: return "list_agents";
    case remote_request::kind::list_rooms: return "list_rooms";
    case remote_request::kind::events_since: return "events_since";
    case remote_request::kind::erase: return "erase";
    case remote_request::kind::scrub_agent: return "scrub_agent";
    case remote_request::kind::shard_chunk: return "shard_chunk";
    case remote_request::kind::adopt_shard: return "adopt_shard";
    case remote_request::kind::move_shards: return "move_shards";
  }
  return "unknown";
}

std::string_view to_string(remote_request::room_op op) noexcept {
  using o = remote_request::room_op;
  switch (op) {
    case o::create_group: return "create_group";
    case o::create_direct: return "create_direct";
    case o::join: return "join";
    case o::admit: return "admit";
    case o::leave: return "leave";
    case o::invite: return "invite";
    case o::set_role: return "set_role";
    case o::close: return "close";
    case o::read: return "read";
    case o::request_turn: return "request_turn";
    case o::yield_turn: return "yield_turn";
    case o::read_turns: return "read_turns";
    case o::saturated: return "saturated";
    case o::joined: return "joined";
    case o::left: return "left";
    case o::invited: return "invited";
    case o::granted: return "granted";
  }
  return "unknown";
}

const std::string& target_of(const remote_request& r) {
  using kind = remote_request::kind;
  using op = remote_request::room_op;
  switch (r.what) {
    case kind::deliver_direct: return r.msg.to.id;
    case kind::send_as: return r.msg.from;
    case kind::introduce:
    case kind::update_manifest: return r.man.id;
    case kind::room_post: return r.msg.to.id;
    case kind::room_delivery: return r.agents.empty() ? r.id : r.agents.front();
    case kind::read_history: return !r.room.empty() || r.agents.empty() ? r.room : r.agents.front();
    case kind::room_call:
      switch (r.op) {
        case op::join:
        case op::joined:
        case op::left:
        case op::invited:
        case op::granted: return r.id;
        default: return r.room;
      }
    default: return r.id;
  }
}

bool is_stale_owner(const error& e) noexcept {
  return e.code == errc::failed_precondition && std::string_view{e.message}.starts_with(stale_prefix);
}

error stale_owner(shard_id shard, uint64_t asked_epoch, const std::string& owner, uint64_t epoch) {
  return {errc::failed_precondition,
          std::string{stale_prefix} + "shard " + std::to_string(shard) + " at epoch " + std::to_string(asked_epoch)
            + " is not served here; its owner is " + (owner.empty() ? "nobody yet" : "'" + owner + "'")
            + " at epoch " + std::to_string(epoch)};
}

namespace {
constexpr std::string_view link_full_prefix = "the link to node ";
}

error link_full(const std::string& node, const std::string& detail) {
  return {errc::overloaded, std::string{link_full_prefix} + "'" + node
                              + "' is full (the node does not keep up or cannot be reached): " + detail
                              + "; retry later"};
}

bool is_link_full(const error& e) noexcept {
  return e.code == errc::overloaded && std::string_view{e.message}.starts_with(link_full_prefix);
}

} // namespace parley::federation
