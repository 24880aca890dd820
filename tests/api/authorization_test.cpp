// Who may do what, for every rpc and every kind of caller (docs/security.md
// prints the same matrix). Each rpc runs on a fresh node with:
//   ada  external agent, owner of "lab" (invite-only) and "pub" (open)
//   bob  member of "lab" (and the "other" agent of most rows)
//   cy   a member of nothing (the outsider)
// and is called by an observer, the three agents, an operator and an admin,
// the refused ones first (a refused call changes nothing), and by callers
// without valid credentials. A call counts as allowed when the one
// authorization point did not refuse it ("<caller> may not ...") and it was
// not UNAUTHENTICATED; it may still fail for a reason of state, such as an
// agent already retired by the previous caller.

#include <functional>
#include <map>

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

enum class who : uint8_t { observer, cy, bob, ada, op, admin };
constexpr who all_callers[] = {who::observer, who::cy, who::bob, who::ada, who::op, who::admin};

std::string name(who w) {
  switch (w) {
    case who::observer: return "observer";
    case who::cy: return "agent:cy";
    case who::bob: return "agent:bob";
    case who::ada: return "agent:ada";
    case who::op: return "operator";
    case who::admin: return "admin";
  }
  return "?";
}

principal principal_of(who w) {
  switch (w) {
    case who::observer: return principal::observer("dash");
    case who::cy: return principal::agent("cy");
    case who::bob: return principal::agent("bob");
    case who::ada: return principal::agent("ada");
    case who::op: return principal::operator_("oncall");
    case who::admin: return principal::admin("root");
  }
  return principal::observer();
}

class AuthorizationMatrix;
using call_fn = std::function<grpc::Status(AuthorizationMatrix&, std::unique_ptr<grpc::ClientContext>)>;

struct row {
  std::string rpc;
  /// Who is allowed; everyone else must get PERMISSION_DENIED.
  std::vector<who> allowed;
  call_fn call;
};

class AuthorizationMatrix : public ApiFixture, public ::testing::WithParamInterface<size_t> {
protected:
  void SetUp() override {
    ApiFixture::SetUp();
    ASSERT_TRUE(is_ok(introduce("ada", pb::Behavior::KIND_EXTERNAL)));
    ASSERT_TRUE(introduce_all({"bob", "cy"}));
    ASSERT_TRUE(is_ok(create_group("ada", "lab", pb::SPEAKER_POLICY_FIFO, true)));
    ASSERT_TRUE(is_ok(invite("lab", "ada", "bob")));
    ASSERT_TRUE(is_ok(join("lab", "bob")));
    ASSERT_TRUE(is_ok(create_group("ada", "pub")));
    backup_dir_ = dir_.sub("backups");
  }

public:
  /// A stream call: denied or refused when it ends at once with that
  /// status; allowed when it is still open after a short while (or ended
  /// for another reason).
  template <class Start>
  grpc::Status stream_outcome(std::unique_ptr<grpc::ClientContext> ctx, Start start) {
    auto reader = std::make_unique<stream_reader<pb::Event>>(std::move(ctx), start);
    if (auto end = reader->wait_end(std::chrono::milliseconds(300)))
      return *end;
    return grpc::Status::OK;
  }

  std::string backup_dir_;
};

