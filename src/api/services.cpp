// The unary services: each handler decodes, calls the node with the
// caller's principal (the node authorizes; parley/auth/access.hpp) and
// encodes; errors map through api/status.

#include "api/services.hpp"

#include "api/convert.hpp"
#include "api/handler.hpp"

namespace parley::api {

expected<principal> caller_of(const grpc::ServerContext& ctx, api_state& st) {
  auto& md = ctx.client_metadata();
  std::string_view authorization;
  if (auto it = md.find("authorization"); it != md.end())
    authorization = std::string_view{it->second.data(), it->second.size()};
  auto auth_ctx = ctx.auth_context();
  return st.auth->authenticate(authorization, auth_ctx.get());
}

grpc::Status open_for_calls(const api_state& st) {
  if (st.draining.load())
    return {grpc::StatusCode::UNAVAILABLE, "the node is draining: it takes no new calls"};
  return grpc::Status::OK;
}

void api_state::begin_drain() {
  draining = true;
  if (auto* s = grpc_server.load())
    if (auto* health = s->GetHealthCheckService())
      health->SetServingStatus(false);
}

namespace {

// -- agents -------------------------------------------------------------------

class agents_service final : public pb::Agents::Service {
public:
  explicit agents_service(api_state& st) : st_(st) {}

