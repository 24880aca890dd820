// Recovery: a node that starts on a store continues where it stopped. In
// order: the store's incarnation, the event log (before the bus starts),
// the agents' ids (published dormant: activation.cpp), rooms with members,
// invitations and turn state, then every undelivered inbox entry, whose
// agents wake. A record that refers to what the store does not hold (an
// orphan, left by a crash between writes that older versions did not make
// atomic) is logged and skipped, never a reason not to start; a record that
// cannot be decoded is. An agent's own record and attention knobs are read
// when it wakes; if they cannot be, that agent is unavailable (and logged),
// not the node.

#include <algorithm>
#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

#include "actors/agent_actor.hpp"
#include "actors/event_bus.hpp"
#include "actors/room_moderator.hpp"
#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

// Decodes every record of column `c` and hands it with its key to `visit`;
// stops at the first failure. Returns how many records were visited.
template <class Decode, class Visit>
expected<size_t> recover_each(const storage::state_store& store, storage::column c, std::string_view prefix,
                              Decode decode, Visit visit) {
  size_t n = 0;
  std::optional<error> failure;
  auto ok = store.scan(c, prefix, {}, [&](std::string_view k, std::string_view v) {
    auto rec = decode(v);
    if (!rec) {
      failure = rec.error();
      return false;
    }
    if (auto done = visit(k, *rec); !done) {
      failure = done.error();
      return false;
    }
    ++n;
    return true;
  });
  if (!ok)
    return unexpected{ok.error()};
  if (failure)
    return unexpected{*failure};
  return n;
}

using recovered = node::impl::recovered_counts;

void orphan(recovered& r, const std::string& what) {
  ++r.orphans;
  spdlog::warn("recovery: skipped {}", what);
}

expected<uint64_t> next_incarnation(storage::state_store& store) {
  auto raw = store.get(storage::column::meta, "incarnation");
  if (!raw)
    return unexpected{raw.error()};
  uint64_t n = *raw ? storage::parse_u64_key(**raw) + 1 : 1;
  storage::write_batch b;
  b.put(storage::column::meta, "incarnation", storage::u64_key(n));
  if (auto ok = store.write(b); !ok)
    return unexpected{ok.error()};
  return n;
}

// The newest events (for the bus's memory) and the log's extent on disk.
expected<event_log_seed> read_event_log(const storage::state_store& store, size_t keep) {
  event_log_seed seed;
  std::optional<error> failure;
  auto ok = store.scan_reverse(storage::column::events, {}, {}, [&](std::string_view, std::string_view v) {
    auto e = storage::decode_event(v);
    if (!e) {
      failure = e.error();
      return false;
    }
    seed.newest.push_front(std::move(*e));
    return seed.newest.size() < keep;
  });
  if (!ok)
    return unexpected{ok.error()};
  if (failure)
    return unexpected{*failure};
  if (!seed.newest.empty())
    seed.next_seq = seed.newest.back().seq + 1;
  seed.first_durable = seed.next_seq;
  ok = store.scan(storage::column::events, {}, {}, [&](std::string_view k, std::string_view) {
    seed.first_durable = storage::parse_u64_key(k);
    return false;
  });
  if (!ok)
    return unexpected{ok.error()};
  return seed;
}

} // namespace

expected<void> node::impl::recover() {
  auto failed = [this](const char* what, const error& e) {
    return unexpected{errc::storage_failure,
                      std::string{"recovering "} + what + " from '" + cfg.data_dir + "': " + e.message};
  };
  const auto t0 = std::chrono::steady_clock::now();
  event_log_seed seed;
  if (store) {
    auto inc = next_incarnation(*store);
    if (!inc)
      return unexpected{errc::storage_failure,
                        "starting the store in '" + cfg.data_dir + "': " + inc.error().message};
    rt.incarnation = *inc;
    auto log = read_event_log(*store, cfg.event_retention);
    if (!log)
      return failed("the event log", log.error());
    seed = std::move(*log);
  }
  rt.bus = sys.spawn(event_bus, &rt,
                     event_retention{cfg.event_retention, cfg.event_log_retention, cfg.event_log_max_age_ms},
                     std::move(seed));
  if (!store)
    return {};
  recovered got;
  rt.routes.agents().set_activator([this](const std::string& id) { return wake_agent(id); });
  rt.routes.agents().reserve(store->estimate_count(storage::column::agents));
  if (auto ok = recover_records({}, got); !ok)
    return ok;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                    .count();
  recovered_turns = got.turns;
  spdlog::info("node '{}': recovered {} agents ({} woken, the others on first use), {} rooms ({} "
               "with turn state) and {} undelivered messages from '{}' in {} ms (start #{}{})",
               cfg.node_id, got.agents, rt.routes.agents().active(), got.rooms, got.turns, got.inbox,
               cfg.data_dir, ms,
               rt.incarnation,
               got.orphans ? ", " + std::to_string(got.orphans) + " orphaned records skipped" : "");
  if (got.elsewhere > 0)
    spdlog::warn("node '{}': {} stored agents and rooms are in shards other nodes own now or that are moving; they "
                 "are not served here (their records stay in the store)", cfg.node_id, got.elsewhere);
  return {};
}

