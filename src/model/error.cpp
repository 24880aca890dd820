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
    case errc::storage_failure: return "storage_failure";
    case errc::internal: return "internal";
  }
  return "unknown";
}

std::string to_string(const error& x) {
  std::string out{to_string(x.code)};
  out += ": ";
  out += x.message;
  return out;
}

} // namespace parley
