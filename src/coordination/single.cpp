// The `single` backend: one node, no etcd. It is the only member, owns every
// shard at epoch 1 and is the coordinator, which is what a node did before
// federation, so `make run` needs nothing else.

#include <mutex>
#include <optional>

#include "parley/coordination/coordination.hpp"

namespace parley::coordination {

namespace {

class single final : public coordination {
public:
  explicit single(std::string node) : node_(std::move(node)) {}

  expected<void> join(const member& self) override {
    std::lock_guard guard{mtx_};
    if (self.node != node_)
      return unexpected{errc::invalid_argument,
                        "this single-node network is node '" + node_ + "', not '" + self.node + "'"};
    if (self_)
      return unexpected{errc::already_exists, "node '" + node_ + "' has joined already"};
    self_ = self;
    return {};
  }

  expected<void> set_state(member_state s) override {
    std::lock_guard guard{mtx_};
    if (!self_)
      return not_joined();
    self_->state = s;
    return {};
  }

  expected<void> leave() override {
    std::lock_guard guard{mtx_};
    if (!self_)
      return not_joined();
    self_.reset();
    return {};
  }

  bool registered() const override {
    std::lock_guard guard{mtx_};
    return self_.has_value();
  }

  std::vector<member> members() const override {
    std::lock_guard guard{mtx_};
    if (!self_)
      return {};
    return {*self_};
  }

  shard_owner owner(shard_id) const override { return shard_owner{node_, 1, {}}; }

  expected<uint64_t> assign(shard_id shard, uint64_t, const shard_owner& to) override {
    return unexpected{errc::failed_precondition,
                      "shard " + std::to_string(shard) + " cannot move to '" + to.node
                        + "': this node runs alone (coordination backend 'single')"};
  }

  expected<bool> claim_coordinator() override { return registered(); }

  std::string coordinator() const override { return registered() ? node_ : std::string{}; }

  // Nothing ever changes but this node's own state, which its caller knows.
  void subscribe(std::function<void(const change&)>) override {}

private:
  unexpected not_joined() const {
    return unexpected{errc::failed_precondition, "node '" + node_ + "' has not joined"};
  }

  const std::string node_;
  mutable std::mutex mtx_;
  std::optional<member> self_;
};

} // namespace

std::unique_ptr<coordination> make_single(std::string node) {
  return std::make_unique<single>(std::move(node));
}

} // namespace parley::coordination
