// The node's lifecycle: start (config checks, the store, recovery), stop,
// the shared helpers of node_impl.hpp, and operation (driver, backup, drain,
// stats).

#include "parley/node/node.hpp"

#include <algorithm>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "actors/event_bus.hpp"
#include "actors/janitor.hpp"
#include "actors/population_driver.hpp"
#include "actors/storage_writer.hpp"
#include "node/node_impl.hpp"
#include "parley/model/limits.hpp"

namespace parley {

unexpected no_agent(const agent_id& id) {
  return unexpected{errc::not_found, "agent '" + id + "' does not exist"};
}

unexpected no_room(const room_id& id) {
  return unexpected{errc::not_found, "room '" + id + "' does not exist"};
}

unexpected stopped() {
  return unexpected{errc::unavailable, "the node is stopped"};
}

namespace {

caf::actor_system_config make_caf_config(const node_config& cfg) {
  caf::actor_system_config c;
  c.set("scheduler.max-threads", static_cast<size_t>(std::max(1u, cfg.scheduler_threads)));
  // An idle worker polls its queue 100 times, then 500 times with a 50 us
  // sleep between polls (about 100 us each on this VM), then waits on a
  // condition variable that an enqueue notifies. A message to a worker in
  // that middle phase waited out its sleep: most of one API call's latency
  // (docs/performance.md, step 5). Without the sleeps the middle phase
  // lasts microseconds and the wait that follows is woken at once.
  c.set("work-stealing.moderate-sleep-duration", caf::timespan{0});
  return c;
}

actor_limits actor_limits_of(const node_limits& l) {
  actor_limits a;
  a.max_reply_hops = l.max_reply_hops;
  a.backlog_limit = l.backlog;
  a.read_ahead_limit = l.read_ahead;
  a.idempotency_window_ms = l.idempotency_window_ms;
  a.max_members = l.max_members;
  return a;
}

expected<void> check_config(const node_config& cfg) {
  if (auto ok = validate_id(cfg.node_id, "node id"); !ok)
    return ok;
  auto bad = [](std::string what) { return unexpected{errc::invalid_argument, std::move(what)}; };
  if (cfg.attention.inbox_limit == 0)
    return bad("attention.inbox_limit must be at least 1");
  if (cfg.attention.context_budget_tokens == 0)
    return bad("attention.context_budget_tokens must be at least 1");
  auto& l = cfg.limits;
  if (l.backlog == 0)
    return bad("limits.backlog must be at least 1");
  if (l.max_subscriptions == 0 || l.subscription_queue == 0 || l.max_links == 0)
    return bad("limits.max_subscriptions, limits.subscription_queue and limits.max_links must "
               "be at least 1");
  if (l.history_max_age_ms < 0 || l.idempotency_window_ms < 0)
    return bad("limits.history_max_age_ms and limits.idempotency_window_ms must not be negative");
  if (l.max_members == 0 || l.max_members > limits::max_members)
    return bad("limits.max_members must be 1 to " + std::to_string(limits::max_members));
  if (l.retention_interval_ms < 100)
    return bad("limits.retention_interval_ms must be at least 100");
  if (cfg.call_timeout.count() <= 0)
    return bad("call_timeout must be positive");
  return {};
}

} // namespace

node::impl::impl(node_config c, std::unique_ptr<storage::state_store> s)
  : cfg(std::move(c)), store(std::move(s)), caf_cfg(make_caf_config(cfg)), sys(caf_cfg),
    rt(sys, cfg.time_source ? cfg.time_source : std::make_shared<system_clock>(), cfg.attention),
    deadlines(cfg.call_timeout) {
  rt.limits = actor_limits_of(cfg.limits);
  if (store) {
    rt.store = store.get();
    // Detached: a write blocks its thread for the fsync, a read for the disk.
    rt.deferred = &deferred;
    rt.writer = sys.spawn<caf::detached>(storage_writer, store.get(), &rt.counters, &deferred);
    rt.reader = sys.spawn<caf::detached>(storage_reader, static_cast<const storage::state_store*>(store.get()));
  }
  rt.record_message_events = cfg.record_message_events;
  // One relay per scheduler thread: a relay only sends requests and
  // resumes callers, so a few keep up with any number of calls.
  for (unsigned i = 0; i < std::max(1u, cfg.scheduler_threads); ++i)
    relays.push_back(sys.spawn<call_relay>());
  sweeper = sys.spawn(deadline_sweeper, &deadlines);
  join_network();
}

void node::impl::stop() {
  {
    std::unique_lock guard{life_mtx};
    if (stopping.exchange(true))
      return;
  }
  // Answers from other nodes no longer reach the actors (which go now),
  // and the links end (their threads must be gone before the actor system).
  rt.gate->close();
  if (rt.peers)
    rt.peers->close();
  // A shard move under way stops between its steps (each can be repeated).
  {
    std::unique_lock guard{mover_mtx};
    auto t = std::move(mover);
    guard.unlock();
    if (t.joinable())
      t.join();
  }
  if (store && rt.bus) {
    // Graceful: every event of a call that returned reaches the disk.
    logger_unpin_guard unpin;
    caf::scoped_actor self{sys};
    self->request(rt.bus, caf::timespan{cfg.call_timeout}, atoms::sync_event_log::value)
      .receive([](caf::ok_atom) {}, [](caf::error&) {});
  }
  // Drop every strong handle and ask each actor to quit; the actor
  // system's destructor then waits for all of them.
  auto kill = [](const caf::actor& a) {
    if (a)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  };
  {
    std::lock_guard guard{driver_mtx};
    kill(driver);
    driver = nullptr;
  }
  kill(janitor);
  kill(rt.gateway);
  for (auto& [id, a] : rt.routes.rooms().snapshot())
    kill(a);
  for (auto& [id, a] : rt.routes.agents().snapshot())
    kill(a);
  rt.routes.rooms().clear();
  rt.routes.agents().clear();
  {
    std::lock_guard guard{externals_mtx};
    externals.clear();
  }
  // The bus handle stays set: agents still finishing may publish, and
  // sending to a terminated actor is harmless. Commits still queued at the
  // writer were never acknowledged, so dropping them loses nothing promised.
  kill(rt.bus);
  kill(rt.writer);
  kill(rt.reader);
  // Calls still waiting in a relay end with `stopped` (ask_awaiter).
  for (auto& r : relays)
    kill(r);
  // Direct calls still waiting end with `stopped` too.
  kill(sweeper);
  deadlines.close();
  sys.await_all_actors_done();
  // Changes written behind that the writer had not taken yet (served inbox
  // entries, say): written now, so a graceful stop offers nothing again.
  if (store)
    if (auto ok = store->write(deferred.take()); !ok)
      spdlog::warn("stop: writing the changes written behind failed ({}); served messages may be "
                   "offered again after the restart", ok.error().message);
  // Every actor is gone: close the store so that its directory is free.
  rt.store = nullptr;
  store.reset();
}

expected<caf::actor> node::impl::agent(const agent_id& id) {
  // After stop the directories are empty: say stopped, not "no such agent".
  if (stopping)
    return stopped();
  if (auto ok = validate_agent_id(id); !ok)
    return unexpected{ok.error()};
  if (rt.cluster)
    if (auto ok = serves(id); !ok)
      return unexpected{ok.error()};
  auto a = rt.routes.agent(id);
  if (a)
    return a;
  if (stopping)
    return stopped();
  return unexpected{rt.missing_agent(id)};
}

expected<void> node::impl::known_agent(const agent_id& id) {
  if (stopping)
    return stopped();
  if (auto ok = validate_agent_id(id); !ok)
    return ok;
  if (rt.routes.agents().lookup(id) == actor_directory::presence::absent)
    return no_agent(id);
  return {};
}

expected<caf::actor> node::impl::room_actor(const room_id& id) {
  if (stopping)
    return stopped();
  if (auto ok = validate_room_id(id); !ok)
    return unexpected{ok.error()};
  if (rt.cluster)
    if (auto ok = serves(id); !ok)
      return unexpected{ok.error()};
  auto a = rt.routes.room(id);
  if (!a)
    return no_room(id);
  return a;
}

task<expected<caf::actor>> node::impl::live_agent_async(agent_id id) {
  auto a = agent(id);
  if (!a)
    co_return a;
  auto m = co_await ask_async<manifest>(*a, atoms::read_manifest::value);
  if (!m)
    co_return unexpected{m.error()};
  if (m->status == agent_status::retired)
    co_return unexpected{errc::failed_precondition, "agent '" + id + "' is retired"};
  co_return a;
}

expected<room> node::impl::room_facts(const room_id& id) {
  return wait(room_facts_async(id));
}

task<expected<room>> node::impl::room_facts_async(room_id id) {
  auto m = room_actor(id);
  if (!m)
    co_return unexpected{m.error()};
  co_return co_await ask_async<room>(*m, atoms::read_room::value, node_principal());
}

node::impl::relay_awaiter<expected<void>> node::impl::pause_async(std::chrono::milliseconds d) {
  auto job = [d](caf::event_based_actor* self, std::shared_ptr<relay_call<expected<void>>> call) {
    // The relay sends itself the rest of the job, due after d.
    relay_job later{[call](caf::event_based_actor*) {
      call->value = expected<void>{};
      call->finish();
    }};
    self->delayed_send(self, d, atoms::relay::value, std::move(later));
  };
  return relay_awaiter<expected<void>>(*this, std::move(job), [] { return expected<void>{stopped()}; });
}

expected<commit_outcome> node::impl::commit(storage::write_batch b) {
  return wait(commit_async(std::move(b)));
}

task<expected<commit_outcome>> node::impl::commit_async(storage::write_batch b, caf::actor relay) {
  if (!rt.writer || b.empty())
    co_return commit_outcome{};
  co_return co_await ask_async_on<commit_outcome>(std::move(relay), rt.writer, atoms::commit::value, std::move(b));
}

expected<void> node::impl::need_store(const char* what) const {
  if (!store)
    return unexpected{errc::failed_precondition,
                      std::string{what} + " needs a durable node: node '" + cfg.node_id
                        + "' runs with durability memory and keeps no messages"};
  return {};
}

expected<std::shared_ptr<external_behavior>> node::impl::external(const agent_id& id) {
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

node::node(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

node::~node() = default;

expected<std::unique_ptr<node>> node::start(node_config cfg) {
  if (auto ok = check_config(cfg); !ok)
    return unexpected{ok.error()};
  std::unique_ptr<storage::state_store> store;
  if (cfg.durability != durability::memory) {
    if (cfg.data_dir.empty())
      return unexpected{errc::invalid_argument,
                        "data_dir is required for durability '" + std::string{to_string(cfg.durability)} + "'"};
    // RocksDB makes the store's directory, not its parents.
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    if (ec)
      return unexpected{errc::invalid_argument,
                        "cannot create data directory '" + cfg.data_dir + "': " + ec.message()};
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
  // The actor system and the spawns pin CAF's logger to this thread; the
  // node may end on another (see logger_pin.hpp). Declared before `n`: a
  // node that fails to start ends first.
  logger_unpin_guard unpin;
  std::unique_ptr<node> n;
  try {
    n.reset(new node(std::make_unique<impl>(std::move(cfg), std::move(store))));
  } catch (const std::exception& e) {
    return unexpected{errc::internal, std::string{"cannot start the actor system: "} + e.what()};
  }
  auto& im = *n->impl_;
  if (auto ok = im.recover(); !ok)
    return unexpected{ok.error()};
  im.janitor = im.sys.spawn<caf::detached>(janitor, std::chrono::milliseconds(im.cfg.limits.retention_interval_ms),
                                           [p = &im] {
                                             if (auto ok = p->retention_pass(); !ok)
                                               spdlog::warn("retention: {}", to_string(ok.error()));
                                           });
  im.resume_moves();
  im.resume_outbox();
  return n;
}

void node::stop() {
  impl_->stop();
}

const node_config& node::config() const noexcept {
  return impl_->cfg;
}

uint64_t node::incarnation() const noexcept {
  return impl_->rt.incarnation;
}

void node::start_driver(uint64_t seed, std::chrono::milliseconds interval, uint32_t per_tick) {
  // Sorted by id: a seed replays the same nudges.
  auto ids = impl_->rt.routes.agents().ids();
  std::sort(ids.begin(), ids.end());
  std::lock_guard guard{impl_->driver_mtx};
  if (impl_->driver)
    caf::anon_send_exit(impl_->driver, caf::exit_reason::user_shutdown);
  logger_unpin_guard unpin;
  impl_->driver = impl_->sys.spawn(population_driver, &impl_->rt, std::move(ids), seed, interval, per_tick);
}

expected<void> node::backup(const principal& p, const std::string& backup_dir) {
  if (auto ok = authorize(p, action::backup); !ok)
    return ok;
  if (!impl_->store)
    return unexpected{errc::failed_precondition,
                      "node '" + impl_->cfg.node_id + "' has no store to back up (durability memory)"};
  if (auto ok = storage::create_backup(*impl_->store, backup_dir); !ok)
    return ok;
  return storage::verify_backups(backup_dir);
}

expected<void> node::drain(const principal& p) {
  if (auto ok = authorize(p, action::drain); !ok)
    return ok;
  {
    std::lock_guard guard{impl_->driver_mtx};
    if (impl_->driver)
      caf::anon_send_exit(impl_->driver, caf::exit_reason::user_shutdown);
    impl_->driver = nullptr;
  }
  if (impl_->stopping)
    return {};
  auto ok = impl_->ask_ok(impl_->rt.bus, atoms::sync_event_log::value);
  if (!ok)
    spdlog::warn("drain: the event log could not be flushed: {}", to_string(ok.error()));
  return {};
}

expected<uint64_t> node::run_retention(const principal& p) {
  if (auto ok = authorize(p, action::maintain); !ok)
    return unexpected{ok.error()};
  return impl_->retention_pass();
}

node_stats node::stats() const {
  auto& c = impl_->rt.counters;
  node_stats s;
  s.agents = impl_->rt.routes.agents().size();
  s.agents_active = impl_->rt.routes.agents().active();
  s.rooms = impl_->rt.routes.rooms().size();
  s.rooms_closed = c.rooms_closed.load();
  s.messages_sent = c.messages_sent.load();
  s.deliveries = c.deliveries.load();
  s.served = c.served.load();
  s.refused = c.refused.load();
  s.turns_granted = c.turns_granted.load();
  s.peer_requests_served = c.peer_requests_served.load(std::memory_order_relaxed);
  s.outbox_pending = c.outbox_pending.load(std::memory_order_relaxed);
  s.event_log_failures = c.event_log_failures.load();
  s.events_dropped = c.events_dropped.load();
  s.replies_stopped = c.replies_stopped.load();
  s.skills = impl_->rt.skills.size();
  s.subscriptions = impl_->open_subscriptions.load();
  s.links = impl_->open_links.load();
  s.storage_writes = c.storage_writes.load();
  s.storage_batches = c.storage_batches.load();
  return s;
}

} // namespace parley
