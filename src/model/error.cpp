#include "parley/error.hpp"

namespace parley {

std::string_view to_string(errc x) noexcept {
  switch (x) {
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::already_exists: return "already_exists";
    case errc::permission_denied: return "permission_denied";
    case errc::failed_precondition: return "failed_precondition";
    case errc::overloaded: return "overloaded";
    case errc::unavailable: return "unavailable";
    case errc::out_of_range: return "out_of_range";
    case errc::storage_failure: return "storage_failure";
    case errc::internal: return "internal";
    case errc::unauthenticated: return "unauthenticated";
    case errc::deadline_exceeded: return "deadline_exceeded";
  }
  return "unknown";
}

errc parse_errc(std::string_view text) noexcept {
  for (uint8_t i = 1; i <= static_cast<uint8_t>(errc::deadline_exceeded); ++i)
    if (to_string(static_cast<errc>(i)) == text)
      return static_cast<errc>(i);
  return errc::internal;
}

std::string to_string(const error& x) {
  std::string out{to_string(x.code)};
  out += ": ";
  out += x.message;
  return out;
}

} // namespace parley
