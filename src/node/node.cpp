#include "parley/node/node.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <unordered_map>

#include <caf/all.hpp>
#include <spdlog/spdlog.h>

#include "actors/agent_actor.hpp"
#include "actors/event_bus.hpp"
#include "actors/messages.hpp"
#include "actors/population_driver.hpp"
#include "actors/room_moderator.hpp"
#include "actors/storage_writer.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "actors/runtime.hpp"

namespace parley {

namespace {

caf::actor_system_config make_caf_config(const node_config& cfg) {
  caf::actor_system_config c;
  c.set("scheduler.max-threads", static_cast<size_t>(std::max(1u, cfg.scheduler_threads)));
  return c;
}

unexpected no_agent(const agent_id& id) {
  return unexpected{errc::not_found, "agent '" + id + "' does not exist"};
}

unexpected no_room(const room_id& id) {
  return unexpected{errc::not_found, "room '" + id + "' does not exist"};
}

unexpected stopped() {
  return unexpected{errc::unavailable, "the node is stopped"};
}

} // namespace

struct node::impl {
  impl(node_config c, std::unique_ptr<storage::state_store> s)
    : cfg(std::move(c)), store(std::move(s)), caf_cfg(make_caf_config(cfg)), sys(caf_cfg),
      rt(sys, cfg.time_source ? cfg.time_source : std::make_shared<system_clock>(), cfg.attention) {
    if (store) {
      rt.store = store.get();
      // Detached: a write blocks its thread for the fsync.
      rt.writer = sys.spawn<caf::detached>(storage_writer, store.get());
    }
    rt.record_message_events = cfg.record_message_events;
    rt.bus = sys.spawn(event_bus, &rt,
                       event_retention{cfg.event_retention, cfg.event_log_retention,
                                       cfg.event_log_max_age_ms});
  }

  ~impl() { stop(); }

  void stop() {
    if (stopping.exchange(true))
      return;
    if (store) {
      // Graceful: every event of a call that returned reaches the disk.
      caf::scoped_actor self{sys};
      self->request(rt.bus, caf::timespan{cfg.call_timeout}, atoms::sync::value)
        .receive([](caf::ok_atom) {}, [](caf::error&) {});
    }
    // Drop every strong handle and ask each actor to quit; the actor
    // system's destructor then waits for all of them.
    auto kill = [this](const caf::actor& a) { caf::anon_send_exit(a, caf::exit_reason::user_shutdown); };
    {
      std::lock_guard guard{driver_mtx};
      if (driver)
        kill(driver);
      driver = nullptr;
    }
    for (auto& [id, a] : rt.rooms.snapshot())
      kill(a);
    for (auto& [id, a] : rt.agents.snapshot())
      kill(a);
    rt.rooms.clear();
    rt.agents.clear();
    // The bus handle stays set: agents still finishing may publish, and
    // sending to a terminated actor is harmless. Commits still queued at the
    // writer were never acknowledged, so dropping them loses nothing promised.
    kill(rt.bus);
    if (rt.writer)
      kill(rt.writer);
    sys.await_all_actors_done();
    // Every actor is gone: close the store so that its directory is free.
    rt.store = nullptr;
    store.reset();
  }

  /// Sends a request to `dest` and waits for the answer.
  template <class T, class... Ts>
  expected<T> ask(const caf::actor& dest, Ts&&... xs) {
    if (stopping)
      return stopped();
    caf::scoped_actor self{sys};
    std::optional<expected<T>> out;
    self
      ->request(dest, caf::timespan{cfg.call_timeout}, std::forward<Ts>(xs)...)
      .receive([&](T& v) { out.emplace(std::move(v)); },
               [&](caf::error& e) { out.emplace(unexpected{from_caf(e, sys)}); });
    return std::move(*out);
  }

  template <class... Ts>
  expected<void> ask_ok(const caf::actor& dest, Ts&&... xs) {
    auto r = ask<caf::ok_atom>(dest, std::forward<Ts>(xs)...);
    if (!r)
      return unexpected{r.error()};
    return {};
  }

  expected<caf::actor> agent(const agent_id& id) {
    // After stop the directories are empty: say stopped, not "no such agent".
    if (stopping)
      return stopped();
    if (auto ok = validate_agent_id(id); !ok)
      return unexpected{ok.error()};
    auto a = rt.agents.find(id);
    if (!a)
      return no_agent(id);
    return a;
  }

  expected<caf::actor> room_actor(const room_id& id) {
    if (stopping)
      return stopped();
    if (auto ok = validate_room_id(id); !ok)
      return unexpected{ok.error()};
    auto a = rt.rooms.find(id);
    if (!a)
      return no_room(id);
    return a;
  }

