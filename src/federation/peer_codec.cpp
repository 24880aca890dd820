#include "federation/peer_codec.hpp"

#include <algorithm>

#include "api/convert.hpp"

namespace parley::federation {

namespace {

message_status status_of(pb::MessageStatus s) {
  switch (s) {
    case pb::MESSAGE_STATUS_DELIVERED: return message_status::delivered;
    case pb::MESSAGE_STATUS_READ: return message_status::read;
    default: return message_status::sent;
  }
}

// A message as another node has it: with the fields a node sets, which a
// client's message may not carry (the hop count above all: automatic
// replies between agents of two nodes stop at the limit like any others).
expected<message> message_of(const pb::Message& p) {
  auto m = api::from_pb(p);
  if (!m)
    return m;
  m->sent_at = p.sent_at();
  m->status = status_of(p.status());
  m->hops = p.hops();
  m->delivery = p.delivery();
  m->erased = p.erased();
  return m;
}

expected<parley::room> room_of(const pb::Room& p) {
  parley::room r;
  r.id = p.id();
  r.kind = p.kind() == pb::ROOM_KIND_DIRECT ? room_kind::direct : room_kind::group;
  r.topic = p.topic();
  r.created_by = p.created_by();
  for (auto& pm : p.members()) {
    auto role = api::from_pb(pm.role(), room_role::member);
    if (!role)
      return unexpected{role.error()};
    r.members.push_back({pm.agent(), *role, pm.joined_at()});
  }
  auto rules = api::from_pb(p.rules());
  if (!rules)
    return unexpected{rules.error()};
  r.rules = std::move(*rules);
  r.access = p.invite_only() ? room_access::invite_only : room_access::open;
  r.created_at = p.created_at();
  r.last_activity = p.last_activity();
  r.open = p.open();
  if (p.member_count() != r.members.size())
    r.member_count = p.member_count();
  // A direct room's pair is its two members (the wire's Room has no pair).
  if (r.kind == room_kind::direct && r.members.size() == 2) {
    r.pair = {r.members[0].id, r.members[1].id};
    std::sort(r.pair.begin(), r.pair.end());
  }
  return r;
}

turn_state turns_of(const pb::TurnState& p) {
  turn_state t;
  if (p.has_current())
    t.current = turn_grant{p.current().speaker(), p.current().turn(), p.current().granted_at(),
                           p.current().deadline(), p.current().round()};
  t.messages_in_turn = p.messages_in_turn();
  for (auto& w : p.waiting())
    t.waiting.push_back({w, 0});
  t.turns_granted = p.turns_granted();
  t.rounds = p.rounds();
  t.closed = p.closed();
  return t;
}

void to_pb(const remote_request& r, pb::RoomCall& out) {
  out.set_op(static_cast<pb::RoomOp>(static_cast<int>(r.op) + 1));
  out.set_room(r.room);
  out.set_agent(r.id);
  out.set_by(r.by);
  out.set_role(api::to_pb(r.role));
  out.set_flag(r.flag);
  out.set_turn(r.turn);
  if (r.op == remote_request::room_op::create_group)
    api::to_pb(r.spec, *out.mutable_spec());
  for (auto& a : r.agents)
    out.add_agents(a);
}

expected<void> from_pb(const pb::RoomCall& p, remote_request& out) {
  if (p.op() < pb::ROOM_OP_CREATE_GROUP || p.op() > pb::ROOM_OP_GRANTED)
    return unexpected{errc::invalid_argument, "room call: unknown op " + std::to_string(p.op())};
  out.op = static_cast<remote_request::room_op>(p.op() - 1);
  out.room = p.room();
  out.id = p.agent();
  out.by = p.by();
  auto role = api::from_pb(p.role(), room_role::member);
  if (!role)
    return unexpected{role.error()};
  out.role = *role;
  out.flag = p.flag();
  out.turn = p.turn();
  if (p.has_spec()) {
    auto spec = room_of(p.spec());
    if (!spec)
      return unexpected{spec.error()};
    out.spec = std::move(*spec);
  }
  out.agents.assign(p.agents().begin(), p.agents().end());
  return {};
}

// A manifest as its owner has it: with the fields a node sets, which a
// client's manifest may not carry.
expected<manifest> manifest_of(const pb::Manifest& p) {
  auto m = api::from_pb(p, false);
  if (!m)
    return m;
  m->focus = p.focus();
  m->rooms.assign(p.rooms().begin(), p.rooms().end());
  m->last_updated = p.last_updated();
  return m;
}

} // namespace

void to_pb(const remote_request& r, pb::PeerRequest& out) {
  out.set_caller(to_string(r.caller));
  out.set_shard(r.shard);
  out.set_epoch(r.epoch);
  switch (r.what) {
    case remote_request::kind::deliver_direct: api::to_pb(r.msg, *out.mutable_deliver_direct()); break;
    case remote_request::kind::send_as: api::to_pb(r.msg, *out.mutable_send_as()); break;
    case remote_request::kind::read_manifest: out.set_read_manifest(r.id); break;
    case remote_request::kind::introduce:
      api::to_pb(r.man, *out.mutable_introduce()->mutable_manifest());
      api::to_pb(r.behavior, *out.mutable_introduce()->mutable_behavior());
      break;
    case remote_request::kind::retire: out.set_retire(r.id); break;
    case remote_request::kind::update_manifest: api::to_pb(r.man, *out.mutable_update_manifest()); break;
    case remote_request::kind::read_inbox:
      out.mutable_inbox()->set_agent(r.id);
      out.mutable_inbox()->set_limit(r.limit);
      break;
    case remote_request::kind::room_call: to_pb(r, *out.mutable_room_call()); break;
    case remote_request::kind::room_post:
      api::to_pb(r.msg, *out.mutable_room_post()->mutable_message());
      out.mutable_room_post()->set_record_outcome(r.flag);
      break;
    case remote_request::kind::room_delivery:
      api::to_pb(r.msg, *out.mutable_room_delivery()->mutable_message());
      for (auto& a : r.agents)
        out.mutable_room_delivery()->add_agents(a);
      break;
    case remote_request::kind::read_history: {
      // flag: only the half of a split pair that the other node keeps.
      auto* h = r.flag ? out.mutable_kept_history() : out.mutable_history();
      if (!r.room.empty()) {
        h->set_room(r.room);
      } else if (r.agents.size() == 2) {
        h->mutable_pair()->set_a(r.agents[0]);
        h->mutable_pair()->set_b(r.agents[1]);
      }
      h->set_oldest_first(r.query.direction == history_query::order::oldest_first);
      h->set_since(r.query.since);
      h->set_page_size(static_cast<uint32_t>(r.query.limit));
      h->set_page_token(r.query.cursor);
      break;
    }
    case remote_request::kind::mark_read:
      out.mutable_mark_read()->set_agent(r.id);
      for (auto d : r.deliveries)
        out.mutable_mark_read()->add_deliveries(d);
      break;
    case remote_request::kind::list_agents: {
      auto* l = out.mutable_list_agents();
      if (r.status)
        l->set_status(static_cast<pb::AgentStatus>(static_cast<int>(*r.status) + 1));
      l->set_skill(r.skill);
      l->set_page_size(r.limit);
      l->set_page_token(r.after);
      break;
    }
    case remote_request::kind::list_rooms:
      out.mutable_list_rooms()->set_page_size(r.limit);
      out.mutable_list_rooms()->set_page_token(r.after);
      break;
    case remote_request::kind::erase:
      if (r.flag)
        out.set_read_erasure(r.id);
      else
        out.set_erase(r.id);
      break;
    case remote_request::kind::scrub_agent: out.set_scrub_agent(r.id); break;
    case remote_request::kind::shard_chunk: {
      auto* c = out.mutable_shard_chunk();
      c->set_family(r.family);
      c->set_offset(r.offset);
      c->set_data(r.data);
      break;
    }
    case remote_request::kind::adopt_shard:
      for (auto& f : r.files) {
        auto* pf = out.mutable_adopt_shard()->add_files();
        pf->set_family(f.family);
        pf->set_size(f.size);
        pf->set_checksum(f.checksum);
      }
      out.mutable_adopt_shard(); // set even without files (an empty shard)
      break;
    case remote_request::kind::move_shards:
      out.mutable_move_shards()->set_to(r.id);
      out.mutable_move_shards()->set_count(r.limit);
      break;
    case remote_request::kind::events_since: {
      auto* e = out.mutable_events();
      e->set_from_offset(r.offset);
      e->set_from_oldest(r.flag);
      e->set_max(r.limit);
      e->set_wait_ms(r.wait_ms);
      e->set_topics(r.topics);
      e->set_agent(r.id);
      e->set_room(r.room);
      break;
    }
  }
}

expected<remote_request> from_pb(const pb::PeerRequest& r) {
  remote_request out;
  auto caller = parse_principal(r.caller());
  if (!caller)
    return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": caller: " + caller.error().message};
  out.caller = std::move(*caller);
  if (r.shard() >= shard_count)
    return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": shard "
                                                + std::to_string(r.shard()) + " is out of range"};
  out.shard = static_cast<shard_id>(r.shard());
  out.epoch = r.epoch();
  auto take_message = [&](const pb::Message& m) -> expected<void> {
    auto got = message_of(m);
    if (!got)
      return unexpected{got.error()};
    out.msg = std::move(*got);
    return {};
  };
  switch (r.body_case()) {
    case pb::PeerRequest::kDeliverDirect:
      out.what = remote_request::kind::deliver_direct;
      if (auto ok = take_message(r.deliver_direct()); !ok)
        return unexpected{ok.error()};
      break;
    case pb::PeerRequest::kSendAs:
      out.what = remote_request::kind::send_as;
      if (auto ok = take_message(r.send_as()); !ok)
        return unexpected{ok.error()};
      break;
    case pb::PeerRequest::kReadManifest:
      out.what = remote_request::kind::read_manifest;
      out.id = r.read_manifest();
      break;
    case pb::PeerRequest::kIntroduce: {
      out.what = remote_request::kind::introduce;
      auto m = api::from_pb(r.introduce().manifest(), true);
      if (!m)
        return unexpected{m.error()};
      auto b = api::from_pb(r.introduce().behavior());
      if (!b)
        return unexpected{b.error()};
      out.man = std::move(*m);
      out.behavior = std::move(*b);
      break;
    }
    case pb::PeerRequest::kRetire:
      out.what = remote_request::kind::retire;
      out.id = r.retire();
      break;
    case pb::PeerRequest::kUpdateManifest: {
      out.what = remote_request::kind::update_manifest;
      auto m = api::from_pb(r.update_manifest(), false);
      if (!m)
        return unexpected{m.error()};
      out.man = std::move(*m);
      break;
    }
    case pb::PeerRequest::kInbox:
      out.what = remote_request::kind::read_inbox;
      out.id = r.inbox().agent();
      out.limit = r.inbox().limit();
      break;
    case pb::PeerRequest::kRoomCall:
      out.what = remote_request::kind::room_call;
      if (auto ok = from_pb(r.room_call(), out); !ok)
        return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": " + ok.error().message};
      break;
    case pb::PeerRequest::kRoomPost:
      out.what = remote_request::kind::room_post;
      if (auto ok = take_message(r.room_post().message()); !ok)
        return unexpected{ok.error()};
      out.flag = r.room_post().record_outcome();
      break;
    case pb::PeerRequest::kRoomDelivery:
      out.what = remote_request::kind::room_delivery;
      if (auto ok = take_message(r.room_delivery().message()); !ok)
        return unexpected{ok.error()};
      out.agents.assign(r.room_delivery().agents().begin(), r.room_delivery().agents().end());
      break;
    case pb::PeerRequest::kHistory:
    case pb::PeerRequest::kKeptHistory: {
      out.what = remote_request::kind::read_history;
      out.flag = r.body_case() == pb::PeerRequest::kKeptHistory;
      auto& h = out.flag ? r.kept_history() : r.history();
      if (h.has_pair())
        out.agents = {h.pair().a(), h.pair().b()};
      else
        out.room = h.room();
      out.query.direction = h.oldest_first() ? history_query::order::oldest_first : history_query::order::newest_first;
      out.query.since = h.since();
      out.query.limit = h.page_size();
      out.query.cursor = h.page_token();
      break;
    }
    case pb::PeerRequest::kMarkRead:
      out.what = remote_request::kind::mark_read;
      out.id = r.mark_read().agent();
      out.deliveries.assign(r.mark_read().deliveries().begin(), r.mark_read().deliveries().end());
      break;
    case pb::PeerRequest::kListAgents: {
      out.what = remote_request::kind::list_agents;
      auto status = api::status_filter(r.list_agents().status());
      if (!status)
        return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": " + status.error().message};
      out.status = *status;
      out.skill = r.list_agents().skill();
      out.limit = r.list_agents().page_size();
      out.after = r.list_agents().page_token();
      break;
    }
    case pb::PeerRequest::kListRooms:
      out.what = remote_request::kind::list_rooms;
      out.limit = r.list_rooms().page_size();
      out.after = r.list_rooms().page_token();
      break;
    case pb::PeerRequest::kEvents: {
      out.what = remote_request::kind::events_since;
      auto& e = r.events();
      if (e.topics() > all_topics)
        return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": topic mask "
                                                    + std::to_string(e.topics()) + " names unknown topics"};
      out.offset = e.from_offset();
      out.flag = e.from_oldest();
      out.limit = e.max();
      out.wait_ms = e.wait_ms();
      out.topics = e.topics() == 0 ? all_topics : static_cast<topic_mask>(e.topics());
      out.id = e.agent();
      out.room = e.room();
      break;
    }
    case pb::PeerRequest::kErase:
    case pb::PeerRequest::kReadErasure:
      out.what = remote_request::kind::erase;
      out.flag = r.body_case() == pb::PeerRequest::kReadErasure;
      out.id = out.flag ? r.read_erasure() : r.erase();
      break;
    case pb::PeerRequest::kScrubAgent:
      out.what = remote_request::kind::scrub_agent;
      out.id = r.scrub_agent();
      break;
    case pb::PeerRequest::kShardChunk:
      out.what = remote_request::kind::shard_chunk;
      out.family = r.shard_chunk().family();
      out.offset = r.shard_chunk().offset();
      out.data = r.shard_chunk().data();
      break;
    case pb::PeerRequest::kMoveShards:
      out.what = remote_request::kind::move_shards;
      out.id = r.move_shards().to();
      out.limit = r.move_shards().count();
      break;
    case pb::PeerRequest::kAdoptShard:
      out.what = remote_request::kind::adopt_shard;
      for (auto& f : r.adopt_shard().files())
        out.files.push_back({f.family(), f.size(), f.checksum()});
      break;
    case pb::PeerRequest::BODY_NOT_SET:
      return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + " has no body"};
  }
  return out;
}

