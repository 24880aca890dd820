// The unary API does not hold a thread per call: calls in flight wait for
// their actors' answers without occupying the server's threads, so more of
// them run at once than gRPC's thread quota allows.

#include <atomic>
#include <condition_variable>
#include <mutex>

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

// Verifies 48 sends in flight at once, each waiting on a slow disk (every
// fsync takes 300 ms), all succeed under a quota of 8 server threads: with
// a thread held per call, those beyond the quota would be refused with
// RESOURCE_EXHAUSTED.
TEST_F(AsyncCallsApi, CallsInFlightAreNotBoundByServerThreads) {
  ASSERT_TRUE(is_ok(introduce("ada")));
  for (int i = 0; i < in_flight; ++i)
    ASSERT_TRUE(is_ok(introduce("r" + std::to_string(i))));
  faults->slow_syncs(std::chrono::milliseconds(300));

  struct call {
    std::unique_ptr<grpc::ClientContext> ctx;
    pb::SendRequest req;
    pb::SendResponse out;
    grpc::Status status;
  };
  std::vector<call> calls(in_flight);
  std::mutex mtx;
  std::condition_variable cv;
  int finished = 0;
  for (int i = 0; i < in_flight; ++i) {
    auto& c = calls[i];
    c.ctx = as_admin();
    *c.req.mutable_message() = text_to_agent("ada", "r" + std::to_string(i), "hi", "k" + std::to_string(i));
    messages->async()->Send(c.ctx.get(), &c.req, &c.out, [&, i](grpc::Status s) {
      std::lock_guard guard{mtx};
      calls[i].status = std::move(s);
      ++finished;
      cv.notify_all();
    });
  }
  std::unique_lock lock{mtx};
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return finished == in_flight; }));
  int refused = 0;
  for (auto& c : calls) {
    if (c.status.error_code() == StatusCode::RESOURCE_EXHAUSTED)
      ++refused;
    else
      EXPECT_TRUE(is_ok(c.status));
  }
  EXPECT_EQ(refused, 0) << "calls were refused for want of a server thread";
  faults->slow_syncs(std::chrono::milliseconds(0));
}

} // namespace
