// Erasure of an agent's personal data (privacy law). The agent's node
// erases the agent itself (its page, its inbox, the content of the messages
// it sent, the detail of the events about it) and leaves a tombstone. In a
// network the other nodes keep some of it too: the messages it sent to
// their agents and rooms (a pair split over two nodes keeps each direction
// on the recipient's node) and events naming it; the agent's node has each
// of them scrub that before it answers. An erasure asked at another node is
// carried to the agent's node; one that could not reach every node says so,
// and erasing again finishes it.

#include <set>

#include <spdlog/spdlog.h>

#include "actors/agent_actor.hpp"
#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

// Applies `b` through the writer once it holds `chunk` changes.
struct chunked_writer {
  node::impl& n;
  storage::write_batch b;
  std::optional<error> failure;
  static constexpr size_t chunk = 1000;

  void flush() {
    if (b.empty() || failure)
      return;
    if (auto ok = n.commit(std::move(b)); !ok)
      failure = ok.error();
    b.clear();
  }
  void maybe_flush() {
    if (b.size() >= chunk)
      flush();
  }
};

// What any node keeps of `id` besides the agent itself: the content of the
// messages it sent (direct, and posts in rooms), the detail of the stored
// events about it or naming it as a message's sender. Counted into `out`.
expected<void> scrub_store(node::impl& im, const agent_id& id, erasure& out, chunked_writer& w) {
  auto scanned = storage::scan_sent_messages(*im.store, id, [&](std::string_view k, std::string_view v) {
    auto m = storage::decode_message(v);
    if (!m || m->erased)
      return !w.failure;
    m->content.clear();
    m->erased = true;
    w.b.put(storage::column::messages, std::string{k}, storage::encode(*m));
    ++out.messages;
    w.maybe_flush();
    return !w.failure;
  });
  const auto sender = id + "/";
  if (scanned)
    scanned = im.store->scan(storage::column::events, {}, {}, [&](std::string_view k, std::string_view v) {
      auto e = storage::decode_event(v);
      if (!e || e->detail.empty() || (e->agent != id && !e->detail.starts_with(sender)))
        return !w.failure;
      e->detail.clear();
      w.b.put(storage::column::events, std::string{k}, storage::encode(*e));
      ++out.events;
      w.maybe_flush();
      return !w.failure;
    });
  return scanned;
}

unexpected partly(const agent_id& id, const error& why) {
  return unexpected{errc::storage_failure, "erasing agent '" + id + "' (partly done; erase again): " + why.message};
}

// The last batch, then a compaction: the old versions stay in RocksDB's
// files until one, so compact now, and a backup taken from here on holds
// none of it.
expected<void> finish_writes(node::impl& im, const agent_id& id, chunked_writer& w) {
  w.flush();
  if (w.failure)
    return partly(id, *w.failure);
  if (auto ok = im.store->compact(); !ok)
    return unexpected{errc::storage_failure, "erasing agent '" + id
                                               + "': the data is deleted but the store could not be compacted: "
                                               + ok.error().message};
  return {};
}

// The nodes that may keep something of an agent: the members, and the
// owners of shards that are down now (their stores come back with them).
std::set<std::string> every_node(const node::impl& im) {
  std::set<std::string> out;
  for (auto& m : im.rt.cluster->members())
    out.insert(m.node);
  for (shard_id s = 0; s < shard_count; ++s)
    if (auto o = im.rt.cluster->owner(s); !o.node.empty())
      out.insert(o.node);
  return out;
}

// Who may erase (or read a tombstone), and a valid id.
expected<void> may_erase(const principal& p, const agent_id& id) {
  if (auto ok = authorize(p, action::erase, {id}); !ok)
    return ok;
  return validate_agent_id(id);
}

// The agent's node erases it (or, `tombstone_only`, reads its tombstone).
expected<erasure> at_agents_node(node::impl& im, const principal& p, const agent_id& id, bool tombstone_only) {
  federation::remote_request req;
  req.what = federation::remote_request::kind::erase;
  req.caller = p;
  req.id = id;
  req.flag = tombstone_only;
  auto r = wait(im.forward(std::move(req), id));
  if (!r)
    return unexpected{r.error()};
  if (!r->erased)
    return unexpected{errc::internal, "the node of agent '" + id + "' answered without the erasure's record"};
  return *r->erased;
}

} // namespace

