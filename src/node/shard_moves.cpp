// Moving shards between nodes (docs/federation.md, "Moving shards"): a
// hand-off gives every shard of this node, with its data, to the others.
//
// One shard at a time, on the mover's own thread (every step blocks):
//  1. mark it moving in the map (compare-and-swap: {owner: here, moving_to:
//     target}, a new epoch). From then every node resolves it as `moving`
//     and holds calls for it; this node refuses peers' requests for it.
//  2. release it here: its agents and rooms leave the router, their actors
//     finish what is in their mailboxes and stop, and the writer commits
//     everything queued before;
//  3. export its key range (one file per column family) and send the files
//     in chunks over the link;
//  4. the target imports them (all families at once), flips the map to
//     itself (compare-and-swap from the moving epoch), publishes the
//     agents and rooms and answers;
//  5. this node deletes the range.
// Every step can be repeated: after a crash of either node the map still
// says `moving_to`, the old owner (which does not serve the shard on
// restart) sends the files again, and a target that already owns the shard
// answers at once.

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <map>

#include <spdlog/spdlog.h>

#include "node/node_impl.hpp"
#include "parley/coordination/shard_planner.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

namespace fs = std::filesystem;
using kind = federation::remote_request::kind;

// Bytes per chunk: well under the API's 1 MiB request limit with the rest
// of a frame.
constexpr size_t chunk_bytes = 256 * 1024;
// How long one step waits for the other node, and for the map's watch.
constexpr std::chrono::seconds step_timeout{60};
constexpr std::chrono::seconds cache_timeout{10};
// Pause before a failed move is tried again, and how often.
constexpr std::chrono::seconds retry_pause{1};
constexpr int max_tries = 30;

std::string shard_dir(const node_config& cfg, const char* side, shard_id s) {
  return (fs::path{cfg.data_dir} / "moves" / side / std::to_string(s)).string();
}

expected<storage::column> sharded_family(const std::string& name) {
  for (int i = 0; i < storage::column_count; ++i) {
    auto c = static_cast<storage::column>(i);
    if (storage::to_string(c) == name && storage::is_sharded(c))
      return c;
  }
  return unexpected{errc::invalid_argument, "'" + name + "' is not a column family a shard move carries"};
}

