// parley.v1.Agents over a real server: every rpc's good path, the status
// code of each bad path, and who may act for whom when the node has an
// admin token.

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

class AgentsApi : public ApiFixture {};

// Verifies that Introduce returns the stored manifest with the defaults
// filled in, and that GetManifest answers with the same page.
TEST_F(AgentsApi, IntroduceReturnsTheManifestAndGetManifestReadsIt) {
  pb::IntroduceRequest req;
  auto* m = req.mutable_manifest();
  m->set_id("ada");
  m->set_display_name("Ada");
  m->set_bio("counts things");
  m->add_activities("counting");
  auto* skill = m->add_skills();
  skill->set_id("math");
  skill->set_name("Mathematics");
  skill->add_tags("numbers");
  req.mutable_behavior()->set_kind(pb::Behavior::KIND_ECHO);
  pb::Manifest out;
  ASSERT_TRUE(is_ok(agents->Introduce(as_admin().get(), req, &out)));
  EXPECT_EQ(out.id(), "ada");
  EXPECT_EQ(out.display_name(), "Ada");
  EXPECT_EQ(out.bio(), "counts things");
  EXPECT_EQ(out.status(), pb::AGENT_STATUS_ACTIVE);
  EXPECT_EQ(out.capacity(), 8u); // 0 on introduce = 8
  EXPECT_TRUE(out.online());
  ASSERT_EQ(out.skills_size(), 1);
  EXPECT_EQ(out.skills(0).name(), "Mathematics");
  ASSERT_EQ(out.activities_size(), 1);

  pb::GetManifestRequest get;
  get.set_agent("ada");
  pb::Manifest got;
  ASSERT_TRUE(is_ok(agents->GetManifest(caller().get(), get, &got)));
  EXPECT_EQ(got.id(), "ada");
  EXPECT_EQ(got.bio(), "counts things");
  EXPECT_EQ(got.skills(0).id(), "math");
  EXPECT_EQ(got.skills(0).tags(0), "numbers");
}

// Verifies the codes of a bad Introduce: a taken id, malformed ids, unknown
// enum numbers, oversize fields; each message names the field or rule.
TEST_F(AgentsApi, IntroduceRejectsBadInputWithTheFieldNamed) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  EXPECT_TRUE(is_error(introduce("ada"), StatusCode::ALREADY_EXISTS, {"ada"}));
  EXPECT_TRUE(is_error(introduce("has space"), StatusCode::INVALID_ARGUMENT, {"[A-Za-z0-9._:-]"}));
  EXPECT_TRUE(is_error(introduce(""), StatusCode::INVALID_ARGUMENT, {"empty"}));
  EXPECT_TRUE(is_error(introduce(std::string(129, 'x')), StatusCode::INVALID_ARGUMENT, {"129"}));

  auto try_introduce = [&](const pb::IntroduceRequest& req) {
    pb::Manifest out;
    return agents->Introduce(as_admin().get(), req, &out);
  };
  pb::IntroduceRequest kind;
  kind.mutable_manifest()->set_id("k");
  kind.mutable_behavior()->set_kind(static_cast<pb::Behavior::Kind>(42));
  EXPECT_TRUE(is_error(try_introduce(kind), StatusCode::INVALID_ARGUMENT, {"behavior.kind", "42"}));

  pb::IntroduceRequest status;
  status.mutable_manifest()->set_id("s");
  status.mutable_manifest()->set_status(static_cast<pb::AgentStatus>(9));
  EXPECT_TRUE(is_error(try_introduce(status), StatusCode::INVALID_ARGUMENT, {"manifest.status"}));

  pb::IntroduceRequest bio;
  bio.mutable_manifest()->set_id("b");
  bio.mutable_manifest()->set_bio(std::string(2049, 'b'));
  EXPECT_TRUE(is_error(try_introduce(bio), StatusCode::INVALID_ARGUMENT, {"bio", "2048"}));

  pb::IntroduceRequest capacity;
  capacity.mutable_manifest()->set_id("c");
  capacity.mutable_manifest()->set_capacity(20000);
  EXPECT_TRUE(is_error(try_introduce(capacity), StatusCode::INVALID_ARGUMENT, {"capacity"}));

  pb::IntroduceRequest probability;
  probability.mutable_manifest()->set_id("p");
  probability.mutable_behavior()->set_kind(pb::Behavior::KIND_CHATTY);
  probability.mutable_behavior()->set_reply_probability(1.5);
  EXPECT_TRUE(is_error(try_introduce(probability), StatusCode::INVALID_ARGUMENT,
                       {"behavior.reply_probability"}));

  pb::IntroduceRequest skill;
  skill.mutable_manifest()->set_id("sk");
  skill.mutable_manifest()->add_skills()->set_id("bad skill");
  EXPECT_TRUE(is_error(try_introduce(skill), StatusCode::INVALID_ARGUMENT, {"skill id"}));

  // None of the refused agents exists.
  pb::ListAgentsResponse all;
  ASSERT_TRUE(is_ok(agents->ListAgents(caller().get(), {}, &all)));
  ASSERT_EQ(all.agents_size(), 1);
  EXPECT_EQ(all.agents(0).id(), "ada");
}

