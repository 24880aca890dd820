// The link protocol's state machines (link_protocol.hpp).

#include "parley/federation/link_protocol.hpp"

namespace parley::federation {

expected<uint64_t> link_sender::push(std::string payload) {
  if (outbox_.size() >= max_messages_ || bytes_ + payload.size() > max_bytes_)
    return unexpected{errc::overloaded, "the link's outbox is full (" + std::to_string(outbox_.size())
                                          + " messages, " + std::to_string(bytes_)
                                          + " bytes not yet acknowledged by the peer)"};
  bytes_ += payload.size();
  outbox_.push_back({++last_seq_, std::move(payload)});
  return last_seq_;
}

std::vector<link_message> link_sender::next_batch(size_t max, size_t max_bytes) {
  std::vector<link_message> out;
  size_t bytes = 0;
  while (next_ < outbox_.size() && out.size() < max) {
    const auto size = outbox_[next_].payload.size();
    if (!out.empty() && bytes + size > max_bytes)
      break;
    bytes += size;
    out.push_back(outbox_[next_++]);
  }
  return out;
}

expected<void> link_sender::on_ack(uint64_t taken) {
  // Not "beyond what this connection sent": after a restart the peer may
  // acknowledge what it took before, whose acknowledgement was lost.
  if (taken > last_seq_)
    return unexpected{errc::invalid_argument, "the peer acknowledged message " + std::to_string(taken)
                                                + " of the link, beyond the last one numbered ("
                                                + std::to_string(last_seq_) + ")"};
  while (!outbox_.empty() && outbox_.front().seq <= taken) {
    bytes_ -= outbox_.front().payload.size();
    outbox_.pop_front();
    if (next_ > 0)
      --next_;
  }
  return {};
}

link_sender link_sender::restore(size_t max_messages, size_t max_bytes, std::vector<link_message> unacked,
                                 uint64_t last_seq) {
  link_sender s{max_messages, max_bytes};
  for (auto& m : unacked) {
    s.bytes_ += m.payload.size();
    s.outbox_.push_back(std::move(m));
  }
  s.last_seq_ = last_seq;
  return s;
}

link_receiver::verdict link_receiver::check(uint64_t seq) const noexcept {
  if (seq <= taken_)
    return verdict::duplicate;
  if (seq > taken_ + 1)
    return verdict::gap;
  return verdict::take;
}

} // namespace parley::federation