// The rows, one per rpc (and per kind of request where the rule differs).
std::vector<row> make_rows() {
  using F = AuthorizationMatrix;
  using ctx_t = std::unique_ptr<grpc::ClientContext>;
  const std::vector<who> everyone(std::begin(all_callers), std::end(all_callers));
  std::vector<row> r;
  r.push_back({"Agents.Introduce (as zed)", {who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::IntroduceRequest q;
                 q.mutable_manifest()->set_id("zed");
                 pb::Manifest out;
                 return f.agents->Introduce(c.get(), q, &out);
               }});
  r.push_back({"Agents.Introduce (an agent introduces itself)", {who::ada, who::op, who::admin},
               [](F& f, ctx_t c) {
                 pb::IntroduceRequest q;
                 q.mutable_manifest()->set_id("ada");
                 pb::Manifest out;
                 return f.agents->Introduce(c.get(), q, &out); // ALREADY_EXISTS when allowed
               }});
  r.push_back({"Agents.Retire", {who::ada, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::RetireRequest q;
                 q.set_agent("ada");
                 pb::RetireResponse out;
                 return f.agents->Retire(c.get(), q, &out);
               }});
  r.push_back({"Agents.GetManifest", everyone, [](F& f, ctx_t c) {
                 pb::GetManifestRequest q;
                 q.set_agent("ada");
                 pb::Manifest out;
                 return f.agents->GetManifest(c.get(), q, &out);
               }});
  r.push_back({"Agents.UpdateManifest", {who::ada, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::UpdateManifestRequest q;
                 q.mutable_manifest()->set_id("ada");
                 q.mutable_manifest()->set_bio("changed");
                 q.mutable_manifest()->set_status(pb::AGENT_STATUS_ACTIVE);
                 q.mutable_manifest()->set_capacity(8);
                 pb::Manifest out;
                 return f.agents->UpdateManifest(c.get(), q, &out);
               }});
  r.push_back({"Agents.ListAgents", everyone, [](F& f, ctx_t c) {
                 pb::ListAgentsResponse out;
                 return f.agents->ListAgents(c.get(), {}, &out);
               }});
  r.push_back({"Rooms.CreateDirect (ada, cy)", {who::ada, who::cy, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::CreateDirectRequest q;
                 q.set_a("ada");
                 q.set_b("cy");
                 pb::Room out;
                 return f.rooms->CreateDirect(c.get(), q, &out);
               }});
  r.push_back({"Rooms.CreateGroup (creator ada)", {who::ada, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::CreateGroupRequest q;
                 q.set_creator("ada");
                 pb::Room out;
                 return f.rooms->CreateGroup(c.get(), q, &out);
               }});
  r.push_back({"Rooms.Join (cy into pub)", {who::cy, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::JoinRequest q;
                 q.set_room("pub");
                 q.set_agent("cy");
                 pb::Room out;
                 return f.rooms->Join(c.get(), q, &out);
               }});
  r.push_back({"Rooms.Leave (bob leaves lab)", {who::bob, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::LeaveRequest q;
                 q.set_room("lab");
                 q.set_agent("bob");
                 pb::LeaveResponse out;
                 return f.rooms->Leave(c.get(), q, &out);
               }});
  r.push_back({"Rooms.Invite (by ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::InviteRequest q;
                 q.set_room("lab");
                 q.set_by("ada");
                 q.set_agent("cy");
                 pb::InviteResponse out;
                 return f.rooms->Invite(c.get(), q, &out);
               }});
  r.push_back({"Rooms.SetRole (by ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::SetRoleRequest q;
                 q.set_room("lab");
                 q.set_by("ada");
                 q.set_agent("bob");
                 q.set_role(pb::ROOM_ROLE_ADMIN);
                 pb::Room out;
                 return f.rooms->SetRole(c.get(), q, &out);
               }});
  r.push_back({"Rooms.Close (by ada)", {who::ada, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::CloseRequest q;
                 q.set_room("lab");
                 q.set_by("ada");
                 pb::Room out;
                 return f.rooms->Close(c.get(), q, &out);
               }});
  r.push_back({"Rooms.Close (staff, no by)", {who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::CloseRequest q;
                 q.set_room("lab");
                 pb::Room out;
                 return f.rooms->Close(c.get(), q, &out);
               }});
  r.push_back({"Rooms.GetRoom (invite-only)", {who::observer, who::bob, who::ada, who::op, who::admin},
               [](F& f, ctx_t c) {
                 pb::GetRoomRequest q;
                 q.set_room("lab");
                 pb::Room out;
                 return f.rooms->GetRoom(c.get(), q, &out);
               }});
  r.push_back({"Rooms.GetRoom (open)", everyone, [](F& f, ctx_t c) {
                 pb::GetRoomRequest q;
                 q.set_room("pub");
                 pb::Room out;
                 return f.rooms->GetRoom(c.get(), q, &out);
               }});
  r.push_back({"Rooms.ListRooms", everyone, [](F& f, ctx_t c) {
                 pb::ListRoomsResponse out;
                 return f.rooms->ListRooms(c.get(), {}, &out);
               }});
  r.push_back({"Rooms.History (room)", {who::bob, who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::HistoryRequest q;
                 q.set_room("lab");
                 pb::HistoryResponse out;
                 return f.rooms->History(c.get(), q, &out); // FAILED_PRECONDITION (memory) when allowed
               }});
  r.push_back({"Rooms.History (open room)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::HistoryRequest q;
                 q.set_room("pub");
                 pb::HistoryResponse out;
                 return f.rooms->History(c.get(), q, &out);
               }});
  r.push_back({"Rooms.History (pair)", {who::bob, who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::HistoryRequest q;
                 q.mutable_pair()->set_a("ada");
                 q.mutable_pair()->set_b("bob");
                 pb::HistoryResponse out;
                 return f.rooms->History(c.get(), q, &out);
               }});
  r.push_back({"Turns.RequestTurn (ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::TurnRequest q;
                 q.set_room("lab");
                 q.set_agent("ada");
                 pb::TurnState out;
                 return f.turns->RequestTurn(c.get(), q, &out);
               }});
  r.push_back({"Turns.YieldTurn (ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::TurnRequest q;
                 q.set_room("lab");
                 q.set_agent("ada");
                 pb::TurnState out;
                 return f.turns->YieldTurn(c.get(), q, &out);
               }});
  r.push_back({"Turns.GetTurns (invite-only)", {who::observer, who::bob, who::ada, who::op, who::admin},
               [](F& f, ctx_t c) {
                 pb::GetTurnsRequest q;
                 q.set_room("lab");
                 pb::TurnState out;
                 return f.turns->GetTurns(c.get(), q, &out);
               }});
  r.push_back({"Messages.Send (from ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::SendRequest q;
                 *q.mutable_message() = text_to_agent("ada", "bob", "hi");
                 pb::SendResponse out;
                 return f.messages->Send(c.get(), q, &out);
               }});
  r.push_back({"Messages.MarkRead (ada's)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::MarkReadRequest q;
                 q.set_agent("ada");
                 q.add_deliveries(1);
                 pb::MarkReadResponse out;
                 return f.messages->MarkRead(c.get(), q, &out);
               }});
  r.push_back({"Messages.Inbox (ada's)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 pb::InboxRequest q;
                 q.set_agent("ada");
                 pb::InboxResponse out;
                 return f.messages->Inbox(c.get(), q, &out);
               }});
  r.push_back({"Events.Subscribe (everything)", {who::observer, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::SubscribeRequest q;
                 return f.stream_outcome(std::move(c), [&](grpc::ClientContext* x) { return f.events->Subscribe(x, q); });
               }});
  r.push_back({"Events.Subscribe (about ada)", {who::observer, who::ada, who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::SubscribeRequest q;
                 q.set_agent("ada");
                 return f.stream_outcome(std::move(c), [&](grpc::ClientContext* x) { return f.events->Subscribe(x, q); });
               }});
  r.push_back({"Events.Subscribe (room lab)", {who::observer, who::bob, who::ada, who::op, who::admin},
               [](F& f, ctx_t c) {
                 pb::SubscribeRequest q;
                 q.set_room("lab");
                 return f.stream_outcome(std::move(c), [&](grpc::ClientContext* x) { return f.events->Subscribe(x, q); });
               }});
  r.push_back({"AgentLink.Link (as ada)", {who::ada, who::admin}, [](F& f, ctx_t c) {
                 link_client l(*f.link, std::move(c));
                 l.open("ada", 4);
                 auto first = l.next(std::chrono::milliseconds(2000));
                 if (first && first->has_ready())
                   return grpc::Status::OK;
                 auto end = l.wait_end();
                 return end ? *end : grpc::Status{StatusCode::DEADLINE_EXCEEDED, "no answer"};
               }});
  r.push_back({"Admin.NodeInfo", everyone, [](F& f, ctx_t c) {
                 pb::NodeInfoResponse out;
                 return f.admin->NodeInfo(c.get(), {}, &out);
               }});
  r.push_back({"Admin.Backup", {who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::BackupRequest q;
                 q.set_directory(f.backup_dir_);
                 pb::BackupResponse out;
                 return f.admin->Backup(c.get(), q, &out); // FAILED_PRECONDITION (memory) when allowed
               }});
  r.push_back({"Admin.Drain", {who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::DrainResponse out;
                 return f.admin->Drain(c.get(), {}, &out);
               }});
  r.push_back({"Admin.Drain hand_off", {who::op, who::admin}, [](F& f, ctx_t c) {
                 pb::DrainRequest q;
                 q.set_hand_off(true);
                 pb::DrainResponse out;
                 return f.admin->Drain(c.get(), q, &out); // FAILED_PRECONDITION (alone) when allowed
               }});
  r.push_back({"Admin.RemoveNode", {who::admin}, [](F& f, ctx_t c) {
                 pb::RemoveNodeRequest q;
                 q.set_node("node-9");
                 q.set_lost(true);
                 pb::RemoveNodeResponse out;
                 return f.admin->RemoveNode(c.get(), q, &out); // FAILED_PRECONDITION (alone) when allowed
               }});
  r.push_back({"Admin.Erase", {who::admin}, [](F& f, ctx_t c) {
                 pb::EraseRequest q;
                 q.set_agent("ada");
                 pb::Erasure out;
                 return f.admin->Erase(c.get(), q, &out);
               }});
  r.push_back({"Admin.GetErasure", {who::admin}, [](F& f, ctx_t c) {
                 pb::EraseRequest q;
                 q.set_agent("ada");
                 pb::Erasure out;
                 return f.admin->GetErasure(c.get(), q, &out); // NOT_FOUND when allowed
               }});
  return r;
}

