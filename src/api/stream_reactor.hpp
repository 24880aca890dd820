#pragma once

// The frame both streaming rpcs share (Events.Subscribe, AgentLink.Link):
// a gRPC callback reactor that opens like any call (admit_call) and takes
// one of the caller's stream slots, keeps one write in flight, ends on the
// client's cancel, a failed write or a drain, and deletes itself in OnDone.
// Its state is guarded by mtx_, since gRPC's reactions, the node's wake-ups
// and the answers of its asynchronous calls (actor threads) and a drain
// (any thread) all come in; the stream's own logic is pump(), called under
// mtx_ whenever something changed. pump() finishes the stream only while
// no node call is in flight (begin_call), so no answer finds it gone.

#include <mutex>
#include <optional>
#include <utility>

#include "api/handler.hpp"

namespace parley::api {

template <class Reactor>
class stream_reactor : public Reactor, public drainable {
public:
  void OnWriteDone(bool ok) override {
    std::lock_guard guard{mtx_};
    writing_ = false;
    if (!ok)
      cancelled_ = true; // the client went away
    pump();
  }

  void OnCancel() override {
    std::lock_guard guard{mtx_};
    cancelled_ = true;
    pump();
  }

  void drain() override {
    std::lock_guard guard{mtx_};
    draining_ = true;
    pump();
  }

  void OnDone() override {
    // After these no drain and no wake-up comes (each waits for one in
    // progress). Whatever finished the stream may still be leaving mtx_.
    st_.streams.remove(this);
    quiet();
    { std::lock_guard guard{mtx_}; }
    delete this; // gRPC's rule for reactors; members release the stream and the slot
  }

protected:
  stream_reactor(api_state& st, grpc::CallbackServerContext* ctx) : st_(st), ctx_(ctx) {}

  /// Starts the next write, ends the stream, or waits to be called again.
  /// Under mtx_.
  virtual void pump() = 0;
  /// Stops the node's wake-ups of this reactor; it returns once a wake-up
  /// in progress has returned.
  virtual void quiet() = 0;

  /// Runs `open()` (the start of the call, before any other thread knows
  /// the reactor) and finishes the stream with its status if it refused
  /// (an exception: INTERNAL). True if it opened.
  template <class F>
  bool opened(F open) {
    grpc::Status refused;
    try {
      refused = open();
    } catch (const std::exception& e) {
      refused = internal_error(e);
    }
    if (refused.ok())
      return true;
    std::lock_guard guard{mtx_};
    finish(refused);
    return false;
  }

  /// What every stream opens with: admission (as any call), then one of
  /// the caller's stream slots; from then on a drain reaches the stream.
  grpc::Status admit_stream() {
    if (auto s = admit_call(st_, ctx_, who_); !s.ok())
      return s;
    auto slot = st_.admit.open_stream(who_);
    if (!slot)
      return fail(st_, ctx_, slot.error());
    slot_ = std::move(*slot);
    st_.streams.add(this);
    if (st_.draining.load())
      draining_ = true; // the drain's walk may have missed us
    return grpc::Status::OK;
  }

  /// A node call of the stream's starts: the stream does not finish (and
  /// so the reactor stays) until its answer has come back and cleared
  /// calling_ under mtx_. False if the stream is already ending (finished,
  /// cancelled or failed): the caller must not start the call then, as
  /// nothing would keep the reactor for its answer (a cancel between the
  /// read and this call once freed the reactor under a running send). Not
  /// under mtx_.
  [[nodiscard]] bool begin_call() {
    std::lock_guard guard{mtx_};
    if (finished_ || cancelled_ || failure_)
      return false;
    calling_ = true;
    return true;
  }

  /// Writes `m` (one write in flight: call only when !writing_). Under mtx_.
  /// `more`: further writes follow at once, so gRPC may send them together;
  /// never on the stream's first write (gRPC 1.51 fails a buffered write
  /// that carries the initial metadata).
  template <class Msg>
  void write(const Msg& m, bool more) {
    auto opts = grpc::WriteOptions();
    if (wrote_ && more)
      opts.set_buffer_hint();
    wrote_ = writing_ = true;
    this->StartWrite(&m, opts);
  }

  /// The stream ends once nothing is in flight. Under mtx_.
  void fail_with(grpc::Status s) {
    if (failure_ || finished_)
      return;
    failure_ = std::move(s);
    pump();
  }

  /// Ends the stream with `s`; later calls do nothing (gRPC allows one
  /// Finish). Under mtx_.
  void finish(grpc::Status s) {
    if (std::exchange(finished_, true))
      return;
    this->Finish(std::move(s));
  }

  api_state& st_;
  grpc::CallbackServerContext* ctx_;
  principal who_;
  std::mutex mtx_;
  bool writing_ = false;
  bool wrote_ = false;
  bool cancelled_ = false;
  bool draining_ = false;
  bool finished_ = false;
  bool calling_ = false; // see begin_call
  std::optional<grpc::Status> failure_;

private:
  std::unique_ptr<admission::stream_slot> slot_;
};

} // namespace parley::api