  // Validates, spawns and registers one agent; the directory insert decides
  // duplicates. With a store its record goes into `batch`: the agent counts
  // as introduced (announce) only once the caller has committed the batch.
  expected<void> admit(agent_spec& spec, storage::write_batch* batch) {
    if (stopping)
      return stopped();
    auto& m = spec.man;
    if (auto ok = validate(m); !ok)
      return ok;
    if (m.status == agent_status::retired)
      return unexpected{errc::invalid_argument,
                        "agent '" + m.id + "' cannot be introduced as retired"};
    auto now = rt.now();
    m.rooms = std::vector<room_id>{};
    m.focus.clear();
    m.last_updated = now;
    m.last_seen = now;
    auto id = m.id;
    std::string record;
    if (batch)
      record = storage::encode(storage::agent_record{m, spec.behavior, 1});
    auto behavior = spec.custom ? spec.custom : make_behavior(spec.behavior, m.id);
    if (!spawn_agent(std::move(m), std::move(behavior)))
      return unexpected{errc::already_exists, "agent '" + id + "' already exists"};
    // Only now: a refused duplicate must not overwrite the stored original.
    if (batch)
      batch->put(storage::column::agents, id, std::move(record));
    return {};
  }

  // Starts the actor of an agent (introduced, or recovered from the store);
  // false if the id is taken.
  bool spawn_agent(manifest m, std::shared_ptr<agent_behavior> behavior) {
    agent_seed seed;
    seed.skills.reserve(m.skills.size());
    for (auto& s : m.skills)
      seed.skills.push_back(rt.skills.intern(s));
    // Release the buffers, not only the elements: the manifest moves into
    // the agent's state, where a cleared vector<skill> would keep ~480 bytes
    // of capacity per agent.
    m.skills = std::vector<skill>{};
    seed.behavior = std::move(behavior);
    auto id = m.id;
    seed.man = std::move(m);
    // Not lazy_init: the actor starts at once, so the spawn arguments CAF
    // keeps until then are freed while the introduction goes on and their
    // memory is reused by the next agents. Lazily started agents would free
    // them only at their first message, leaving ~350 bytes of holes per agent
    // between the actors (RSS per idle agent 2.4 KB instead of 2.0 KB at 1M,
    // see docs/performance.md); with the agents' behaviour shared, starting
    // an agent is cheap and lazy_init saved little time.
    auto ext = std::dynamic_pointer_cast<external_behavior>(seed.behavior);
    auto a = sys.spawn(parley::agent, &rt, std::move(seed));
    if (!rt.agents.try_insert(id, a)) {
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      return false;
    }
    if (ext) {
      std::lock_guard guard{externals_mtx};
      externals[id] = std::move(ext);
    }
    return true;
  }

  // One message to the bus for a whole chunk: a mass introduction would
  // otherwise send (and wake a worker for) one message per agent.
  void announce(const std::vector<agent_id>& ids) {
    std::vector<event> es(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      es[i].kind = event_kind::agent_introduced;
      es[i].agent = ids[i];
    }
    rt.publish_all(std::move(es));
  }

  // Undoes admit() for agents whose record did not reach the disk.
  void rollback(const std::vector<agent_id>& ids) {
    for (auto& id : ids)
      if (auto a = rt.agents.find(id)) {
        rt.agents.erase(id);
        caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
      }
  }

  // Commits `b` through the node's writer and waits until it is durable.
  expected<void> commit(storage::write_batch b) {
    if (!rt.writer || b.empty())
      return {};
    return ask_ok(rt.writer, atoms::commit::value, std::move(b));
  }

  // Admits `specs` and commits their records in chunks (one fsync each).
  // Stops at the first failure; returns how many were introduced.
  expected<size_t> introduce(std::vector<agent_spec>& specs) {
    constexpr size_t chunk = 10000;
    size_t done = 0;
    std::optional<error> failure;
    for (size_t i = 0; i < specs.size() && !failure; i += chunk) {
      storage::write_batch batch;
      std::vector<agent_id> admitted;
      for (size_t j = i; j < std::min(specs.size(), i + chunk); ++j) {
        auto id = specs[j].man.id;
        if (auto ok = admit(specs[j], store ? &batch : nullptr); !ok) {
          failure = ok.error();
          break;
        }
        admitted.push_back(std::move(id));
      }
      if (auto ok = commit(std::move(batch)); !ok) {
        rollback(admitted);
        return unexpected{errc::storage_failure, "introducing " + std::to_string(admitted.size())
                                                   + " agents: " + ok.error().message};
      }
      announce(admitted);
      done += admitted.size();
    }
    if (failure)
      return unexpected{*failure};
    return done;
  }

