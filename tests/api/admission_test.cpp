// The request buckets of parley::api::admission (src/api/admission.hpp):
// what a principal is refused, and that forgetting buckets to stay within
// tracked_principals never hands a drained principal a fresh burst.

#include "api/admission.hpp"

#include <string>

#include <gtest/gtest.h>

using namespace parley;
using namespace parley::api;

namespace {

api_limits slow_limits(size_t tracked) {
  api_limits l;
  l.requests_per_second = 0.001; // nothing refills within a test
  l.request_burst = 5;
  l.tracked_principals = tracked;
  return l;
}

} // namespace

// Verifies a principal gets its burst, then overloaded with a wait, and that
// another principal's bucket is its own.
TEST(Admission, BurstThenOverloadedPerPrincipal) {
  admission adm{slow_limits(100)};
  const auto a = principal::agent("a");
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(adm.admit_request(a).has_value()) << i;
  int wait_ms = 0;
  auto refused = adm.admit_request(a, &wait_ms);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, errc::overloaded);
  EXPECT_NE(refused.error().message.find("agent:a"), std::string::npos) << refused.error().message;
  EXPECT_GT(wait_ms, 0);
  EXPECT_TRUE(adm.admit_request(principal::agent("b")).has_value());
}

// Verifies that when more principals call than are tracked, the buckets
// forgotten are the fuller ones: a principal that drained its bucket stays
// refused however many others pass by (before, every other bucket in hash
// order was forgotten, and a drained one came back with a full burst).
TEST(Admission, ChurnOfOtherPrincipalsDoesNotRefillADrainedOne) {
  for (size_t tracked : {4, 5, 64}) {
    admission adm{slow_limits(tracked)};
    const auto drained = principal::agent("drained");
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(adm.admit_request(drained).has_value());
    ASSERT_FALSE(adm.admit_request(drained).has_value());
    for (int i = 0; i < 1000; ++i) {
      // Each passer-by spends one of five: fuller than the drained bucket.
      ASSERT_TRUE(adm.admit_request(principal::agent("passer-" + std::to_string(i))).has_value());
      ASSERT_FALSE(adm.admit_request(drained).has_value())
        << "tracked " << tracked << ": the drained principal was forgotten after " << i
        << " others and got a fresh burst";
    }
  }
}
