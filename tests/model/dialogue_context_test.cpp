#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "parley/model/attention.hpp"

namespace parley {
namespace {

context_entry entry(std::string text, uint32_t tokens,
                    context_entry::role r = context_entry::role::peer) {
  context_entry e;
  e.r = r;
  e.from = r == context_entry::role::self ? "me" : "bob";
  e.text = std::move(text);
  e.tokens = tokens;
  return e;
}

std::vector<std::string> texts(const dialogue_context& c) {
  std::vector<std::string> out;
  for (auto& e : c.entries())
    out.push_back(e.text);
  return out;
}

uint32_t sum_tokens(const dialogue_context& c) {
  uint32_t n = 0;
  for (auto& e : c.entries())
    n += e.tokens;
  return n;
}

using strings = std::vector<std::string>;

// Verifies estimate_tokens is ceil(bytes / 4).
TEST(EstimateTokens, IsCeilingOfBytesOverFour) {
  EXPECT_EQ(estimate_tokens(""), 0u);
  EXPECT_EQ(estimate_tokens("a"), 1u);
  EXPECT_EQ(estimate_tokens("abc"), 1u);
  EXPECT_EQ(estimate_tokens("abcd"), 1u);
  EXPECT_EQ(estimate_tokens("abcde"), 2u);
  EXPECT_EQ(estimate_tokens(std::string(4096, 'x')), 1024u);
  EXPECT_EQ(estimate_tokens(std::string(4097, 'x')), 1025u);
  EXPECT_EQ(estimate_tokens("\xC3\xA9"), 1u); // bytes, not characters
}

// Verifies add() estimates tokens when none are given and keeps explicit counts.
TEST(DialogueContext, AddEstimatesMissingTokenCounts) {
  dialogue_context c{1000};
  c.add(entry("0123456789", 0)); // 10 bytes -> 3 tokens
  c.add(entry("x", 7));
  ASSERT_EQ(c.entries().size(), 2u);
  EXPECT_EQ(c.entries()[0].tokens, 3u);
  EXPECT_EQ(c.entries()[1].tokens, 7u);
  EXPECT_EQ(c.tokens(), 10u);
  EXPECT_EQ(c.budget(), 1000u);
}

// Verifies nothing is dropped while the total stays at or below 90% of the budget.
TEST(DialogueContext, KeepsEverythingUpToNinetyPercent) {
  dialogue_context c{100};
  for (int i = 0; i < 9; ++i)
    c.add(entry("e" + std::to_string(i), 10));
  EXPECT_EQ(c.tokens(), 90u); // exactly 90%
  EXPECT_EQ(c.entries().size(), 9u);
}

// Verifies passing 90% drops the oldest entries until the total is at most 60%.
TEST(DialogueContext, TrimsOldestDownToSixtyPercent) {
  dialogue_context c{100};
  for (int i = 0; i < 10; ++i)
    c.add(entry("e" + std::to_string(i), 10));
  // 100 > 90: drop the 4 oldest to reach 60.
  EXPECT_EQ(c.tokens(), 60u);
  EXPECT_EQ(texts(c), (strings{"e4", "e5", "e6", "e7", "e8", "e9"}));
  EXPECT_EQ(c.tokens(), sum_tokens(c));
}

// Verifies trimming stops as soon as the total is at most 60%, not earlier or later.
TEST(DialogueContext, TrimStopsAtFirstFitUnderSixtyPercent) {
  dialogue_context c{100};
  c.add(entry("a", 20));
  c.add(entry("b", 20));
  c.add(entry("c", 5));
  c.add(entry("d", 5));
  c.add(entry("e", 5));
  c.add(entry("f", 5));
  c.add(entry("g", 5));
  c.add(entry("h", 20)); // 85 so far, no trim
  EXPECT_EQ(c.entries().size(), 8u);
  c.add(entry("i", 10)); // 95 > 90: drop a (75), b (55) -> at most 60, stop
  EXPECT_EQ(texts(c), (strings{"c", "d", "e", "f", "g", "h", "i"}));
  EXPECT_EQ(c.tokens(), 55u);
}

// Verifies system entries are never dropped, even when they are the oldest.
TEST(DialogueContext, NeverDropsSystemEntries) {
  dialogue_context c{100};
  c.add(entry("sys", 10, context_entry::role::system));
  for (int i = 0; i < 9; ++i)
    c.add(entry("e" + std::to_string(i), 10, i % 2 ? context_entry::role::self
                                                    : context_entry::role::peer));
  // 100 > 90: the system entry stays; the 4 oldest others go.
  EXPECT_EQ(texts(c), (strings{"sys", "e4", "e5", "e6", "e7", "e8"}));
  EXPECT_EQ(c.tokens(), 60u);
  EXPECT_EQ(c.entries().front().r, context_entry::role::system);
}

// Verifies only system entries over budget are all kept (each cut to a
// fifth of the budget, as every entry is).
TEST(DialogueContext, KeepsSystemEntriesEvenOverBudget) {
  dialogue_context c{10};
  for (int i = 0; i < 8; ++i)
    c.add(entry("s" + std::to_string(i), 5, context_entry::role::system));
  EXPECT_EQ(c.entries().size(), 8u);
  EXPECT_EQ(c.tokens(), 16u);
}

// Verifies system entries in the middle survive while non-system entries around them go.
TEST(DialogueContext, SkipsSystemEntriesInTheMiddle) {
  dialogue_context c{100};
  c.add(entry("p0", 20));
  c.add(entry("sys", 10, context_entry::role::system));
  c.add(entry("p1", 20));
  for (int i = 0; i < 5; ++i)
    c.add(entry("t" + std::to_string(i), 8)); // 50 + 40 = 90, no trim yet
  EXPECT_EQ(c.entries().size(), 8u);
  c.add(entry("t5", 8)); // 98 > 90: drop p0 (78), skip sys, drop p1 (58)
  EXPECT_EQ(texts(c), (strings{"sys", "t0", "t1", "t2", "t3", "t4", "t5"}));
  EXPECT_EQ(c.tokens(), 58u);
}

// Verifies the last 5 entries are kept even when that leaves the total above 60%.
TEST(DialogueContext, AlwaysKeepsTheLastFiveEntries) {
  ASSERT_EQ(dialogue_context::keep_last, 5u);
  dialogue_context c{100};
  for (int i = 0; i < 3; ++i)
    c.add(entry("small" + std::to_string(i), 1));
  for (int i = 0; i < 5; ++i)
    c.add(entry("big" + std::to_string(i), 20));
  // 103 > 90: the small ones go, then the 5 big ones are protected at 100 tokens.
  EXPECT_EQ(texts(c), (strings{"big0", "big1", "big2", "big3", "big4"}));
  EXPECT_EQ(c.tokens(), 100u);

  // An entry over a fifth of the budget counts as a fifth: the five kept
  // entries never hold more than the budget.
  c.add(entry("huge", 500));
  EXPECT_EQ(texts(c), (strings{"big1", "big2", "big3", "big4", "huge"}));
  EXPECT_EQ(c.tokens(), 100u);
  EXPECT_EQ(c.tokens(), sum_tokens(c));
}

// Verifies a long text is cut to a fifth of the budget, on a UTF-8
// boundary, and marked; the budget then holds for the five kept entries.
TEST(DialogueContext, TruncatesLargeEntries) {
  dialogue_context c{100}; // at most 20 tokens (80 bytes) per entry
  std::string text;
  for (int i = 0; i < 100; ++i)
    text += "\xc3\xa9"; // "é", two bytes
  for (int i = 0; i < 6; ++i)
    c.add({context_entry::role::peer, "p", text, 0});
  ASSERT_EQ(c.entries().size(), 5u);
  for (auto& e : c.entries()) {
    EXPECT_LE(e.tokens, c.max_entry_tokens());
    EXPECT_LE(e.text.size(), size_t{c.max_entry_tokens()} * 4);
    ASSERT_TRUE(e.text.ends_with(dialogue_context::truncation_mark));
    auto body = e.text.substr(0, e.text.size() - dialogue_context::truncation_mark.size());
    EXPECT_EQ(body.size() % 2, 0u) << "cut inside a character";
  }
  EXPECT_LE(c.tokens(), c.budget());
}

// Verifies a context created by the attention queue uses the configured budget.
TEST(DialogueContext, QueueContextsUseConfiguredBudget) {
  attention_params params;
  params.context_budget_tokens = 123;
  attention_queue q{&params};
  auto& c = q.context(dialogue_key::direct("bob"));
  EXPECT_EQ(c.budget(), 123u);
  EXPECT_EQ(&c, &q.context(dialogue_key::direct("bob")));
}

} // namespace
} // namespace parley