// Verifies GetManifest of an unknown agent and a malformed id.
TEST_F(AgentsApi, GetManifestOfUnknownAgentIsNotFound) {
  pb::GetManifestRequest req;
  req.set_agent("nobody");
  pb::Manifest out;
  EXPECT_TRUE(is_error(agents->GetManifest(caller().get(), req, &out), StatusCode::NOT_FOUND,
                       {"nobody"}));
}

// Verifies that UpdateManifest replaces the changeable fields and keeps
// the rest, and the codes of a bad update.
TEST_F(AgentsApi, UpdateManifestReplacesChangeableFields) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  pb::UpdateManifestRequest req;
  auto* m = req.mutable_manifest();
  m->set_id("ada");
  m->set_display_name("Ada L.");
  m->set_bio("new bio");
  m->set_status(pb::AGENT_STATUS_BUSY);
  m->set_capacity(3);
  m->add_activities("writing");
  m->set_focus("ignored");
  m->add_rooms("ignored-room");
  pb::Manifest out;
  ASSERT_TRUE(is_ok(agents->UpdateManifest(as_admin().get(), req, &out)));
  EXPECT_EQ(out.display_name(), "Ada L.");
  EXPECT_EQ(out.bio(), "new bio");
  EXPECT_EQ(out.status(), pb::AGENT_STATUS_BUSY);
  EXPECT_EQ(out.capacity(), 3u);
  ASSERT_EQ(out.rooms_size(), 1); // read only: still the real rooms
  EXPECT_EQ(out.rooms(0), "lab");
  EXPECT_GT(out.last_updated(), 0);

  pb::GetManifestRequest get;
  get.set_agent("ada");
  pb::Manifest got;
  ASSERT_TRUE(is_ok(agents->GetManifest(caller().get(), get, &got)));
  EXPECT_EQ(got.status(), pb::AGENT_STATUS_BUSY);
  EXPECT_EQ(got.bio(), "new bio");

  auto update = [&](pb::UpdateManifestRequest r) {
    pb::Manifest ignored;
    return agents->UpdateManifest(as_admin().get(), r, &ignored);
  };
  auto bad = req;
  bad.mutable_manifest()->set_status(pb::AGENT_STATUS_UNSPECIFIED);
  EXPECT_TRUE(is_error(update(bad), StatusCode::INVALID_ARGUMENT, {"manifest.status"}));
  bad = req;
  bad.mutable_manifest()->set_status(static_cast<pb::AgentStatus>(17));
  EXPECT_TRUE(is_error(update(bad), StatusCode::INVALID_ARGUMENT, {"manifest.status", "17"}));
  bad = req;
  bad.mutable_manifest()->set_status(pb::AGENT_STATUS_RETIRED);
  EXPECT_TRUE(is_error(update(bad), StatusCode::INVALID_ARGUMENT, {"retired"}));
  bad = req;
  bad.mutable_manifest()->set_capacity(0);
  EXPECT_TRUE(is_error(update(bad), StatusCode::INVALID_ARGUMENT, {"capacity"}));
  bad = req;
  bad.mutable_manifest()->set_id("nobody");
  EXPECT_TRUE(is_error(update(bad), StatusCode::NOT_FOUND, {"nobody"}));

  pb::RetireRequest retire;
  retire.set_agent("bob");
  pb::RetireResponse ignored;
  ASSERT_TRUE(is_ok(agents->Retire(as_admin().get(), retire, &ignored)));
  bad = req;
  bad.mutable_manifest()->set_id("bob");
  EXPECT_TRUE(is_error(update(bad), StatusCode::FAILED_PRECONDITION, {"retired"}));
}