void to_pb(const expected<remote_reply>& r, pb::PeerReply& out) {
  if (!r) {
    out.set_error_code(std::string{to_string(r.error().code)});
    out.set_error_message(r.error().message);
    return;
  }
  out.set_status(api::to_pb(r->status));
  out.set_sent_at(r->sent_at);
  if (!r->msg.id.empty())
    api::to_pb(r->msg, *out.mutable_message());
  if (!r->man.id.empty())
    api::to_pb(r->man, *out.mutable_manifest());
  for (auto& m : r->messages)
    api::to_pb(m, *out.add_messages());
  if (!r->found_room.id.empty())
    api::to_pb(r->found_room, *out.mutable_room());
  if (r->turns != turn_state{})
    api::to_pb(r->turns, *out.mutable_turns());
  for (auto& a : r->agents)
    out.add_agents(a);
  out.set_next_page_token(r->next_cursor);
  for (auto& m : r->manifests)
    api::to_pb(m, *out.add_manifests());
  for (auto& room : r->rooms)
    api::to_pb(room, *out.add_rooms());
  for (auto& e : r->events)
    api::to_pb(e, *out.add_events());
  out.set_next_offset(r->next_offset);
  if (r->erased)
    api::to_pb(*r->erased, *out.mutable_erasure());
}

