#pragma once

// Sizes shared by a Parley figure and its raw CAF baseline, so that both
// sides of a ratio measure the same shape of work.

#include <cstdint>
#include <string_view>

namespace bench {

/// CAF worker threads, for raw CAF and Parley alike (= cores here).
inline constexpr unsigned scheduler_threads = 2;

/// Figures 1 and 2: agents (or raw actors) in one process.
inline constexpr uint64_t agents_full = 1'000'000;
inline constexpr uint64_t agents_quick = 100'000;
/// Figure 1: rooms the population is spread over (2 per agent).
inline constexpr uint64_t population_rooms = 1000;
inline constexpr uint64_t skill_catalogue = 50;

/// Figure 3: agents in random pairs, and messages in flight per pair.
inline constexpr uint64_t pair_agents = 10'000;
inline constexpr uint32_t balls_per_pair = 4;

/// Figure 4: members of the one room (the speaker included), and room
/// messages per window (a member never has more than this pending, far
/// below the inbox limit of 1024).
inline constexpr uint64_t room_members = 1000;
inline constexpr uint32_t fanout_window = 100;

/// Figure 5: rooms of 2 agents turning in parallel (raw: actor pairs).
inline constexpr uint64_t turn_rooms = 1000;

/// Measured time of the throughput figures, after a warm-up.
inline constexpr double seconds_full = 5.0;
inline constexpr double seconds_quick = 1.0;
inline constexpr double warmup_s = 0.5;

/// Payloads (a short chat line).
inline constexpr std::string_view direct_content = "ping: how is the plan coming along?";
inline constexpr std::string_view room_content = "status update: the draft is ready for review";

} // namespace bench
