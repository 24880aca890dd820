#pragma once

// The delivery protocol of one node-to-node link, as pure state machines
// (no I/O, no clock), so that it is tested under a seeded simulation of
// everything a network and two crashing nodes can do
// (tests/federation/link_protocol_test.cpp).
//
// At-least-once transport, exactly-once effect, order kept:
// - The sender numbers each message of the link (1, 2, 3, ...) when it puts
//   it into its outbox. The outbox is durable (the node writes it before it
//   acknowledges its client) and bounded: full means RESOURCE_EXHAUSTED.
// - It sends in order and, after a reconnect, resends everything not yet
//   acknowledged, from the oldest, in order.
// - The receiver takes message n only when it has taken n - 1; it commits
//   the effect together with the new `taken` count, so a crash never
//   separates them. A duplicate (n <= taken) is dropped; a gap (n > taken
//   + 1, only possible after a lost connection) too: the resend fills it.
// - The receiver acknowledges cumulatively (`taken`); the sender then drops
//   what is acknowledged from its outbox.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "parley/error.hpp"

namespace parley::federation {

struct link_message {
  uint64_t seq = 0;
  std::string payload;

  friend bool operator==(const link_message&, const link_message&) = default;
};

/// The sending side of a link: the outbox and what of it is on the wire.
class link_sender {
public:
  link_sender(size_t max_messages, size_t max_bytes) : max_messages_(max_messages), max_bytes_(max_bytes) {}

  /// Puts `payload` into the outbox; its sequence number. overloaded when the
  /// outbox is full (the peer is slow or gone): the caller answers
  /// RESOURCE_EXHAUSTED and the client retries later.
  expected<uint64_t> push(std::string payload);

  /// Up to `max` messages not yet sent on this connection, oldest first,
  /// and no more than `max_bytes` of payload unless the first alone is
  /// larger (a frame must fit the peer's request limit); they count as sent.
  std::vector<link_message> next_batch(size_t max, size_t max_bytes = SIZE_MAX);

  /// The peer took every message up to `taken`: they leave the outbox. An
  /// acknowledgement beyond the last number handed out is a protocol error
  /// (invalid_argument), and changes nothing.
  expected<void> on_ack(uint64_t taken);

  /// The connection was lost or replaced: everything not acknowledged goes
  /// again, from the oldest.
  void on_reconnect() { next_ = 0; }

  /// Rebuilds the sender from a durable outbox (after a restart): the
  /// messages not acknowledged, in order, and the last number handed out.
  static link_sender restore(size_t max_messages, size_t max_bytes, std::vector<link_message> unacked,
                             uint64_t last_seq);

  size_t pending() const noexcept { return outbox_.size(); }
  size_t pending_bytes() const noexcept { return bytes_; }
  uint64_t last_seq() const noexcept { return last_seq_; }
  /// The outbox, oldest first (what a node keeps durable).
  const std::deque<link_message>& outbox() const noexcept { return outbox_; }

private:
  size_t max_messages_;
  size_t max_bytes_;
  std::deque<link_message> outbox_;
  size_t bytes_ = 0;
  uint64_t last_seq_ = 0;
  size_t next_ = 0; // index in outbox_ of the next message to send
};

/// The receiving side of a link.
class link_receiver {
public:
  explicit link_receiver(uint64_t taken = 0) : taken_(taken) {}

  enum class verdict { take, duplicate, gap };
  /// What to do with message `seq`. `take`: apply it, and commit its effect
  /// with taken() + 1 (call taken_through(seq) once committed).
  verdict check(uint64_t seq) const noexcept;
  /// The effect of `seq` (the next one) is committed.
  void taken_through(uint64_t seq) noexcept { taken_ = seq; }

  /// The cumulative acknowledgement to send.
  uint64_t taken() const noexcept { return taken_; }

private:
  uint64_t taken_;
};

} // namespace parley::federation