const std::vector<row>& rows() {
  static const std::vector<row> r = make_rows();
  return r;
}

bool allowed_for(const row& r, who w) {
  return std::find(r.allowed.begin(), r.allowed.end(), w) != r.allowed.end();
}

// Verifies one rpc for every caller: refused with PERMISSION_DENIED (a
// message naming the caller) unless the matrix allows it; allowed callers
// are never refused for who they are. Then without valid credentials:
// UNAUTHENTICATED, before the handler runs.
TEST_P(AuthorizationMatrix, EveryCallerGetsWhatTheMatrixSays) {
  const auto& r = rows()[GetParam()];
  SCOPED_TRACE(r.rpc);
  auto expired_key = test_key();
  // No credential, a token under another key, an expired token, a header
  // that is not a bearer token.
  std::vector<std::pair<std::string, std::unique_ptr<grpc::ClientContext>>> bad;
  bad.emplace_back("no credential", context_for(std::nullopt));
  bad.emplace_back("wrong key", context_with("Bearer " + token_for(principal::admin(),
                                                                    auth::token_key{std::string(40, 'k')})));
  bad.emplace_back("expired", context_with("Bearer " + token_for(principal::admin(), test_key(), -3600)));
  bad.emplace_back("not bearer", context_with("Basic YWRtaW46YWRtaW4="));
  for (auto& [what, ctx] : bad) {
    auto s = r.call(*this, std::move(ctx));
    EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED) << what << ": " << code_name(s.error_code()) << " "
                                                            << s.error_message();
  }
  // Refused callers first: a refusal changes nothing for the next caller.
  for (auto w : all_callers) {
    if (allowed_for(r, w))
      continue;
    auto s = r.call(*this, context_for(principal_of(w)));
    EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED)
      << name(w) << " was not refused: " << code_name(s.error_code()) << " " << s.error_message();
    // The refusal of the one authorization point, naming the caller.
    EXPECT_NE(s.error_message().find(" may not "), std::string::npos) << s.error_message();
  }
  for (auto w : all_callers) {
    if (!allowed_for(r, w))
      continue;
    auto s = r.call(*this, context_for(principal_of(w)));
    // A room's own rule may still refuse (an agent no longer a member after
    // the previous caller took it out), but never the caller's identity.
    const bool refused_as_caller = s.error_code() == StatusCode::PERMISSION_DENIED
                                   && s.error_message().find(" may not ") != std::string::npos;
    EXPECT_FALSE(refused_as_caller) << name(w) << ": " << s.error_message();
    EXPECT_NE(s.error_code(), StatusCode::UNAUTHENTICATED) << name(w) << ": " << s.error_message();
  }
}

INSTANTIATE_TEST_SUITE_P(EveryRpc, AuthorizationMatrix, ::testing::Range<size_t>(0, rows().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string n;
                           for (char ch : rows()[info.param].rpc)
                             if (std::isalnum(static_cast<unsigned char>(ch)))
                               n += ch;
                           return n;
                         });

} // namespace
} // namespace parley::api_test
