// Event subscriptions. The bus only hands live events to a bounded queue
// (never blocking; the only subscriber code it runs is a reader's wake-up,
// see ready_signal); the reader's thread replays what came before, from the
// store or the bus's memory in bounded chunks, then drains the queue.

#include <algorithm>

#include "actors/event_bus.hpp"
#include "node/event_stream_impl.hpp"
#include "parley/storage/records.hpp"

namespace parley {

namespace {

// Most events one replay chunk reads.
constexpr size_t replay_chunk = 1000;

bool matches(const subscription_spec& s, const event& e) {
  return (s.agent.empty() || e.agent == s.agent) && (s.room.empty() || e.room == s.room);
}

} // namespace

event_stream::impl::~impl() {
  {
    std::lock_guard guard{q->mtx};
    q->closed = true;
  }
  q->ready.set(nullptr);
  if (!owner->stopping && sub_id != 0)
    caf::anon_send(owner->rt.bus, atoms::unsubscribe::value, sub_id);
  owner->open_subscriptions.fetch_sub(1);
}

// What an agent principal following a room may no longer see once it has
// left it: the stream ends after that event.
bool event_stream::impl::ends_stream(const event& e) {
  return who.role == principal_role::agent && !spec.room.empty() && e.room == spec.room && e.agent == who.name
         && e.kind == event_kind::member_left;
}

// Keeps `e` if the subscription wants it; false once the stream ended.
bool event_stream::impl::take(const event& e, std::vector<event>& out) {
  if (e.seq < spec.from_seq || !(spec.topics & mask_of(topic_of(e.kind))) || !matches(spec, e))
    return true;
  out.push_back(e);
  resume = e.seq + 1;
  if (ends_stream(e)) {
    end = error{errc::permission_denied, "agent '" + who.name + "' left room '" + spec.room
                                           + "': it no longer follows the room's events"};
    return false;
  }
  return true;
}

// One chunk of [replay_next, first_live), read off the bus.
expected<std::vector<event>> event_stream::impl::replay_chunk_read(size_t max) {
  std::vector<event> raw;
  const uint64_t upto = std::min<uint64_t>(first_live, replay_next + std::min(max, replay_chunk));
  if (owner->store) {
    auto ok = owner->store->scan(storage::column::events, {}, storage::u64_key(replay_next),
                                 [&](std::string_view k, std::string_view v) {
                                   if (storage::parse_u64_key(k) >= upto)
                                     return false;
                                   auto e = storage::decode_event(v);
                                   if (e)
                                     raw.push_back(std::move(*e));
                                   return true;
                                 });
    if (!ok)
      return unexpected{ok.error()};
  } else {
    while (!handed_over.empty() && handed_over.front().seq < upto) {
      raw.push_back(std::move(handed_over.front()));
      handed_over.pop_front();
    }
  }
  // Retention may have removed events while we read: say so, never skip.
  if (raw.size() != upto - replay_next || raw.front().seq != replay_next)
    return unexpected{errc::out_of_range,
                      "events from offset " + std::to_string(replay_next)
                        + " were removed by retention during the replay; subscribe again"};
  replay_next = upto;
  return raw;
}

void event_stream::impl::take_remote(size_t max, std::vector<event>& out) {
  for (auto& p : q->parts) {
    while (!p->events.empty() && out.size() < max) {
      p->handed = p->events.front().seq + 1;
      out.push_back(std::move(p->events.front()));
      p->events.pop_front();
    }
    if (p->events.empty()) {
      // Whatever the poll examined beyond is filtered out: the cursor
      // moves past it.
      p->handed = std::max(p->handed, p->next);
      if (p->failure && !end)
        end = p->failure;
    }
  }
}

// What is there now: replayed events first, then the queues'. `arm`: a
// miss arms the queue's ready signal.
std::vector<event> event_stream::impl::try_next(size_t max, bool arm) {
  std::vector<event> out;
  if (max == 0 || end)
    return out;
  while (replay_next < first_live && out.size() < max) {
    auto raw = replay_chunk_read(max - out.size());
    if (!raw) {
      end = raw.error();
      resume = replay_next;
      return out;
    }
    for (auto& e : *raw)
      if (!take(e, out))
        return out;
  }
  if (!out.empty())
    return out;
  std::lock_guard guard{q->mtx};
  while (!q->events.empty() && out.size() < max) {
    auto e = std::move(q->events.front());
    q->events.pop_front();
    live_examined = e.seq + 1;
    if (!take(e, out))
      return out;
  }
  if (q->events.empty() && q->overflow_at != 0 && !end) {
    resume = q->overflow_at;
    end = error{errc::overloaded, "the subscriber fell more than " + std::to_string(q->limit)
                                    + " events behind; resume from offset " + std::to_string(q->overflow_at)};
  }
  if (!end)
    take_remote(max, out);
  if (out.empty() && !end && arm)
    q->ready.arm();
  return out;
}

std::vector<event> event_stream::impl::next(size_t max, std::chrono::milliseconds timeout) {
  auto out = try_next(max, false);
  if (!out.empty() || end || max == 0)
    return out;
  {
    std::unique_lock guard{q->mtx};
    q->cv.wait_for(guard, timeout, [&] { return q->has_news(); });
  }
  return try_next(max, false);
}

event_stream::event_stream(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

event_stream::~event_stream() = default;

std::vector<event> event_stream::next(size_t max, std::chrono::milliseconds timeout) {
  return impl_->next(max, timeout);
}

std::vector<event> event_stream::try_next(size_t max) {
  return impl_->try_next(max, true);
}

void event_stream::on_ready(std::function<void()> fn) {
  impl_->q->ready.set(std::move(fn));
}

std::optional<error> event_stream::ended() const {
  return impl_->end;
}

uint64_t event_stream::resume_from() const {
  return impl_->resume;
}

event_cursor event_stream::cursor() const {
  event_cursor out;
  std::lock_guard guard{impl_->q->mtx};
  out.set(impl_->owner->cfg.node_id, impl_->resume);
  for (auto& p : impl_->q->parts)
    if (p->reached) // past what the polls filtered out, once all is handed
      out.set(p->node, p->events.empty() ? std::max(p->handed, p->next) : p->handed);
  return out;
}

uint64_t event_stream::examined() const {
  std::lock_guard guard{impl_->q->mtx};
  return std::max({impl_->replay_next, impl_->resume, impl_->live_examined});
}

task<expected<std::unique_ptr<event_stream>>> node::subscribe_async(principal p, subscription_spec spec) {
  if (spec.topics == 0 || (spec.topics & ~all_topics) != 0)
    co_return unexpected{errc::invalid_argument, "topic mask " + std::to_string(spec.topics)
                                                + " is empty or names unknown topics"};
  if (!spec.agent.empty())
    if (auto ok = validate_agent_id(spec.agent); !ok)
      co_return unexpected{ok.error()};
  std::optional<room> facts;
  if (!spec.room.empty() && p.role == principal_role::agent) {
    // The room as its moderator has it now (what authorize needs).
    auto r = co_await get_room_async(node_principal(), spec.room);
    if (!r)
      co_return unexpected{r.error()};
    facts = std::move(*r);
  }
  if (auto ok = authorize(p, action::subscribe, {spec.agent, {}, facts ? &*facts : nullptr}); !ok)
    co_return unexpected{ok.error()};
  if (impl_->stopping)
    co_return stopped();
  const bool network = impl_->rt.cluster && !spec.this_node_only;
  if (spec.resume && (spec.from_seq != 0 || spec.from_oldest))
    co_return unexpected{errc::invalid_argument, "a resume token already says where to start: "
                                                 "give neither from_offset nor from_oldest with it"};
  if (network && spec.from_seq != 0)
    co_return unexpected{errc::invalid_argument,
                         "node '" + impl_->cfg.node_id + "' is part of a network, where offsets are per node: "
                           "resume with a resume token, start with from_oldest, or subscribe to this node "
                           "only (this_node_only) to use from_offset"};
  // Where this node's log starts: a resume token's position for it, else
  // (resuming, or from_oldest) the oldest retained event.
  if (spec.resume) {
    if (auto at = spec.resume->next(impl_->cfg.node_id))
      spec.from_seq = *at;
    else
      spec.from_oldest = true;
  }
  if (spec.from_oldest) {
    auto bounds = co_await impl_->ask_async<event_log_extent>(impl_->rt.bus, atoms::event_log_bounds::value);
    if (!bounds)
      co_return unexpected{bounds.error()};
    spec.from_seq = std::max<uint64_t>(1, bounds->first_kept);
  }
  const auto limit = impl_->cfg.limits.max_subscriptions;
  if (impl_->open_subscriptions.fetch_add(1) >= limit) {
    impl_->open_subscriptions.fetch_sub(1);
    co_return unexpected{errc::overloaded, "node '" + impl_->cfg.node_id + "' has " + std::to_string(limit)
                                          + " event subscriptions open (limits.max_subscriptions)"};
  }
  auto s = std::make_unique<event_stream::impl>();
  s->owner = impl_.get();
  s->who = p;
  s->spec = spec;
  s->q = std::make_shared<live_queue>();
  s->q->limit = impl_->cfg.limits.subscription_queue;
  // Runs on the bus: filters, queues, never blocks. False drops the
  // subscription (its stream is gone, or it fell behind).
  std::weak_ptr<live_queue> weak = s->q;
  auto sink = std::make_shared<std::function<bool(const event&)>>(
    [weak, agent = spec.agent, room = spec.room](const event& e) {
      auto q = weak.lock();
      if (!q)
        return false;
      if ((!agent.empty() && e.agent != agent) || (!room.empty() && e.room != room))
        return true;
      std::unique_lock guard{q->mtx};
      if (q->closed)
        return false;
      bool keep = true;
      if (q->events.size() >= q->limit) {
        q->overflow_at = e.seq; // the reader learns it from its next poll
        keep = false;
      } else {
        q->events.push_back(e);
      }
      q->wake(guard); // fires outside the mutex: the reader polls from it
      return keep;
    });
  auto started = co_await impl_->ask_async<subscription_start>(impl_->rt.bus, atoms::subscribe_live::value,
                                                              spec.topics, spec.from_seq, event_sink{sink});
  if (!started)
    co_return unexpected{started.error()}; // s's destructor gives the slot back
  s->sub_id = started->id;
  s->first_live = started->first_live;
  s->handed_over.assign(std::make_move_iterator(started->replay.begin()),
                        std::make_move_iterator(started->replay.end()));
  s->replay_next = spec.from_seq == 0 ? started->first_live : spec.from_seq;
  s->resume = s->replay_next;
  if (network) {
    auto q = s->q;
    if (auto ok = co_await follow_network(*impl_, std::move(q), p, spec); !ok)
      co_return unexpected{ok.error()};
  }
  co_return std::make_unique<event_stream>(std::move(s));
}

expected<std::unique_ptr<event_stream>> node::subscribe(const principal& p, subscription_spec spec) {
  return wait(subscribe_async(p, std::move(spec)));
}

expected<void> node::sync_events(const principal& p) {
  if (auto ok = authorize(p, action::subscribe); !ok)
    return ok;
  return impl_->ask_ok(impl_->rt.bus, atoms::sync_event_log::value);
}

expected<std::vector<event>> node::events_since(const principal& p, uint64_t from_seq, size_t max) {
  // All events, unfiltered: staff only (an agent subscribes with a filter).
  if (p.role == principal_role::agent)
    return unexpected{errc::permission_denied, std::string{to_string(p.role)} + " '" + p.name
                                                 + "' may not read the whole event log: subscribe "
                                                   "with a filter instead"};
  // Everything published before this call, once durable.
  if (auto ok = impl_->ask_ok(impl_->rt.bus, atoms::sync_event_log::value); !ok)
    return unexpected{ok.error()};
  if (!impl_->store || max == 0)
    return impl_->ask<std::vector<event>>(impl_->rt.bus, atoms::events_since::value, from_seq,
                                          static_cast<uint64_t>(max));
  // A durable node reads its log (off the bus, on this thread).
  std::vector<event> out;
  std::optional<error> bad;
  auto ok = impl_->store->scan(storage::column::events, {}, storage::u64_key(from_seq),
                               [&](std::string_view, std::string_view v) {
                                 auto e = storage::decode_event(v);
                                 if (!e) {
                                   bad = e.error();
                                   return false;
                                 }
                                 out.push_back(std::move(*e));
                                 return out.size() < max;
                               });
  if (!ok)
    return unexpected{ok.error()};
  if (bad)
    return unexpected{*bad};
  return out;
}

} // namespace parley