  // Recovery: decodes every record of column `c` and hands it with its key
  // to `visit` (which returns expected<void>); stops at the first failure.
  // Returns how many records were visited.
  template <class Decode, class Visit>
  expected<size_t> recover_each(storage::column c, Decode decode, Visit visit) {
    size_t n = 0;
    std::optional<error> failure;
    auto ok = store->scan(c, {}, {}, [&](std::string_view k, std::string_view v) {
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

  // Starts every agent of the store (their rooms come with recover_rooms).
  expected<size_t> recover_agents() {
    // Sized once: a million inserts would otherwise rehash their way up.
    rt.agents.reserve(store->estimate_count(storage::column::agents));
    return recover_each(storage::column::agents, storage::decode_agent,
                        [this](std::string_view, storage::agent_record& rec) -> expected<void> {
                          std::shared_ptr<agent_behavior> behavior;
                          if (cfg.behavior_factory)
                            behavior = cfg.behavior_factory(rec.man.id, rec.behavior);
                          if (!behavior)
                            behavior = make_behavior(rec.behavior, rec.man.id);
                          auto id = rec.man.id;
                          if (!spawn_agent(std::move(rec.man), std::move(behavior)))
                            return unexpected{errc::storage_failure,
                                              "stored agent '" + id + "' appears twice"};
                          return {};
                        });
  }

  // Starts every room of the store with its members (recovered first), who
  // learn their rooms again, and its moderator's turn state.
  expected<size_t> recover_rooms() {
    uint64_t highest = 0;
    auto n = recover_each(
      storage::column::rooms, storage::decode_room,
      [this, &highest](std::string_view, storage::room_record& rec) -> expected<void> {
        std::vector<caf::actor> handles;
        for (auto& m : rec.r.members) {
          auto a = rt.agents.find(m.id);
          if (!a)
            return unexpected{errc::storage_failure, "stored room '" + rec.r.id + "' has member '"
                                                       + m.id + "', who is not stored"};
          handles.push_back(std::move(a));
        }
        // Generated ids continue after the highest one in use.
        if (rec.r.id.starts_with("room-"))
          highest = std::max<uint64_t>(highest, std::strtoull(rec.r.id.c_str() + 5, nullptr, 10));
        auto id = rec.r.id;
        std::optional<storage::moderator_record> turns;
        auto raw = store->get(storage::column::moderators, id);
        if (!raw)
          return unexpected{raw.error()};
        if (*raw) {
          auto decoded = storage::decode_moderator(**raw);
          if (!decoded)
            return unexpected{decoded.error()};
          turns = std::move(*decoded);
          ++recovered_turns;
        }
        for (auto& h : handles)
          caf::anon_send(h, atoms::room_added::value, id);
        auto mod = sys.spawn(room_moderator, &rt, std::move(rec.r), std::move(handles),
                             std::move(rec.invitations), std::move(turns));
        rt.rooms.try_insert(id, std::move(mod));
        return {};
      });
    if (n)
      next_room = highest + 1;
    return n;
  }

  // Gives agents the attention knobs they were set.
  expected<size_t> recover_knobs() {
    return recover_each(storage::column::attention, storage::decode_attention,
                        [this](std::string_view key, storage::attention_record& rec) -> expected<void> {
                          auto a = rt.agents.find(std::string{key});
                          if (!a)
                            return unexpected{errc::storage_failure, "attention knobs of agent '"
                                                                       + std::string{key}
                                                                       + "', who is not stored"};
                          caf::anon_send(a, atoms::restore_knobs::value, std::move(rec));
                          return {};
                        });
  }

  // Offers every stored inbox entry to its agent again, in delivery order.
  expected<size_t> recover_inboxes() {
    size_t n = 0;
    auto scanned = storage::scan_inboxes(*store, [&](const agent_id& who, message m) -> expected<void> {
      auto a = rt.agents.find(who);
      if (!a)
        return unexpected{errc::storage_failure, "inbox entry of agent '" + who
                                                   + "', who is not stored"};
      caf::anon_send(a, atoms::redeliver::value, std::move(m));
      ++n;
      return {};
    });
    if (!scanned)
      return unexpected{scanned.error()};
    return n;
  }

  // Counts this start of the store: generated ids and delivery numbers
  // carry the count, so none repeats after a restart.
  expected<uint64_t> next_incarnation() {
    auto raw = store->get(storage::column::meta, "incarnation");
    if (!raw)
      return unexpected{raw.error()};
    uint64_t n = *raw ? storage::parse_u64_key(**raw) + 1 : 1;
    storage::write_batch b;
    b.put(storage::column::meta, "incarnation", storage::u64_key(n));
    if (auto ok = store->write(b); !ok)
      return unexpected{ok.error()};
    return n;
  }

  expected<room> spawn_room(room r, std::vector<caf::actor> handles) {
    auto now = rt.now();
    r.created_at = now;
    r.last_activity = now;
    for (auto& m : r.members)
      m.joined_at = now;
    auto id = r.id;
    auto snapshot = r;
    auto mod = sys.spawn(room_moderator, &rt, std::move(r), handles, std::map<agent_id, room_role>{},
                         std::optional<storage::moderator_record>{});
    if (!rt.rooms.try_insert(id, mod)) {
      caf::anon_send_exit(mod, caf::exit_reason::user_shutdown);
      return unexpected{errc::already_exists, "room '" + id + "' already exists"};
    }
    // The room exists once its record is durable; nobody has seen it yet.
    storage::write_batch b;
    if (store)
      b.put(storage::column::rooms, id, storage::encode(storage::room_record{snapshot, {}}));
    if (auto ok = commit(std::move(b)); !ok) {
      rt.rooms.erase(id);
      caf::anon_send_exit(mod, caf::exit_reason::user_shutdown);
      return unexpected{errc::storage_failure, "creating room '" + id + "': " + ok.error().message};
    }
    event e;
    e.kind = event_kind::room_created;
    e.agent = snapshot.created_by;
    e.room = id;
    e.detail = std::string{to_string(snapshot.kind)};
    rt.publish(e);
    for (size_t i = 0; i < handles.size(); ++i) {
      caf::anon_send(handles[i], atoms::room_added::value, id);
      event j;
      j.kind = event_kind::member_joined;
      j.agent = snapshot.members[i].id;
      j.room = id;
      j.detail = std::string{to_string(snapshot.members[i].role)};
      rt.publish(std::move(j));
    }
    return snapshot;
  }

  // Fills in what the node owns (id, time, status) and checks the rest.
  expected<void> prepare(message& m) {
    if (m.id.empty())
      m.id = rt.generated_id("api-", next_message++);
    m.sent_at = rt.now();
    m.status = message_status::sent;
    return validate(m);
  }

  // failed_precondition on a node without a store, naming what needs one.
  expected<void> need_store(const char* what) const {
    if (!store)
      return unexpected{errc::failed_precondition,
                        std::string{what} + " needs a durable node: node '" + cfg.node_id
                          + "' runs with durability memory and keeps no messages"};
    return {};
  }

  // The behaviour of external agent `id`, or why there is none.
  expected<std::shared_ptr<external_behavior>> external(const agent_id& id) {
    auto a = agent(id);
    if (!a)
      return unexpected{a.error()};
    std::lock_guard guard{externals_mtx};
    auto it = externals.find(id);
    if (it == externals.end())
      return unexpected{errc::failed_precondition,
                        "agent '" + id + "' is not external: its node-hosted behaviour reads "
                        "its own messages and has no link"};
    return it->second;
  }

  // Checks that `id` exists and is not retired; returns its actor.
  expected<caf::actor> live_agent(const agent_id& id) {
    auto a = agent(id);
    if (!a)
      return a;
    auto m = ask<manifest>(*a, atoms::get_manifest::value);
    if (!m)
      return unexpected{m.error()};
    if (m->status == agent_status::retired)
      return unexpected{errc::failed_precondition, "agent '" + id + "' is retired"};
    return a;
  }

  node_config cfg;
  // Before sys: the store outlives every actor that writes to it.
  std::unique_ptr<storage::state_store> store;
  caf::actor_system_config caf_cfg;
  caf::actor_system sys;
  runtime rt;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> next_room{1};
  std::atomic<uint64_t> next_message{1};
  size_t recovered_turns = 0;
  std::mutex driver_mtx;
  caf::actor driver;
  // External agents' behaviours, for their links.
  std::mutex externals_mtx;
  std::unordered_map<agent_id, std::shared_ptr<external_behavior>> externals;
};

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

node::~node() = default;

expected<std::unique_ptr<node>> node::start(node_config cfg) {
  if (auto ok = validate_id(cfg.node_id, "node id"); !ok)
    return unexpected{ok.error()};
  if (cfg.attention.inbox_limit == 0)
    return unexpected{errc::invalid_argument, "attention.inbox_limit must be at least 1"};
  if (cfg.attention.context_budget_tokens == 0)
    return unexpected{errc::invalid_argument, "attention.context_budget_tokens must be at least 1"};
  std::unique_ptr<storage::state_store> store;
  if (cfg.durability != storage::durability::memory) {
    if (cfg.data_dir.empty())
      return unexpected{errc::invalid_argument,
                        "data_dir is required for durability '"
                          + std::string{storage::to_string(cfg.durability)} + "'"};
    storage::store_options o;
    o.path = cfg.data_dir;
    o.mode = cfg.durability;
    o.node_id = cfg.node_id;
    o.faults = cfg.disk_faults;
    auto opened = storage::open_store(o);
    if (!opened)
      return unexpected{opened.error()};
    store = std::move(*opened);
  }
  std::unique_ptr<node> n;
  try {
    n.reset(new node(std::make_unique<impl>(std::move(cfg), std::move(store))));
  } catch (const std::exception& e) {
    return unexpected{errc::internal, std::string{"cannot start the actor system: "} + e.what()};
  }
  if (n->impl_->store) {
    auto& im = *n->impl_;
    const auto t0 = std::chrono::steady_clock::now();
    auto incarnation = im.next_incarnation();
    if (!incarnation)
      return unexpected{errc::storage_failure, "starting the store in '" + im.cfg.data_dir
                                                 + "': " + incarnation.error().message};
    im.rt.incarnation = *incarnation;
    auto failed = [&](const char* what, const error& e) {
      return unexpected{errc::storage_failure,
                        std::string{"recovering "} + what + " from '" + im.cfg.data_dir + "': " + e.message};
    };
    auto agents = im.recover_agents();
    if (!agents)
      return failed("agents", agents.error());
    auto knobs = im.recover_knobs();
    if (!knobs)
      return failed("attention knobs", knobs.error());
    auto rooms = im.recover_rooms();
    if (!rooms)
      return failed("rooms", rooms.error());
    auto inbox = im.recover_inboxes();
    if (!inbox)
      return failed("inboxes", inbox.error());
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0)
                      .count();
    spdlog::info("node '{}': recovered {} agents ({} with attention knobs), {} rooms ({} with turn "
                 "state) and {} undelivered messages from '{}' in {} ms (start #{})",
                 im.cfg.node_id, *agents, *knobs, *rooms, im.recovered_turns, *inbox,
                 im.cfg.data_dir, ms, im.rt.incarnation);
  }
  return n;
}

void node::stop() {
  impl_->stop();
}

const node_config& node::config() const noexcept {
  return impl_->cfg;
}

// -- agents -------------------------------------------------------------------

expected<void> node::introduce(agent_spec spec) {
  std::vector<agent_spec> one;
  one.push_back(std::move(spec));
  auto n = impl_->introduce(one);
  if (!n)
    return unexpected{n.error()};
  return {};
}

expected<size_t> node::introduce_many(std::vector<agent_spec> specs) {
  impl_->rt.agents.reserve(specs.size());
  return impl_->introduce(specs);
}

expected<void> node::retire(const agent_id& id) {
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  return impl_->ask_ok(*a, atoms::retire::value);
}

expected<manifest> node::get_manifest(const agent_id& id) {
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  return impl_->ask<manifest>(*a, atoms::get_manifest::value);
}

expected<manifest> node::update_manifest(const caller& who, manifest m) {
  if (auto ok = validate(m); !ok)
    return unexpected{ok.error()};
  auto a = impl_->agent(m.id);
  if (!a)
    return unexpected{a.error()};
  return impl_->ask<manifest>(*a, atoms::update_manifest::value, who, std::move(m));
}

std::vector<agent_id> node::list_agents() const {
  std::vector<agent_id> out;
  for (auto& [id, a] : impl_->rt.agents.snapshot())
    out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

expected<void> node::set_importance(const agent_id& id, const dialogue_key& k, double w) {
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  return impl_->ask_ok(*a, atoms::importance::value, static_cast<uint8_t>(k.k), k.id, w);
}

expected<void> node::set_relationship(const agent_id& id, const agent_id& peer, double w) {
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  if (auto ok = validate_agent_id(peer); !ok)
    return ok;
  return impl_->ask_ok(*a, atoms::relation::value, peer, w);
}

expected<void> node::nudge(const agent_id& id) {
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  caf::anon_send(*a, atoms::nudge::value);
  return {};
}

// -- rooms --------------------------------------------------------------------

expected<room> node::create_direct(const agent_id& a, const agent_id& b) {
  if (a == b)
    return unexpected{errc::invalid_argument,
                      "a direct room needs two different agents, got '" + a + "' twice"};
  auto ha = impl_->live_agent(a);
  if (!ha)
    return unexpected{ha.error()};
  auto hb = impl_->live_agent(b);
  if (!hb)
    return unexpected{hb.error()};
  auto id = direct_room_id(a, b);
  for (;;) {
    if (auto existing = impl_->rt.rooms.find(id)) {
      auto r = impl_->ask<room>(existing, atoms::get_room::value);
      if (!r)
        return r;
      // The creator is one of the pair for good: leaving cannot change it.
      if (r->kind == room_kind::direct && (r->created_by == a || r->created_by == b))
        return r;
      id += "-x"; // hash collision with another pair: probe the next id
      continue;
    }
    room r;
    r.id = id;
    r.kind = room_kind::direct;
    r.created_by = a;
    r.rules.policy = speaker_policy::none;
    r.members = {{a, room_role::member, 0}, {b, room_role::member, 0}};
    auto made = impl_->spawn_room(std::move(r), {*ha, *hb});
    if (!made && made.error().code == errc::already_exists)
      continue; // lost a race with a concurrent create: return the winner
    return made;
  }
}

expected<room> node::create_group(const agent_id& creator, group_spec spec) {
  auto h = impl_->live_agent(creator);
  if (!h)
    return unexpected{h.error()};
  room r;
  r.id = spec.id.empty() ? "room-" + std::to_string(impl_->next_room++) : std::move(spec.id);
  r.kind = room_kind::group;
  r.topic = std::move(spec.topic);
  r.created_by = creator;
  r.rules = std::move(spec.rules);
  r.access = spec.access;
  r.members = {{creator, room_role::owner, 0}};
  if (auto ok = validate(r); !ok)
    return unexpected{ok.error()};
  return impl_->spawn_room(std::move(r), {*h});
}

expected<void> node::join(const room_id& r, const agent_id& who) {
  auto a = impl_->agent(who);
  if (!a)
    return unexpected{a.error()};
  if (auto ok = validate_room_id(r); !ok)
    return ok;
  return impl_->ask_ok(*a, atoms::enter::value, r);
}

expected<size_t> node::join_many(const room_id& r, const std::vector<agent_id>& who) {
  if (auto ok = validate_room_id(r); !ok)
    return unexpected{ok.error()};
  if (impl_->stopping)
    return stopped();
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
    self->send(*a, atoms::enter::value, r);
    ++sent;
  }
  size_t joined = 0;
  bool timed_out = false;
  for (size_t i = 0; i < sent && !timed_out; ++i)
    self->receive([&](caf::ok_atom) { ++joined; },
                  [&](caf::error& e) {
                    if (!first_failure)
                      first_failure = from_caf(e, impl_->sys);
                  },
                  caf::after(impl_->cfg.call_timeout) >> [&] { timed_out = true; });
  if (timed_out)
    return unexpected{errc::unavailable, "join_many: no answer within the call timeout"};
  if (first_failure)
    return unexpected{*first_failure};
  return joined;
}

expected<void> node::leave(const room_id& r, const agent_id& who) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  if (auto ok = validate_agent_id(who); !ok)
    return ok;
  return impl_->ask_ok(*m, atoms::leave_room::value, who);
}

expected<void> node::invite(const room_id& r, const agent_id& by, const agent_id& who,
                            room_role role) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  if (auto ok = validate_agent_id(by); !ok)
    return ok;
  if (auto h = impl_->live_agent(who); !h)
    return unexpected{h.error()};
  return impl_->ask_ok(*m, atoms::invite::value, by, who, role);
}

expected<void> node::set_role(const room_id& r, const agent_id& by, const agent_id& target,
                              room_role role) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  return impl_->ask_ok(*m, atoms::set_role::value, by, target, role);
}

