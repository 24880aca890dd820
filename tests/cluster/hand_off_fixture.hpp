#pragma once

// A network of three nodes whose shards move (hand_off_test.cpp,
// etcd_restart_test.cpp): drains with hand-off, sends retried until
// acknowledged, and what an inbox holds beside what was acknowledged.

#include <atomic>
#include <mutex>
#include <set>

#include "cluster/cluster_fixture.hpp"

namespace parley::cluster_test {

// What differs between the ids an inbox holds and those acknowledged.
inline std::string difference(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  std::string out;
  std::set<std::string> g(got.begin(), got.end()), w(want.begin(), want.end());
  for (auto& x : want)
    if (!g.count(x))
      out += " missing " + x;
  for (auto& x : got)
    if (!w.count(x))
      out += " extra " + x;
  for (size_t i = 0; i < std::min(got.size(), want.size()); ++i)
    if (got[i] != want[i]) {
      out += " first out of order at " + std::to_string(i) + ": " + got[i] + " for " + want[i];
      break;
    }
  return out + " (" + std::to_string(got.size()) + " held, " + std::to_string(want.size()) + " acknowledged)";
}

class HandOff : public Federation {
protected:
  std::vector<std::string> node_names() override { return {"node-a", "node-b", "node-c"}; }

  grpc::Status drain(node_process& via, const std::string& node, bool hand_off) {
    grpc::ClientContext ctx;
    via.authorize(ctx);
    pb::DrainRequest req;
    req.set_node(node);
    req.set_hand_off(hand_off);
    pb::DrainResponse out;
    return pb::Admin::NewStub(via.channel)->Drain(&ctx, req, &out);
  }

  // Sends until acknowledged (the same id each time: at most once in
  // effect); the last refusal is kept in `last_error`.
  bool send_until_acked(node_process& via, const std::string& from, const std::string& to, const std::string& id,
                        const std::atomic<bool>* give_up = nullptr) {
    // Bounded in time too (a minute), so that a hang shows as a failure
    // with the nodes' logs rather than as a test timeout.
    const auto until = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; i < 300 && !(give_up && *give_up) && std::chrono::steady_clock::now() < until; ++i) {
      pb::SendResponse out;
      auto s = send(via, from, to, id, "text of " + id, &out, 5s);
      if (s.ok())
        return true;
      std::lock_guard guard{errors_mtx_};
      last_error = id + ": " + std::to_string(s.error_code()) + " " + s.error_message();
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  std::mutex errors_mtx_;
  std::string last_error;

  // Stops the test's handle on a node that exited by itself.
  void forget(const std::string& id) {
    std::erase_if(nodes_, [&](auto& n) { return n->id == id; });
  }
};

} // namespace parley::cluster_test
