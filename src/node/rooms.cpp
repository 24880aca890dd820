// Rooms and turns: creation (reserve, commit, then start the moderator),
// membership, roles, listings, and the turn requests the moderators decide.

#include <algorithm>

#include "actors/room_moderator.hpp"
#include "node/node_impl.hpp"
#include "parley/storage/records.hpp"

namespace parley {

void node::impl::remember_room(const room& r) {
  std::lock_guard guard{rooms_mtx};
  public_rooms[r.id] = r.kind == room_kind::group && r.access == room_access::open;
}

namespace {

using room_op = federation::remote_request::room_op;

// In a network, is `id` (a room, or an agent) served by another node?
bool elsewhere(const node::impl& im, const std::string& id) {
  return im.rt.place(id).elsewhere();
}

federation::remote_request room_request(room_op what, principal p, room_id r, agent_id who = {}, agent_id by = {},
                                        room_role role = room_role::member) {
  federation::remote_request req;
  req.op = what;
  req.caller = std::move(p);
  req.room = std::move(r);
  req.id = std::move(who);
  req.by = std::move(by);
  req.role = role;
  return req;
}

expected<void> done_of(expected<federation::remote_reply> r) {
  if (!r)
    return unexpected{r.error()};
  return {};
}

expected<room> room_of(expected<federation::remote_reply> r) {
  if (!r)
    return unexpected{r.error()};
  return std::move(r->found_room);
}

} // namespace

// Commits a new room (its record and its first members) under a reserved
// id, then starts its moderator, which announces it before any other event
// of the room. The room is visible to other calls only once committed.
task<expected<room>> node::impl::make_room(room r) {
  auto now = rt.now();
  r.created_at = now;
  r.last_activity = now;
  for (auto& m : r.members)
    m.joined_at = now;
  storage::write_batch b;
  if (store) {
    b.put(storage::column::rooms, storage::room_key(r.id), storage::encode(storage::room_record{r, {}}));
    for (size_t i = 0; i < r.members.size(); ++i)
      b.put(storage::column::members, storage::member_key(r.id, r.members[i].id),
            storage::encode(storage::member_record{r.members[i].role, now, i, false}));
  }
  if (auto ok = co_await commit_async(std::move(b)); !ok) {
    rt.routes.rooms().erase(r.id);
    co_return unexpected{errc::storage_failure, "creating room '" + r.id + "': " + ok.error().message};
  }
  // Announced before anyone can reach the room (its id is only reserved
  // yet), so room_created precedes every other event of the room.
  std::vector<event> announce(1 + r.members.size());
  announce[0].kind = event_kind::room_created;
  announce[0].agent = r.created_by;
  announce[0].room = r.id;
  announce[0].detail = std::string{to_string(r.kind)};
  for (size_t i = 0; i < r.members.size(); ++i) {
    announce[i + 1].kind = event_kind::member_joined;
    announce[i + 1].agent = r.members[i].id;
    announce[i + 1].room = r.id;
    announce[i + 1].detail = std::string{to_string(r.members[i].role)};
  }
  rt.publish_all(std::move(announce));
  moderator_seed seed;
  seed.r = r;
  seed.next_position = r.members.size();
  {
    std::shared_lock guard{life_mtx};
    if (stopping) {
      rt.routes.rooms().erase(r.id);
      co_return stopped(); // (its record is committed: the next start has it)
    }
    remember_room(r);
    logger_unpin_guard unpin;
    rt.routes.rooms().publish(r.id, sys.spawn(room_moderator, &rt, std::move(seed)));
  }
  // The members learn their room before the call returns (a manifest read
  // right after lists it).
  for (auto& m : r.members)
    if (auto a = rt.routes.agent(m.id))
      caf::anon_send(a, rt.notice_for(a, m.id, caf::make_message(atoms::joined_room::value, r.id)));
  co_return r;
}

task<expected<room>> node::create_direct_async(principal p, agent_id a, agent_id b) {
  if (auto ok = authorize(p, action::create_room, {a, b}); !ok)
    co_return unexpected{ok.error()};
  if (a == b)
    co_return unexpected{errc::invalid_argument,
                         "a direct room needs two different agents, got '" + a + "' twice"};
  auto id = direct_room_id(a, b);
  if (elsewhere(*impl_, id)) {
    auto req = room_request(room_op::create_direct, std::move(p), id);
    req.agents = {a, b};
    co_return room_of(co_await impl_->forward_room(std::move(req)));
  }
  if (auto ha = co_await impl_->agent_exists_async(a); !ha)
    co_return unexpected{ha.error()};
  if (auto hb = co_await impl_->agent_exists_async(b); !hb)
    co_return unexpected{hb.error()};
  std::vector<agent_id> pair{a, b};
  std::sort(pair.begin(), pair.end());
  for (int attempt = 0;; ++attempt) {
    if (impl_->stopping)
      co_return stopped();
    // Another pair's room has this id (a 64-bit hash) and the next id to
    // probe is in a shard of another node: too rare to carry across.
    if (elsewhere(*impl_, id))
      co_return unexpected{errc::unavailable, "the direct room of '" + a + "' and '" + b + "' collides with room '"
                                                + id + "' of another node; this network cannot create it"};
    if (impl_->rt.routes.room(id)) {
      auto r = co_await impl_->room_facts_async(id);
      if (!r)
        co_return r;
      // The pair, not the id (a 64-bit hash), says whose room it is.
      if (r->kind == room_kind::direct && r->pair == pair)
        co_return r;
      id += "-x"; // another pair's (or a group) room has this id: probe the next
      continue;
    }
    if (!impl_->rt.routes.rooms().try_reserve(id)) {
      // Being created right now (by a concurrent call for this pair, or by
      // someone else): look again once it is published or given up.
      if (auto ok = co_await impl_->pause_async(std::chrono::milliseconds(attempt < 10 ? 0 : 1)); !ok)
        co_return unexpected{ok.error()};
      continue;
    }
    room r;
    r.id = id;
    r.kind = room_kind::direct;
    r.created_by = a;
    r.pair = pair;
    r.rules.policy = speaker_policy::none;
    r.members = {{a, room_role::member, 0}, {b, room_role::member, 0}};
    co_return co_await impl_->make_room(std::move(r));
  }
}

expected<room> node::create_direct(const principal& p, const agent_id& a, const agent_id& b) {
  return wait(create_direct_async(p, a, b));
}

task<expected<room>> node::create_group_async(principal p, agent_id creator, group_spec spec) {
  if (auto ok = authorize(p, action::create_room, {creator}); !ok)
    co_return unexpected{ok.error()};
  if (!spec.id.empty() && is_generated_room_id(spec.id))
    co_return unexpected{errc::invalid_argument,
                      "room id '" + spec.id + "' has the form of the ids the node generates "
                      "(room-<n>); leave it empty to get one, or choose another"};
  if (spec.id.empty()) {
    const auto n = std::to_string(impl_->next_room++);
    spec.id = impl_->rt.cluster ? "room-" + std::to_string(impl_->room_salt) + "." + n : "room-" + n;
  }
  co_return co_await impl_->create_group(std::move(p), std::move(creator), std::move(spec));
}

// The room's id is chosen: it is created on the owner of its shard.
task<expected<room>> node::impl::create_group(principal p, agent_id creator, group_spec spec) {
  if (auto ok = authorize(p, action::create_room, {creator}); !ok)
    co_return unexpected{ok.error()};
  if (elsewhere(*this, spec.id)) {
    auto req = room_request(room_op::create_group, std::move(p), spec.id, {}, std::move(creator));
    req.spec.id = std::move(spec.id);
    req.spec.topic = std::move(spec.topic);
    req.spec.rules = std::move(spec.rules);
    req.spec.access = spec.access;
    co_return room_of(co_await forward_room(std::move(req)));
  }
  if (auto h = co_await agent_exists_async(creator); !h)
    co_return unexpected{h.error()};
  room r;
  r.id = std::move(spec.id);
  r.kind = room_kind::group;
  r.topic = std::move(spec.topic);
  r.created_by = creator;
  r.rules = std::move(spec.rules);
  r.access = spec.access;
  r.members = {{creator, room_role::owner, 0}};
  if (auto ok = validate(r); !ok)
    co_return unexpected{ok.error()};
  if (stopping)
    co_return stopped();
  if (!rt.routes.rooms().try_reserve(r.id))
    co_return unexpected{errc::already_exists, "room '" + r.id + "' already exists"};
  co_return co_await make_room(std::move(r));
}

expected<room> node::create_group(const principal& p, const agent_id& creator, group_spec spec) {
  return wait(create_group_async(p, creator, std::move(spec)));
}

task<expected<room>> node::join_async(principal p, room_id r, agent_id who) {
  // The member's node checks that the caller may act as it.
  if (elsewhere(*impl_, who)) {
    auto req = room_request(room_op::join, std::move(p), std::move(r), std::move(who));
    co_return room_of(co_await impl_->forward_room(std::move(req)));
  }
  auto a = impl_->agent(who);
  if (!a)
    co_return unexpected{a.error()};
  if (auto ok = validate_room_id(r); !ok)
    co_return unexpected{ok.error()};
  co_return co_await impl_->ask_async<room>(*a, atoms::join_as::value, p, r);
}

expected<room> node::join(const principal& p, const room_id& r, const agent_id& who) {
  return wait(join_async(p, r, who));
}

expected<size_t> node::join_many(const principal& p, const room_id& r, const std::vector<agent_id>& who) {
  if (auto ok = validate_room_id(r); !ok)
    return unexpected{ok.error()};
  if (impl_->stopping)
    return stopped();
  logger_unpin_guard unpin;
  caf::scoped_actor self{impl_->sys};
  std::optional<error> first_failure;
  size_t sent = 0;
  for (auto& id : who) {
    auto a = impl_->agent(id);
    if (!a) {
      if (!first_failure)
        first_failure = a.error();
      continue;
    }
    // Plain sends: the answers (ok or error) come back to this actor's
    // mailbox, so all joins are in flight at once.
    self->send(*a, atoms::join_as::value, p, r);
    ++sent;
  }
  size_t joined = 0;
  bool timed_out = false;
  for (size_t i = 0; i < sent && !timed_out; ++i)
    self->receive([&](room&) { ++joined; },
                  [&](caf::error& e) {
                    if (!first_failure)
                      first_failure = from_caf(e, impl_->sys);
                  },
                  caf::after(impl_->cfg.call_timeout) >> [&] { timed_out = true; });
  if (timed_out)
    return unexpected{errc::deadline_exceeded, "join_many: no answer within the call timeout"};
  if (first_failure)
    return unexpected{*first_failure};
  return joined;
}

task<expected<void>> node::leave_async(principal p, room_id r, agent_id who) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::leave, std::move(p), std::move(r), std::move(who));
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  if (auto ok = validate_agent_id(who); !ok)
    co_return ok;
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::remove_member::value, r, p, who, false);
}

