// An agent's page: updates of its manifest, its retirement and the erasure
// of its personal data, each written before it applies.

#include <algorithm>

#include "actors/agent_parts.hpp"
#include "actors/persist.hpp"
#include "parley/auth/access.hpp"
#include "parley/storage/records.hpp"

namespace parley::agent_parts {

// The stored agent record with manifest `next` (a read-modify-write done by
// the storage writer: the record also holds the behaviour spec).
storage::write_batch agent_record_update(const agent_state& st, manifest next) {
  next.focus.clear();
  next.rooms.clear(); // derived from the rooms, not stored with the agent
  storage::write_batch b;
  b.modify(storage::column::agents, storage::agent_key(st.man.id),
           [next = std::move(next)](const std::optional<std::string>& old) -> std::optional<std::string> {
             storage::agent_record rec;
             if (old)
               if (auto decoded = storage::decode_agent(*old))
                 rec = std::move(*decoded);
             rec.man = next;
             return storage::encode(rec);
           });
  return b;
}

// Changes the agent's record, then runs `apply(rp)` once it is durable; a
// failed write answers its error and changes nothing.
template <class T, class Apply>
caf::result<T> persist_record_then(self_ptr self, manifest next, Apply apply) {
  auto rp = self->make_response_promise<T>();
  auto& st = self->state;
  storage::write_batch b;
  if (st.rt->store)
    b = agent_record_update(st, std::move(next));
  persist_then(self, *st.rt, std::move(b), [rp, apply](const error* failure, commit_outcome&) mutable {
    if (failure)
      rp.deliver(to_caf(*failure));
    else
      apply(rp);
  });
  return rp;
}

caf::result<manifest> on_update(self_ptr self, const principal& p, manifest& m) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::update_manifest))
    return *no;
  if (retired(st))
    return retired_error(st);
  if (m.status == agent_status::retired)
    return to_caf(errc::invalid_argument,
                  "manifest of agent '" + st.man.id + "': status 'retired' is set by retiring the agent");
  // The manifest as it will be: the changeable fields from `m`, the rest kept.
  auto next = materialize(st);
  next.display_name = std::move(m.display_name);
  next.bio = std::move(m.bio);
  next.status = m.status;
  next.activities = std::move(m.activities);
  next.capacity = m.capacity;
  next.online = m.online;
  next.last_seen = m.last_seen;
  next.skills = std::move(m.skills);
  next.last_updated = st.rt->now();
  auto apply = [self, next](caf::typed_response_promise<manifest>& rp) mutable {
    auto& st = self->state;
    const auto old_status = st.man.status;
    st.skills.clear();
    for (auto& s : next.skills)
      st.skills.push_back(st.rt->skills.intern(s));
    st.man.display_name = next.display_name;
    st.man.bio = next.bio;
    st.man.status = next.status;
    st.man.activities = next.activities;
    st.man.capacity = next.capacity;
    st.man.online = next.online;
    st.man.last_seen = next.last_seen;
    st.man.last_updated = next.last_updated;
    st.rt->publish(event_kind::manifest_updated, st.man.id);
    if (old_status != st.man.status)
      st.rt->publish(event_kind::agent_status_changed, st.man.id, {},
                     std::string{to_string(st.man.status)});
    rp.deliver(materialize(st));
  };
  return persist_record_then<manifest>(self, next, std::move(apply));
}

// Marks the agent retired, leaves every room, and runs `done` only when all
// moderators have answered: retire() then returns with the agent out of its
// rooms (each moderator sends left_room before its answer).
template <class Done>
void finish_retire(self_ptr self, Done done) {
  auto& st = self->state;
  st.man.status = agent_status::retired;
  st.man.online = false;
  st.man.last_updated = st.rt->now();
  st.rt->publish(event_kind::agent_retired, st.man.id);
  st.rt->publish(event_kind::agent_status_changed, st.man.id, {}, "retired");
  auto pending = std::make_shared<size_t>(0);
  auto as = principal::agent(st.man.id);
  for (auto& r : st.man.rooms)
    if (auto mod = st.rt->routes.room(r)) {
      ++*pending;
      auto one = [done, pending]() mutable {
        if (--*pending == 0)
          done();
      };
      self->request(mod, caf::infinite, atoms::remove_member::value, r, as, st.man.id, true)
        .then([one](caf::ok_atom) mutable { one(); }, [one](caf::error&) mutable { one(); });
    }
  if (*pending == 0)
    done();
}

manifest retired_manifest(const agent_state& st) {
  auto next = materialize(st);
  next.status = agent_status::retired;
  next.online = false;
  next.last_updated = st.rt->now();
  return next;
}

caf::result<caf::ok_atom> on_retire(self_ptr self, const principal& p) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::retire))
    return *no;
  if (retired(st))
    return to_caf(errc::failed_precondition, "agent '" + st.man.id + "' is already retired");
  return persist_record_then<caf::ok_atom>(
    self, retired_manifest(st), [self](caf::typed_response_promise<caf::ok_atom>& rp) {
      finish_retire(self, [rp]() mutable { rp.deliver(caf::ok_atom::value); });
    });
}

// Erasure of the agent's personal data, the agent's part: its public page
// (kept: id, status retired, times), its inbox and backlog, its contexts
// and what it remembers of its sends. The node then erases what the store
// holds elsewhere (message contents, events) and writes the tombstone.
caf::result<std::vector<std::string>> on_erase(self_ptr self, const principal& p) {
  auto& st = self->state;
  if (auto no = denied(st, p, action::erase))
    return *no;
  std::vector<std::string> fields;
  auto note = [&](bool had, const char* name) {
    if (had)
      fields.emplace_back(name);
  };
  note(!st.man.display_name.empty(), "display_name");
  note(!st.man.bio.empty(), "bio");
  note(!st.man.activities.empty(), "activities");
  note(!st.skills.empty(), "skills");
  auto next = retired_manifest(st);
  next.display_name.clear();
  next.bio.clear();
  next.activities.clear();
  next.skills.clear();
  const bool was_retired = retired(st);
  return persist_record_then<std::vector<std::string>>(
    self, next, [self, fields, was_retired](caf::typed_response_promise<std::vector<std::string>>& rp) {
      auto& st = self->state;
      st.man.display_name.clear();
      st.man.bio.clear();
      st.man.activities.clear();
      st.skills.clear();
      // Memory only: the node deletes the stored inbox entries.
      st.attention_queue_.reset();
      st.extras_.reset();
      st.rt->publish(event_kind::manifest_updated, st.man.id, {}, "erased");
      auto done = [rp, fields]() mutable { rp.deliver(fields); };
      if (was_retired)
        done();
      else
        finish_retire(self, done);
    });
}

} // namespace parley::agent_parts
