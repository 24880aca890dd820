// The peer gateway's durable outbox: a message for an agent of another node
// (a direct message, a room's post for its members there) is sent until the
// owner took it or refused it for good. Its record is in the store before
// anyone is told the message is safe: a room's post writes it with the post
// (room_posts.cpp); a direct message only if its owner has not answered
// within the wait, before its sender hears `sent` (an owner that answered
// committed it itself). After a crash the node sends what is left again
// (node::impl::resume_outbox); the owner's idempotency keys make a repeat
// take no effect (docs/federation.md, "The durable outbox").

#include <algorithm>

#include <spdlog/spdlog.h>

#include "actors/peer_gateway.hpp"
#include "actors/persist.hpp"

namespace parley {

namespace {

using outbox_wait = caf::atom_constant<caf::atom("obwait")>;
using outbox_retry = caf::atom_constant<caf::atom("obretry")>; // a retry wave
using kind = storage::outbox_entry::kind;

constexpr auto first_backoff = std::chrono::milliseconds(200);
constexpr auto max_backoff = std::chrono::milliseconds(5000);

// A failure of the way there (the entry is sent again later), or the
// owner's final word about the message (it leaves the outbox).
bool transient(const error& e) noexcept {
  switch (e.code) {
    case errc::unavailable:
    case errc::deadline_exceeded:
    case errc::storage_failure: return true;
    case errc::overloaded: return federation::is_link_full(e);
    case errc::failed_precondition: return federation::is_stale_owner(e);
    default: return false;
  }
}

federation::remote_request request_for(const storage::outbox_entry& e, const std::string& node_id) {
  federation::remote_request req;
  req.what = e.what == kind::direct ? federation::remote_request::kind::deliver_direct
                                    : federation::remote_request::kind::room_delivery;
  req.caller = principal::admin(node_id);
  req.msg = e.msg;
  req.agents = e.members;
  return req;
}

const std::string& target_of(const storage::outbox_entry& e) {
  return e.what == kind::direct || e.members.empty() ? e.msg.to.id : e.members.front();
}

// Which entries keep their order among themselves: those for one agent,
// and a room's posts for its members on one node.
std::string lane_of(const storage::outbox_entry& e, const std::string& node) {
  return e.what == kind::direct ? e.msg.to.id : e.msg.to.id + "@" + node;
}

} // namespace

void peer_gateway::count_entry(const std::string& node, int64_t delta) {
  auto& n = outbox_by_node_[node];
  n = static_cast<size_t>(static_cast<int64_t>(n) + delta);
  if (n == 0)
    outbox_by_node_.erase(node);
  rt_->counters.outbox_pending.fetch_add(static_cast<uint64_t>(delta), std::memory_order_relaxed);
}

void peer_gateway::enqueue(storage::outbox_entry e, std::optional<caf::typed_response_promise<send_receipt>> waiting) {
  const auto where = rt_->place(target_of(e));
  const auto& node = where.node;
  if (auto it = outbox_by_node_.find(node); it != outbox_by_node_.end() && it->second >= outbox_opts_.limit_per_node) {
    auto refusal = to_caf(errc::overloaded, "the outbox for node '" + node + "' holds " + std::to_string(it->second)
                                              + " messages it has not taken yet (the node is slow or cannot be "
                                                "reached); retry later");
    if (waiting)
      waiting->deliver(refusal);
    else
      rt_->counters.refused.add();
    return;
  }
  e.seq = rt_->outbox_seq.fetch_add(1) + 1;
  const auto seq = e.seq;
  count_entry(node, 1);
  auto& q = outbox_[seq];
  q.entry = std::move(e);
  q.node = node;
  q.waiting = std::move(waiting);
  q.lane = lane_of(q.entry, node);
  if (q.entry.what == kind::room_delivery) {
    // The room has told its poster: written now, sent once written (the
    // writer answers in order, so entries go out in order).
    persist(seq, true);
    return;
  }
  // A direct message goes at once and is written only if its owner has
  // not answered within the wait: an owner's answer means it committed the
  // message itself, and nobody was told anything before.
  waits_.emplace_back(std::chrono::steady_clock::now() + outbox_opts_.wait, seq);
  if (!wait_armed_) {
    wait_armed_ = true;
    delayed_send(this, outbox_opts_.wait, outbox_wait::value);
  }
  join_lane(seq);
}

void peer_gateway::persist(uint64_t seq, bool then_send) {
  auto& q = outbox_.at(seq);
  storage::write_batch b;
  if (rt_->store)
    b.put(storage::column::outbox, storage::outbox_key(seq), storage::encode(q.entry));
  q.state = queued::writing;
  persist_then(
    this, *rt_, std::move(b),
    [this, seq, then_send](const error* failed, commit_outcome&) {
      auto it = outbox_.find(seq);
      if (it == outbox_.end())
        return;
      auto& q = it->second;
      if (failed) {
        // Not written: nobody is told it is safe. A direct message was
        // sent already: its sender learns the outcome is unknown.
        q.state = queued::memory;
        if (q.waiting) {
          q.waiting->deliver(then_send ? to_caf(*failed)
                                       : to_caf(errc::deadline_exceeded,
                                                "the recipient's node has not answered and the outbox could not be "
                                                "written (" + failed->message
                                                  + "): the message may or may not arrive; retry with its id"));
          q.waiting.reset();
        }
        if (q.finished) {
          drop_entry(seq);
          return;
        }
        if (then_send) {
          count_entry(q.node, -1);
          outbox_.erase(it);
        }
        return;
      }
      q.state = queued::written;
      if (q.finished) {
        drop_entry(seq); // answered while it was being written
        return;
      }
      if (q.waiting) {
        // The owner has not answered yet: the message is safe in the outbox.
        q.waiting->deliver(send_receipt{message_status::sent, q.entry.msg.sent_at});
        q.waiting.reset();
      }
      if (then_send)
        join_lane(seq);
    },
    while_writing::go_on);
}

void peer_gateway::send_entry(uint64_t seq) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end())
    return;
  auto& e = it->second.entry;
  // The recipient's shard may have come here since (a move).
  if (e.what == kind::room_delivery) {
    auto here = std::remove_if(e.members.begin(), e.members.end(),
                               [this](const agent_id& id) { return rt_->place(id).at == placement::where::here; });
    if (here != e.members.end()) {
      // The room stored no inbox entry for them (they were elsewhere).
      rt_->counters.refused.add(static_cast<uint64_t>(e.members.end() - here));
      spdlog::warn("a post of room '{}' for {} member(s) was not delivered: their shards moved here meanwhile",
                   e.msg.to.id, e.members.end() - here);
      e.members.erase(here, e.members.end());
    }
    if (e.members.empty())
      return drop_entry(seq);
  } else if (rt_->place(e.msg.to.id).at == placement::where::here) {
    auto local = rt_->routes.agent(e.msg.to.id);
    if (!local) {
      expected<federation::remote_reply> r = unexpected{errc::unavailable, "agent '" + e.msg.to.id + "' is moving here"};
      return on_entry_answer(seq, r);
    }
    request(local, caf::infinite, atoms::deliver_direct::value, e.msg)
      .then(
        [this, seq](send_receipt r) {
          expected<federation::remote_reply> rep = federation::remote_reply{};
          rep->status = r.status;
          rep->sent_at = r.sent_at;
          on_entry_answer(seq, rep);
        },
        [this, seq](caf::error& err) {
          expected<federation::remote_reply> rep = unexpected{from_caf(err, system())};
          on_entry_answer(seq, rep);
        });
    return;
  }
  start(request_for(e, rt_->node_id), target_of(e),
        [this, seq](expected<federation::remote_reply> r) { on_entry_answer(seq, r); });
}

