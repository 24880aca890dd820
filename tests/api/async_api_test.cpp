// The API does not hold a thread per call or per stream: unary calls in
// flight wait for their actors' answers, and open event subscriptions and
// agent links wait for their next item, without occupying the server's
// threads, so more of them run at once than gRPC's thread quota allows.

#include "api/api_fixture.hpp"
#include "parley/storage/disk_faults.hpp"

using namespace parley;
using namespace parley::api_test;
using grpc::StatusCode;

namespace {

constexpr int thread_quota = 8;
constexpr int in_flight = 48;

struct AsyncCallsApi : DurableApiFixture {
  void configure_node(node_config& c) override { c.disk_faults = faults; }
  void configure_server(api::server_options& o) override {
    o.limits.max_threads = thread_quota;
    o.limits.streams_per_principal = 1000;
  }
  std::shared_ptr<storage::disk_faults> faults = std::make_shared<storage::disk_faults>();
};

// Every call succeeded: none was refused with RESOURCE_EXHAUSTED for want
// of a server thread, none failed otherwise.
void expect_none_refused(const std::vector<grpc::Status>& statuses) {
  int refused = 0;
  for (auto& st : statuses) {
    if (st.error_code() == StatusCode::RESOURCE_EXHAUSTED)
      ++refused;
    else
      EXPECT_TRUE(is_ok(st));
  }
  EXPECT_EQ(refused, 0) << "calls were refused for want of a server thread";
}

// Verifies 48 sends in flight at once, each waiting on a slow disk (every
// fsync takes 300 ms), all succeed under a quota of 8 server threads: with
// a thread held per call, those beyond the quota would be refused with
// RESOURCE_EXHAUSTED.
TEST_F(AsyncCallsApi, CallsInFlightAreNotBoundByServerThreads) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  for (int i = 0; i < in_flight; ++i)
    ASSERT_TRUE(is_ok(introduce("r" + std::to_string(i))));
  faults->slow_syncs(std::chrono::milliseconds(300));

  auto statuses = all_at_once<pb::SendRequest, pb::SendResponse>(
    in_flight,
    [](int i, pb::SendRequest& req) {
      *req.mutable_message() = text_to_agent("ada", "r" + std::to_string(i), "hi", "k" + std::to_string(i));
    },
    [&](auto* ctx, auto* req, auto* out, auto done) { messages->async()->Send(ctx, req, out, std::move(done)); });
  expect_none_refused(statuses);
  faults->slow_syncs(std::chrono::milliseconds(0));
}

// Verifies 48 CreateDirect calls in flight at once, each committing its
// room on a slow disk, all succeed under a quota of 8 server threads (the
// same as for Send above).
TEST_F(AsyncCallsApi, CreateDirectCallsInFlightAreNotBoundByServerThreads) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  for (int i = 0; i < in_flight; ++i)
    ASSERT_TRUE(is_ok(introduce("p" + std::to_string(i))));
  faults->slow_syncs(std::chrono::milliseconds(300));

  auto statuses = all_at_once<pb::CreateDirectRequest, pb::Room>(
    in_flight,
    [](int i, pb::CreateDirectRequest& req) {
      req.set_a("ada");
      req.set_b("p" + std::to_string(i));
    },
    [&](auto* ctx, auto* req, auto* out, auto done) { rooms->async()->CreateDirect(ctx, req, out, std::move(done)); });
  expect_none_refused(statuses);
  faults->slow_syncs(std::chrono::milliseconds(0));
}

struct AsyncStreamsApi : ApiFixture {
  void configure_server(api::server_options& o) override {
    o.limits.max_threads = thread_quota;
    o.limits.streams_per_principal = 1000;
  }
};

constexpr int open_streams = 40;

bool has_event_of(stream_reader<pb::Event>& s, const std::string& agent) {
  for (;;) {
    auto e = s.next();
    if (!e)
      return false;
    if (e->agent() == agent && e->kind() == "agent_introduced")
      return true;
  }
}

// Verifies 40 event subscriptions and 40 agent links stay open and served
// at once under a quota of 8 server threads: every subscription gets a
// live event, every link a delivery. With a thread held per stream, the
// streams beyond the quota would be refused with RESOURCE_EXHAUSTED.
TEST_F(AsyncStreamsApi, OpenStreamsAreNotBoundByServerThreads) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  for (int i = 0; i < open_streams; ++i)
    ASSERT_TRUE(is_ok(introduce("x" + std::to_string(i), pb::Behavior::KIND_EXTERNAL)));

  std::vector<std::unique_ptr<stream_reader<pb::Event>>> subs;
  pb::SubscribeRequest from_start;
  from_start.set_from_offset(1);
  for (int i = 0; i < open_streams; ++i) {
    subs.push_back(subscribe(from_start));
    // Replayed: the stream is open once it carries an event.
    ASSERT_TRUE(subs.back()->next().has_value())
      << "subscription " << i << " ended: " << [&] {
           auto end = subs.back()->wait_end(std::chrono::milliseconds(0));
           return end ? code_name(end->error_code()) + " " + end->error_message() : std::string{"?"};
         }();
  }
  std::vector<std::unique_ptr<link_client>> links;
  for (int i = 0; i < open_streams; ++i) {
    links.push_back(open_link("x" + std::to_string(i), 4));
    ASSERT_TRUE(links.back()) << "link " << i << " did not open";
  }

  // Live traffic reaches every stream while all of them are open.
  ASSERT_TRUE(is_ok(introduce("late")));
  for (int i = 0; i < open_streams; ++i)
    ASSERT_TRUE(is_ok(send(text_to_agent("ada", "x" + std::to_string(i), "hello " + std::to_string(i)))));
  for (int i = 0; i < open_streams; ++i) {
    EXPECT_TRUE(has_event_of(*subs[i], "late")) << "subscription " << i << " got no live event";
    auto got = links[i]->deliveries(1);
    ASSERT_EQ(got.size(), 1u) << "link " << i;
    EXPECT_EQ(got[0].content(), "hello " + std::to_string(i));
  }
  for (auto& s : subs)
    EXPECT_FALSE(s->wait_end(std::chrono::milliseconds(0)).has_value());
}

} // namespace
