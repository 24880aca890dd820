#pragma once

// Small deterministic generators: simulations and moderators must replay
// exactly from a seed, on every platform, so no std:: distributions here.

#include <cstdint>
#include <string_view>

namespace parley {

/// SplitMix64: advances `state` and returns the next value.
inline uint64_t splitmix64(uint64_t& state) noexcept {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// FNV-1a 64 of `s`, continuing from `h` (stable across runs and builds).
inline uint64_t fnv1a(std::string_view s, uint64_t h = 1469598103934665603ull) noexcept {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace parley
