#pragma once

// What the streaming rpcs (Events.Subscribe, AgentLink.Link) share. They
// run on gRPC's callback API: a reactor per stream, driven by gRPC's
// completions and by the node's wake-ups (event_stream / agent_link
// on_ready), so an open stream holds no thread. A drain reaches them
// through the registry below, since no thread of theirs polls for it.

#include <mutex>
#include <unordered_set>

namespace parley::api {

/// A stream the server holds open, told to end when the node drains.
class drainable {
public:
  /// Ends the stream as a drain does (what to tell the client is the
  /// stream's business). Must not block; runs under the registry's mutex.
  virtual void drain() = 0;

protected:
  ~drainable() = default;
};

/// The open streams. Thread-safe.
class stream_registry {
public:
  void add(drainable* s) {
    std::lock_guard guard{mtx_};
    open_.insert(s);
  }
  /// After it returns, drain_all() no longer reaches `s` (it may go).
  void remove(drainable* s) {
    std::lock_guard guard{mtx_};
    open_.erase(s);
  }
  void drain_all() {
    std::lock_guard guard{mtx_};
    for (auto* s : open_)
      s->drain();
  }

private:
  std::mutex mtx_;
  std::unordered_set<drainable*> open_;
};

} // namespace parley::api