expected<void> node::leave(const principal& p, const room_id& r, const agent_id& who) {
  return wait(leave_async(p, r, who));
}

task<expected<void>> node::invite_async(principal p, room_id r, agent_id by, agent_id who, room_role role) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::invite, std::move(p), std::move(r), std::move(who), std::move(by), role);
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  if (auto ok = validate_agent_id(by); !ok)
    co_return ok;
  if (auto ok = authorize(p, action::invite, {by}); !ok)
    co_return ok;
  if (auto h = co_await impl_->agent_exists_async(who); !h)
    co_return unexpected{h.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::invite_member::value, p, by, who, role);
}

expected<void> node::invite(const principal& p, const room_id& r, const agent_id& by,
                            const agent_id& who, room_role role) {
  return wait(invite_async(p, r, by, who, role));
}

task<expected<void>> node::set_role_async(principal p, room_id r, agent_id by, agent_id target, room_role role) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::set_role, std::move(p), std::move(r), std::move(target), std::move(by), role);
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::set_member_role::value, p, by, target, role);
}

expected<void> node::set_role(const principal& p, const room_id& r, const agent_id& by,
                              const agent_id& target, room_role role) {
  return wait(set_role_async(p, r, by, target, role));
}

task<expected<void>> node::close_room_async(principal p, room_id r, agent_id by) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::close, std::move(p), std::move(r), {}, std::move(by));
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::close_room::value, p, by);
}

