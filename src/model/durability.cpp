#include "parley/model/durability.hpp"

#include "enum_names.hpp"

namespace parley {

namespace {

constexpr detail::enum_table<durability, 3> durability_names{{
  {durability::sync, "sync"},
  {durability::async, "async"},
  {durability::memory, "memory"},
}};

} // namespace

std::string_view to_string(durability d) noexcept {
  return detail::enum_name(durability_names, d);
}

expected<durability> parse_durability(std::string_view text) {
  return detail::enum_parse(durability_names, text, "durability mode");
}

} // namespace parley