expected<void> node::close_room(const room_id& r, const caller& who) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  return impl_->ask_ok(*m, atoms::close_room::value, who);
}

expected<room> node::get_room(const room_id& r) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  return impl_->ask<room>(*m, atoms::get_room::value);
}

std::vector<room_id> node::list_rooms() const {
  std::vector<room_id> out;
  for (auto& [id, a] : impl_->rt.rooms.snapshot())
    out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

// Ids after `after` in order, as a sorted snapshot of a directory.
std::vector<std::string> ids_after(std::vector<std::string> ids, const std::string& after) {
  std::sort(ids.begin(), ids.end());
  auto from = std::upper_bound(ids.begin(), ids.end(), after);
  ids.erase(ids.begin(), from);
  return ids;
}

expected<void> check_page_size(size_t n) {
  if (n == 0 || n > max_list_page)
    return unexpected{errc::invalid_argument, "page size must be 1 to "
                                                + std::to_string(max_list_page) + ", not "
                                                + std::to_string(n)};
  return {};
}

bool has_skill(const manifest& m, const std::string& s) {
  return std::any_of(m.skills.begin(), m.skills.end(),
                     [&](const skill& k) { return k.id == s || k.name == s; });
}

} // namespace

expected<agent_page> node::find_agents(const agent_filter& f, size_t page_size,
                                       const std::string& after) {
  if (auto ok = check_page_size(page_size); !ok)
    return unexpected{ok.error()};
  std::vector<std::string> ids;
  if (!f.room.empty()) {
    auto r = get_room(f.room);
    if (!r)
      return unexpected{r.error()};
    for (auto& m : r->members)
      ids.push_back(m.id);
  } else {
    ids = list_agents();
  }
  agent_page page;
  for (auto& id : ids_after(std::move(ids), after)) {
    auto m = get_manifest(id);
    if (!m) {
      if (m.error().code == errc::not_found)
        continue; // retired and gone meanwhile
      return unexpected{m.error()};
    }
    if (f.status && m->status != *f.status)
      continue;
    if (!f.skill.empty() && !has_skill(*m, f.skill))
      continue;
    if (page.agents.size() == page_size) {
      page.next = page.agents.back().id;
      break;
    }
    page.agents.push_back(std::move(*m));
  }
  return page;
}