expected<void> node::close_room(const principal& p, const room_id& r, const agent_id& by) {
  return wait(close_room_async(p, r, by));
}

task<expected<room>> node::get_room_async(principal p, room_id r) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::read, std::move(p), std::move(r));
    co_return room_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await impl_->ask_async<room>(*m, atoms::read_room::value, p);
}

expected<room> node::get_room(const principal& p, const room_id& r) {
  return wait(get_room_async(p, r));
}

namespace {

// The rooms `p` may see: every room for staff; for an agent, the public
// rooms (open group rooms) and its own (from its manifest).
expected<std::vector<room_id>> visible_rooms(node& n, node::impl& im, const principal& p) {
  std::vector<room_id> out;
  if (p.role != principal_role::agent) {
    for (auto& [id, a] : im.rt.routes.rooms().snapshot())
      out.push_back(id);
  } else {
    {
      std::lock_guard guard{im.rooms_mtx};
      for (auto& [id, pub] : im.public_rooms)
        if (pub)
          out.push_back(id);
    }
    auto m = n.get_manifest(p, p.name);
    if (m)
      out.insert(out.end(), m->rooms.begin(), m->rooms.end());
    else if (m.error().code != errc::not_found)
      return unexpected{m.error()};
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

} // namespace

expected<std::vector<room_id>> node::list_rooms(const principal& p) const {
  return visible_rooms(const_cast<node&>(*this), *impl_, p);
}

namespace {

// A page of the rooms among `ids` (sorted) after `after` that `p` may read.
expected<room_page> page_of_rooms(node& n, const principal& p, const std::vector<room_id>& ids, size_t page_size,
                                  const std::string& after) {
  room_page page;
  for (auto it = std::upper_bound(ids.begin(), ids.end(), after); it != ids.end(); ++it) {
    auto r = n.get_room(p, *it);
    if (!r) {
      if (r.error().code == errc::not_found || r.error().code == errc::permission_denied)
        continue; // gone, or left meanwhile
      return unexpected{r.error()};
    }
    if (page.rooms.size() == page_size) {
      page.next = page.rooms.back().id;
      break;
    }
    page.rooms.push_back(std::move(*r));
  }
  return page;
}

} // namespace

expected<room_page> node::find_rooms(const principal& p, const agent_id& member, size_t page_size,
                                     const std::string& after) {
  if (page_size == 0 || page_size > max_list_page)
    return unexpected{errc::invalid_argument, "page size must be 1 to "
                                                + std::to_string(max_list_page) + ", not "
                                                + std::to_string(page_size)};
  // In a network, every node lists the rooms it holds.
  if (impl_->rt.cluster && member.empty())
    return impl_->rooms_everywhere(*this, p, page_size, after);
  std::vector<room_id> ids;
  if (!member.empty()) {
    auto m = get_manifest(p, member);
    if (!m)
      return unexpected{m.error()};
    if (impl_->rt.cluster) {
      // Its rooms live anywhere: each read says whether `p` may see it.
      ids = m->rooms;
    } else {
      auto visible = list_rooms(p);
      if (!visible)
        return unexpected{visible.error()};
      for (auto& r : m->rooms)
        if (std::binary_search(visible->begin(), visible->end(), r))
          ids.push_back(r);
    }
    std::sort(ids.begin(), ids.end());
  } else {
    auto visible = list_rooms(p);
    if (!visible)
      return unexpected{visible.error()};
    ids = std::move(*visible);
  }
  return page_of_rooms(*this, p, ids, page_size, after);
}

expected<room_page> node::impl::rooms_here(node& n, const principal& p, size_t page_size, const std::string& after) {
  auto visible = n.list_rooms(p);
  if (!visible)
    return unexpected{visible.error()};
  // An agent's own rooms may be anywhere: only those this node holds.
  std::erase_if(*visible, [&](const room_id& r) { return rt.place(r).at != placement::where::here; });
  return page_of_rooms(n, p, *visible, page_size, after);
}

// -- turns --------------------------------------------------------------------

task<expected<void>> node::request_turn_async(principal p, room_id r, agent_id who) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::request_turn, std::move(p), std::move(r), std::move(who));
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  if (auto ok = validate_agent_id(who); !ok)
    co_return ok;
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::request_turn::value, r, p, who);
}

expected<void> node::request_turn(const principal& p, const room_id& r, const agent_id& who) {
  return wait(request_turn_async(p, r, who));
}

task<expected<void>> node::yield_turn_async(principal p, room_id r, agent_id who) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::yield_turn, std::move(p), std::move(r), std::move(who));
    co_return done_of(co_await impl_->forward_room(std::move(req)));
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*m, atoms::yield_turn::value, r, p, who);
}

expected<void> node::yield_turn(const principal& p, const room_id& r, const agent_id& who) {
  return wait(yield_turn_async(p, r, who));
}

task<expected<turn_state>> node::turns_async(principal p, room_id r) {
  if (elsewhere(*impl_, r)) {
    auto req = room_request(room_op::read_turns, std::move(p), std::move(r));
    auto got = co_await impl_->forward_room(std::move(req));
    if (!got)
      co_return unexpected{got.error()};
    co_return std::move(got->turns);
  }
  auto m = impl_->room_actor(r);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await impl_->ask_async<turn_state>(*m, atoms::read_turns::value, p);
}

expected<turn_state> node::turns(const principal& p, const room_id& r) {
  return wait(turns_async(p, r));
}

} // namespace parley