// The agents, rooms and inbox entries of the store (of the keys with
// `prefix`: one shard taken in by a move), published as a start does.
expected<void> node::impl::recover_records(std::string_view prefix, recovered_counts& got) {
  auto failed = [this](const char* what, const error& e) {
    return unexpected{errc::storage_failure,
                      std::string{"recovering "} + what + " from '" + cfg.data_dir + "': " + e.message};
  };
  // A shard taken in is this node's, although it is `moving` until published.
  const bool at_start = prefix.empty();
  // -- agents: published dormant (lazy activation, activation.cpp); only the
  // keys are read here, a record is decoded when its agent wakes.
  auto scanned_agents = store->scan(storage::column::agents, prefix, {}, [&](std::string_view k, std::string_view) {
    std::string id{storage::owner_of_key(k)};
    // In a network, an agent of a shard another node owns now is not served
    // here (one agent never runs in two places); its records stay.
    if (at_start && rt.cluster && rt.place(id).elsewhere()) {
      ++got.elsewhere;
      return true;
    }
    rt.routes.agents().publish_dormant(std::move(id));
    ++got.agents;
    return true;
  });
  if (!scanned_agents)
    return failed("agents", scanned_agents.error());
  // -- rooms: members and invitations are member records (in join order).
  // Every room is read before any moderator starts, so that the rooms of a
  // dormant agent are all known before anything can wake it.
  uint64_t highest = 0;
  std::vector<moderator_seed> seeds;
  auto rooms = recover_each(
    *store, storage::column::rooms, prefix, storage::decode_room,
    [&](std::string_view, storage::room_record& rec) -> expected<void> {
      moderator_seed ms;
      ms.r = std::move(rec.r);
      auto& r = ms.r;
      // Like agents: a room of a shard another node owns now is not served here.
      if (at_start && rt.cluster && rt.place(r.id).elsewhere()) {
        ++got.elsewhere;
        return {};
      }
      r.members.clear();
      std::vector<std::pair<uint64_t, room_member>> members;
      std::optional<error> bad;
      auto scanned = store->scan(storage::column::members, storage::member_prefix(r.id), {},
                                 [&](std::string_view k, std::string_view v) {
                                   auto m = storage::decode_member(v);
                                   if (!m) {
                                     bad = m.error();
                                     return false;
                                   }
                                   agent_id who{k.substr(r.id.size() + 3)};
                                   if (m->invited) {
                                     ms.invitations[who] = m->role;
                                   } else if (rt.routes.agents().lookup(who) == actor_directory::presence::absent
                                              && !(rt.cluster && rt.place(who).elsewhere())) {
                                     orphan(got, "member '" + who + "' of room '" + r.id + "', who is not stored");
                                   } else {
                                     members.emplace_back(m->position, room_member{who, m->role, m->joined_at});
                                     ms.next_position = std::max(ms.next_position, m->position + 1);
                                   }
                                   return true;
                                 });
      if (!scanned)
        return unexpected{scanned.error()};
      if (bad)
        return unexpected{*bad};
      std::sort(members.begin(), members.end(), [](auto& x, auto& y) { return x.first < y.first; });
      for (auto& [pos, m] : members)
        r.members.push_back(std::move(m));
      // (A network's generated ids, room-<salt>.<n>, are not counted.)
      if (is_generated_room_id(r.id) && r.id.find('.') == std::string::npos)
        highest = std::max<uint64_t>(highest, std::strtoull(r.id.c_str() + 5, nullptr, 10));
      auto turns = store->get(storage::column::moderators, storage::room_key(r.id));
      if (!turns)
        return unexpected{turns.error()};
      if (*turns) {
        auto decoded = storage::decode_moderator(**turns);
        if (!decoded)
          return unexpected{decoded.error()};
        ms.turns = std::move(*decoded);
        ++got.turns;
      }
      {
        // At a start every member is dormant; a member already running
        // (a room taken in by a move) knows its rooms.
        std::lock_guard guard{dormant_mtx};
        for (auto& m : r.members)
          if (rt.routes.agents().lookup(m.id) != actor_directory::presence::active)
            dormant_rooms[m.id].push_back(r.id);
      }
      seeds.push_back(std::move(ms));
      return {};
    });
  if (!rooms)
    return failed("rooms", rooms.error());
  got.rooms = *rooms;
  if (*rooms && next_room <= highest)
    next_room = highest + 1;
  for (auto& ms : seeds) {
    remember_room(ms.r);
    auto id = ms.r.id;
    rt.routes.rooms().publish(id, sys.spawn(room_moderator, &rt, std::move(ms)));
  }
  seeds = {};
  // -- inboxes: one message per agent with its entries in delivery order
  std::map<agent_id, std::vector<message>> inboxes;
  // Agents with undelivered entries have something to do: they wake now.
  auto scanned = storage::scan_inboxes(*store, [&](const agent_id& who, message m) -> expected<void> {
    if (rt.routes.agents().lookup(who) == actor_directory::presence::absent) {
      orphan(got, "inbox entry " + std::to_string(m.delivery) + " of agent '" + who + "', who is not stored");
      return {};
    }
    inboxes[who].push_back(std::move(m));
    ++got.inbox;
    return {};
  }, [&](const std::string& what) { orphan(got, what); }, prefix);
  if (!scanned)
    return failed("inboxes", scanned.error());
  got.highest_delivery = *scanned;
  for (auto& [who, entries] : inboxes)
    if (auto a = rt.routes.agents().find(who))
      caf::anon_send(a, atoms::restore_inbox::value, std::move(entries));
  return {};
}

} // namespace parley