expected<room_page> node::find_rooms(const agent_id& member, size_t page_size,
                                     const std::string& after) {
  if (auto ok = check_page_size(page_size); !ok)
    return unexpected{ok.error()};
  std::vector<std::string> ids;
  if (!member.empty()) {
    auto m = get_manifest(member);
    if (!m)
      return unexpected{m.error()};
    ids = m->rooms;
  } else {
    ids = list_rooms();
  }
  room_page page;
  for (auto& id : ids_after(std::move(ids), after)) {
    auto r = get_room(id);
    if (!r)
      return unexpected{r.error()};
    if (page.rooms.size() == page_size) {
      page.next = page.rooms.back().id;
      break;
    }
    page.rooms.push_back(std::move(*r));
  }
  return page;
}

// -- turns --------------------------------------------------------------------

expected<void> node::request_turn(const room_id& r, const agent_id& who) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  if (auto ok = validate_agent_id(who); !ok)
    return ok;
  return impl_->ask_ok(*m, atoms::turn_request::value, who);
}

expected<void> node::yield_turn(const room_id& r, const agent_id& who) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  return impl_->ask_ok(*m, atoms::turn_yield::value, who);
}

expected<turn_state> node::turns(const room_id& r) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  return impl_->ask<turn_state>(*m, atoms::get_turns::value);
}

