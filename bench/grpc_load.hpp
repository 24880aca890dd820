#pragma once

// Client-side load of the API figures, shared by api_bench (parley.v1 over
// a node), cluster_bench (parley.v1 over parleyd processes; both through
// link_load.hpp) and raw_grpc (the same shapes against a server that does
// nothing else): channels with a connection of their own, and a pump that
// keeps a window of batches in flight on a bidirectional stream.

#include <grpcpp/grpcpp.h>

#include "bench_report.hpp"
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace bench {

/// A channel to `address` with a TCP connection of its own: gRPC shares
/// connections between channels with equal arguments in one process, and
/// the clients of a figure stand for separate processes.
inline std::shared_ptr<grpc::Channel> own_channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

/// Context switches of the process so far, voluntary and not (every thread
/// that blocks and is woken costs one; on this VM a wake-up is expensive).
inline long context_switches() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_nvcsw + ru.ru_nivcsw;
}

/// What a unary load measured.
struct unary_load {
  uint64_t calls = 0;
  double secs = 0;
  double cpu_s = 0;
  long switches = 0;
};

/// `threads` client threads, each calling its own `make_caller(t)()` one
/// call after the other (a sequential client each, as separate processes
/// would be): `warmup` seconds first, then `secs` measured.
template <class MakeCaller>
unary_load run_unary_threads(unsigned threads, double warmup, double secs, MakeCaller make_caller) {
  struct alignas(64) counter {
    std::atomic<uint64_t> n{0};
  };
  std::vector<counter> done(threads);
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (unsigned t = 0; t < threads; ++t)
    clients.emplace_back([&, t, call = make_caller(t)]() mutable {
      while (!stop.load(std::memory_order_relaxed)) {
        call();
        done[t].n.fetch_add(1, std::memory_order_relaxed);
      }
    });
  auto total = [&] {
    uint64_t sum = 0;
    for (auto& c : done)
      sum += c.n.load(std::memory_order_relaxed);
    return sum;
  };
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  unary_load r;
  const uint64_t first = total();
  const double cpu0 = process_cpu_s();
  const long cs0 = context_switches();
  const auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  r.calls = total() - first;
  r.secs = seconds_since(t0);
  r.cpu_s = process_cpu_s() - cpu0;
  r.switches = context_switches() - cs0;
  stop = true;
  for (auto& c : clients)
    c.join();
  return r;
}

/// What a pump makes of one message the server streams back.
enum class answer { ok, failed, other };

/// Writes `batches` (cycled) on a bidirectional stream from one thread
/// while another reads the answers, `per_batch` answers per batch, in order.
/// At most `window` batches are written and not yet fully answered, so the
/// stream is never idle for a round trip and never floods the server. The
/// stream must be open (and past any handshake) when the pump gets it.
/// Runs until destroyed; the process may also just exit.
///
/// With `per_s` > 0 the writes keep a pace (per_s answers/s: a batch every
/// per_batch / per_s seconds) instead of going as fast as the window lets
/// them. stop_writing() and wait_idle() end the load without cancelling
/// the stream (destroying the pump cancels it): cancelling a Parley agent
/// link while a batch of it is in flight can crash parleyd (see
/// docs/performance.md, "Across nodes").
template <class Out, class In>
class batch_pump {
public:
  using stream_type = grpc::ClientReaderWriter<Out, In>;
  /// Judges one answer; on a failure it may say why in its second argument.
  using judge_fn = std::function<answer(const In&, std::string&)>;

  batch_pump(std::unique_ptr<grpc::ClientContext> ctx, std::unique_ptr<stream_type> stream,
             std::vector<Out> batches, size_t per_batch, unsigned window, judge_fn judge,
             double per_s = 0)
    : ctx_(std::move(ctx)), stream_(std::move(stream)), batches_(std::move(batches)),
      per_batch_(per_batch), window_(window), judge_(std::move(judge)),
      interval_(per_s > 0 ? std::chrono::duration_cast<clock_type::duration>(
                              std::chrono::duration<double>(static_cast<double>(per_batch) / per_s))
                          : clock_type::duration::zero()) {
    reader_ = std::thread([this] { read_loop(); });
    writer_ = std::thread([this] { write_loop(); });
  }

