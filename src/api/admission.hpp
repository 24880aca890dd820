#pragma once

// What one caller may make the server do at once: a request rate per
// principal (a token bucket) and a number of open streams per principal.
// Refusals are overloaded (RESOURCE_EXHAUSTED) with how long to wait.
// Thread-safe: one mutex, held for a few map operations per call.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "parley/api/server.hpp"
#include "parley/auth/principal.hpp"

namespace parley::api {

class admission {
public:
  explicit admission(api_limits l) : limits_(l) {}

  /// Takes one request of `p` from its bucket; overloaded (and the wait in
  /// `retry_after_ms`) when the bucket is empty.
  expected<void> admit_request(const principal& p, int* retry_after_ms = nullptr);

  /// Frees its stream slot when destroyed.
  class stream_slot {
  public:
    stream_slot(admission* a, std::string key) : a_(a), key_(std::move(key)) {}
    ~stream_slot();
    stream_slot(const stream_slot&) = delete;
    stream_slot& operator=(const stream_slot&) = delete;

  private:
    admission* a_;
    std::string key_;
  };

  /// A stream of `p` opens; overloaded at limits.streams_per_principal.
  expected<std::unique_ptr<stream_slot>> open_stream(const principal& p);

  /// Streams open now of `p` (tests, metrics).
  uint32_t streams_of(const principal& p);

private:
  using clock = std::chrono::steady_clock;
  struct bucket {
    double tokens = 0;
    clock::time_point refilled;
  };
  void forget_idle_buckets(clock::time_point now);

  api_limits limits_;
  std::mutex mtx_;
  std::unordered_map<std::string, bucket> buckets_;
  std::unordered_map<std::string, uint32_t> streams_;
};

} // namespace parley::api