// -- messages -----------------------------------------------------------------

expected<message> node::send(message m) {
  if (auto ok = impl_->prepare(m); !ok)
    return unexpected{ok.error()};
  auto a = impl_->agent(m.from);
  if (!a && a.error().code != errc::not_found)
    return unexpected{a.error()};
  if (!a)
    return unexpected{errc::not_found, "sender agent '" + m.from + "' does not exist"};
  auto r = impl_->ask<send_receipt>(*a, atoms::say::value, m);
  if (!r)
    return unexpected{r.error()};
  m.status = r->status;
  m.sent_at = r->sent_at;
  return m;
}

expected<void> node::post(message m) {
  if (auto ok = impl_->prepare(m); !ok)
    return ok;
  auto a = impl_->agent(m.from);
  if (!a && a.error().code != errc::not_found)
    return unexpected{a.error()};
  if (!a)
    return unexpected{errc::not_found, "sender agent '" + m.from + "' does not exist"};
  // The reply (status or error) goes to no one: failures are counted and
  // published by the agent.
  caf::anon_send(*a, atoms::say::value, std::move(m));
  return {};
}

expected<message_status> node::status(const agent_id& from, const message_id& id) {
  auto a = impl_->agent(from);
  if (!a)
    return unexpected{a.error()};
  return impl_->ask<message_status>(*a, atoms::status_of::value, id);
}