  ~batch_pump() {
    {
      std::lock_guard guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    ctx_->TryCancel();
    if (writer_.joinable())
      writer_.join();
    reader_.join();
  }

  batch_pump(const batch_pump&) = delete;
  batch_pump& operator=(const batch_pump&) = delete;

  /// No batch is written after this returns (the stream stays open and is
  /// still read).
  void stop_writing() {
    {
      std::lock_guard guard{mtx_};
      paused_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable())
      writer_.join();
  }
  /// Waits until every batch written has been answered; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout) {
    std::unique_lock guard{mtx_};
    return cv_.wait_for(guard, timeout, [this] { return stop_ || in_flight_ == 0; }) && in_flight_ == 0;
  }

  /// Answers judged ok / failed so far.
  uint64_t acknowledged() const { return ok_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  /// The message of the first failed answer (empty if none).
  std::string first_failure() const {
    std::lock_guard guard{mtx_};
    return first_failure_;
  }
  /// The stream broke (a write or read failed before the pump stopped).
  bool broken() const { return broken_.load(); }
  /// Paced: batches written later than their time by more than one
  /// interval (the stream did not keep the pace).
  uint64_t late() const { return late_.load(std::memory_order_relaxed); }

private:
  void write_loop() {
    const bool paced = interval_ != clock_type::duration::zero();
    auto next = clock_type::now();
    for (size_t i = 0;; ++i) {
      if (paced)
        std::this_thread::sleep_until(next);
      {
        std::unique_lock guard{mtx_};
        cv_.wait(guard, [this] { return stop_ || paused_ || in_flight_ < window_; });
        if (stop_ || paused_)
          return;
        ++in_flight_;
      }
      if (paced && clock_type::now() > next + interval_)
        late_.fetch_add(1, std::memory_order_relaxed);
      if (!stream_->Write(batches_[i % batches_.size()])) {
        broken_ = true;
        return;
      }
      next += interval_;
    }
  }

  void read_loop() {
    In x;
    std::string why;
    size_t in_batch = 0;
    while (stream_->Read(&x)) {
      switch (judge_(x, why)) {
        case answer::ok:
          ok_.fetch_add(1, std::memory_order_relaxed);
          break;
        case answer::failed:
          if (failed_.fetch_add(1, std::memory_order_relaxed) == 0) {
            std::lock_guard guard{mtx_};
            first_failure_ = why;
          }
          break;
        case answer::other:
          continue;
      }
      if (++in_batch == per_batch_) {
        in_batch = 0;
        {
          std::lock_guard guard{mtx_};
          --in_flight_;
        }
        cv_.notify_all();
      }
    }
    std::lock_guard guard{mtx_};
    if (!stop_)
      broken_ = true;
    stop_ = true;
    cv_.notify_all();
  }

  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<stream_type> stream_;
  std::vector<Out> batches_;
  size_t per_batch_;
  unsigned window_;
  judge_fn judge_;
  clock_type::duration interval_; // zero: not paced
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  unsigned in_flight_ = 0;
  bool stop_ = false;
  bool paused_ = false;
  std::string first_failure_;
  std::atomic<uint64_t> ok_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> late_{0};
  std::atomic<bool> broken_{false};
  std::thread reader_;
  std::thread writer_;
};

/// Sum of acknowledged answers over pumps.
template <class Pumps>
uint64_t acknowledged(const Pumps& pumps) {
  uint64_t sum = 0;
  for (auto& p : pumps)
    sum += p->acknowledged();
  return sum;
}

template <class Pumps>
uint64_t failed(const Pumps& pumps) {
  uint64_t sum = 0;
  for (auto& p : pumps)
    sum += p->failed();
  return sum;
}

} // namespace bench
