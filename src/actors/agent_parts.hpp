#pragma once

// What the files of the agent actor share (agent_actor.cpp: behaviour,
// its own sends, input and requests; agent_sends.cpp: sends through the
// API; agent_inbox.cpp: how input enters and leaves the inbox;
// agent_page.cpp: manifest, retirement, erasure). Internal to the actors
// module.

#include <vector>

#include "actors/agent_actor.hpp"
#include "parley/auth/access.hpp"
#include "parley/storage/state_store.hpp"

namespace parley::agent_parts {

using self_ptr = agent_actor*;

// -- agent_actor.cpp ------------------------------------------------------------
bool retired(const agent_state& st);
caf::error retired_error(const agent_state& st);
unexpected retired_refusal(const agent_state& st);
/// Asks access.hpp; the error as a CAF reply.
std::optional<caf::error> denied(const agent_state& st, const principal& p, action a);
/// The public page: the state's manifest with its skills and focus.
manifest materialize(const agent_state& st);
std::string refusal_text(const agent_state& st, const message& m, const error& why);
/// Counts and publishes a message of this agent's that was not delivered.
void note_refusal(self_ptr self, const message_id& id, const std::string& to, const error& why);
/// Adds a message this agent sent to its dialogue's context; counts it.
void remember_sent(agent_state& st, const message& m);
/// Serves what the inbox holds while the behaviour is ready and nothing
/// else waits in the mailbox.
void serve_some(self_ptr self);
caf::behavior make_agent_behavior();

// -- agent_sends.cpp ------------------------------------------------------------
/// A send through the API as this agent; the receipt goes to `to`.
/// `anonymous`: from node::post, whose answer nobody receives.
void on_send_as(self_ptr self, const principal& p, message& m, receipt_target to, bool anonymous);
/// The status of a tracked send (a receipt arrived or is awaited).
caf::result<message_status> on_status_of(self_ptr self, const principal& p, const message_id& id);
/// Records a tracked send's status (it only moves forward).
void set_tracked(agent_state& st, const message_id& id, message_status s);

// -- agent_page.cpp -------------------------------------------------------------
caf::result<manifest> on_update(self_ptr self, const principal& p, manifest& m);
caf::result<caf::ok_atom> on_retire(self_ptr self, const principal& p);
caf::result<std::vector<std::string>> on_erase(self_ptr self, const principal& p);

// -- agent_inbox.cpp ------------------------------------------------------------

/// How input enters: `direct` input (a send to this agent) is refused when
/// it does not fit; a room post or a recovered entry was acknowledged to its
/// sender already, so it waits in the backlog instead.
enum class input_kind : uint8_t { direct, acknowledged };

/// The removal of served, acknowledged or skipped entries from the durable
/// inbox: the one path by which entries leave it (erasure aside).
storage::write_batch inbox_removals(const agent_state& st, const std::vector<uint64_t>& deliveries);
/// Removes `deliveries` from the durable inbox without waiting.
void forget_deliveries(self_ptr self, const std::vector<uint64_t>& deliveries);
/// Tells the rooms to hold posts back (or to resume) as the backlog fills.
void check_saturation(self_ptr self);
/// Whether `m` can be taken now, without changing anything.
expected<void> can_take(self_ptr self, const message& m, input_kind kind);
/// Takes `m` into the attention queue, or behind it into the backlog.
void take(self_ptr self, message&& m);
/// Moves backlog entries into the queue as room frees up.
void refill(self_ptr self);
/// Serves now, or after what already waits in the mailbox.
void schedule_serve(self_ptr self, bool queued = false);

/// The node's time for what an agent does now: read once per resume of the
/// agent (on first use) and reused for the rest of that resume, instead of
/// once per message and step (a clock read costs 25 ns on this VM's
/// kvm-clock, three of them per message were 8% of a direct message's
/// CPU). Outside a resume, the clock itself.
timestamp now(const agent_state& st);

} // namespace parley::agent_parts
