// Agents: introduction (reserve, commit, then start), retirement, manifests,
// listings, attention knobs, and erasure of personal data.

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/agent_actor.hpp"
#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

caf::actor node::impl::spawn_agent_actor(manifest m, std::shared_ptr<agent_behavior> behavior) {
  agent_seed seed;
  seed.skills.reserve(m.skills.size());
  for (auto& s : m.skills)
    seed.skills.push_back(rt.skills.intern(s));
  // Release the buffers, not only the elements: the manifest moves into
  // the agent's state, where a cleared vector<skill> would keep ~480 bytes
  // of capacity per agent.
  m.skills = std::vector<skill>{};
  auto ext = std::dynamic_pointer_cast<external_behavior>(behavior);
  seed.behavior = std::move(behavior);
  std::string id = ext ? m.id : std::string{};
  seed.man = std::move(m);
  // The seed goes to the actor's constructor, on this thread (see
  // agent_actor). lazy_init: the actor is scheduled only when its first
  // message arrives, so a mass introduction does not wake a scheduler
  // thread per agent (with workers that poll without sleeping, that cost
  // 1.7x the introduction's time; docs/performance.md, step 5).
  logger_unpin_guard unpin; // (an API thread may introduce or wake an agent)
  auto a = sys.spawn<agent_actor, caf::lazy_init>(&rt, std::move(seed));
  if (ext) {
    std::lock_guard guard{externals_mtx};
    externals[id] = std::move(ext);
  }
  return a;
}

std::shared_ptr<agent_behavior> node::impl::behavior_of(const agent_id& id, const behavior_spec& spec) {
  std::shared_ptr<agent_behavior> b;
  if (cfg.behavior_factory)
    b = cfg.behavior_factory(id, spec);
  return b ? b : make_behavior(spec, id);
}

void node::impl::spawn_agent(manifest m, std::shared_ptr<agent_behavior> behavior) {
  std::shared_lock guard{life_mtx};
  if (stopping)
    return; // (its record is committed: the next start has it)
  auto id = m.id;
  rt.routes.agents().publish(id, spawn_agent_actor(std::move(m), std::move(behavior)));
}

namespace {

// Checks one spec and fills in what the node owns.
expected<void> prepare_spec(agent_spec& spec, timestamp now) {
  auto& m = spec.man;
  if (auto ok = validate(m); !ok)
    return ok;
  if (m.status == agent_status::retired)
    return unexpected{errc::invalid_argument, "agent '" + m.id + "' cannot be introduced as retired"};
  m.rooms = std::vector<room_id>{};
  m.focus.clear();
  m.last_updated = now;
  m.last_seen = now;
  return {};
}

} // namespace

// Checks `spec`, reserves its id and adds its record to `batch`; the agent
// starts (start_agents) only once the batch is committed.
expected<void> node::impl::reserve_agent(const principal& p, agent_spec& spec, timestamp now,
                                         storage::write_batch& batch) {
  if (auto ok = authorize(p, action::introduce, {spec.man.id}); !ok)
    return ok;
  if (auto ok = prepare_spec(spec, now); !ok)
    return ok;
  if (auto ok = serves(spec.man.id); !ok)
    return ok;
  if (!rt.routes.agents().try_reserve(spec.man.id))
    return unexpected{errc::already_exists, "agent '" + spec.man.id + "' already exists"};
  if (store)
    batch.put(storage::column::agents, storage::agent_key(spec.man.id),
              storage::encode(storage::agent_record{spec.man, spec.behavior, 1}));
  return {};
}

// Starts agents whose records are committed, with one message to the bus.
void node::impl::start_agents(std::vector<agent_spec*> specs) {
  std::vector<event> introduced(specs.size());
  for (size_t k = 0; k < specs.size(); ++k) {
    auto& spec = *specs[k];
    introduced[k].kind = event_kind::agent_introduced;
    introduced[k].agent = spec.man.id;
    auto behavior = spec.custom ? spec.custom : make_behavior(spec.behavior, spec.man.id);
    spawn_agent(std::move(spec.man), std::move(behavior));
  }
  rt.publish_all(std::move(introduced));
}

// Reserves, commits and starts `specs` in chunks (one fsync each). An agent
// is visible to other calls only once its record is committed: a failed
// commit (or a crash) leaves nothing behind. Stops at the first failure;
// returns how many were introduced.
expected<size_t> node::impl::introduce(const principal& p, std::vector<agent_spec>& specs) {
  constexpr size_t chunk = 10000;
  size_t done = 0;
  std::optional<error> failure;
  for (size_t i = 0; i < specs.size() && !failure; i += chunk) {
    if (stopping)
      return stopped();
    storage::write_batch batch;
    std::vector<agent_spec*> reserved;
    const auto now = rt.now();
    for (size_t j = i; j < std::min(specs.size(), i + chunk); ++j) {
      if (auto ok = reserve_agent(p, specs[j], now, batch); !ok) {
        failure = ok.error();
        break;
      }
      reserved.push_back(&specs[j]);
    }
    if (auto ok = commit(std::move(batch)); !ok) {
      for (auto* spec : reserved)
        rt.routes.agents().erase(spec->man.id);
      return unexpected{errc::storage_failure, "introducing " + std::to_string(reserved.size())
                                                 + " agents: " + ok.error().message};
    }
    done += reserved.size();
    start_agents(std::move(reserved));
  }
  if (failure)
    return unexpected{*failure};
  return done;
}

