#pragma once

// One table per enum gives both to_string and parse, so the two never drift.

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "parley/error.hpp"

namespace parley::detail {

template <class E, size_t N>
using enum_table = std::array<std::pair<E, std::string_view>, N>;

template <class E, size_t N>
std::string_view enum_name(const enum_table<E, N>& t, E x) noexcept {
  for (auto& [v, s] : t)
    if (v == x)
      return s;
  return "unknown";
}

template <class E, size_t N>
expected<E> enum_parse(const enum_table<E, N>& t, std::string_view text, std::string_view what) {
  for (auto& [v, s] : t)
    if (s == text)
      return v;
  std::string msg = "unknown ";
  msg += what;
  msg += " '";
  msg += text;
  msg += "' (expected one of:";
  for (auto& entry : t) {
    msg += ' ';
    msg += entry.second;
  }
  msg += ')';
  return unexpected{errc::invalid_argument, std::move(msg)};
}

} // namespace parley::detail
