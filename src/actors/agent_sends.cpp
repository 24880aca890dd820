// An agent's sends through the API (send_as): the first outcome of a retry
// that would now be refused, retries that wait for the first send in flight, the
// receipt to the requester or to a direct caller, and the statuses it
// tracks for senders that asked for receipts.

#include <algorithm>

#include "actors/agent_parts.hpp"
#include "parley/storage/message_log.hpp"

namespace parley::agent_parts {

// How many API-sent messages' statuses an agent remembers.
constexpr size_t tracked_limit = 64;

void set_tracked(agent_state& st, const message_id& id, message_status s) {
  auto& tracked = st.extras().tracked;
  for (auto& [mid, status] : tracked)
    if (mid == id) {
      // Receipts may overtake one another; status only moves forward.
      status = std::max(status, s);
      return;
    }
  if (tracked.size() == tracked_limit)
    tracked.erase(tracked.begin());
  tracked.emplace_back(id, s);
}

// The agent's side of a send: the receipt, the waiting retries.
struct send_finisher {
  self_ptr self;
  receipt_target to;
  message_id id;
  bool durable;

  void operator()(const caf::error* e, send_receipt r) {
    std::vector<receipt_target> waiting;
    auto& st = self->state;
    if (durable && st.extras_) {
      auto& inflight = st.extras_->sends_in_flight;
      if (auto it = inflight.find(id); it != inflight.end()) {
        waiting = std::move(it->second);
        inflight.erase(it);
      }
    }
    waiting.push_back(std::move(to));
    for (auto& w : waiting)
      w.deliver(self->system(), e, r);
  }
};

// The sending part of send_as. `fail` answers a refusal.
template <class Fail>
void send_checked(self_ptr self, message m, send_finisher finish, Fail fail) {
  auto& st = self->state;
  if (retired(st))
    return fail(to_caf(errc::failed_precondition,
                       "agent '" + st.man.id + "' is retired and cannot send messages"));
  caf::actor dest = m.to.is_room() ? st.rt->routes.room(m.to.id) : st.rt->routes.agent(m.to.id);
  if (!dest && !m.to.is_room())
    return fail(to_caf(st.rt->missing_agent(m.to.id)));
  if (!dest)
    return fail(to_caf(errc::not_found, "room '" + m.to.id + "' does not exist"));
  // An answer by id continues the chain of what it answers (an external
  // agent replying to an automatic reply, say).
  if (!m.reply_to.empty() && st.extras_)
    for (auto& [id, hops] : st.extras_->recent_hops)
      if (id == m.reply_to)
        m.hops = hops + 1;
  if (m.hops > st.rt->limits.max_reply_hops)
    return fail(to_caf(errc::failed_precondition,
                       "message '" + m.id + "' answers a chain of " + std::to_string(m.hops - 1)
                         + " automatic replies; the node stops chains at "
                         + std::to_string(st.rt->limits.max_reply_hops) + " (limits.max_reply_hops)"));
  remember_sent(st, m);
  auto reply = [self, finish, id = m.id, track = m.receipt](send_receipt r) mutable {
    if (track)
      set_tracked(self->state, id, r.status);
    finish(nullptr, r);
  };
  auto failed = [fail](caf::error& e) mutable { fail(std::move(e)); };
  if (m.to.is_room())
    self->request(dest, caf::infinite, atoms::post_to_room::value, std::move(m), true).then(reply, failed);
  else
    self->request(dest, caf::infinite, atoms::deliver_direct::value, std::move(m)).then(reply, failed);
}

// A message sent through the API as this agent. The node has validated it
// and filled in id, sender and time. On a durable node (from, id) is the
// idempotency key, and a send that took effect is answered with its first
// outcome whatever changed since:
// - a retry while the first is still in flight waits here for the first's
//   answer;
// - a retry the recipient or room accepts again is refused by the commit's
//   precondition on the key, which answers the first outcome;
// - a retry that is refused (full inbox, turn passed, agent retired) looks
//   the key up (storage reader, off the scheduler's threads) before it
//   answers the refusal, and answers the first outcome if there is one.
// So a send that is not a retry never waits for a read.
// `anonymous`: a send from node::post, whose answer nobody receives.
void on_send_as(self_ptr self, const principal& p, message& m, receipt_target to, bool anonymous) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::send))
    return to.deliver(self->system(), &*no, {});
  // Nobody receives a post's answer, so a refusal is counted and published
  // here, as post promises.
  auto refuse = [self, anonymous, id = m.id, to = m.to.id](caf::error e) {
    if (anonymous)
      note_refusal(self, id, to, from_caf(e, self->system()));
    return e;
  };
  if (!st.rt->store) {
    send_finisher finish{self, std::move(to), m.id, false};
    auto fail = [finish, refuse](caf::error e) mutable {
      auto err = refuse(std::move(e));
      finish(&err, {});
    };
    send_checked(self, std::move(m), finish, std::move(fail));
    return;
  }
  auto& inflight = st.extras().sends_in_flight;
  if (auto it = inflight.find(m.id); it != inflight.end()) {
    it->second.push_back(std::move(to));
    return;
  }
  inflight[m.id];
  send_finisher finish{self, std::move(to), m.id, true};
  auto fail = [self, finish, refuse, key = storage::message_key(m.to, m.from, m.id)](caf::error e) mutable {
    self->request(self->state.rt->reader, caf::infinite, atoms::find_outcome::value, key)
      .then(
        [self, finish, refuse, e](std::optional<storage::send_outcome>& first) mutable {
          auto& rt = *self->state.rt;
          if (first && first->at >= rt.now() - rt.limits.idempotency_window_ms)
            return finish(nullptr, send_receipt{first->status, first->at});
          auto err = refuse(std::move(e));
          finish(&err, {});
        },
        // The key could not be read: the refusal stands.
        [finish, refuse, e](caf::error&) mutable {
          auto err = refuse(std::move(e));
          finish(&err, {});
        });
  };
  send_checked(self, std::move(m), finish, std::move(fail));
}

caf::result<message_status> on_status_of(self_ptr self, const principal& p, const message_id& id) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::send))
    return *no;
  if (st.extras_)
    for (auto& [mid, s] : st.extras_->tracked)
      if (mid == id)
        return s;
  return to_caf(errc::not_found, "agent '" + st.man.id + "' has no tracked message '" + id + "'");
}

} // namespace parley::agent_parts