expected<erasure> node::impl::erase_here(const principal& p, const agent_id& id) {
  auto a = agent(id);
  if (!a)
    return unexpected{a.error()};
  // 1. The agent: its page, its inbox in memory, its rooms (it retires).
  auto fields = ask<std::vector<std::string>>(*a, atoms::erase_agent::value, p);
  if (!fields)
    return unexpected{fields.error()};
  // 2. What the bus holds in memory, before the stored log is rewritten.
  auto scrubbed = ask<uint64_t>(rt.bus, atoms::scrub_agent_events::value, id);
  if (!scrubbed)
    return unexpected{scrubbed.error()};
  erasure out;
  out.agent = id;
  out.erased_at = rt.now();
  out.erased_by = to_string(p);
  out.fields = std::move(*fields);
  out.events = *scrubbed;
  if (!store) {
    std::lock_guard guard{erasures_mtx};
    erasures[id] = out;
    return out;
  }
  // 3. The store, on this thread: its inbox entries, then what any node
  // keeps of it, then the tombstone with the last batch.
  chunked_writer w{*this, {}, {}};
  auto scanned = store->scan(storage::column::inbox, storage::inbox_prefix(id), {},
                             [&](std::string_view k, std::string_view) {
                               w.b.erase(storage::column::inbox, std::string{k});
                               ++out.inbox_entries;
                               w.maybe_flush();
                               return !w.failure;
                             });
  if (scanned)
    scanned = scrub_store(*this, id, out, w);
  if (!scanned)
    return unexpected{scanned.error()};
  w.b.put(storage::column::erasures, storage::agent_key(id), storage::encode(out));
  if (auto ok = finish_writes(*this, id, w); !ok)
    return unexpected{ok.error()};
  return out;
}

expected<erasure> node::impl::scrub_here(const agent_id& id) {
  erasure out;
  out.agent = id;
  auto scrubbed = ask<uint64_t>(rt.bus, atoms::scrub_agent_events::value, id);
  if (!scrubbed)
    return unexpected{scrubbed.error()};
  out.events = *scrubbed;
  if (!store)
    return out;
  chunked_writer w{*this, {}, {}};
  if (auto ok = scrub_store(*this, id, out, w); !ok)
    return unexpected{ok.error()};
  if (auto ok = finish_writes(*this, id, w); !ok)
    return unexpected{ok.error()};
  return out;
}

expected<erasure> node::erase(const principal& p, const agent_id& id) {
  if (auto ok = may_erase(p, id); !ok)
    return unexpected{ok.error()};
  auto& im = *impl_;
  if (!im.rt.cluster) {
    auto out = im.erase_here(p, id);
    if (out)
      spdlog::info("erased the personal data of agent '{}' (asked by {}): {} messages, {} inbox entries, {} events",
                   id, out->erased_by, out->messages, out->inbox_entries, out->events);
    return out;
  }
  if (served_elsewhere(id))
    return at_agents_node(im, p, id, false);
  // The agent's node: the agent once (a tombstone says it is done), then
  // every other node, each time (erasing again finishes an erasure that
  // could not reach them all).
  auto out = erasure_of(p, id);
  if (!out) {
    if (out.error().code != errc::not_found)
      return out;
    out = im.erase_here(p, id);
    if (!out)
      return out;
  }
  federation::remote_request scrub;
  scrub.what = federation::remote_request::kind::scrub_agent;
  scrub.caller = p;
  scrub.id = id;
  erasure total = *out;
  std::vector<std::string> missed;
  for (auto& node : every_node(im)) {
    if (node == im.cfg.node_id)
      continue;
    auto r = wait(im.ask_node(node, scrub));
    if (!r || !r->erased) {
      missed.push_back(node + " (" + (r ? std::string{"no record"} : to_string(r.error())) + ")");
      continue;
    }
    total.messages += r->erased->messages;
    total.events += r->erased->events;
  }
  if (!missed.empty()) {
    std::string who;
    for (auto& n : missed)
      who += (who.empty() ? "" : ", ") + n;
    return unexpected{errc::unavailable, "agent '" + id + "' is erased on its node, but not yet on " + who
                                           + ": erase again to finish"};
  }
  spdlog::info("erased the personal data of agent '{}' (asked by {}) on every node: {} messages, {} inbox entries, "
               "{} events",
               id, total.erased_by, total.messages, total.inbox_entries, total.events);
  return total;
}

expected<erasure> node::erasure_of(const principal& p, const agent_id& id) {
  if (auto ok = may_erase(p, id); !ok)
    return unexpected{ok.error()};
  if (impl_->rt.cluster && served_elsewhere(id))
    return at_agents_node(*impl_, p, id, true);
  auto none = unexpected{errc::not_found, "agent '" + id + "' has not been erased"};
  if (!impl_->store) {
    std::lock_guard guard{impl_->erasures_mtx};
    auto it = impl_->erasures.find(id);
    if (it == impl_->erasures.end())
      return none;
    return it->second;
  }
  auto raw = impl_->store->get(storage::column::erasures, storage::agent_key(id));
  if (!raw)
    return unexpected{raw.error()};
  if (!*raw)
    return none;
  auto rec = storage::decode_erasure(**raw);
  if (!rec)
    return unexpected{rec.error()};
  return *rec;
}

task<expected<federation::remote_reply>> node::impl::serve_erasure(node& n, federation::remote_request r) {
  using kind = federation::remote_request::kind;
  // Scans and compactions: on the janitor's thread, not the link's.
  auto job = [&]() -> expected<erasure> {
    if (r.what == kind::scrub_agent) {
      if (auto ok = may_erase(r.caller, r.id); !ok)
        return unexpected{ok.error()};
      return scrub_here(r.id);
    }
    return r.flag ? n.erasure_of(r.caller, r.id) : n.erase(r.caller, r.id);
  };
  auto done = co_await on_janitor<erasure>(job);
  if (!done)
    co_return unexpected{done.error()};
  federation::remote_reply out;
  out.erased = std::move(*done);
  co_return out;
}

} // namespace parley