// Verifies that Retire marks the agent retired and takes it out of its
// rooms; retiring again, or an unknown agent, fails.
TEST_F(AgentsApi, RetireMarksRetiredAndLeavesRooms) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(is_ok(join("lab", "bob")));
  pb::RetireRequest req;
  req.set_agent("bob");
  pb::RetireResponse out;
  ASSERT_TRUE(is_ok(agents->Retire(as_admin().get(), req, &out)));

  pb::GetManifestRequest get;
  get.set_agent("bob");
  pb::Manifest m;
  ASSERT_TRUE(is_ok(agents->GetManifest(caller().get(), get, &m)));
  EXPECT_EQ(m.status(), pb::AGENT_STATUS_RETIRED);
  EXPECT_EQ(m.rooms_size(), 0);
  EXPECT_FALSE(m.online());
  pb::GetRoomRequest gr;
  gr.set_room("lab");
  pb::Room lab;
  ASSERT_TRUE(is_ok(rooms->GetRoom(caller().get(), gr, &lab)));
  ASSERT_EQ(lab.members_size(), 1);
  EXPECT_EQ(lab.members(0).agent(), "ada");

  EXPECT_TRUE(is_error(agents->Retire(as_admin().get(), req, &out), StatusCode::FAILED_PRECONDITION,
                       {"already retired"}));
  req.set_agent("nobody");
  EXPECT_TRUE(is_error(agents->Retire(as_admin().get(), req, &out), StatusCode::NOT_FOUND));
  // A retired agent neither sends nor receives.
  EXPECT_TRUE(is_error(send(text_to_agent("ada", "bob", "hi")), StatusCode::FAILED_PRECONDITION,
                       {"retired"}));
  EXPECT_TRUE(is_error(send(text_to_agent("bob", "ada", "hi")), StatusCode::FAILED_PRECONDITION,
                       {"retired"}));
}