task<expected<void>> node::introduce_async(principal p, agent_spec spec) {
  if (impl_->stopping)
    co_return stopped();
  if (impl_->rt.place(spec.man.id).elsewhere()) {
    // Introduced where its shard lives.
    if (spec.custom)
      co_return unexpected{errc::invalid_argument, "agent '" + spec.man.id
                                                     + "' has a custom behaviour, which cannot go to the node of its shard"};
    federation::remote_request req;
    req.what = federation::remote_request::kind::introduce;
    req.caller = std::move(p);
    req.man = std::move(spec.man);
    req.behavior = std::move(spec.behavior);
    auto target = req.man.id;
    auto r = co_await impl_->forward(std::move(req), std::move(target));
    if (!r)
      co_return unexpected{r.error()};
    co_return expected<void>{};
  }
  storage::write_batch batch;
  if (auto ok = impl_->reserve_agent(p, spec, impl_->rt.now(), batch); !ok)
    co_return ok;
  if (auto ok = co_await impl_->commit_async(std::move(batch)); !ok) {
    impl_->rt.routes.agents().erase(spec.man.id);
    co_return unexpected{errc::storage_failure, "introducing agent '" + spec.man.id + "': " + ok.error().message};
  }
  impl_->start_agents({&spec});
  co_return expected<void>{};
}

expected<void> node::introduce(const principal& p, agent_spec spec) {
  return wait(introduce_async(p, std::move(spec)));
}

expected<size_t> node::introduce_many(const principal& p, std::vector<agent_spec> specs) {
  impl_->rt.routes.agents().reserve(specs.size());
  return impl_->introduce(p, specs);
}

task<expected<void>> node::retire_async(principal p, agent_id id) {
  if (impl_->rt.place(id).elsewhere()) {
    auto r = co_await impl_->forward(federation::remote_request::kind::retire, std::move(p), std::move(id));
    if (!r)
      co_return unexpected{r.error()};
    co_return expected<void>{};
  }
  auto a = impl_->agent(id);
  if (!a)
    co_return unexpected{a.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*a, atoms::retire::value, p);
}

expected<void> node::retire(const principal& p, const agent_id& id) {
  return wait(retire_async(p, id));
}

task<expected<manifest>> node::get_manifest_async(principal p, agent_id id) {
  if (auto ok = authorize(p, action::read_manifest, {id}); !ok)
    co_return unexpected{ok.error()};
  if (impl_->rt.place(id).elsewhere()) {
    auto r = co_await impl_->forward(federation::remote_request::kind::read_manifest, std::move(p), std::move(id));
    if (!r)
      co_return unexpected{r.error()};
    co_return std::move(r->man);
  }
  // Reading a dormant agent's page does not wake it.
  if (auto m = impl_->dormant_manifest(id))
    co_return std::move(*m);
  auto a = impl_->agent(id);
  if (!a)
    co_return unexpected{a.error()};
  co_return co_await impl_->ask_async<manifest>(*a, atoms::read_manifest::value);
}

expected<manifest> node::get_manifest(const principal& p, const agent_id& id) {
  return wait(get_manifest_async(p, id));
}

task<expected<manifest>> node::update_manifest_async(principal p, manifest m) {
  if (auto ok = validate(m); !ok)
    co_return unexpected{ok.error()};
  if (impl_->rt.place(m.id).elsewhere()) {
    federation::remote_request req;
    req.what = federation::remote_request::kind::update_manifest;
    req.caller = std::move(p);
    auto target = m.id;
    req.man = std::move(m);
    auto r = co_await impl_->forward(std::move(req), std::move(target));
    if (!r)
      co_return unexpected{r.error()};
    co_return std::move(r->man);
  }
  auto a = impl_->agent(m.id);
  if (!a)
    co_return unexpected{a.error()};
  co_return co_await impl_->ask_async<manifest>(*a, atoms::update_manifest::value, p, std::move(m));
}

expected<manifest> node::update_manifest(const principal& p, manifest m) {
  return wait(update_manifest_async(p, std::move(m)));
}

