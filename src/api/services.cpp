// The unary services and the event stream: each handler checks the caller,
// decodes, calls the node and encodes; errors map through api/status.

#include "api/services.hpp"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "api/convert.hpp"
#include "api/status.hpp"

namespace parley::api {

caller_info caller_of(const grpc::ServerContext& ctx, const api_state& st) {
  caller_info c;
  auto& md = ctx.client_metadata();
  if (auto it = md.find("parley-agent"); it != md.end())
    c.agent.assign(it->second.data(), it->second.size());
  if (st.opt.admin_token.empty()) {
    c.admin = true;
  } else if (auto it = md.find("parley-admin-token"); it != md.end()) {
    c.admin = std::string_view{it->second.data(), it->second.size()} == st.opt.admin_token;
  }
  return c;
}

grpc::Status acts_as(const caller_info& c, const std::string& who, const std::string& what) {
  if (c.admin || (!who.empty() && c.agent == who))
    return grpc::Status::OK;
  return {grpc::StatusCode::PERMISSION_DENIED,
          what + ": the caller (parley-agent '" + c.agent + "') is not '" + who
            + "' and not an admin"};
}

grpc::Status open_for_calls(const api_state& st) {
  if (st.draining.load())
    return {grpc::StatusCode::UNAVAILABLE, "the node is draining: it takes no new calls"};
  return grpc::Status::OK;
}

namespace {

// Runs a handler: refuses while draining, finds the caller, and turns an
// escaped exception into INTERNAL (a bug, by definition here).
template <class F>
grpc::Status handle(api_state& st, grpc::ServerContext* ctx, F body) {
  if (auto s = open_for_calls(st); !s.ok())
    return s;
  try {
    return body(caller_of(*ctx, st));
  } catch (const std::exception& e) {
    return {grpc::StatusCode::INTERNAL, std::string{"internal error: "} + e.what()};
  }
}

grpc::Status fail(const api_state& st, grpc::ServerContext* ctx, const error& e) {
  return to_status(e, ctx, st.opt.retry_after_ms);
}

size_t page_size_or(uint32_t asked, size_t fallback) {
  return asked == 0 ? fallback : asked;
}

// -- agents -------------------------------------------------------------------

class agents_service final : public pb::Agents::Service {
public:
  explicit agents_service(api_state& st) : st_(st) {}