void peer_gateway::on_entry_answer(uint64_t seq, expected<federation::remote_reply>& r) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end())
    return;
  auto& q = it->second;
  if (!r && transient(r.error())) {
    spdlog::debug("outbox entry {} for '{}' goes again later: {}", seq, target_of(q.entry), to_string(r.error()));
    park(seq);
    return;
  }
  retry_backoff_ = std::chrono::milliseconds(0);
  if (q.entry.what == kind::room_delivery && r && !r->agents.empty()) {
    // Members that node no longer serves: the entry goes on for them
    // alone, rewritten, to whichever node serves them now.
    q.entry.members = std::move(r->agents);
    storage::write_batch b;
    if (rt_->store)
      b.put(storage::column::outbox, storage::outbox_key(seq), storage::encode(q.entry));
    persist_then(
      this, *rt_, std::move(b), [this, seq](const error*, commit_outcome&) { park(seq); }, while_writing::go_on);
    return;
  }
  if (q.waiting) {
    if (r)
      q.waiting->deliver(send_receipt{r->status, r->sent_at});
    else
      q.waiting->deliver(to_caf(r.error()));
    q.waiting.reset();
  } else if (!r) {
    // The sender was answered `sent` (or nobody waits): the owner's
    // refusal is counted, logged and published where the message came from.
    rt_->counters.refused.add();
    const auto& m = q.entry.msg;
    spdlog::warn("a message from '{}' ({}) for '{}' on another node was refused there: {}", m.from, m.id,
                 target_of(q.entry), to_string(r.error()));
    if (q.entry.what == kind::direct)
      rt_->publish(event_kind::message_refused, m.from, {}, m.id + " to " + m.to.id + ": " + to_string(r.error()));
  }
  drop_entry(seq);
}

