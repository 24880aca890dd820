// Stress tests of parley::api::admission (src/api/admission.hpp): the
// per-principal request buckets and stream counts that every gRPC thread
// consults, under one mutex.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/admission.hpp"
#include "concurrency/stress.hpp"

using namespace parley;
using namespace parley::api;

namespace {

principal nth(size_t i) {
  return principal::agent("agent-" + std::to_string(i));
}

} // namespace

// Verifies that with many threads opening and closing streams for
// overlapping principals, no principal ever has more open streams than the
// limit (neither by the test's count nor by streams_of), refusals are
// overloaded, and every count returns to 0 once all slots are gone.
TEST(AdmissionStress, OpenStreamsNeverExceedTheLimitAndReturnToZero) {
  constexpr size_t principals = 12;
  constexpr uint32_t limit = 3;
  const uint64_t iterations = stress::scaled(40000);
  api_limits lim;
  lim.streams_per_principal = limit;
  admission adm{lim};
  std::vector<std::atomic<int>> open(principals);
  std::vector<std::atomic<uint64_t>> refused(principals);
  stress::violations bad;

  stress::run_together(6, [&](size_t t) {
    auto rng = stress::rng_for(t);
    std::vector<std::pair<size_t, std::unique_ptr<admission::stream_slot>>> mine;
    for (uint64_t i = 0; i < iterations; ++i) {
      const size_t p = rng() % principals;
      if (mine.size() < 8 && rng() % 2 == 0) {
        auto slot = adm.open_stream(nth(p));
        if (!slot) {
          bad.check(slot.error().code == errc::overloaded, [&] { return "refusal: " + to_string(slot.error()); });
          refused[p].fetch_add(1);
          continue;
        }
        const int now_open = open[p].fetch_add(1) + 1;
        bad.check(now_open <= static_cast<int>(limit),
                  [&] { return std::to_string(now_open) + " streams open for " + to_string(nth(p)); });
        mine.emplace_back(p, std::move(*slot));
      } else if (!mine.empty()) {
        const size_t j = rng() % mine.size();
        open[mine[j].first].fetch_sub(1); // before the slot frees it
        mine.erase(mine.begin() + static_cast<ptrdiff_t>(j));
      }
      const uint32_t seen = adm.streams_of(nth(p));
      bad.check(seen <= limit, [&] { return "streams_of = " + std::to_string(seen) + " for " + to_string(nth(p)); });
    }
    for (auto& [p, slot] : mine)
      open[p].fetch_sub(1);
  });

  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  uint64_t total_refused = 0;
  for (size_t p = 0; p < principals; ++p) {
    EXPECT_EQ(adm.streams_of(nth(p)), 0u) << to_string(nth(p));
    EXPECT_EQ(open[p].load(), 0);
    total_refused += refused[p].load();
  }
  EXPECT_GT(total_refused, 0u) << "the limit was never reached: the test is too gentle";
  // A principal at zero can open up to the limit again, and no more.
  std::vector<std::unique_ptr<admission::stream_slot>> again;
  for (uint32_t i = 0; i < limit; ++i) {
    auto s = adm.open_stream(nth(0));
    ASSERT_TRUE(s);
    again.push_back(std::move(*s));
  }
  EXPECT_FALSE(adm.open_stream(nth(0)));
}

// Verifies that many threads spending the buckets of a few principals at
// once are admitted at most burst + rate * elapsed times per principal (with
// slack for the timing of the measurement), refused with a positive
// retry-after otherwise, and admitted at least the burst.
TEST(AdmissionStress, RequestAdmissionsStayWithinBurstPlusRate) {
  constexpr size_t principals = 3;
  api_limits lim;
  lim.requests_per_second = 2000;
  lim.request_burst = 100;
  admission adm{lim};
  std::vector<std::atomic<uint64_t>> admitted(principals);
  stress::violations bad;
  const auto duration = std::chrono::milliseconds(500 * stress::multiplier());

  const auto start = std::chrono::steady_clock::now();
  stress::run_together(6, [&](size_t t) {
    auto rng = stress::rng_for(t);
    const auto until = start + duration;
    while (std::chrono::steady_clock::now() < until) {
      const size_t p = rng() % principals;
      int retry = 0;
      if (auto ok = adm.admit_request(nth(p), &retry)) {
        admitted[p].fetch_add(1);
      } else {
        bad.check(ok.error().code == errc::overloaded, [&] { return "refusal: " + to_string(ok.error()); });
        bad.check(retry >= 1 && retry <= 1000, [&] { return "retry after " + std::to_string(retry) + " ms"; });
      }
    }
  });
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  // The start is taken before the threads run, the end after they stopped:
  // elapsed bounds the window each bucket saw. Slack: 5% and 10 requests.
  const double bound = lim.request_burst + lim.requests_per_second * elapsed;
  for (size_t p = 0; p < principals; ++p) {
    const auto n = admitted[p].load();
    EXPECT_LE(static_cast<double>(n), bound * 1.05 + 10) << to_string(nth(p)) << " in " << elapsed << " s";
    EXPECT_GE(n, static_cast<uint64_t>(lim.request_burst)) << to_string(nth(p));
  }
}

// Verifies that with more principals than tracked_principals, the buckets
// are forgotten and recreated under concurrent admissions without a crash,
// every answer is an admission or an overloaded refusal, and streams are
// unaffected by the churn.
TEST(AdmissionStress, BucketChurnBeyondTrackedPrincipalsStaysSound) {
  api_limits lim;
  lim.requests_per_second = 1000;
  lim.request_burst = 5;
  lim.tracked_principals = 16;
  lim.streams_per_principal = 2;
  admission adm{lim};
  const uint64_t iterations = stress::scaled(40000);
  stress::violations bad;
  stress::run_together(4, [&](size_t t) {
    auto rng = stress::rng_for(t);
    for (uint64_t i = 0; i < iterations; ++i) {
      const size_t p = rng() % 200;
      if (auto ok = adm.admit_request(nth(p)); !ok)
        bad.check(ok.error().code == errc::overloaded, [&] { return "refusal: " + to_string(ok.error()); });
      if (i % 16 == 0) {
        auto s = adm.open_stream(nth(p));
        bad.check(adm.streams_of(nth(p)) <= lim.streams_per_principal, [] { return std::string{"over the limit"}; });
      }
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  for (size_t p = 0; p < 200; ++p)
    ASSERT_EQ(adm.streams_of(nth(p)), 0u);
}