  grpc::Status Introduce(grpc::ServerContext* ctx, const pb::IntroduceRequest* req,
                         pb::Manifest* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->manifest().id(), "introduce agent '" + req->manifest().id() + "'");
          !s.ok())
        return s;
      auto m = from_pb(req->manifest(), true);
      if (!m)
        return fail(st_, ctx, m.error());
      auto b = from_pb(req->behavior());
      if (!b)
        return fail(st_, ctx, b.error());
      agent_spec spec;
      spec.man = std::move(*m);
      spec.behavior = *b;
      auto id = spec.man.id;
      if (auto ok = st_.n.introduce(std::move(spec)); !ok)
        return fail(st_, ctx, ok.error());
      auto got = st_.n.get_manifest(id);
      if (!got)
        return fail(st_, ctx, got.error());
      to_pb(*got, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status Retire(grpc::ServerContext* ctx, const pb::RetireRequest* req,
                      pb::RetireResponse*) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), "retire agent '" + req->agent() + "'"); !s.ok())
        return s;
      if (auto ok = st_.n.retire(req->agent()); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status GetManifest(grpc::ServerContext* ctx, const pb::GetManifestRequest* req,
                           pb::Manifest* out) override {
    return handle(st_, ctx, [&](const caller_info&) {
      auto m = st_.n.get_manifest(req->agent());
      if (!m)
        return fail(st_, ctx, m.error());
      to_pb(*m, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status UpdateManifest(grpc::ServerContext* ctx, const pb::UpdateManifestRequest* req,
                              pb::Manifest* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      auto m = from_pb(req->manifest(), false);
      if (!m)
        return fail(st_, ctx, m.error());
      caller who{c.agent, c.admin};
      auto updated = st_.n.update_manifest(who, std::move(*m));
      if (!updated)
        return fail(st_, ctx, updated.error());
      to_pb(*updated, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status ListAgents(grpc::ServerContext* ctx, const pb::ListAgentsRequest* req,
                          pb::ListAgentsResponse* out) override {
    return handle(st_, ctx, [&](const caller_info&) {
      agent_filter f;
      auto status = status_filter(req->status());
      if (!status)
        return fail(st_, ctx, status.error());
      f.status = *status;
      f.skill = req->skill();
      f.room = req->room();
      auto page = st_.n.find_agents(f, page_size_or(req->page_size(), 100), req->page_token());
      if (!page)
        return fail(st_, ctx, page.error());
      for (auto& m : page->agents)
        to_pb(m, *out->add_agents());
      out->set_next_page_token(page->next);
      return grpc::Status::OK;
    });
  }

private:
  api_state& st_;
};

// -- rooms --------------------------------------------------------------------

class rooms_service final : public pb::Rooms::Service {
public:
  explicit rooms_service(api_state& st) : st_(st) {}

  grpc::Status CreateDirect(grpc::ServerContext* ctx, const pb::CreateDirectRequest* req,
                            pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (!c.admin && c.agent != req->a() && c.agent != req->b())
        return acts_as(c, req->a(), "create a direct room for '" + req->a() + "' and '" + req->b() + "'");
      return room_result(ctx, st_.n.create_direct(req->a(), req->b()), out);
    });
  }

  grpc::Status CreateGroup(grpc::ServerContext* ctx, const pb::CreateGroupRequest* req,
                           pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->creator(), "create a room as '" + req->creator() + "'"); !s.ok())
        return s;
      auto rules = from_pb(req->rules());
      if (!rules)
        return fail(st_, ctx, rules.error());
      group_spec g;
      g.id = req->id();
      g.topic = req->topic();
      g.rules = std::move(*rules);
      g.access = req->invite_only() ? room_access::invite_only : room_access::open;
      return room_result(ctx, st_.n.create_group(req->creator(), std::move(g)), out);
    });
  }

  grpc::Status Join(grpc::ServerContext* ctx, const pb::JoinRequest* req, pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), "join '" + req->room() + "' as '" + req->agent() + "'");
          !s.ok())
        return s;
      if (auto ok = st_.n.join(req->room(), req->agent()); !ok)
        return fail(st_, ctx, ok.error());
      return room_result(ctx, st_.n.get_room(req->room()), out);
    });
  }

  grpc::Status Leave(grpc::ServerContext* ctx, const pb::LeaveRequest* req,
                     pb::LeaveResponse*) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), "leave '" + req->room() + "' as '" + req->agent() + "'");
          !s.ok())
        return s;
      if (auto ok = st_.n.leave(req->room(), req->agent()); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status Invite(grpc::ServerContext* ctx, const pb::InviteRequest* req,
                      pb::InviteResponse*) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->by(), "invite into '" + req->room() + "' as '" + req->by() + "'");
          !s.ok())
        return s;
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        return fail(st_, ctx, role.error());
      if (auto ok = st_.n.invite(req->room(), req->by(), req->agent(), *role); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status SetRole(grpc::ServerContext* ctx, const pb::SetRoleRequest* req,
                       pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->by(), "change roles in '" + req->room() + "' as '" + req->by() + "'");
          !s.ok())
        return s;
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        return fail(st_, ctx, role.error());
      if (auto ok = st_.n.set_role(req->room(), req->by(), req->agent(), *role); !ok)
        return fail(st_, ctx, ok.error());
      return room_result(ctx, st_.n.get_room(req->room()), out);
    });
  }

  grpc::Status Close(grpc::ServerContext* ctx, const pb::CloseRequest* req, pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      caller who = caller::administrator();
      if (req->by().empty()) {
        if (!c.admin)
          return grpc::Status{grpc::StatusCode::PERMISSION_DENIED,
                              "close '" + req->room() + "': without `by` only an admin may close a room"};
      } else {
        if (auto s = acts_as(c, req->by(), "close '" + req->room() + "' as '" + req->by() + "'"); !s.ok())
          return s;
        who = caller::agent(req->by());
      }
      if (auto ok = st_.n.close_room(req->room(), who); !ok)
        return fail(st_, ctx, ok.error());
      return room_result(ctx, st_.n.get_room(req->room()), out);
    });
  }

  grpc::Status GetRoom(grpc::ServerContext* ctx, const pb::GetRoomRequest* req,
                       pb::Room* out) override {
    return handle(st_, ctx, [&](const caller_info&) {
      return room_result(ctx, st_.n.get_room(req->room()), out);
    });
  }

  grpc::Status ListRooms(grpc::ServerContext* ctx, const pb::ListRoomsRequest* req,
                         pb::ListRoomsResponse* out) override {
    return handle(st_, ctx, [&](const caller_info&) {
      auto page = st_.n.find_rooms(req->member(), page_size_or(req->page_size(), 100),
                                   req->page_token());
      if (!page)
        return fail(st_, ctx, page.error());
      for (auto& r : page->rooms)
        to_pb(r, *out->add_rooms());
      out->set_next_page_token(page->next);
      return grpc::Status::OK;
    });
  }

  grpc::Status History(grpc::ServerContext* ctx, const pb::HistoryRequest* req,
                       pb::HistoryResponse* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      storage::history_query q;
      q.direction = req->oldest_first() ? storage::history_query::order::oldest_first
                                        : storage::history_query::order::newest_first;
      q.since = req->since();
      q.cursor = req->page_token();
      q.limit = page_size_or(req->page_size(), 50);
      expected<storage::history_page> page = unexpected{errc::internal, "no dialogue"};
      if (req->has_pair()) {
        auto& p = req->pair();
        // Direct messages are private to the pair.
        if (!c.admin && c.agent != p.a() && c.agent != p.b())
          return grpc::Status{grpc::StatusCode::PERMISSION_DENIED,
                              "history of '" + p.a() + "' and '" + p.b()
                                + "': only the pair or an admin may read it"};
        page = st_.n.direct_history(p.a(), p.b(), q);
      } else if (req->dialogue_case() == pb::HistoryRequest::kRoom) {
        auto r = st_.n.get_room(req->room());
        if (!r)
          return fail(st_, ctx, r.error());
        if (r->access == room_access::invite_only && !c.admin && !r->find(c.agent))
          return grpc::Status{grpc::StatusCode::PERMISSION_DENIED,
                              "history of invite-only room '" + req->room()
                                + "': only members or an admin may read it"};
        page = st_.n.room_history(req->room(), q);
      } else {
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT,
                            "history: set room or pair"};
      }
      if (!page)
        return fail(st_, ctx, page.error());
      for (auto& m : page->messages)
        to_pb(m, *out->add_messages());
      out->set_next_page_token(page->next_cursor);
      return grpc::Status::OK;
    });
  }

