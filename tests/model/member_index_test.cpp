// member_index: a room member's position found by id, through appends,
// removals and rebuilds, against a plain linear search.

#include "parley/model/member_index.hpp"

#include <algorithm>
#include <string>

#include <gtest/gtest.h>

#include "parley/model/random.hpp"

using namespace parley;

namespace {

std::optional<size_t> linear(const std::vector<room_member>& ms, const std::string& id) {
  auto it = std::find_if(ms.begin(), ms.end(), [&](const room_member& m) { return m.id == id; });
  return it == ms.end() ? std::nullopt : std::optional<size_t>{static_cast<size_t>(it - ms.begin())};
}

} // namespace

// Verifies an empty index finds nothing and a rebuilt one finds every
// member at its position, and nobody else.
TEST(MemberIndex, FindsEveryMemberAtItsPosition) {
  member_index idx;
  std::vector<room_member> ms;
  EXPECT_FALSE(idx.find(ms, "a").has_value());
  for (int i = 0; i < 1000; ++i)
    ms.push_back({"agent-" + std::to_string(i)});
  idx.rebuild(ms);
  for (size_t i = 0; i < ms.size(); ++i)
    ASSERT_EQ(idx.find(ms, ms[i].id), i);
  EXPECT_FALSE(idx.find(ms, "agent-1000").has_value());
  EXPECT_FALSE(idx.find(ms, "").has_value());
}

// Verifies random appends (growing the table many times) and removals
// (with a rebuild, as the moderator does) always agree with a linear search.
TEST(MemberIndex, AgreesWithALinearSearchThroughJoinsAndLeaves) {
  member_index idx;
  std::vector<room_member> ms;
  uint64_t rng = 7;
  for (int step = 0; step < 20000; ++step) {
    const auto id = "m" + std::to_string(splitmix64(rng) % 3000);
    const auto at = linear(ms, id);
    ASSERT_EQ(idx.find(ms, id), at) << "step " << step << ", id " << id;
    if (!at) {
      ms.push_back({id});
      idx.add(ms, ms.size() - 1);
    } else if (splitmix64(rng) % 3 == 0) {
      ms.erase(ms.begin() + static_cast<ptrdiff_t>(*at));
      idx.rebuild(ms);
    }
  }
  for (size_t i = 0; i < ms.size(); ++i)
    ASSERT_EQ(idx.find(ms, ms[i].id), i);
}
