// The server's limits on what one caller can make it hold, seen from a
// client: the request rate per principal, open streams per principal, the
// cap on gRPC's threads (ResourceQuota), and limits that make no sense.

#include <string>
#include <vector>

#include "api_fixture.hpp"
#include "parley/storage/disk_faults.hpp"

using namespace parley;
using namespace parley::api_test;
using grpc::StatusCode;

namespace {

std::string trailer(grpc::ClientContext& ctx, const std::string& key) {
  auto& t = ctx.GetServerTrailingMetadata();
  auto it = t.find(key);
  return it == t.end() ? std::string{} : std::string(it->second.data(), it->second.size());
}

pb::SubscribeRequest all_events() {
  return {};
}

// From the log's first offset: the stream carries the events before it
// (replayed) whenever the server registers it, so no test races that.
pb::SubscribeRequest from_start() {
  pb::SubscribeRequest r;
  r.set_from_offset(1);
  return r;
}

} // namespace

struct RateLimitApi : ApiFixture {
  void configure_server(api::server_options& o) override {
    // Nothing refills within the test: the burst is all a caller has.
    o.limits.requests_per_second = 0.2;
    o.limits.request_burst = 3;
  }

  grpc::Status get_manifest(const principal& who) { return get_manifest(*context_for(who)); }

  grpc::Status get_manifest(grpc::ClientContext& ctx) {
    pb::GetManifestRequest req;
    req.set_agent("ada");
    pb::Manifest out;
    return agents->GetManifest(&ctx, req, &out);
  }
};

// Verifies a principal that spent its burst is refused with
// RESOURCE_EXHAUSTED, a message naming it and the setting, and a
// retry-after-ms trailer with the wait until its next request; another
// principal's budget is untouched.
TEST_F(RateLimitApi, PrincipalBeyondItsRateIsResourceExhaustedWithRetryHint) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  const auto obs = principal::observer("dashboard");
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(is_ok(get_manifest(obs))) << "request " << i << " of the burst";
  auto ctx = context_for(obs);
  auto s = get_manifest(*ctx);
  ASSERT_TRUE(is_error(s, StatusCode::RESOURCE_EXHAUSTED,
                       {"observer:dashboard", "limits.requests_per_second"}));
  const auto hint = trailer(*ctx, "retry-after-ms");
  ASSERT_FALSE(hint.empty()) << "no retry-after-ms trailer";
  // Next token at 0.2/s: up to 5 s away, and certainly more than 1 s.
  EXPECT_GT(std::stoi(hint), 1000);
  EXPECT_LE(std::stoi(hint), 5000);
  EXPECT_TRUE(is_ok(get_manifest(principal::observer("someone-else"))));
  EXPECT_TRUE(is_error(get_manifest(obs), StatusCode::RESOURCE_EXHAUSTED));
}

struct StreamLimitApi : ApiFixture {
  void configure_server(api::server_options& o) override { o.limits.streams_per_principal = 2; }
};

// Verifies a principal holds at most streams_per_principal open streams:
// the next one is RESOURCE_EXHAUSTED, another principal may still open
// one, and a stream that ends gives its slot back.
TEST_F(StreamLimitApi, OpenStreamsPerPrincipalAreCapped) {
  const auto obs = principal::observer("dashboard");
  ASSERT_TRUE(is_ok(introduce("ada")));
  auto s1 = subscribe(from_start(), context_for(obs));
  auto s2 = subscribe(from_start(), context_for(obs));
  // Both streams are open once they carry events.
  ASSERT_TRUE(s1->next().has_value());
  ASSERT_TRUE(s2->next().has_value());

  auto s3 = subscribe(all_events(), context_for(obs));
  auto end = s3->wait_end();
  ASSERT_TRUE(end.has_value()) << "a third stream of one principal stayed open";
  EXPECT_TRUE(is_error(*end, StatusCode::RESOURCE_EXHAUSTED, {"observer:dashboard", "streams"}));

  auto other = subscribe(from_start(), context_for(principal::observer("another")));
  EXPECT_TRUE(other->next().has_value()) << "another principal's stream was refused";

  s1.reset(); // cancels: the server ends the stream and frees its slot
  EXPECT_TRUE(test_support::eventually([&] {
    auto again = subscribe(all_events(), context_for(obs));
    return !again->wait_end(std::chrono::milliseconds(300)).has_value();
  })) << "the slot of a closed stream was not given back";
}

struct ThreadCapApi : DurableApiFixture {
  void configure_node(node_config& c) override { c.disk_faults = faults; }
  void configure_server(api::server_options& o) override {
    o.limits.max_threads = 8;
    o.limits.streams_per_principal = 1000;
  }
  std::shared_ptr<storage::disk_faults> faults = std::make_shared<storage::disk_faults>();
};

// Verifies gRPC's thread quota holds for the rpcs still served on the
// synchronous API (here Admin.Erase, which waits for its commits on a slow
// disk): each such call holds a thread, and once max_threads are busy a new
// call is refused with RESOURCE_EXHAUSTED instead of starting another
// thread; once they are done, calls are served again. (Streams and the
// asynchronous unary rpcs hold no thread: async_api_test.)
TEST_F(ThreadCapApi, CallsBeyondTheThreadQuotaAreRefused) {
  constexpr int calls = 40;
  for (int i = 0; i <= calls; ++i)
    ASSERT_TRUE(is_ok(introduce("p" + std::to_string(i))));
  faults->slow_syncs(std::chrono::milliseconds(300));

  auto statuses = all_at_once<pb::EraseRequest, pb::Erasure>(
    calls, [](int i, pb::EraseRequest& req) { req.set_agent("p" + std::to_string(i)); },
    [&](auto* ctx, auto* req, auto* out, auto done) { admin->async()->Erase(ctx, req, out, std::move(done)); });
  faults->slow_syncs(std::chrono::milliseconds(0));
  int refused = 0;
  int served = 0;
  for (auto& st : statuses) {
    if (st.error_code() == StatusCode::RESOURCE_EXHAUSTED)
      ++refused;
    else if (is_ok(st))
      ++served;
    else
      ADD_FAILURE() << code_name(st.error_code()) << ": " << st.error_message();
  }
  EXPECT_GT(refused, 0) << calls << " blocking calls held " << calls << " threads under a quota of 8";
  EXPECT_LE(served, 8);
  EXPECT_TRUE(test_support::eventually([&] {
    pb::EraseRequest req;
    req.set_agent("p" + std::to_string(calls));
    pb::Erasure out;
    return admin->Erase(as_admin().get(), req, &out).ok();
  })) << "the server did not serve calls again once the calls ended";
}

// Verifies limits that cannot work are refused when the server starts,
// with a message naming them.
TEST(LimitsConfig, UnworkableLimitsAreRefusedAtStart) {
  node_config cfg;
  cfg.scheduler_threads = 2;
  auto n = test_support::start_ok(cfg);
  ASSERT_TRUE(n);
  for (auto bad : {0, 1}) {
    api::server_options o;
    o.listen = "127.0.0.1:0";
    if (bad == 0)
      o.limits.streams_per_principal = 0;
    else
      o.limits.max_threads = 2;
    auto s = api::server::start(*n, o);
    ASSERT_FALSE(s.has_value());
    EXPECT_EQ(s.error().code, errc::invalid_argument);
    EXPECT_NE(s.error().message.find(bad == 0 ? "streams_per_principal" : "max_threads"),
              std::string::npos)
      << s.error().message;
  }
  n->stop();
}