expected<remote_reply> from_pb(const pb::PeerReply& r) {
  if (!r.error_code().empty())
    return unexpected{parse_errc(r.error_code()), r.error_message()};
  remote_reply out;
  out.sent_at = r.sent_at();
  out.status = status_of(r.status());
  if (r.has_message()) {
    auto m = message_of(r.message());
    if (!m)
      return unexpected{errc::internal, "a peer answered a message this node cannot read: " + m.error().message};
    out.msg = std::move(*m);
  }
  if (r.has_manifest()) {
    auto m = manifest_of(r.manifest());
    if (!m)
      return unexpected{errc::internal, "a peer answered a manifest this node cannot read: " + m.error().message};
    out.man = std::move(*m);
  }
  for (auto& pm : r.messages()) {
    auto m = message_of(pm);
    if (!m)
      return unexpected{errc::internal, "a peer answered a message this node cannot read: " + m.error().message};
    out.messages.push_back(std::move(*m));
  }
  if (r.has_room()) {
    auto room = room_of(r.room());
    if (!room)
      return unexpected{errc::internal, "a peer answered a room this node cannot read: " + room.error().message};
    out.found_room = std::move(*room);
  }
  if (r.has_turns())
    out.turns = turns_of(r.turns());
  out.agents.assign(r.agents().begin(), r.agents().end());
  out.next_cursor = r.next_page_token();
  for (auto& pm : r.manifests()) {
    auto m = manifest_of(pm);
    if (!m)
      return unexpected{errc::internal, "a peer answered a manifest this node cannot read: " + m.error().message};
    out.manifests.push_back(std::move(*m));
  }
  for (auto& pr : r.rooms()) {
    auto room = room_of(pr);
    if (!room)
      return unexpected{errc::internal, "a peer answered a room this node cannot read: " + room.error().message};
    out.rooms.push_back(std::move(*room));
  }
  for (auto& pe : r.events()) {
    auto e = api::from_pb(pe);
    if (!e)
      return unexpected{errc::internal, "a peer answered an event this node cannot read: " + e.error().message};
    out.events.push_back(std::move(*e));
  }
  out.next_offset = r.next_offset();
  if (r.has_erasure())
    out.erased = api::from_pb(r.erasure());
  return out;
}

} // namespace parley::federation
