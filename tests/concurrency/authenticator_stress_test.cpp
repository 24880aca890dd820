// Stress tests of parley::api::authenticator's token cache (src/api/auth.hpp):
// every gRPC call's auth processor and handler authenticate through it, from
// many threads, under one mutex; verified tokens are remembered, at most
// 16384 of them (src/api/auth.cpp).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
// From the ASan runtime (<sanitizer/allocator_interface.h>, which Debian's
// g++ does not ship): bytes currently allocated through its allocator.
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#else
#include <malloc.h>
#endif

#include "api/auth.hpp"
#include "concurrency/stress.hpp"
#include "parley/auth/token.hpp"
#include "support/hand_made_jwt.hpp"

using namespace parley;
using namespace parley::api;

namespace {

using test::b64url;

// The cache capacity of src/api/auth.cpp.
constexpr size_t cache_capacity = 16384;

const auth::token_key key{"stress-test-key-0123456789abcdef-0123456789"};
const auth::token_key other_key{"another-key-fedcba9876543210-fedcba98765432"};

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

// Bytes the heap holds now (the sanitizer's allocator under ASan).
size_t heap_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

std::string token_for(const principal& who, int64_t expires_at, const auth::token_key& k = key,
                      const std::string& audience = "parley") {
  auth::token_claims c;
  c.who = who;
  c.issuer = "parley";
  c.audience = audience;
  c.issued_at = now_s() - 10;
  c.expires_at = expires_at;
  auto t = auth::issue_token(k, c);
  EXPECT_TRUE(t.has_value());
  return t ? *t : std::string{};
}

// A valid HS256 token for `who`, signed here with OpenSSL directly: the
// cache test needs tens of thousands of distinct tokens, and issue_token
// (JSON built with nlohmann::json) costs ~90 us each under ASan; verifying
// them is the authenticator's work and cannot be skipped. issue_token makes
// every other token of these tests.
std::string mint(const principal& who, int64_t expires_at) {
  const std::string header = b64url(R"({"alg":"HS256","typ":"JWT"})");
  const std::string payload = b64url(R"({"sub":")" + to_string(who) + R"(","iss":"parley","aud":"parley","exp":)"
                                     + std::to_string(expires_at) + "}");
  const std::string input = header + "." + payload;
  return input + "." + b64url(test::hmac(EVP_sha256(), key.secret, input));
}

principal nth(uint64_t i) {
  return principal::agent("agent-" + std::to_string(i));
}

// A credential and what authenticating it must give.
struct probe {
  std::string header;
  std::optional<principal> who; // nullopt: unauthenticated
};

std::vector<probe> make_probes() {
  std::vector<probe> out;
  const auto later = now_s() + 3600;
  for (uint64_t i = 0; i < 48; ++i) {
    auto p = i % 3 == 0 ? principal::observer("obs-" + std::to_string(i)) : nth(i);
    out.push_back({"Bearer " + token_for(p, later), p});
  }
  for (uint64_t i = 0; i < 16; ++i) {
    out.push_back({"Bearer " + token_for(nth(100 + i), now_s() - 3600), std::nullopt}); // expired
    auto t = token_for(nth(200 + i), later);
    t.back() = t.back() == 'A' ? 'B' : 'A'; // tampered signature
    out.push_back({"Bearer " + t, std::nullopt});
    out.push_back({"Bearer " + token_for(nth(300 + i), later, other_key), std::nullopt});
    out.push_back({"Bearer " + token_for(nth(400 + i), later, key, "elsewhere"), std::nullopt});
    out.push_back({"Bearer garbage-" + std::to_string(i), std::nullopt});
  }
  out.push_back({"Basic dXNlcjpwYXNz", std::nullopt});
  out.push_back({"Bearer ", std::nullopt});
  out.push_back({"bearer " + token_for(nth(999), later), nth(999)}); // the scheme in any case
  return out;
}

// Authenticates `p` and records a violation unless it gives its principal
// (valid) or unauthenticated (every other credential).
void check_probe(authenticator& a, const probe& p, stress::violations& bad) {
  auto r = a.authenticate(p.header, nullptr);
  if (p.who)
    bad.check(r && *r == *p.who, [&] { return "valid token of " + to_string(*p.who) + " not accepted"; });
  else
    bad.check(!r && r.error().code == errc::unauthenticated,
              [&] { return "bad credential \"" + p.header.substr(0, 24) + "...\" not refused"; });
}

auth_options options() {
  auth_options o;
  o.token_key = key;
  return o;
}

// Authenticates fresh tokens [from, to) on `threads` threads, each also
// checking random probes in between: valid ones give their principal,
// every other one is unauthenticated.
void churn(authenticator& a, const std::vector<probe>& probes, uint64_t from, uint64_t to,
           size_t threads, stress::violations& bad) {
  const auto later = now_s() + 3600;
  stress::run_together(threads, [&](size_t t) {
    auto rng = stress::rng_for(t, from);
    for (uint64_t i = from + t; i < to; i += threads) {
      const auto who = nth(10'000 + i);
      auto got = a.authenticate("Bearer " + mint(who, later), nullptr);
      bad.check(got && *got == who, [&] { return "fresh token " + std::to_string(i) + " refused"; });
      if (i % 8 != 0)
        continue;
      const auto& p = probes[rng() % probes.size()];
      check_probe(a, p, bad);
    }
  });
}

} // namespace

// Verifies that many threads authenticating a mix of valid, expired,
// tampered, foreign and garbage tokens always get the right answer (valid:
// the token's principal; anything else: unauthenticated), also while the
// cache evicts, and that the cache stays bounded: a first capacity of
// distinct tokens grows the heap by one cache's worth; another capacity and
// then some (more than 2 x capacity in all) must not grow it by as much
// again (unbounded, it would grow by the same amount; bounded, the cache has
// evicted half by then and the heap shrinks).
TEST(AuthenticatorStress, TokenCacheAnswersRightAndStaysBounded) {
  authenticator a{options()};
  const auto probes = make_probes();
  stress::violations bad;
  const size_t before = heap_in_use();
  // Just short of the capacity (the probes' valid tokens take a few places).
  const uint64_t first = cache_capacity - 100;
  churn(a, probes, 0, first, 4, bad);
  const size_t filled = heap_in_use();
  const uint64_t total = (2 * cache_capacity + 100) * stress::multiplier();
  churn(a, probes, first, total, 4, bad);
  const size_t after = heap_in_use();

  EXPECT_EQ(bad.count(), 0u) << bad.summary();
  const auto grown_fill = static_cast<int64_t>(filled) - static_cast<int64_t>(before);
  const auto grown_more = static_cast<int64_t>(after) - static_cast<int64_t>(filled);
  EXPECT_GT(grown_fill, 0);
  EXPECT_LT(grown_more, grown_fill / 2) << "heap grew " << grown_fill << " bytes for the first "
                                        << first << " tokens, then " << grown_more << " bytes for "
                                        << total - first << " more";
  // Tokens evicted long ago are verified again, correctly.
  for (uint64_t i : {uint64_t{0}, uint64_t{1}, uint64_t{cache_capacity / 2}}) {
    const auto who = nth(10'000 + i);
    auto got = a.authenticate("Bearer " + mint(who, now_s() + 3600), nullptr);
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, who);
  }
}

// Verifies that the same tokens authenticated by many threads at once (all
// missing the cache, all inserting) give the right principal every time and
// that a refused token is never served from the cache.
TEST(AuthenticatorStress, SameTokensFromManyThreadsAgree) {
  authenticator a{options()};
  const auto probes = make_probes();
  stress::violations bad;
  const uint64_t iterations = stress::scaled(6000);
  stress::run_together(4, [&](size_t t) {
    auto rng = stress::rng_for(t);
    for (uint64_t i = 0; i < iterations; ++i) {
      const auto& p = probes[(i + rng() % 3) % probes.size()];
      check_probe(a, p, bad);
    }
  });
  EXPECT_EQ(bad.count(), 0u) << bad.summary();
}
