#include "actors/room_posts.hpp"

#include <algorithm>
#include <map>

#include "actors/persist.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"

namespace parley {

caf::actor handle_at(room_moderator_state& st, size_t i) {
  auto& h = st.handles[i];
  if (!h)
    h = st.rt->routes.agent(st.r.members[i].id);
  return h;
}

// Posts to a room without speaking turns (speaker_policy::none, also direct
// rooms) pipeline on a durable node: the moderator hands the post's batch to
// the writer and goes on taking posts; it answers the sender and fans the
// post out when the write answers. Such a post changes nothing a later
// message is checked against: it is checked against membership, roles and
// open, which change only by messages that hold, and against the members not
// keeping up (a notice that only refuses later posts), and it neither reads
// nor changes the turn state. So nothing needs reserving but its place among
// the posts in flight (bounded by max_posts_in_flight), and a failed write
// takes back nothing but the post itself. The writer answers in the order it
// was given batches, so posts are stored, answered and delivered in the
// order they came; a retry of a post in flight waits for its answer.
//
// Posts in a room with turns keep holding the moderator: each one changes
// the durable turn state (the count of the speaker's messages and, at its
// last, the end of the turn and the next grant), written with the post. A
// later post checked as if it had applied would write a turn state that
// counts it, which a failed write could not take back. Only the speaker
// posts there anyway, so there is no crowd to batch.
//
// Every other change (membership, roles, closing, turns) waits until the
// posts in flight are answered (wait_for_posts), so a change that holds
// starts from the state all earlier posts left, and nothing overtakes it.
// Reads do not wait: they see only posts that are written.

bool pipelines(const room_moderator_state& st) {
  return st.rt->store && st.r.rules.policy == speaker_policy::none;
}

bool wait_for_posts(room_moderator_state& st) {
  if (st.posts_in_flight == 0)
    return false;
  st.draining = true;
  return true;
}

std::optional<caf::error> post_refusal(const room_moderator_state& st, const agent_id& from) {
  if (auto ok = st.turns.check_post(st.r, from); !ok)
    return to_caf(ok.error());
  // A member that cannot keep up holds the room's posts back: nothing
  // acknowledged may be dropped, and nothing more can be taken for it.
  if (!st.saturated.empty())
    return to_caf(errc::overloaded, "room '" + st.r.id + "' holds posts back: member '"
                                      + *st.saturated.begin() + "' is not keeping up with its inbox");
  return std::nullopt;
}

// Written before anyone receives the post: one record, one inbox entry per
// member but the sender (all with the same delivery number) and, with
// `record_outcome`, the guard of its key.
storage::write_batch post_records(room_moderator_state& st, message& m, bool record_outcome, timestamp now,
                                  std::vector<storage::outbox_entry>& remote) {
  storage::write_batch b;
  if (!st.rt->store)
    return b;
  m.delivery = st.rt->next_delivery();
  m.status = message_status::delivered;
  // Members of other nodes get theirs from their node (fan_out), through
  // the outbox: one entry per node (those without a settled owner in one).
  std::vector<agent_id> recipients;
  std::map<std::string, std::vector<agent_id>> by_node;
  recipients.reserve(st.r.members.size());
  for (size_t i = 0; i < st.r.members.size(); ++i) {
    const auto& id = st.r.members[i].id;
    if (id == m.from)
      continue;
    if (st.rt->gateway && st.rt->elsewhere(handle_at(st, i))) {
      auto where = st.rt->place(id);
      by_node[where.at == placement::where::there ? where.node : std::string{}].push_back(id);
    } else {
      recipients.push_back(id);
    }
  }
  storage::add_message(b, m, recipients, m.delivery);
  if (record_outcome)
    storage::guard_idempotency(b, m, now - st.rt->limits.idempotency_window_ms);
  for (auto& [node, ids] : by_node) {
    storage::outbox_entry e{st.rt->outbox_seq.fetch_add(1) + 1, storage::outbox_entry::kind::room_delivery, m,
                            std::move(ids)};
    b.put(storage::column::outbox, storage::outbox_key(e.seq), storage::encode(e));
    remote.push_back(std::move(e));
  }
  return b;
}

// Members here get the one shared post each; the members of other nodes
// go to the gateway as one list, which it splits by node (one request per
// node, however many of the room's members it serves).
void fan_out(room_moderator_actor* self, const agent_id& speaker, const caf::message& post,
             std::vector<storage::outbox_entry> remote) {
  auto& st = self->state;
  // Without a store the members elsewhere go to the gateway as a list; with
  // one, post_records wrote their outbox entries already (`remote`).
  std::vector<agent_id> elsewhere;
  for (size_t i = 0; i < st.r.members.size(); ++i)
    if (st.r.members[i].id != speaker)
      if (auto h = handle_at(st, i)) {
        if (!st.rt->elsewhere(h))
          self->send(h, post);
        else if (!st.rt->store)
          elsewhere.push_back(st.r.members[i].id);
      }
  if (!remote.empty())
    self->send(st.rt->gateway, atoms::resume_outbox::value, std::move(remote));
  else if (!elsewhere.empty())
    self->send(st.rt->gateway, atoms::deliver_room_post::value, post.get_as<message>(1), std::move(elsewhere));
}

post_answer answer_of(const error* e, const commit_outcome& out, send_receipt delivered) {
  if (e)
    return {to_caf(*e), {}, false};
  if (!out.already_present)
    return {std::nullopt, delivered, true};
  auto first = storage::outcome_of_record(*out.already_present);
  if (!first)
    return {to_caf(first.error()), {}, false};
  return {std::nullopt, send_receipt{first->status, first->at}, false};
}

void deliver_answer(caf::typed_response_promise<send_receipt>& rp, const post_answer& a) {
  if (a.failure)
    rp.deliver(*a.failure);
  else
    rp.deliver(a.receipt);
}

caf::result<send_receipt> post_pipelined(room_moderator_actor* self, message& m, bool record_outcome) {
  auto& st = self->state;
  // A retry while the first is written waits for the first's answer, before
  // anything is checked (it succeeds whatever changed since).
  std::optional<std::pair<agent_id, message_id>> key;
  if (record_outcome) {
    key.emplace(m.from, m.id);
    if (auto it = st.retries.find(*key); it != st.retries.end()) {
      auto rp = self->make_response_promise<send_receipt>();
      it->second.push_back(rp);
      return rp;
    }
  }
  if (st.draining || st.posts_in_flight >= room_moderator_state::max_posts_in_flight) {
    st.draining = true;
    return caf::skip;
  }
  if (auto no = post_refusal(st, m.from))
    return std::move(*no);
  const auto now = st.rt->now();
  const send_receipt delivered{message_status::delivered, m.sent_at};
  std::vector<storage::outbox_entry> remote;
  auto b = post_records(st, m, record_outcome, now, remote);
  const auto speaker = m.from;
  ++st.posts_in_flight;
  if (key)
    st.retries[*key];
  auto rp = self->make_response_promise<send_receipt>();
  persist_then(self, *st.rt, std::move(b),
               [self, rp, key, now, delivered, speaker, remote = std::move(remote),
                post = caf::make_message(atoms::deliver_post::value, std::move(m))](
                 const error* e, commit_outcome& out) mutable {
                 auto& st = self->state;
                 if (--st.posts_in_flight == 0)
                   st.draining = false;
                 const auto a = answer_of(e, out, delivered);
                 if (a.took_effect) {
                   st.r.last_activity = std::max(st.r.last_activity, now);
                   fan_out(self, speaker, post, std::move(remote));
                 }
                 deliver_answer(rp, a);
                 if (!key)
                   return;
                 if (auto it = st.retries.find(*key); it != st.retries.end()) {
                   auto waiting = std::move(it->second);
                   st.retries.erase(it);
                   for (auto& w : waiting)
                     deliver_answer(w, a);
                 }
               },
               while_writing::go_on);
  return rp;
}

} // namespace parley
