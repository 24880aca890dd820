#include "api/admission.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace parley::api {

void admission::forget_idle_buckets(clock::time_point now) {
  // Forgetting a bucket gives its principal a full one back, so forget
  // those that lose least by it: first the ones refilled completely (they
  // hold nothing a new one would not), then, if all are busy, the fuller
  // half. A drained principal is never forgotten before a fuller one.
  auto level = [&](const bucket& b) {
    const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
    return std::min(limits_.request_burst, b.tokens + elapsed * limits_.requests_per_second);
  };
  std::erase_if(buckets_, [&](auto& kv) { return level(kv.second) >= limits_.request_burst; });
  if (buckets_.size() < limits_.tracked_principals || buckets_.empty())
    return;
  std::vector<double> levels;
  levels.reserve(buckets_.size());
  for (auto& kv : buckets_)
    levels.push_back(level(kv.second));
  auto mid = levels.begin() + static_cast<ptrdiff_t>(levels.size() / 2);
  std::nth_element(levels.begin(), mid, levels.end());
  const double median = *mid;
  size_t forget = buckets_.size() - buckets_.size() / 2; // at least one
  std::erase_if(buckets_, [&](auto& kv) {
    if (forget == 0 || level(kv.second) < median)
      return false;
    --forget;
    return true;
  });
}

expected<void> admission::admit_request(const principal& p, int* retry_after_ms) {
  if (limits_.requests_per_second <= 0)
    return {};
  const auto now = clock::now();
  auto key = to_string(p);
  std::lock_guard guard{mtx_};
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= limits_.tracked_principals)
      forget_idle_buckets(now);
    it = buckets_.emplace(std::move(key), bucket{limits_.request_burst, now}).first;
  }
  auto& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.refilled).count();
  b.tokens = std::min(limits_.request_burst, b.tokens + elapsed * limits_.requests_per_second);
  b.refilled = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return {};
  }
  const int wait_ms = static_cast<int>(std::ceil((1 - b.tokens) / limits_.requests_per_second * 1000));
  if (retry_after_ms)
    *retry_after_ms = std::max(1, wait_ms);
  return unexpected{errc::overloaded, "principal '" + it->first + "' makes more than "
                                        + std::to_string(static_cast<int64_t>(limits_.requests_per_second))
                                        + " requests per second (limits.requests_per_second); retry in "
                                        + std::to_string(std::max(1, wait_ms)) + " ms"};
}

admission::stream_slot::~stream_slot() {
  std::lock_guard guard{a_->mtx_};
  if (auto it = a_->streams_.find(key_); it != a_->streams_.end() && --it->second == 0)
    a_->streams_.erase(it);
}

expected<std::unique_ptr<admission::stream_slot>> admission::open_stream(const principal& p) {
  auto key = to_string(p);
  std::lock_guard guard{mtx_};
  auto& n = streams_[key];
  if (n >= limits_.streams_per_principal)
    return unexpected{errc::overloaded, "principal '" + key + "' has "
                                          + std::to_string(limits_.streams_per_principal)
                                          + " streams open (limits.streams_per_principal): close one first"};
  ++n;
  return std::make_unique<stream_slot>(this, std::move(key));
}

uint32_t admission::streams_of(const principal& p) {
  std::lock_guard guard{mtx_};
  auto it = streams_.find(to_string(p));
  return it == streams_.end() ? 0 : it->second;
}

} // namespace parley::api
