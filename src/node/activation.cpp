// Lazy activation: a restart publishes every stored agent dormant (an id in
// the directory, no actor) and wakes one on its first use, so that starting
// on a store of a million agents costs what is used, not what is stored.
// Agents with undelivered inbox entries wake during recovery; the others
// when a message, a call or a room first needs their actor. A dormant
// agent's manifest is answered from its record without waking it.

#include <spdlog/spdlog.h>

#include "actors/agent_actor.hpp"
#include "node/node_impl.hpp"
#include "parley/storage/records.hpp"

namespace parley {

// The directory's activator: runs under the agent's directory shard lock,
// so it must not use the agent directory. Two point reads (the record, the
// attention knobs) on the caller's thread: a first use pays them once.
caf::actor node::impl::wake_agent(const agent_id& id) {
  // stop() sets `stopping` before it collects the actors to stop; an actor
  // made after that would never be asked to quit.
  if (stopping || !store)
    return {};
  auto raw = store->get(storage::column::agents, storage::agent_key(id));
  if (!raw || !*raw) {
    spdlog::error("agent '{}' could not be woken: {}", id,
                  raw ? "its record is gone" : raw.error().message);
    return {};
  }
  auto rec = storage::decode_agent(**raw);
  if (!rec) {
    spdlog::error("agent '{}' could not be woken: {}", id, rec.error().message);
    return {};
  }
  auto knobs = store->get(storage::column::attention, storage::agent_key(id));
  if (!knobs) {
    spdlog::error("agent '{}' could not be woken: {}", id, knobs.error().message);
    return {};
  }
  std::optional<storage::attention_record> attention;
  if (*knobs) {
    auto decoded = storage::decode_attention(**knobs);
    if (!decoded) {
      spdlog::error("agent '{}' could not be woken: {}", id, decoded.error().message);
      return {};
    }
    attention = std::move(*decoded);
  }
  {
    std::lock_guard guard{dormant_mtx};
    auto i = dormant_rooms.find(id);
    if (i == dormant_rooms.end()) {
      rec->man.rooms.clear();
    } else {
      rec->man.rooms = std::move(i->second);
      dormant_rooms.erase(i);
    }
  }
  auto behavior = behavior_of(id, rec->behavior);
  auto a = spawn_agent_actor(std::move(rec->man), std::move(behavior));
  // First in its mailbox: whatever woke it is sent after this returns.
  if (attention)
    caf::anon_send(a, atoms::restore_knobs::value, std::move(*attention));
  return a;
}

std::optional<manifest> node::impl::dormant_manifest(const agent_id& id) {
  if (!store || rt.routes.agents().lookup(id) != actor_directory::presence::dormant)
    return std::nullopt;
  std::vector<room_id> rooms;
  {
    std::lock_guard guard{dormant_mtx};
    if (auto i = dormant_rooms.find(id); i != dormant_rooms.end())
      rooms = i->second;
  }
  auto raw = store->get(storage::column::agents, storage::agent_key(id));
  if (!raw || !*raw)
    return std::nullopt;
  auto rec = storage::decode_agent(**raw);
  if (!rec)
    return std::nullopt;
  // Still dormant: then nothing changed its record or rooms since the
  // reads above (a change needs its actor, and an agent never sleeps
  // again once woken).
  if (rt.routes.agents().lookup(id) != actor_directory::presence::dormant)
    return std::nullopt;
  rec->man.rooms = std::move(rooms);
  rec->man.focus.clear();
  return std::move(rec->man);
}

} // namespace parley