void peer_gateway::park(uint64_t seq) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end() || !parked_.insert(seq).second)
    return;
  if (retry_armed_)
    return;
  retry_armed_ = true;
  retry_backoff_ = std::min<std::chrono::milliseconds>(std::max(retry_backoff_ * 2, first_backoff), max_backoff);
  delayed_send(this, retry_backoff_, outbox_retry::value);
}

void peer_gateway::join_lane(uint64_t seq) {
  auto& lane = lanes_[outbox_.at(seq).lane];
  lane.push_back(seq);
  if (lane.size() == 1)
    send_entry(seq);
}

void peer_gateway::drop_entry(uint64_t seq) {
  auto it = outbox_.find(seq);
  if (it == outbox_.end())
    return;
  auto& q = it->second;
  // It leaves its lane; if it was the first, the next goes.
  std::optional<uint64_t> next;
  if (!q.left_lane) {
    q.left_lane = true;
    if (auto l = lanes_.find(q.lane); l != lanes_.end()) {
      const bool first = l->second.front() == seq;
      if (first)
        l->second.pop_front(); // the usual case
      else
        std::erase(l->second, seq);
      if (l->second.empty())
        lanes_.erase(l);
      else if (first)
        next = l->second.front();
    }
  }
  if (q.state == queued::writing) {
    q.finished = true; // its record goes once written
  } else {
    const bool written = q.state == queued::written;
    count_entry(q.node, -1);
    outbox_.erase(it);
    if (written) {
      // Written behind: lost in a crash, the entry is sent again and the
      // owner's idempotency key makes the repeat take no effect.
      storage::write_batch b;
      b.erase(storage::column::outbox, storage::outbox_key(seq));
      commit_later(*rt_, std::move(b));
    }
  }
  if (next)
    send_entry(*next);
}

caf::message_handler peer_gateway::outbox_handlers() {
  return {
    [this](outbox_wait) {
      const auto now = std::chrono::steady_clock::now();
      while (!waits_.empty() && waits_.front().first <= now) {
        const auto seq = waits_.front().second;
        waits_.pop_front();
        // Not answered in time: written now, and its sender then told `sent`.
        if (auto it = outbox_.find(seq); it != outbox_.end() && it->second.state == queued::memory)
          persist(seq, false);
      }
      wait_armed_ = !waits_.empty();
      if (wait_armed_)
        delayed_send(this, std::max<std::chrono::steady_clock::duration>(waits_.front().first - now, {}),
                     outbox_wait::value);
    },
    [this](outbox_retry) {
      retry_armed_ = false;
      auto wave = std::exchange(parked_, {});
      for (auto seq : wave)
        send_entry(seq);
    },
    [this](atoms::resume_outbox, std::vector<storage::outbox_entry>& entries) {
      for (auto& e : entries) {
        const auto seq = e.seq;
        auto node = rt_->place(target_of(e)).node;
        count_entry(node, 1);
        auto lane = lane_of(e, node);
        auto& q = outbox_[seq];
        q.entry = std::move(e);
        q.node = std::move(node);
        q.lane = std::move(lane);
        q.state = queued::written;
        join_lane(seq);
      }
    },
  };
}

} // namespace parley