expected<storage::history_page> node::room_history(const room_id& r,
                                                  const storage::history_query& q) {
  auto m = impl_->room_actor(r);
  if (!m)
    return unexpected{m.error()};
  if (auto ok = impl_->need_store("room history"); !ok)
    return unexpected{ok.error()};
  return storage::read_history(*impl_->store, storage::room_dialogue(r), q);
}

expected<storage::history_page> node::direct_history(const agent_id& a, const agent_id& b,
                                                    const storage::history_query& q) {
  for (auto* id : {&a, &b})
    if (auto ok = impl_->agent(*id); !ok)
      return unexpected{ok.error()};
  if (auto ok = impl_->need_store("direct history"); !ok)
    return unexpected{ok.error()};
  return storage::read_history(*impl_->store, storage::direct_dialogue(a, b), q);
}

expected<std::vector<message>> node::inbox(const agent_id& id, size_t limit) {
  if (auto ok = impl_->agent(id); !ok)
    return unexpected{ok.error()};
  if (auto ok = impl_->need_store("the durable inbox"); !ok)
    return unexpected{ok.error()};
  return storage::read_inbox(*impl_->store, id, limit);
}

std::vector<expected<message>> node::send_many(std::vector<message> ms) {
  std::vector<expected<message>> out(ms.size(), unexpected{errc::internal, "not sent"});
  if (impl_->stopping) {
    for (auto& r : out)
      r = stopped();
    return out;
  }
  // Every request first, then every answer: one round trip for the batch.
  caf::scoped_actor self{impl_->sys};
  using handle = decltype(self->request(caf::actor{}, caf::infinite, atoms::say::value, message{}));
  std::vector<std::pair<size_t, handle>> asked;
  asked.reserve(ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    auto& m = ms[i];
    if (auto ok = impl_->prepare(m); !ok) {
      out[i] = unexpected{ok.error()};
      continue;
    }
    auto a = impl_->agent(m.from);
    if (!a) {
      out[i] = a.error().code == errc::not_found
                 ? unexpected{errc::not_found, "sender agent '" + m.from + "' does not exist"}
                 : unexpected{a.error()};
      continue;
    }
    asked.emplace_back(i, self->request(*a, caf::timespan{impl_->cfg.call_timeout},
                                        atoms::say::value, m));
  }
  for (auto& [i, h] : asked) {
    auto& m = ms[i];
    h.receive(
      [&](send_receipt& r) {
        m.status = r.status;
        m.sent_at = r.sent_at;
        out[i] = std::move(m);
      },
      [&](caf::error& e) { out[i] = unexpected{from_caf(e, impl_->sys)}; });
  }
  return out;
}

expected<void> node::mark_read(const agent_id& id, const std::vector<uint64_t>& deliveries) {
  auto ext = impl_->external(id);
  if (!ext)
    return unexpected{ext.error()};
  std::vector<uint64_t> unknown;
  auto acked = (*ext)->acknowledge(deliveries, &unknown);
  auto a = impl_->rt.agents.find(id);
  if (!a)
    return no_agent(id);
  if (!acked.empty())
    caf::anon_send(a, atoms::acked::value, std::move(acked));
  // Still in the agent's queue (or unknown): the agent drops them on the
  // way out, which also removes them from the durable inbox.
  if (!unknown.empty()) {
    if (impl_->store) {
      storage::write_batch b;
      for (auto d : unknown)
        storage::add_inbox_removal(b, id, d);
      if (auto ok = impl_->commit(std::move(b)); !ok)
        return ok;
    }
    caf::anon_send(a, atoms::read_ahead::value, std::move(unknown));
  }
  return {};
}

struct agent_link::impl {
  node* owner;
  agent_id id;
  std::shared_ptr<external_behavior> ext;
  caf::actor agent;
  size_t pending = 0;
};

agent_link::agent_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

agent_link::~agent_link() {
  impl_->ext->detach();
}

