// Event subscriptions across a network (docs/api.md, "Events across a
// network"). Every event stays in the log of the node where it happened;
// a subscription on one node reads its own log as before and, for every
// other member, a part fed by a long poll of that node's log over
// Federation.Link (events_since: the owner answers when it has events, or
// after the wait). One poll per node at a time, and a part holds at most
// part_backlog events the reader has not taken: memory stays bounded. The
// stream's cursor is one offset per node (event_cursor).

#include <spdlog/spdlog.h>

#include "node/event_stream_impl.hpp"

namespace parley {

namespace {

using namespace std::chrono_literals;

// Most events one poll answers, and the most a peer may ask for.
constexpr uint32_t poll_max = 256;
constexpr uint32_t poll_max_allowed = 1000;
// How long an owner holds a poll without events; below every call timeout.
constexpr std::chrono::milliseconds poll_wait = 1s;
constexpr std::chrono::milliseconds poll_wait_allowed = 10s;
// Events of one node fetched ahead of the reader; beyond, the poll waits.
constexpr size_t part_backlog = 1024;
constexpr std::chrono::milliseconds backlog_pause = 20ms;
// After a node could not be reached (down, paused, partitioned).
constexpr std::chrono::milliseconds retry_pause = 500ms;
// How long a new subscription waits for every node's first answer.
constexpr std::chrono::milliseconds first_answer_wait = 2s;
constexpr std::chrono::milliseconds first_answer_check = 10ms;
// How long an owner keeps publishing the topics a poll asked for (several
// polls' waits: a subscription polls again at once).
constexpr std::chrono::milliseconds topic_hold = 5s;
// How often the subscription looks for nodes that joined.
constexpr std::chrono::milliseconds member_check = 1s;

// Failures of a poll that pass (the node is down, slow or full): the part
// tries again and the rest of the stream goes on.
bool passing(const error& e) {
  return e.code == errc::unavailable || e.code == errc::deadline_exceeded || e.code == errc::overloaded;
}

// One node's events until the stream closes or the node refuses for good.
task<bool> follow_node(node::impl& im, std::shared_ptr<live_queue> q, std::shared_ptr<remote_part> part,
                       federation::remote_request req) {
  for (;;) {
    if (im.stopping)
      co_return false;
    bool backlog = false;
    {
      std::lock_guard guard{q->mtx};
      if (q->closed)
        co_return false;
      backlog = part->events.size() >= part_backlog;
      // The first poll only learns where the node's log starts (at once).
      req.offset = part->reached ? part->next : 0;
      req.flag = !part->reached && part->from_oldest;
      req.limit = part->reached ? poll_max : 0;
      req.wait_ms = part->reached ? static_cast<uint32_t>(std::min(poll_wait, im.cfg.call_timeout / 2).count()) : 0;
    }
    if (backlog) {
      if (!co_await im.pause_async(backlog_pause))
        co_return false;
      continue;
    }
    auto got = co_await im.ask_node(part->node, req);
    std::unique_lock guard{q->mtx};
    if (q->closed)
      co_return false;
    if (got) {
      if (!part->reached) {
        part->reached = true;
        part->handed = got->next_offset;
      }
      part->next = std::max(part->next, got->next_offset);
      if (got->events.empty())
        continue;
      for (auto& e : got->events) {
        e.node = part->node;
        part->events.push_back(std::move(e));
      }
      q->wake(guard);
      continue;
    }
    if (!passing(got.error())) {
      part->failure = error{got.error().code, "the events of node '" + part->node + "': " + got.error().message};
      q->wake(guard);
      co_return false;
    }
    guard.unlock();
    spdlog::debug("a subscription waits for the events of node '{}': {}", part->node, to_string(got.error()));
    if (!co_await im.pause_async(retry_pause))
      co_return false;
  }
}

void start_part(node::impl& im, const std::shared_ptr<live_queue>& q, const std::shared_ptr<remote_part>& part,
                const federation::remote_request& req) {
  start(follow_node(im, q, part, req), [](bool) {}, [](const std::exception& e) {
    spdlog::error("a subscription's poll failed: {}", e.what());
    return false;
  });
}

// Gives nodes that join after the subscription began a part of their own:
// read from their oldest retained event (all of a new node's events came
// after the subscription began).
task<bool> watch_members(node::impl& im, std::shared_ptr<live_queue> q, federation::remote_request req) {
  for (;;) {
    if (!co_await im.pause_async(member_check) || im.stopping)
      co_return false;
    auto members = im.rt.cluster->members();
    std::vector<std::shared_ptr<remote_part>> added;
    {
      std::lock_guard guard{q->mtx};
      if (q->closed)
        co_return false;
      for (auto& m : members) {
        if (m.node == im.cfg.node_id)
          continue;
        auto known = std::any_of(q->parts.begin(), q->parts.end(), [&](auto& p) { return p->node == m.node; });
        if (known)
          continue;
        auto part = std::make_shared<remote_part>();
        part->node = m.node;
        part->from_oldest = true;
        q->parts.push_back(part);
        added.push_back(std::move(part));
      }
    }
    for (auto& part : added)
      start_part(im, q, part, req);
  }
}

// Wakes an owner's poll that waits for an event: the stream's on_ready
// runs fire() on the bus's thread, which hands the waiter's resumption to
// its relay (never resumed on the bus: the waiter clears on_ready next).
struct poll_wake {
  std::mutex mtx;
  bool woken = false;
  std::function<void()> resume;
  caf::actor relay;

