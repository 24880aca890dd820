// Agent links: how an external process acts as its agent (see
// parley/behavior/external.hpp for the hand-over between the agent's actor
// and the link's thread).

#include "node/node_impl.hpp"
#include "parley/storage/message_log.hpp"

namespace parley {

struct agent_link::impl {
  node::impl* owner = nullptr;
  agent_id id;
  std::shared_ptr<external_behavior> ext;
  caf::actor agent;
  size_t pending = 0;
};

agent_link::agent_link(std::unique_ptr<impl> p) : impl_(std::move(p)) {
}

agent_link::~agent_link() {
  impl_->ext->detach();
  impl_->owner->open_links.fetch_sub(1);
}

const agent_id& agent_link::agent() const noexcept {
  return impl_->id;
}

size_t agent_link::pending_at_open() const noexcept {
  return impl_->pending;
}

std::optional<link_item> agent_link::next(std::chrono::milliseconds timeout) {
  return impl_->ext->next(timeout);
}

std::optional<link_item> agent_link::try_next() {
  return impl_->ext->try_next();
}

void agent_link::on_ready(std::function<void()> fn) {
  impl_->ext->on_ready(std::move(fn));
}

void agent_link::add_credit(uint32_t n) {
  impl_->ext->add_credit(n, max_link_credit);
  // The agent stops serving at zero credit; wake it.
  caf::anon_send(impl_->agent, atoms::serve_inbox::value);
}

void agent_link::acknowledge(const std::vector<uint64_t>& deliveries) {
  auto acked = impl_->ext->acknowledge(deliveries);
  if (!acked.empty())
    caf::anon_send(impl_->agent, atoms::link_acked::value, std::move(acked));
}

expected<std::unique_ptr<agent_link>> node::open_link(const principal& p, const agent_id& id,
                                                      uint32_t credit) {
  if (auto ok = authorize(p, action::link, {id}); !ok)
    return unexpected{ok.error()};
  auto ext = impl_->external(id);
  if (!ext)
    return unexpected{ext.error()};
  auto a = impl_->agent(id);
  if (!a)
    return unexpected{a.error()};
  // Counted before attaching: a link over the limit never takes the agent's.
  const auto limit = impl_->cfg.limits.max_links;
  if (impl_->open_links.fetch_add(1) >= limit) {
    impl_->open_links.fetch_sub(1);
    return unexpected{errc::overloaded, "node '" + impl_->cfg.node_id + "' has "
                                          + std::to_string(limit)
                                          + " agent links open (limits.max_links)"};
  }
  // What waits for the agent: its durable inbox (unacknowledged deliveries
  // stay there), or without a store what the behaviour holds.
  size_t before = (*ext)->waiting();
  if (impl_->store)
    if (auto inbox = storage::read_inbox(*impl_->store, id, max_page_size))
      before = inbox->size();
  if (auto ok = (*ext)->attach(std::min(credit, max_link_credit)); !ok) {
    impl_->open_links.fetch_sub(1);
    return unexpected{errc::failed_precondition, "agent '" + id + "': " + ok.error().message};
  }
  auto link = std::make_unique<agent_link::impl>();
  link->owner = impl_.get();
  link->id = id;
  link->ext = *ext;
  link->agent = *a;
  link->pending = before;
  caf::anon_send(*a, atoms::serve_inbox::value);
  return std::make_unique<agent_link>(std::move(link));
}

} // namespace parley