// Waits until this node's copy of the map shows `s` at `epoch` or later.
bool await_epoch(const coordination::coordination& c, shard_id s, uint64_t epoch) {
  const auto until = std::chrono::steady_clock::now() + cache_timeout;
  while (c.owner(s).epoch < epoch) {
    if (std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The up member other than `self` with the fewest shards (moving ones
// counted for their target), ties by name; empty if there is none.
std::string least_loaded(const coordination::coordination& c, const std::string& self) {
  std::map<std::string, uint32_t> load;
  for (auto& m : c.members())
    if (m.node != self && m.state == coordination::member_state::up)
      load[m.node] = 0;
  if (load.empty())
    return {};
  for (uint32_t x = 0; x < shard_count; ++x) {
    auto e = c.owner(static_cast<shard_id>(x));
    auto& who = e.moving_to.empty() ? e.node : e.moving_to;
    if (auto i = load.find(who); i != load.end())
      ++i->second;
  }
  return std::min_element(load.begin(), load.end(), [](auto& a, auto& b) { return a.second < b.second; })->first;
}

} // namespace

expected<uint32_t> node::remove_lost(const principal& p, const std::string& lost) {
  if (auto ok = authorize(p, action::remove_node); !ok)
    return unexpected{ok.error()};
  auto& im = *impl_;
  if (!im.rt.cluster)
    return unexpected{errc::failed_precondition, "node '" + im.cfg.node_id + "' is alone: there is no network"};
  if (lost == im.cfg.node_id)
    return unexpected{errc::invalid_argument, "a node cannot remove itself; ask another node"};
  auto& c = *im.rt.cluster;
  for (auto& m : c.members())
    if (m.node == lost)
      return unexpected{errc::failed_precondition,
                        "node '" + lost + "' is a member of the network (" + std::string{coordination::to_string(m.state)}
                          + "): it is not lost; hand its shards off with `parley node drain " + lost
                          + " --hand-off`, or wait until its lease ends"};
  uint32_t given = 0;
  for (uint32_t x = 0; x < shard_count; ++x) {
    const auto s = static_cast<shard_id>(x);
    auto o = c.owner(s);
    if (o.node != lost)
      continue;
    auto to = least_loaded(c, lost);
    if (to.empty())
      return unexpected{errc::unavailable, "no node of the network is up to take node '" + lost + "''s shards"};
    auto epoch = c.assign(s, o.epoch, coordination::shard_owner{to, 0, {}});
    if (!epoch)
      return unexpected{epoch.error()};
    ++given;
    await_epoch(c, s, *epoch); // the next choice counts this one
  }
  if (given == 0)
    return unexpected{errc::not_found, "node '" + lost + "' owns no shard"};
  // Audited: who gave away what.
  spdlog::warn("node '{}': {} removed lost node '{}': its {} shards now start empty on the other nodes "
               "(what it stored is gone with it)",
               im.cfg.node_id, to_string(p), lost, given);
  return given;
}

expected<void> node::hand_off(const principal& p) {
  if (auto ok = authorize(p, action::drain); !ok)
    return ok;
  auto& im = *impl_;
  if (!im.rt.cluster)
    return unexpected{errc::failed_precondition, "node '" + im.cfg.node_id
                                                   + "' is alone: there is no other node to hand its shards to"};
  if (auto ok = im.need_store("handing shards off"); !ok)
    return ok;
  size_t others = 0;
  for (auto& m : im.rt.cluster->members())
    others += m.node != im.cfg.node_id && m.state == coordination::member_state::up;
  if (others == 0)
    return unexpected{errc::failed_precondition, "no other node of the network is up to take node '" + im.cfg.node_id
                                                   + "''s shards"};
  std::vector<shard_id> mine;
  for (uint32_t s = 0; s < shard_count; ++s)
    if (im.rt.cluster->owner(static_cast<shard_id>(s)).node == im.cfg.node_id)
      mine.push_back(static_cast<shard_id>(s));
  spdlog::info("node '{}': handing off {} shards to {} other nodes (by {})", im.cfg.node_id, mine.size(), others,
               to_string(p));
  // Leaving: the coordinator gives it no shards meanwhile.
  if (auto ok = im.rt.cluster->set_state(coordination::member_state::leaving); !ok)
    spdlog::warn("node '{}': cannot say it is leaving: {}", im.cfg.node_id, ok.error().message);
  im.start_mover(std::move(mine), true);
  return {};
}

node::hand_off_state node::hand_off_progress() const {
  std::lock_guard guard{impl_->mover_mtx};
  auto out = impl_->hand_off;
  if (impl_->rt.cluster) {
    out.left = 0;
    for (uint32_t s = 0; s < shard_count; ++s)
      out.left += impl_->rt.cluster->owner(static_cast<shard_id>(s)).node == impl_->cfg.node_id;
  }
  // A leaving node's outbox must reach the others first: nobody would
  // send it again.
  if (out.done && impl_->rt.counters.outbox_pending.load(std::memory_order_relaxed) > 0) {
    out.done = false;
    out.error = "waiting for the outbox to reach other nodes (" + std::to_string(impl_->rt.counters.outbox_pending.load())
                + " messages)";
  }
  return out;
}

expected<void> node::move_shards_to(const principal& p, const std::string& to, uint32_t count) {
  if (auto ok = authorize(p, action::move_shards); !ok)
    return ok;
  auto& im = *impl_;
  if (!im.rt.cluster)
    return unexpected{errc::failed_precondition, "node '" + im.cfg.node_id + "' is alone"};
  if (auto ok = im.need_store("moving shards"); !ok)
    return ok;
  bool up = false;
  for (auto& m : im.rt.cluster->members())
    up = up || (m.node == to && m.node != im.cfg.node_id && m.state == coordination::member_state::up);
  if (!up)
    return unexpected{errc::failed_precondition, "node '" + to + "' is not another up member of the network"};
  // From the top of the shard range: a joiner's shards are then spread
  // over every donor's range, not one end of it.
  std::vector<shard_id> some;
  for (uint32_t x = shard_count; x-- > 0 && some.size() < count;) {
    auto o = im.rt.cluster->owner(static_cast<shard_id>(x));
    if (o.node == im.cfg.node_id && o.moving_to.empty())
      some.push_back(static_cast<shard_id>(x));
  }
  spdlog::info("node '{}': moving {} shards to node '{}'", im.cfg.node_id, some.size(), to);
  im.start_mover(std::move(some), false, to);
  return {};
}

uint32_t node::rebalance() {
  auto& im = *impl_;
  if (!im.rt.cluster || im.stopping)
    return 0;
  std::vector<coordination::shard_owner> map(shard_count);
  bool moving = false;
  for (uint32_t x = 0; x < shard_count; ++x) {
    map[x] = im.rt.cluster->owner(static_cast<shard_id>(x));
    moving = moving || !map[x].moving_to.empty();
  }
  // A donor's mover is between two shards for an instant only: a few quiet
  // calls in a row mean no round is under way.
  im.quiet_rebalances = moving ? 0 : im.quiet_rebalances + 1;
  if (im.quiet_rebalances < 3)
    return 0;
  uint32_t asked = 0;
  for (auto& t : coordination::plan_rebalance(map, im.rt.cluster->members(), 64)) {
    im.quiet_rebalances = 0;
    asked += t.count;
    spdlog::info("coordinator: asking node '{}' to move {} shards to node '{}'", t.from, t.count, t.to);
    if (t.from == im.cfg.node_id) {
      if (auto ok = move_shards_to(principal::admin(im.cfg.node_id), t.to, t.count); !ok)
        spdlog::warn("coordinator: this node cannot move shards: {}", ok.error().message);
      continue;
    }
    federation::remote_request r;
    r.what = kind::move_shards;
    r.caller = principal::admin(im.cfg.node_id);
    r.id = t.to;
    r.limit = t.count;
    im.rt.peers->call(t.from, std::move(r), [from = t.from](expected<federation::remote_reply> x) {
      if (!x)
        spdlog::warn("coordinator: node '{}' does not move shards: {}", from, x.error().message);
    });
  }
  return asked;
}

void node::impl::resume_moves() {
  if (!rt.cluster || !store)
    return;
  std::vector<shard_id> half;
  for (uint32_t s = 0; s < shard_count; ++s) {
    auto o = rt.cluster->owner(static_cast<shard_id>(s));
    if (o.node == cfg.node_id && !o.moving_to.empty())
      half.push_back(static_cast<shard_id>(s));
  }
  if (half.empty())
    return;
  spdlog::warn("node '{}': {} shards were moving when it stopped; moving them on", cfg.node_id, half.size());
  start_mover(std::move(half), false);
}

void node::impl::start_mover(std::vector<shard_id> shards, bool whole_node, std::string target) {
  std::lock_guard guard{mover_mtx};
  if (hand_off.running || stopping)
    return;
  if (mover.joinable())
    mover.join(); // the last run has ended
  hand_off.running = true;
  hand_off.error.clear();
  mover = std::thread([this, shards = std::move(shards), whole_node, target = std::move(target)] {
    run_mover(shards, whole_node, target);
  });
}

void node::impl::run_mover(std::vector<shard_id> shards, bool whole_node, const std::string& target) {
  std::string failure;
  for (auto s : shards) {
    expected<void> ok;
    for (int attempt = 1; attempt <= max_tries && !stopping; ++attempt) {
      ok = move_shard(s, target);
      if (ok)
        break;
      spdlog::warn("node '{}': moving shard {} failed (attempt {} of {}): {}", cfg.node_id, s, attempt, max_tries,
                   ok.error().message);
      std::lock_guard guard{mover_mtx};
      hand_off.error = "shard " + std::to_string(s) + ": " + ok.error().message;
      if (attempt < max_tries)
        std::this_thread::sleep_for(retry_pause);
    }
    if (stopping)
      break;
    if (!ok) {
      failure = "shard " + std::to_string(s) + ": " + ok.error().message;
      roll_back(s);
      break;
    }
    std::lock_guard guard{mover_mtx};
    ++hand_off.moved;
    hand_off.error.clear();
  }
  std::lock_guard guard{mover_mtx};
  hand_off.running = false;
  hand_off.error = failure;
  if (whole_node && failure.empty() && !stopping) {
    hand_off.done = true;
    spdlog::info("node '{}': every shard is handed off ({} moved)", cfg.node_id, hand_off.moved);
  }
}

expected<void> node::impl::move_shard(shard_id s, const std::string& to) {
  auto& c = *rt.cluster;
  auto o = c.owner(s);
  if (o.node != cfg.node_id)
    return {}; // moved already (a resumed hand-off)
  if (o.moving_to.empty() && !to.empty()) {
    auto epoch = c.assign(s, o.epoch, coordination::shard_owner{cfg.node_id, 0, to});
    if (!epoch)
      return unexpected{epoch.error()};
    o.epoch = *epoch;
    o.moving_to = to;
  } else if (o.moving_to.empty()) {
    auto target = least_loaded(c, cfg.node_id);
    if (target.empty())
      return unexpected{errc::unavailable, "no other node is up to take it"};
    auto epoch = c.assign(s, o.epoch, coordination::shard_owner{cfg.node_id, 0, target});
    if (!epoch)
      return unexpected{epoch.error()};
    o.epoch = *epoch;
    o.moving_to = target;
  }
  if (!await_epoch(c, s, o.epoch))
    return unexpected{errc::unavailable, "this node's copy of the shard map did not show the move in time"};
  if (cfg.move_pause.count() > 0)
    std::this_thread::sleep_for(cfg.move_pause);
  if (auto ok = release_shard(s); !ok)
    return ok;
  // Export and send the files.
  const auto out_dir = shard_dir(cfg, "out", s);
  std::error_code ec;
  fs::remove_all(out_dir, ec);
  auto files = store->export_shard(s, out_dir);
  if (!files)
    return unexpected{files.error()};
  federation::remote_request adopt;
  adopt.what = kind::adopt_shard;
  adopt.caller = principal::admin(cfg.node_id);
  adopt.shard = s;
  adopt.epoch = o.epoch;
  for (auto& f : *files) {
    adopt.files.push_back({std::string{storage::to_string(f.col)}, f.size, f.checksum});
    std::ifstream in(f.path, std::ios::binary);
    for (uint64_t offset = 0; offset < f.size && !stopping;) {
      federation::remote_request chunk;
      chunk.what = kind::shard_chunk;
      chunk.caller = adopt.caller;
      chunk.shard = s;
      chunk.epoch = o.epoch;
      chunk.family = adopt.files.back().family;
      chunk.offset = offset;
      chunk.data.resize(std::min<uint64_t>(chunk_bytes, f.size - offset));
      if (!in.read(chunk.data.data(), static_cast<std::streamsize>(chunk.data.size())))
        return unexpected{errc::storage_failure, "cannot read the export '" + f.path + "'"};
      offset += chunk.data.size();
      if (auto r = peer_call_blocking(o.moving_to, std::move(chunk), step_timeout); !r)
        return unexpected{r.error()};
    }
  }
  if (stopping)
    return stopped();
  if (auto r = peer_call_blocking(o.moving_to, std::move(adopt), step_timeout); !r)
    return unexpected{r.error()};
  // The target serves it now: the range goes here, but for the posts of
  // the shard's rooms, which inbox entries of agents still here may name
  // (retention removes them with the rest of the history).
  storage::write_batch gone;
  const auto lo = storage::shard_begin(s);
  for (int i = 0; i < storage::column_count; ++i)
    if (auto col = static_cast<storage::column>(i); storage::is_sharded(col) && col != storage::column::messages)
      gone.erase_range(col, lo, storage::shard_begin(s + 1u));
  gone.erase_range(storage::column::messages, lo + 'a', lo + 'b');
  if (auto ok = store->write(gone); !ok)
    spdlog::warn("node '{}': shard {} moved to '{}', but deleting its range here failed: {}", cfg.node_id, s,
                 o.moving_to, ok.error().message);
  fs::remove_all(out_dir, ec);
  spdlog::info("node '{}': shard {} moved to node '{}' ({} files)", cfg.node_id, s, o.moving_to, files->size());
  return {};
}

// A move that cannot finish (its target is gone): the shard comes back
// here, unless the target took it meanwhile. Its data never left.
void node::impl::roll_back(shard_id s) {
  auto& c = *rt.cluster;
  auto o = c.owner(s);
  if (o.node != cfg.node_id || o.moving_to.empty())
    return;
  rt.adopting[s].store(true, std::memory_order_release);
  auto back = c.assign(s, o.epoch, coordination::shard_owner{cfg.node_id, 0, {}});
  if (back && await_epoch(c, s, *back)) {
    recovered_counts got;
    if (auto ok = recover_records(storage::shard_begin(s), got); !ok)
      spdlog::error("node '{}': shard {} is back but could not be published: {}", cfg.node_id, s, ok.error().message);
    else
      spdlog::warn("node '{}': the move of shard {} to '{}' failed; the shard stays here", cfg.node_id, s,
                   o.moving_to);
  } else if (!back) {
    spdlog::error("node '{}': the move of shard {} to '{}' failed and cannot be undone ({}); it stays moving "
                  "until this node restarts", cfg.node_id, s, o.moving_to, back.error().message);
  }
  rt.adopting[s].store(false, std::memory_order_release);
}

// Takes the shard's agents and rooms out of this node: out of the router
// (calls for them now wait for the move), their actors stopped once their
// mailboxes are done, and everything they wrote committed.
expected<void> node::impl::release_shard(shard_id s) {
  auto in_shard = [s](const std::string& id) { return shard_of(id) == s; };
  std::vector<caf::actor> actors;
  std::vector<agent_id> agents;
  std::vector<room_id> rooms;
  const auto until = std::chrono::steady_clock::now() + cache_timeout;
  for (;;) {
    bool reserved = false;
    bool reserved_rooms = false;
    for (auto& [id, a] : rt.routes.agents().take_if(in_shard, &reserved)) {
      agents.push_back(id);
      if (a)
        actors.push_back(std::move(a));
    }
    for (auto& [id, a] : rt.routes.rooms().take_if(in_shard, &reserved_rooms)) {
      rooms.push_back(id);
      if (a)
        actors.push_back(std::move(a));
    }
    // A creation under way (reserved, not yet published) finishes first.
    if (!reserved && !reserved_rooms)
      break;
    if (std::chrono::steady_clock::now() > until)
      return unexpected{errc::unavailable, "an introduction or room creation in the shard did not finish"};
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard guard{dormant_mtx};
    for (auto& id : agents)
      dormant_rooms.erase(id);
  }
  {
    std::lock_guard guard{externals_mtx};
    for (auto& id : agents)
      externals.erase(id);
  }
  {
    std::lock_guard guard{rooms_mtx};
    for (auto& id : rooms)
      public_rooms.erase(id);
  }
  if (!actors.empty()) {
    logger_unpin_guard unpin;
    caf::scoped_actor self{sys};
    for (auto& a : actors) {
      self->monitor(a);
      // An ordinary message: what the mailbox holds before it is handled.
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
    }
    size_t down = 0;
    bool late = false;
    self->receive_for(down, actors.size())(
      [](caf::down_msg&) {},
      caf::after(std::chrono::duration_cast<std::chrono::milliseconds>(cfg.call_timeout)) >> [&] { late = true; });
    if (late)
      return unexpected{errc::unavailable, "the shard's actors did not stop in time"};
  }
  // Through the writer: every commit queued before this one (and what was
  // written behind) is on disk once it returns.
  storage::write_batch marker;
  marker.put(storage::column::meta, "moving", storage::u64_key(s));
  if (auto ok = commit(std::move(marker)); !ok)
    return unexpected{ok.error()};
  return {};
}

expected<federation::remote_reply> node::impl::peer_call_blocking(const std::string& peer,
                                                                  federation::remote_request r,
                                                                  std::chrono::milliseconds timeout) {
  auto answer = std::make_shared<std::promise<expected<federation::remote_reply>>>();
  auto got = answer->get_future();
  rt.peers->call(peer, std::move(r), [answer](expected<federation::remote_reply> x) { answer->set_value(std::move(x)); });
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (got.wait_for(std::chrono::milliseconds(100)) != std::future_status::ready) {
    if (stopping)
      return stopped();
    if (std::chrono::steady_clock::now() > until)
      return unexpected{errc::deadline_exceeded, "node '" + peer + "' did not answer in time"};
  }
  return got.get();
}

// -- the node a shard moves to ------------------------------------------------

task<expected<federation::remote_reply>> node::impl::serve_shard_move(federation::remote_request r) {
  if (auto ok = authorize(r.caller, action::move_shards); !ok)
    co_return unexpected{ok.error()};
  if (auto ok = need_store("taking in a shard"); !ok)
    co_return unexpected{ok.error()};
  // File writes, an import and waits for etcd: on the janitor's thread.
  std::function<expected<bool>()> job = [this, &r]() -> expected<bool> {
    auto ok = r.what == kind::shard_chunk ? take_chunk(r) : adopt_shard(r);
    if (!ok)
      return unexpected{ok.error()};
    return true;
  };
  auto done = co_await on_janitor<bool>(std::move(job));
  if (!done)
    co_return unexpected{done.error()};
  co_return federation::remote_reply{};
}

expected<void> node::impl::take_chunk(const federation::remote_request& r) {
  auto o = rt.cluster->owner(r.shard);
  if (o.moving_to != cfg.node_id || o.epoch != r.epoch)
    return unexpected{federation::stale_owner(r.shard, r.epoch, o.moving_to.empty() ? o.node : o.moving_to, o.epoch)};
  auto family = sharded_family(r.family);
  if (!family)
    return unexpected{family.error()};
  const auto dir = shard_dir(cfg, "in", r.shard);
  std::error_code ec;
  fs::create_directories(dir, ec);
  const auto path = dir + "/" + r.family;
  // Chunks may come again (a resent request, a resumed move): each is
  // written at its offset, so a repeat changes nothing.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0)
    return unexpected{errc::storage_failure, "cannot write '" + path + "'"};
  auto wrote = ::pwrite(fd, r.data.data(), r.data.size(), static_cast<off_t>(r.offset));
  ::close(fd);
  if (wrote != static_cast<ssize_t>(r.data.size()))
    return unexpected{errc::storage_failure, "cannot write '" + path + "'"};
  return {};
}

expected<void> node::impl::adopt_shard(const federation::remote_request& r) {
  auto& c = *rt.cluster;
  const auto s = r.shard;
  auto o = c.owner(s);
  if (o.node == cfg.node_id && o.moving_to.empty() && o.epoch > r.epoch)
    return {}; // taken in already: the old owner resumed after a crash
  if (o.moving_to != cfg.node_id || o.epoch != r.epoch)
    return unexpected{federation::stale_owner(s, r.epoch, o.moving_to.empty() ? o.node : o.moving_to, o.epoch)};
  const auto dir = shard_dir(cfg, "in", s);
  std::vector<storage::shard_file> files;
  for (auto& f : r.files) {
    auto family = sharded_family(f.family);
    if (!family)
      return unexpected{family.error()};
    files.push_back({*family, dir + "/" + f.family, f.size, f.checksum});
  }
  // Nobody is served from the shard here until it is published.
  rt.adopting[s].store(true, std::memory_order_release);
  struct clear_flag {
    std::atomic<bool>& f;
    ~clear_flag() { f.store(false, std::memory_order_release); }
  } clear{rt.adopting[s]};
  if (auto ok = store->import_shard(s, files); !ok)
    return ok;
  auto epoch = c.assign(s, r.epoch, coordination::shard_owner{cfg.node_id, 0, {}});
  if (!epoch)
    return unexpected{epoch.error()};
  if (!await_epoch(c, s, *epoch))
    spdlog::warn("node '{}': the map's watch is slow to show shard {} here", cfg.node_id, s);
  recovered_counts got;
  if (auto ok = recover_records(storage::shard_begin(s), got); !ok)
    return ok;
  // Inbox positions of the old owner's store: this node's next ones must
  // not meet them (delivery numbers are (incarnation << 40) + n).
  const auto hi = got.highest_delivery >> 40;
  const auto lo = got.highest_delivery & ((uint64_t{1} << 40) - 1);
  if (hi == rt.incarnation) {
    auto cur = rt.deliveries_issued.load();
    while (cur < lo && !rt.deliveries_issued.compare_exchange_weak(cur, lo)) {
    }
  } else if (hi > rt.incarnation) {
    // The next start must come after them (the stored count only grows).
    auto stored = store->get(storage::column::meta, "incarnation");
    if (!stored)
      return unexpected{stored.error()};
    if (!*stored || storage::parse_u64_key(**stored) < hi) {
      storage::write_batch b;
      b.put(storage::column::meta, "incarnation", storage::u64_key(hi));
      if (auto ok = store->write(b); !ok)
        return ok;
    }
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
  spdlog::info("node '{}': took in shard {} ({} agents, {} rooms, {} undelivered messages)", cfg.node_id, s,
               got.agents, got.rooms, got.inbox);
  return {};
}

} // namespace parley
