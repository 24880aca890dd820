#include "parley/model/clock.hpp"

#include <chrono>

namespace parley {

timestamp system_clock::now() const noexcept {
  using namespace std::chrono;
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

} // namespace parley