// Verifies ListAgents: sorted by id, paged with tokens until an empty
// token, and each filter.
TEST_F(AgentsApi, ListAgentsPagesAndFilters) {
  ASSERT_TRUE(introduce_all({"e", "c", "a", "d", "b"}));
  std::vector<std::string> seen;
  pb::ListAgentsRequest req;
  req.set_page_size(2);
  int pages = 0;
  for (;;) {
    pb::ListAgentsResponse page;
    ASSERT_TRUE(is_ok(agents->ListAgents(caller().get(), req, &page)));
    ++pages;
    EXPECT_LE(page.agents_size(), 2);
    for (auto& m : page.agents())
      seen.push_back(m.id());
    if (page.next_page_token().empty())
      break;
    ASSERT_LT(pages, 10) << "paging does not end";
    req.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(pages, 3);

  // Filters: status, skill, room.
  pb::UpdateManifestRequest up;
  up.mutable_manifest()->set_id("c");
  up.mutable_manifest()->set_status(pb::AGENT_STATUS_IDLE);
  up.mutable_manifest()->set_capacity(8);
  auto* s = up.mutable_manifest()->add_skills();
  s->set_id("chess");
  s->set_name("Chess");
  pb::Manifest ignored;
  ASSERT_TRUE(is_ok(agents->UpdateManifest(as_admin().get(), up, &ignored)));
  ASSERT_TRUE(is_ok(create_group("d", "club")));
  ASSERT_TRUE(is_ok(join("club", "b")));

  auto ids = [&](const pb::ListAgentsRequest& r) {
    pb::ListAgentsResponse page;
    EXPECT_TRUE(is_ok(agents->ListAgents(caller().get(), r, &page)));
    std::vector<std::string> out;
    for (auto& m : page.agents())
      out.push_back(m.id());
    return out;
  };
  pb::ListAgentsRequest by_status;
  by_status.set_status(pb::AGENT_STATUS_IDLE);
  EXPECT_EQ(ids(by_status), (std::vector<std::string>{"c"}));
  pb::ListAgentsRequest by_skill;
  by_skill.set_skill("Chess");
  EXPECT_EQ(ids(by_skill), (std::vector<std::string>{"c"}));
  by_skill.set_skill("chess");
  EXPECT_EQ(ids(by_skill), (std::vector<std::string>{"c"}));
  pb::ListAgentsRequest by_room;
  by_room.set_room("club");
  EXPECT_EQ(ids(by_room), (std::vector<std::string>{"b", "d"}));
  by_room.set_status(pb::AGENT_STATUS_ACTIVE);
  EXPECT_EQ(ids(by_room), (std::vector<std::string>{"b", "d"}));
  by_room.set_status(pb::AGENT_STATUS_IDLE);
  EXPECT_TRUE(ids(by_room).empty());
}

// Verifies the page size rules (0 = default, 1 to 1000) and unknown status
// numbers.
TEST_F(AgentsApi, ListAgentsRejectsBadPageSizeAndStatus) {
  ASSERT_TRUE(introduce_all({"a", "b"}));
  pb::ListAgentsResponse out;
  pb::ListAgentsRequest req;
  req.set_page_size(0);
  ASSERT_TRUE(is_ok(agents->ListAgents(caller().get(), req, &out)));
  EXPECT_EQ(out.agents_size(), 2);
  req.set_page_size(1000);
  EXPECT_TRUE(is_ok(agents->ListAgents(caller().get(), req, &out)));
  req.set_page_size(1001);
  EXPECT_TRUE(is_error(agents->ListAgents(caller().get(), req, &out), StatusCode::INVALID_ARGUMENT,
                       {"1001"}));
  pb::ListAgentsRequest status;
  status.set_status(static_cast<pb::AgentStatus>(99));
  EXPECT_TRUE(is_error(agents->ListAgents(caller().get(), status, &out),
                       StatusCode::INVALID_ARGUMENT, {"status", "99"}));
}

// -- with an admin token ----------------------------------------------------------



/// A development node: no token key and no client CAs.
class DevelopmentApi : public ApiFixture {
protected:
  void configure_server(api::server_options& o) override { o.auth.token_key.reset(); }
};

// Verifies that a node without credentials treats a caller without any as
// its admin "local" (it listens on loopback only), and refuses a bearer
// token it has no key to check.
TEST_F(DevelopmentApi, CallersWithoutCredentialsAreTheLocalAdmin) {
  pb::IntroduceRequest intro;
  intro.mutable_manifest()->set_id("ada");
  pb::Manifest out;
  ASSERT_TRUE(is_ok(agents->Introduce(context_for(std::nullopt).get(), intro, &out)));
  pb::UpdateManifestRequest up;
  up.mutable_manifest()->set_id("ada");
  up.mutable_manifest()->set_bio("by anyone here");
  up.mutable_manifest()->set_status(pb::AGENT_STATUS_ACTIVE);
  up.mutable_manifest()->set_capacity(8);
  EXPECT_TRUE(is_ok(agents->UpdateManifest(context_for(std::nullopt).get(), up, &out)));
  EXPECT_EQ(out.bio(), "by anyone here");
  pb::NodeInfoResponse info;
  ASSERT_TRUE(is_ok(admin->NodeInfo(context_for(std::nullopt).get(), {}, &info)));
  EXPECT_EQ(info.caller(), "admin:local");
  EXPECT_NE(info.security().find("development"), std::string::npos) << info.security();
  EXPECT_TRUE(is_error(admin->NodeInfo(caller("ada").get(), {}, &info), StatusCode::UNAUTHENTICATED,
                       {"no bearer tokens"}));
}

// Verifies that a development node refuses to serve a non-loopback address
// (every caller would be its admin), unless told --insecure.
TEST(DevelopmentServer, RefusesANetworkAddressWithoutCredentials) {
  auto n = test_support::start_ok(node_config{});
  ASSERT_TRUE(n);
  api::server_options o;
  o.listen = "0.0.0.0:0";
  auto refused = api::server::start(*n, o);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, errc::invalid_argument);
  EXPECT_NE(refused.error().message.find("not loopback"), std::string::npos) << refused.error().message;
  o.auth.insecure = true;
  auto insecure = api::server::start(*n, o);
  ASSERT_TRUE(insecure) << to_string(insecure.error());
  EXPECT_NE((*insecure)->security_mode().find("INSECURE"), std::string::npos);
  (*insecure)->shutdown(std::chrono::milliseconds(0));
}

} // namespace
} // namespace parley::api_test
