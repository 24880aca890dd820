#pragma once

// A behaviour for node tests that records what an agent serves.

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/node_fixture.hpp"

namespace parley::test_support {

/// Records every message it serves ("from/id", in serving order); with a
/// gate, waits there after recording the first.
class recording_behavior final : public agent_behavior {
public:
  explicit recording_behavior(std::shared_ptr<gate> g = nullptr) : gate_(std::move(g)) {}

  void react(const behavior_view&, const behavior_input& in,
             std::vector<behavior_action>&) override {
    if (in.k != behavior_input::kind::message)
      return;
    bool first = false;
    {
      std::lock_guard guard{mtx_};
      served_.push_back(in.msg->from + "/" + in.msg->id);
      first = served_.size() == 1;
      cv_.notify_all();
    }
    if (first && gate_)
      gate_->arrive_and_wait();
  }
  std::string_view name() const noexcept override { return "recording"; }

  bool wait_served(size_t n) {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, test_support::wait_timeout, [&] { return served_.size() >= n; });
  }
  std::vector<std::string> served() {
    std::lock_guard guard{mtx_};
    return served_;
  }

private:
  std::shared_ptr<gate> gate_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::string> served_;
};

} // namespace parley::test_support