  void fire() {
    std::function<void()> go;
    caf::actor to;
    {
      std::lock_guard guard{mtx};
      woken = true;
      go = std::exchange(resume, nullptr);
      to = relay;
    }
    if (go)
      caf::anon_send(to, atoms::relay::value, relay_job{[go](caf::event_based_actor*) { go(); }});
  }
};

// Resumes after fire() or after `d`, whichever comes first, on a relay.
node::impl::relay_awaiter<expected<void>> woken_or_after(node::impl& im, std::shared_ptr<poll_wake> wake,
                                                         std::chrono::milliseconds d) {
  auto job = [wake, d](caf::event_based_actor* self,
                       std::shared_ptr<node::impl::relay_call<expected<void>>> call) {
    // Both ways run on this relay, so the call finishes once. Only the
    // timer holds the call: the wake (which the waiting coroutine owns)
    // holds it weakly, else a node that stops before the timer fires would
    // keep the coroutine and the call alive for each other.
    auto done = [call] {
      call->value = expected<void>{};
      call->finish();
    };
    {
      std::lock_guard guard{wake->mtx};
      if (!wake->woken) {
        wake->resume = [weak = std::weak_ptr{call}] {
          if (auto c = weak.lock()) {
            c->value = expected<void>{};
            c->finish();
          }
        };
        wake->relay = caf::actor_cast<caf::actor>(self);
        self->delayed_send(self, d, atoms::relay::value, relay_job{[done](caf::event_based_actor*) { done(); }});
        return;
      }
    }
    done();
  };
  return node::impl::relay_awaiter<expected<void>>(im, std::move(job), [] { return expected<void>{stopped()}; });
}

} // namespace

task<expected<void>> follow_network(node::impl& im, std::shared_ptr<live_queue> q, principal who,
                                    subscription_spec spec) {
  federation::remote_request req;
  req.what = federation::remote_request::kind::events_since;
  req.caller = std::move(who);
  req.topics = spec.topics;
  req.id = spec.agent;
  req.room = spec.room;
  // A node the resume token does not name: from its oldest retained event.
  const bool oldest = spec.from_oldest || spec.resume;
  std::vector<std::shared_ptr<remote_part>> parts;
  auto add = [&](const std::string& node) {
    if (node == im.cfg.node_id)
      return;
    for (auto& p : parts)
      if (p->node == node)
        return;
    auto part = std::make_shared<remote_part>();
    part->node = node;
    part->from_oldest = oldest;
    if (spec.resume)
      if (auto at = spec.resume->next(node)) {
        part->reached = true;
        part->next = part->handed = *at;
      }
    parts.push_back(std::move(part));
  };
  for (auto& m : im.rt.cluster->members())
    add(m.node);
  // A node of the token that is not a member now may come back: its
  // position is kept (and its events follow when it does).
  if (spec.resume)
    for (auto& [node, at] : spec.resume->positions())
      add(node);
  {
    std::lock_guard guard{q->mtx};
    q->parts = parts;
  }
  for (auto& part : parts)
    start_part(im, q, part, req);
  start(watch_members(im, q, req), [](bool) {}, [](const std::exception& e) {
    spdlog::error("a subscription's member watch failed: {}", e.what());
    return false;
  });
  // The first answers fix where each node's part starts; a node that does
  // not answer in time joins the stream (and its cursor) when it does.
  for (auto waited = 0ms; waited < first_answer_wait; waited += first_answer_check) {
    {
      std::lock_guard guard{q->mtx};
      bool all = true;
      for (auto& p : parts) {
        if (p->failure)
          co_return unexpected{*p->failure};
        all = all && p->reached;
      }
      if (all)
        break;
    }
    if (auto ok = co_await im.pause_async(first_answer_check); !ok)
      co_return ok;
  }
  co_return expected<void>{};
}

task<expected<federation::remote_reply>> node::impl::serve_events(node& n, federation::remote_request r) {
  if (r.limit > poll_max_allowed)
    co_return unexpected{errc::invalid_argument, "an events poll asks for at most "
                                                   + std::to_string(poll_max_allowed) + " events"};
  if (std::chrono::milliseconds{r.wait_ms} > poll_wait_allowed)
    co_return unexpected{errc::invalid_argument, "an events poll waits at most "
                                                   + std::to_string(poll_wait_allowed.count()) + " ms"};
  subscription_spec spec;
  spec.topics = r.topics;
  spec.agent = r.id;
  spec.room = r.room;
  spec.this_node_only = true;
  spec.from_seq = r.offset;
  spec.from_oldest = r.offset == 0 && r.flag;
  // Topics that are published only while someone wants them (messages):
  // kept on between this poll and the next.
  caf::anon_send(rt.bus, atoms::hold_topics::value, r.topics, static_cast<uint32_t>(topic_hold.count()));
  // The caller's principal: authorized here as on a subscription of its own.
  auto opened = co_await n.subscribe_async(r.caller, std::move(spec));
  if (!opened)
    co_return unexpected{opened.error()};
  auto stream = std::move(*opened);
  auto wake = std::make_shared<poll_wake>();
  stream->on_ready([wake] { wake->fire(); }); // before the poll that arms it
  federation::remote_reply out;
  out.events = stream->try_next(r.limit);
  if (out.events.empty() && !stream->ended() && r.wait_ms > 0) {
    if (auto ok = co_await woken_or_after(*this, wake, std::chrono::milliseconds{r.wait_ms}); !ok)
      co_return unexpected{ok.error()};
    out.events = stream->try_next(r.limit);
  }
  stream->on_ready(nullptr);
  if (out.events.empty())
    if (auto why = stream->ended())
      co_return unexpected{*why};
  out.next_offset = stream->examined();
  co_return out;
}

} // namespace parley