const agent_id& agent_link::agent() const noexcept {
  return impl_->id;
}

size_t agent_link::pending_at_open() const noexcept {
  return impl_->pending;
}

std::optional<link_item> agent_link::next(std::chrono::milliseconds timeout) {
  return impl_->ext->next(timeout);
}

void agent_link::add_credit(uint32_t n) {
  impl_->ext->add_credit(n);
  // The agent stops serving at zero credit; wake it.
  caf::anon_send(impl_->agent, atoms::serve::value);
}

void agent_link::acknowledge(const std::vector<uint64_t>& deliveries) {
  auto acked = impl_->ext->acknowledge(deliveries);
  if (!acked.empty())
    caf::anon_send(impl_->agent, atoms::acked::value, std::move(acked));
}

expected<std::unique_ptr<agent_link>> node::open_link(const agent_id& id, uint32_t credit) {
  auto ext = impl_->external(id);
  if (!ext)
    return unexpected{ext.error()};
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  // What waits for the agent: its durable inbox (unacknowledged deliveries
  // stay there), or without a store what the behaviour holds.
  size_t before = (*ext)->waiting();
  if (impl_->store)
    if (auto inbox = storage::read_inbox(*impl_->store, id, storage::max_page_size))
      before = inbox->size();
  if (auto ok = (*ext)->attach(credit); !ok)
    return unexpected{errc::failed_precondition,
                      "agent '" + id + "': " + ok.error().message};
  auto p = std::make_unique<agent_link::impl>();
  p->owner = this;
  p->id = id;
  p->ext = *ext;
  p->agent = *a;
  p->pending = before;
  caf::anon_send(*a, atoms::serve::value);
  return std::make_unique<agent_link>(std::move(p));
}

// -- events -------------------------------------------------------------------

expected<uint64_t> node::subscribe(topic_mask mask, uint64_t from_seq, event_callback cb) {
  if (mask == 0 || (mask & ~all_topics) != 0)
    return unexpected{errc::invalid_argument, "topic mask " + std::to_string(mask)
                                                + " is empty or names unknown topics"};
  if (!cb)
    return unexpected{errc::invalid_argument, "subscribe needs a callback"};
  auto sink = std::make_shared<std::function<void(const event&)>>(std::move(cb));
  return impl_->ask<uint64_t>(impl_->rt.bus, atoms::subscribe::value, mask, from_seq, sink);
}

expected<void> node::unsubscribe(uint64_t id) {
  return impl_->ask_ok(impl_->rt.bus, atoms::unsubscribe::value, id);
}

expected<std::vector<event>> node::events_since(uint64_t from_seq, size_t max) {
  return impl_->ask<std::vector<event>>(impl_->rt.bus, atoms::events_since::value, from_seq,
                                        static_cast<uint64_t>(max));
}

// -- operation ----------------------------------------------------------------

void node::start_driver(uint64_t seed, std::chrono::milliseconds interval, uint32_t per_tick) {
  // The directory snapshot has no fixed order; sort by id for a seed that
  // replays the same nudges.
  auto snap = impl_->rt.agents.snapshot();
  std::sort(snap.begin(), snap.end(), [](auto& x, auto& y) { return x.first < y.first; });
  std::vector<caf::actor> agents;
  for (auto& [id, a] : snap)
    agents.push_back(a);
  std::lock_guard guard{impl_->driver_mtx};
  if (impl_->driver)
    caf::anon_send_exit(impl_->driver, caf::exit_reason::user_shutdown);
  impl_->driver = impl_->sys.spawn(population_driver, std::move(agents), seed, interval, per_tick);
}

expected<void> node::backup(const std::string& backup_dir) {
  if (!impl_->store)
    return unexpected{errc::failed_precondition,
                      "node '" + impl_->cfg.node_id + "' has no store to back up (durability memory)"};
  if (auto ok = storage::create_backup(*impl_->store, backup_dir); !ok)
    return ok;
  return storage::verify_backups(backup_dir);
}

void node::drain() {
  {
    std::lock_guard guard{impl_->driver_mtx};
    if (impl_->driver)
      caf::anon_send_exit(impl_->driver, caf::exit_reason::user_shutdown);
    impl_->driver = nullptr;
  }
  if (impl_->stopping)
    return;
  caf::scoped_actor self{impl_->sys};
  self->request(impl_->rt.bus, caf::timespan{impl_->cfg.call_timeout}, atoms::sync::value)
    .receive([](caf::ok_atom) {}, [](caf::error&) {});
}

node_stats node::stats() const {
  auto& c = impl_->rt.counters;
  node_stats s;
  s.agents = impl_->rt.agents.size();
  s.rooms = impl_->rt.rooms.size();
  s.rooms_closed = c.rooms_closed.load();
  s.messages_sent = c.messages_sent.load();
  s.deliveries = c.deliveries.load();
  s.served = c.served.load();
  s.refused = c.refused.load();
  s.turns_granted = c.turns_granted.load();
  s.event_log_failures = c.event_log_failures.load();
  return s;
}

} // namespace parley