private:
  grpc::Status room_result(grpc::ServerContext* ctx, const expected<room>& r, pb::Room* out) {
    if (!r)
      return fail(st_, ctx, r.error());
    to_pb(*r, *out);
    return grpc::Status::OK;
  }

  api_state& st_;
};

// -- turns --------------------------------------------------------------------

class turns_service final : public pb::Turns::Service {
public:
  explicit turns_service(api_state& st) : st_(st) {}

  grpc::Status RequestTurn(grpc::ServerContext* ctx, const pb::TurnRequest* req,
                           pb::TurnState* out) override {
    return change(ctx, req, out, true);
  }

  grpc::Status YieldTurn(grpc::ServerContext* ctx, const pb::TurnRequest* req,
                         pb::TurnState* out) override {
    return change(ctx, req, out, false);
  }

  grpc::Status GetTurns(grpc::ServerContext* ctx, const pb::GetTurnsRequest* req,
                        pb::TurnState* out) override {
    return handle(st_, ctx, [&](const caller_info&) { return state(ctx, req->room(), out); });
  }

private:
  grpc::Status change(grpc::ServerContext* ctx, const pb::TurnRequest* req, pb::TurnState* out,
                      bool request) {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), std::string{request ? "request" : "yield"}
                                              + " the turn in '" + req->room() + "' as '"
                                              + req->agent() + "'");
          !s.ok())
        return s;
      auto ok = request ? st_.n.request_turn(req->room(), req->agent())
                        : st_.n.yield_turn(req->room(), req->agent());
      if (!ok)
        return fail(st_, ctx, ok.error());
      return state(ctx, req->room(), out);
    });
  }

  grpc::Status state(grpc::ServerContext* ctx, const std::string& room, pb::TurnState* out) {
    auto t = st_.n.turns(room);
    if (!t)
      return fail(st_, ctx, t.error());
    to_pb(*t, *out);
    return grpc::Status::OK;
  }

  api_state& st_;
};

