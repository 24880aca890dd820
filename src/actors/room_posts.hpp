#pragma once

// The post path of a room moderator: the records a post writes, its
// fan-out, its answer, and the pipelined write of posts to rooms without
// speaking turns (room_posts.cpp explains which posts pipeline and why).
// Used only by room_moderator.cpp.

#include <optional>
#include <utility>

#include "actors/room_moderator.hpp"

namespace parley {

/// The member's actor at index `i` of st.r.members, resolved through the
/// router when not known yet (invalid if it is gone).
caf::actor handle_at(room_moderator_state& st, size_t i);

/// Whether posts to this room are written while the moderator goes on.
bool pipelines(const room_moderator_state& st);

/// Whether the message being handled must wait for the posts in flight;
/// the caller then skips it (caf::skip: CAF keeps it in the mailbox and
/// offers it again after the next message handled), and every later
/// message waits as well until the last post in flight is answered.
bool wait_for_posts(room_moderator_state& st);

/// Why `from` may not post now (turns, membership, a member not keeping
/// up), if it may not.
std::optional<caf::error> post_refusal(const room_moderator_state& st, const agent_id& from);

/// Durable nodes: the post's records (empty without a store); gives `m`
/// its delivery number. In a network, the batch also carries the outbox
/// entries of the post for members on other nodes (one per node), which
/// `remote` gets: so a crash after the poster's answer cannot lose them.
storage::write_batch post_records(room_moderator_state& st, message& m, bool record_outcome, timestamp now,
                                  std::vector<storage::outbox_entry>& remote);

/// Sends `post`, a (deliver_post, message), to every member but `speaker`
/// here, and hands the gateway the written outbox entries `remote` (or,
/// without a store, the list of members elsewhere).
void fan_out(room_moderator_actor* self, const agent_id& speaker, const caf::message& post,
             std::vector<storage::outbox_entry> remote);

/// What a written post answers: the write's error, else the first outcome
/// of a key that took effect before (the post then delivers nothing), else
/// `delivered`.
struct post_answer {
  std::optional<caf::error> failure;
  send_receipt receipt;
  bool took_effect = false;
};

post_answer answer_of(const error* e, const commit_outcome& out, send_receipt delivered);

void deliver_answer(caf::typed_response_promise<send_receipt>& rp, const post_answer& a);

/// A post to a room that pipelines(): answered, stored and fanned out once
/// its batch is written, while the moderator goes on taking posts. Skipped
/// (left in the mailbox) while other messages wait for the posts in flight
/// or max_posts_in_flight are in flight.
caf::result<send_receipt> post_pipelined(room_moderator_actor* self, message& m, bool record_outcome);

} // namespace parley
