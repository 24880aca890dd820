// The unary services: each handler decodes, calls the node with the
// caller's principal (the node authorizes; parley/auth/access.hpp) and
// encodes; errors map through api/status.

#include "api/services.hpp"

#include "api/convert.hpp"
#include "api/handler.hpp"

namespace parley::api {

expected<principal> caller_of(const grpc::ServerContextBase& ctx, api_state& st) {
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
  // A stream that registers after this walk sees `draining` itself.
  streams.drain_all();
  for (auto* s : {grpc_server.load(), health_server.load()})
    if (s)
      if (auto* health = s->GetHealthCheckService())
        health->SetServingStatus(false);
}

namespace {

grpc::Status room_result(const api_state& st, grpc::ServerContextBase* ctx, const expected<room>& r,
                         pb::Room* out) {
  if (!r)
    return fail(st, ctx, r.error());
  to_pb(*r, *out);
  return grpc::Status::OK;
}

grpc::Status turns_result(const api_state& st, grpc::ServerContextBase* ctx,
                          const expected<turn_state>& t, pb::TurnState* out) {
  if (!t)
    return fail(st, ctx, t.error());
  to_pb(*t, *out);
  return grpc::Status::OK;
}

// -- agents -------------------------------------------------------------------

class agents_service final
  : public pb::Agents::WithCallbackMethod_Introduce<pb::Agents::WithCallbackMethod_Retire<
      pb::Agents::WithCallbackMethod_GetManifest<pb::Agents::WithCallbackMethod_UpdateManifest<pb::Agents::Service>>>> {
public:
  explicit agents_service(api_state& st) : st_(st) {}

  grpc::ServerUnaryReactor* Introduce(grpc::CallbackServerContext* ctx, const pb::IntroduceRequest* req,
                                      pb::Manifest* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto m = from_pb(req->manifest(), true);
      if (!m)
        co_return fail(st, ctx, m.error());
      auto b = from_pb(req->behavior());
      if (!b)
        co_return fail(st, ctx, b.error());
      agent_spec spec;
      spec.man = std::move(*m);
      spec.behavior = *b;
      auto id = spec.man.id;
      if (auto ok = co_await st.n.introduce_async(p, std::move(spec)); !ok)
        co_return fail(st, ctx, ok.error());
      auto got = co_await st.n.get_manifest_async(std::move(p), id);
      if (!got)
        co_return fail(st, ctx, got.error());
      to_pb(*got, *out);
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* Retire(grpc::CallbackServerContext* ctx, const pb::RetireRequest* req,
                                   pb::RetireResponse* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto*) -> task<grpc::Status> {
      auto ok = co_await st.n.retire_async(std::move(p), req->agent());
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* GetManifest(grpc::CallbackServerContext* ctx,
                                        const pb::GetManifestRequest* req, pb::Manifest* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto m = co_await st.n.get_manifest_async(std::move(p), req->agent());
      if (!m)
        co_return fail(st, ctx, m.error());
      to_pb(*m, *out);
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* UpdateManifest(grpc::CallbackServerContext* ctx,
                                           const pb::UpdateManifestRequest* req,
                                           pb::Manifest* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto m = from_pb(req->manifest(), false);
      if (!m)
        co_return fail(st, ctx, m.error());
      auto updated = co_await st.n.update_manifest_async(std::move(p), std::move(*m));
      if (!updated)
        co_return fail(st, ctx, updated.error());
      to_pb(*updated, *out);
      co_return grpc::Status::OK;
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

class rooms_service final
  : public pb::Rooms::WithCallbackMethod_CreateDirect<pb::Rooms::WithCallbackMethod_CreateGroup<
      pb::Rooms::WithCallbackMethod_Join<pb::Rooms::WithCallbackMethod_Leave<
        pb::Rooms::WithCallbackMethod_Invite<pb::Rooms::WithCallbackMethod_SetRole<
          pb::Rooms::WithCallbackMethod_Close<pb::Rooms::WithCallbackMethod_GetRoom<pb::Rooms::Service>>>>>>>> {
public:
  explicit rooms_service(api_state& st) : st_(st) {}

  grpc::ServerUnaryReactor* CreateDirect(grpc::CallbackServerContext* ctx, const pb::CreateDirectRequest* req,
                                         pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      co_return room_result(st, ctx, co_await st.n.create_direct_async(std::move(p), req->a(), req->b()), out);
    });
  }

  grpc::ServerUnaryReactor* CreateGroup(grpc::CallbackServerContext* ctx,
                                        const pb::CreateGroupRequest* req, pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto rules = from_pb(req->rules());
      if (!rules)
        co_return fail(st, ctx, rules.error());
      group_spec g;
      g.id = req->id();
      g.topic = req->topic();
      g.rules = std::move(*rules);
      g.access = req->invite_only() ? room_access::invite_only : room_access::open;
      co_return room_result(st, ctx, co_await st.n.create_group_async(std::move(p), req->creator(), std::move(g)),
                            out);
    });
  }

  grpc::ServerUnaryReactor* Join(grpc::CallbackServerContext* ctx, const pb::JoinRequest* req,
                                 pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      co_return room_result(st, ctx, co_await st.n.join_async(std::move(p), req->room(), req->agent()), out);
    });
  }