// -- messages -----------------------------------------------------------------

class messages_service final : public pb::Messages::Service {
public:
  explicit messages_service(api_state& st) : st_(st) {}

  grpc::Status Send(grpc::ServerContext* ctx, const pb::SendRequest* req,
                    pb::SendResponse* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      auto m = from_pb(req->message());
      if (!m)
        return fail(st_, ctx, m.error());
      if (auto s = acts_as(c, m->from, "send as '" + m->from + "'"); !s.ok())
        return s;
      auto sent = st_.n.send(std::move(*m));
      if (!sent)
        return fail(st_, ctx, sent.error());
      out->set_id(sent->id);
      out->set_status(to_pb(sent->status));
      out->set_sent_at(sent->sent_at);
      return grpc::Status::OK;
    });
  }

  grpc::Status MarkRead(grpc::ServerContext* ctx, const pb::MarkReadRequest* req,
                        pb::MarkReadResponse*) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), "mark messages of '" + req->agent() + "' read"); !s.ok())
        return s;
      std::vector<uint64_t> ds(req->deliveries().begin(), req->deliveries().end());
      if (auto ok = st_.n.mark_read(req->agent(), ds); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status Inbox(grpc::ServerContext* ctx, const pb::InboxRequest* req,
                     pb::InboxResponse* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (auto s = acts_as(c, req->agent(), "read the inbox of '" + req->agent() + "'"); !s.ok())
        return s;
      auto inbox = st_.n.inbox(req->agent(), page_size_or(req->limit(), 100));
      if (!inbox)
        return fail(st_, ctx, inbox.error());
      for (auto& m : *inbox)
        to_pb(m, *out->add_messages());
      return grpc::Status::OK;
    });
  }

private:
  api_state& st_;
};

// -- events -------------------------------------------------------------------

// Events pass from the bus (which must never block) to the stream's thread
// through this queue. A subscriber that falls too far behind is cut off
// and told where to resume.
struct event_queue {
  static constexpr size_t limit = 65536;
  std::mutex mtx;
  std::condition_variable cv;
  std::deque<event> events;
  bool overflow = false;
};

