#include "actors/messages.hpp"

namespace parley {

caf::error to_caf(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), errc_category, caf::make_message(std::move(message))};
}

caf::error to_caf(const error& e) {
  return to_caf(e.code, e.message);
}

error from_caf(const caf::error& e, const caf::actor_system& sys) {
  if (e.category() == errc_category) {
    std::string text;
    if (e.context().match_elements<std::string>())
      text = e.context().get_as<std::string>(0);
    return error{static_cast<errc>(e.code()), std::move(text)};
  }
  // No answer in time: the request may still take effect.
  if (e == caf::sec::request_timeout)
    return error{errc::deadline_exceeded, "no answer within the call timeout: the change may or may "
                                          "not have happened (a send with an id may be retried to "
                                          "learn its outcome)"};
  return error{errc::unavailable, "actor layer: " + sys.render(e)};
}

} // namespace parley