  grpc::ServerUnaryReactor* Leave(grpc::CallbackServerContext* ctx, const pb::LeaveRequest* req,
                                  pb::LeaveResponse* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto*) -> task<grpc::Status> {
      auto ok = co_await st.n.leave_async(std::move(p), req->room(), req->agent());
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* Invite(grpc::CallbackServerContext* ctx, const pb::InviteRequest* req,
                                   pb::InviteResponse* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto*) -> task<grpc::Status> {
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        co_return fail(st, ctx, role.error());
      auto ok = co_await st.n.invite_async(std::move(p), req->room(), req->by(), req->agent(), *role);
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* SetRole(grpc::CallbackServerContext* ctx, const pb::SetRoleRequest* req,
                                    pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto role = from_pb(req->role(), room_role::member);
      if (!role)
        co_return fail(st, ctx, role.error());
      auto ok = co_await st.n.set_role_async(p, req->room(), req->by(), req->agent(), *role);
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return room_result(st, ctx, co_await st.n.get_room_async(std::move(p), req->room()), out);
    });
  }

  grpc::ServerUnaryReactor* Close(grpc::CallbackServerContext* ctx, const pb::CloseRequest* req,
                                  pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto ok = co_await st.n.close_room_async(p, req->room(), req->by());
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return room_result(st, ctx, co_await st.n.get_room_async(std::move(p), req->room()), out);
    });
  }

  grpc::ServerUnaryReactor* GetRoom(grpc::CallbackServerContext* ctx, const pb::GetRoomRequest* req,
                                    pb::Room* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      co_return room_result(st, ctx, co_await st.n.get_room_async(std::move(p), req->room()), out);
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
  api_state& st_;
};

// -- turns --------------------------------------------------------------------

class turns_service final : public pb::Turns::CallbackService {
public:
  explicit turns_service(api_state& st) : st_(st) {}

  grpc::ServerUnaryReactor* RequestTurn(grpc::CallbackServerContext* ctx, const pb::TurnRequest* req,
                                        pb::TurnState* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto ok = co_await st.n.request_turn_async(p, req->room(), req->agent());
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return turns_result(st, ctx, co_await st.n.turns_async(std::move(p), req->room()), out);
    });
  }

  grpc::ServerUnaryReactor* YieldTurn(grpc::CallbackServerContext* ctx, const pb::TurnRequest* req,
                                      pb::TurnState* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto ok = co_await st.n.yield_turn_async(p, req->room(), req->agent());
      if (!ok)
        co_return fail(st, ctx, ok.error());
      co_return turns_result(st, ctx, co_await st.n.turns_async(std::move(p), req->room()), out);
    });
  }

  grpc::ServerUnaryReactor* GetTurns(grpc::CallbackServerContext* ctx, const pb::GetTurnsRequest* req,
                                     pb::TurnState* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      co_return turns_result(st, ctx, co_await st.n.turns_async(std::move(p), req->room()), out);
    });
  }

private:
  api_state& st_;
};

// -- messages -----------------------------------------------------------------

class messages_service final
  : public pb::Messages::WithCallbackMethod_Send<pb::Messages::WithCallbackMethod_MarkRead<pb::Messages::Service>> {
public:
  explicit messages_service(api_state& st) : st_(st) {}

  grpc::ServerUnaryReactor* Send(grpc::CallbackServerContext* ctx, const pb::SendRequest* req,
                                 pb::SendResponse* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto* out) -> task<grpc::Status> {
      auto m = from_pb(req->message());
      if (!m)
        co_return fail(st, ctx, m.error());
      auto sent = co_await st.n.send_async(std::move(p), std::move(*m));
      if (!sent)
        co_return fail(st, ctx, sent.error());
      out->set_id(sent->id);
      out->set_status(to_pb(sent->status));
      out->set_sent_at(sent->sent_at);
      co_return grpc::Status::OK;
    });
  }

  grpc::ServerUnaryReactor* MarkRead(grpc::CallbackServerContext* ctx, const pb::MarkReadRequest* req,
                                     pb::MarkReadResponse* out) override {
    return handle_async(st_, ctx, req, out,
                        [](api_state& st, principal p, auto* ctx, auto* req, auto*) -> task<grpc::Status> {
      std::vector<uint64_t> ds(req->deliveries().begin(), req->deliveries().end());
      if (auto ok = co_await st.n.mark_read_async(std::move(p), req->agent(), std::move(ds)); !ok)
        co_return fail(st, ctx, ok.error());
      co_return grpc::Status::OK;
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