class events_service final : public pb::Events::Service {
public:
  explicit events_service(api_state& st) : st_(st) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx, const pb::SubscribeRequest* req,
                         grpc::ServerWriter<pb::Event>* writer) override {
    return handle(st_, ctx, [&](const caller_info&) -> grpc::Status {
      topic_mask mask = 0;
      for (auto& name : req->topics()) {
        auto t = parse_topic(name);
        if (!t)
          return {grpc::StatusCode::INVALID_ARGUMENT, "topics: " + t.error().message};
        mask |= mask_of(*t);
      }
      if (mask == 0)
        mask = all_topics;
      auto q = std::make_shared<event_queue>();
      const std::string agent = req->agent();
      const std::string room = req->room();
      auto id = st_.n.subscribe(mask, req->from_offset(), [q, agent, room](const event& e) {
        if ((!agent.empty() && e.agent != agent) || (!room.empty() && e.room != room))
          return;
        std::lock_guard guard{q->mtx};
        if (q->events.size() >= event_queue::limit) {
          q->overflow = true;
        } else {
          q->events.push_back(e);
        }
        q->cv.notify_all();
      });
      if (!id)
        return fail(st_, ctx, id.error());
      uint64_t last = req->from_offset() == 0 ? 0 : req->from_offset() - 1;
      grpc::Status result = grpc::Status::OK;
      for (;;) {
        std::deque<event> batch;
        {
          std::unique_lock guard{q->mtx};
          q->cv.wait_for(guard, std::chrono::milliseconds(100),
                         [&] { return !q->events.empty() || q->overflow; });
          batch.swap(q->events);
          if (batch.empty() && q->overflow) {
            result = {grpc::StatusCode::RESOURCE_EXHAUSTED,
                      "subscriber too slow: events were dropped; resume from offset "
                        + std::to_string(last + 1)};
            break;
          }
        }
        bool open = true;
        for (auto& e : batch) {
          pb::Event pe;
          to_pb(e, pe);
          if (!writer->Write(pe)) {
            open = false;
            break;
          }
          last = e.seq;
        }
        if (!open || ctx->IsCancelled())
          break;
        if (st_.draining.load()) {
          result = {grpc::StatusCode::UNAVAILABLE,
                    "the node is draining; resume elsewhere or later from offset "
                      + std::to_string(last + 1)};
          break;
        }
      }
      (void) st_.n.unsubscribe(*id);
      return result;
    });
  }

private:
  api_state& st_;
};

// -- admin --------------------------------------------------------------------

class admin_service final : public pb::Admin::Service {
public:
  explicit admin_service(api_state& st) : st_(st) {}

  grpc::Status NodeInfo(grpc::ServerContext*, const pb::NodeInfoRequest*,
                        pb::NodeInfoResponse* out) override {
    // Answered while draining too: operators watch the drain with it.
    auto s = st_.n.stats();
    auto& cfg = st_.n.config();
    out->set_node_id(cfg.node_id);
    out->set_version(PARLEY_VERSION);
    out->set_durability(std::string{storage::to_string(cfg.durability)});
    out->set_agents(s.agents);
    out->set_rooms(s.rooms);
    out->set_messages_sent(s.messages_sent);
    out->set_deliveries(s.deliveries);
    out->set_turns_granted(s.turns_granted);
    out->set_started_at(st_.started_at);
    out->set_draining(st_.draining.load());
    return grpc::Status::OK;
  }

  grpc::Status Backup(grpc::ServerContext* ctx, const pb::BackupRequest* req,
                      pb::BackupResponse* out) override {
    return handle(st_, ctx, [&](const caller_info& c) {
      if (!c.admin)
        return grpc::Status{grpc::StatusCode::PERMISSION_DENIED, "backup: admins only"};
      if (req->directory().empty())
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT, "directory: required"};
      if (auto ok = st_.n.backup(req->directory()); !ok)
        return fail(st_, ctx, ok.error());
      out->set_directory(req->directory());
      return grpc::Status::OK;
    });
  }

  grpc::Status Drain(grpc::ServerContext* ctx, const pb::DrainRequest*,
                     pb::DrainResponse*) override {
    auto c = caller_of(*ctx, st_);
    if (!c.admin)
      return {grpc::StatusCode::PERMISSION_DENIED, "drain: admins only"};
    if (st_.begin_drain)
      st_.begin_drain();
    st_.n.drain();
    return grpc::Status::OK;
  }

private:
  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_agents_service(api_state& st) {
  return std::make_unique<agents_service>(st);
}
std::unique_ptr<grpc::Service> make_rooms_service(api_state& st) {
  return std::make_unique<rooms_service>(st);
}
std::unique_ptr<grpc::Service> make_turns_service(api_state& st) {
  return std::make_unique<turns_service>(st);
}
std::unique_ptr<grpc::Service> make_messages_service(api_state& st) {
  return std::make_unique<messages_service>(st);
}
std::unique_ptr<grpc::Service> make_events_service(api_state& st) {
  return std::make_unique<events_service>(st);
}
std::unique_ptr<grpc::Service> make_admin_service(api_state& st) {
  return std::make_unique<admin_service>(st);
}

} // namespace parley::api