  grpc::Status Introduce(grpc::ServerContext* ctx, const pb::IntroduceRequest* req,
                         pb::Manifest* out) override {
    return handle(st_, ctx, [&](const principal& p) {
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
      if (auto ok = st_.n.introduce(p, std::move(spec)); !ok)
        return fail(st_, ctx, ok.error());
      auto got = st_.n.get_manifest(p, id);
      if (!got)
        return fail(st_, ctx, got.error());
      to_pb(*got, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status Retire(grpc::ServerContext* ctx, const pb::RetireRequest* req,
                      pb::RetireResponse*) override {
    return handle(st_, ctx, [&](const principal& p) {
      if (auto ok = st_.n.retire(p, req->agent()); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status GetManifest(grpc::ServerContext* ctx, const pb::GetManifestRequest* req,
                           pb::Manifest* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto m = st_.n.get_manifest(p, req->agent());
      if (!m)
        return fail(st_, ctx, m.error());
      to_pb(*m, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status UpdateManifest(grpc::ServerContext* ctx, const pb::UpdateManifestRequest* req,
                              pb::Manifest* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto m = from_pb(req->manifest(), false);
      if (!m)
        return fail(st_, ctx, m.error());
      auto updated = st_.n.update_manifest(p, std::move(*m));
      if (!updated)
        return fail(st_, ctx, updated.error());
      to_pb(*updated, *out);
      return grpc::Status::OK;
    });
  }

  grpc::Status ListAgents(grpc::ServerContext* ctx, const pb::ListAgentsRequest* req,
                          pb::ListAgentsResponse* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      agent_filter f;
      auto status = status_filter(req->status());
      if (!status)
        return fail(st_, ctx, status.error());
      f.status = *status;
      f.skill = req->skill();
      f.room = req->room();
      auto page = st_.n.find_agents(p, f, page_size_or(req->page_size(), 100), req->page_token());
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
    return handle(st_, ctx, [&](const principal& p) {
      return room_result(ctx, st_.n.create_direct(p, req->a(), req->b()), out);
    });
  }

  grpc::Status CreateGroup(grpc::ServerContext* ctx, const pb::CreateGroupRequest* req,
                           pb::Room* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto rules = from_pb(req->rules());
      if (!rules)
        return fail(st_, ctx, rules.error());
      group_spec g;
      g.id = req->id();
      g.topic = req->topic();
      g.rules = std::move(*rules);
      g.access = req->invite_only() ? room_access::invite_only : room_access::open;
      return room_result(ctx, st_.n.create_group(p, req->creator(), std::move(g)), out);
    });
  }

  grpc::Status Join(grpc::ServerContext* ctx, const pb::JoinRequest* req, pb::Room* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      return room_result(ctx, st_.n.join(p, req->room(), req->agent()), out);
    });
  }

  grpc::Status Leave(grpc::ServerContext* ctx, const pb::LeaveRequest* req,
                     pb::LeaveResponse*) override {
    return handle(st_, ctx, [&](const principal& p) {
      if (auto ok = st_.n.leave(p, req->room(), req->agent()); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status Invite(grpc::ServerContext* ctx, const pb::InviteRequest* req,
                      pb::InviteResponse*) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        return fail(st_, ctx, role.error());
      if (auto ok = st_.n.invite(p, req->room(), req->by(), req->agent(), *role); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status SetRole(grpc::ServerContext* ctx, const pb::SetRoleRequest* req,
                       pb::Room* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        return fail(st_, ctx, role.error());
      if (auto ok = st_.n.set_role(p, req->room(), req->by(), req->agent(), *role); !ok)
        return fail(st_, ctx, ok.error());
      return room_result(ctx, st_.n.get_room(p, req->room()), out);
    });
  }

  grpc::Status Close(grpc::ServerContext* ctx, const pb::CloseRequest* req, pb::Room* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      if (auto ok = st_.n.close_room(p, req->room(), req->by()); !ok)
        return fail(st_, ctx, ok.error());
      return room_result(ctx, st_.n.get_room(p, req->room()), out);
    });
  }

  grpc::Status GetRoom(grpc::ServerContext* ctx, const pb::GetRoomRequest* req,
                       pb::Room* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      return room_result(ctx, st_.n.get_room(p, req->room()), out);
    });
  }

  grpc::Status ListRooms(grpc::ServerContext* ctx, const pb::ListRoomsRequest* req,
                         pb::ListRoomsResponse* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto page = st_.n.find_rooms(p, req->member(), page_size_or(req->page_size(), 100),
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
    return handle(st_, ctx, [&](const principal& p) {
      history_query q;
      q.direction = req->oldest_first() ? history_query::order::oldest_first
                                        : history_query::order::newest_first;
      q.since = req->since();
      q.cursor = req->page_token();
      q.limit = page_size_or(req->page_size(), 50);
      expected<history_page> page = unexpected{errc::internal, "no dialogue"};
      if (req->has_pair())
        page = st_.n.direct_history(p, req->pair().a(), req->pair().b(), q);
      else if (req->dialogue_case() == pb::HistoryRequest::kRoom)
        page = st_.n.room_history(p, req->room(), q);
      else
        return grpc::Status{grpc::StatusCode::INVALID_ARGUMENT, "history: set room or pair"};
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
    return handle(st_, ctx, [&](const principal& p) { return state(ctx, p, req->room(), out); });
  }

private:
  grpc::Status change(grpc::ServerContext* ctx, const pb::TurnRequest* req, pb::TurnState* out,
                      bool request) {
    return handle(st_, ctx, [&](const principal& p) {
      auto ok = request ? st_.n.request_turn(p, req->room(), req->agent())
                        : st_.n.yield_turn(p, req->room(), req->agent());
      if (!ok)
        return fail(st_, ctx, ok.error());
      return state(ctx, p, req->room(), out);
    });
  }

  grpc::Status state(grpc::ServerContext* ctx, const principal& p, const std::string& room,
                     pb::TurnState* out) {
    auto t = st_.n.turns(p, room);
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
    return handle(st_, ctx, [&](const principal& p) {
      auto m = from_pb(req->message());
      if (!m)
        return fail(st_, ctx, m.error());
      auto sent = st_.n.send(p, std::move(*m));
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
    return handle(st_, ctx, [&](const principal& p) {
      std::vector<uint64_t> ds(req->deliveries().begin(), req->deliveries().end());
      if (auto ok = st_.n.mark_read(p, req->agent(), ds); !ok)
        return fail(st_, ctx, ok.error());
      return grpc::Status::OK;
    });
  }

  grpc::Status Inbox(grpc::ServerContext* ctx, const pb::InboxRequest* req,
                     pb::InboxResponse* out) override {
    return handle(st_, ctx, [&](const principal& p) {
      auto inbox = st_.n.inbox(p, req->agent(), page_size_or(req->limit(), 100));
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

} // namespace parley::api