expected<std::vector<agent_id>> node::list_agents(const principal& p) const {
  if (auto ok = authorize(p, action::list_agents); !ok)
    return unexpected{ok.error()};
  auto out = impl_->rt.routes.agents().ids();
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

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

expected<agent_page> node::find_agents(const principal& p, const agent_filter& f, size_t page_size,
                                       const std::string& after) {
  if (auto ok = authorize(p, action::list_agents); !ok)
    return unexpected{ok.error()};
  if (auto ok = check_page_size(page_size); !ok)
    return unexpected{ok.error()};
  // In a network, every node lists its own agents (a room's members are
  // found wherever they live, below).
  if (impl_->rt.cluster && f.room.empty())
    return impl_->agents_everywhere(*this, p, f, page_size, after);
  return impl_->agents_here(*this, p, f, page_size, after);
}

expected<agent_page> node::impl::agents_here(node& n, const principal& p, const agent_filter& f, size_t page_size,
                                             const std::string& after) {
  std::vector<agent_id> candidates;
  if (!f.room.empty()) {
    auto r = n.get_room(p, f.room);
    if (!r)
      return unexpected{r.error()};
    for (auto& m : r->members)
      candidates.push_back(m.id);
  } else {
    candidates = rt.routes.agents().ids();
  }
  std::sort(candidates.begin(), candidates.end());
  auto from = std::upper_bound(candidates.begin(), candidates.end(), after);
  agent_page page;
  // A window of manifests at a time, all asked at once: one round trip per
  // window, not per agent. Dormant agents answer from the store, unwoken.
  const size_t window = std::max<size_t>(64, 2 * page_size);
  logger_unpin_guard unpin;
  caf::scoped_actor self{sys};
  for (auto it = from; it != candidates.end();) {
    const auto end = it + static_cast<ptrdiff_t>(std::min<size_t>(window, static_cast<size_t>(candidates.end() - it)));
    std::vector<std::optional<manifest>> got(static_cast<size_t>(end - it));
    size_t asked = 0;
    for (auto k = it; k != end; ++k) {
      if (rt.place(*k).elsewhere()) {
        // A member of the room that lives on another node: read there.
        if (auto m = n.get_manifest(p, *k))
          got[static_cast<size_t>(k - it)] = std::move(*m);
      } else if (auto m = dormant_manifest(*k))
        got[static_cast<size_t>(k - it)] = std::move(*m);
      else if (auto a = rt.routes.agent(*k)) {
        self->send(a, atoms::read_manifest::value);
        ++asked;
      }
    }
    // Answers arrive in any order; they carry the id.
    size_t answered = 0;
    bool timed_out = false;
    while (answered < asked && !timed_out)
      self->receive(
        [&](manifest& m) {
          auto pos = std::lower_bound(it, end, m.id);
          got[static_cast<size_t>(pos - it)] = std::move(m);
          ++answered;
        },
        [&](caf::error&) { ++answered; }, // retired and gone meanwhile
        caf::after(cfg.call_timeout) >> [&] { timed_out = true; });
    if (timed_out)
      return unexpected{errc::deadline_exceeded, "listing agents: no answer within the call timeout"};
    for (auto& m : got) {
      if (!m)
        continue;
      if (f.status && m->status != *f.status)
        continue;
      if (!f.skill.empty() && !has_skill(*m, f.skill))
        continue;
      if (page.agents.size() == page_size) {
        page.next = page.agents.back().id;
        return page;
      }
      page.agents.push_back(std::move(*m));
    }
    it = end;
  }
  return page;
}

task<expected<void>> node::set_importance_async(principal p, agent_id id, dialogue_key k, double w) {
  auto a = impl_->agent(id);
  if (!a)
    co_return unexpected{a.error()};
  co_return co_await impl_->ask_async<caf::ok_atom>(*a, atoms::set_importance::value, p, static_cast<uint8_t>(k.k), k.id, w);
}

expected<void> node::set_importance(const principal& p, const agent_id& id, const dialogue_key& k,
                                    double w) {
  return wait(set_importance_async(p, id, k, w));
}

task<expected<void>> node::set_relationship_async(principal p, agent_id id, agent_id peer, double w) {
  auto a = impl_->agent(id);
  if (!a)
    co_return unexpected{a.error()};
  if (auto ok = validate_agent_id(peer); !ok)
    co_return ok;
  co_return co_await impl_->ask_async<caf::ok_atom>(*a, atoms::set_relationship::value, p, peer, w);
}

expected<void> node::set_relationship(const principal& p, const agent_id& id, const agent_id& peer,
                                      double w) {
  return wait(set_relationship_async(p, id, peer, w));
}

expected<void> node::nudge(const principal& p, const agent_id& id) {
  if (auto ok = authorize(p, action::tune_attention, {id}); !ok)
    return ok;
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  caf::anon_send(*a, atoms::nudge::value);
  return {};
}

} // namespace parley
