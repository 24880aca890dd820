// The link protocol under a seeded, single-threaded simulation of what a
// network and two crashing nodes do: connections break and lose what is in
// flight, a broken connection's messages arrive late and out of order next
// to the new one's, acknowledgements are lost, either node crashes and
// restarts from what it made durable, and the sender's outbox fills up.
// After every run: each message the sender acknowledged to its client took
// effect exactly once at the receiver, in the order it was acknowledged.

#include <gtest/gtest.h>

#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "parley/federation/link_protocol.hpp"
#include "parley/model/random.hpp"

namespace parley::federation {
namespace {

// One run of the simulation with seed `seed`; an empty string if every
// guarantee held, else what broke.
class simulation {
public:
  explicit simulation(uint64_t seed) : rng_(seed) {}

  std::string run(int steps) {
    for (int i = 0; i < steps; ++i) {
      step();
      if (auto broken = check_prefix(); !broken.empty())
        return broken;
    }
    return heal_and_check();
  }

private:
  uint64_t roll(uint64_t n) { return splitmix64(rng_) % n; }

  void step() {
    switch (roll(100)) {
      case 0 ... 29: push(); break;
      case 30 ... 49: transmit(1 + roll(8)); break;
      case 50 ... 74: deliver_one(); break;
      case 75 ... 86: deliver_ack(); break;
      case 87 ... 91: deliver_late(); break;
      case 92 ... 94: break_connection(); break;
      case 95 ... 96: crash_sender(); break;
      case 97 ... 98: crash_receiver(); break;
      default: persist_outbox(); break;
    }
  }

  void push() {
    auto payload = "m" + std::to_string(next_payload_++);
    auto seq = sender_.push(payload);
    if (!seq)
      return; // refused: not acknowledged, the client may retry later
    acked_.push_back(payload);
    // The node writes the outbox entry before it answers its client.
    durable_outbox_.push_back({*seq, payload});
    durable_last_seq_ = *seq;
  }

  void transmit(size_t n) {
    for (auto& m : sender_.next_batch(n))
      to_receiver_.push_back(m);
  }

  void take(const link_message& m) {
    switch (receiver_.check(m.seq)) {
      case link_receiver::verdict::take:
        // Effect and count in one commit.
        effects_.push_back(m.payload);
        receiver_.taken_through(m.seq);
        durable_taken_ = m.seq;
        break;
      case link_receiver::verdict::duplicate:
      case link_receiver::verdict::gap:
        break;
    }
    if (roll(3) != 0)
      to_sender_.push_back(receiver_.taken());
  }

  void deliver_one() {
    if (to_receiver_.empty())
      return;
    auto m = to_receiver_.front();
    to_receiver_.pop_front();
    take(m);
  }

  void deliver_late() {
    if (limbo_.empty())
      return;
    auto i = roll(limbo_.size());
    auto m = limbo_[i];
    limbo_.erase(limbo_.begin() + static_cast<long>(i));
    take(m);
  }

  void deliver_ack() {
    if (to_sender_.empty())
      return;
    auto taken = to_sender_.front();
    to_sender_.pop_front();
    if (auto ok = sender_.on_ack(taken); !ok)
      protocol_error_ = ok.error().message;
  }

  // The node deletes acknowledged entries from its durable outbox later
  // than it drops them in memory (written behind).
  void persist_outbox() {
    durable_outbox_.assign(sender_.outbox().begin(), sender_.outbox().end());
  }

  void break_connection() {
    // Some of what was in flight arrives late, next to the new connection's
    // traffic; the rest is lost. Acknowledgements in flight are lost.
    for (auto& m : to_receiver_)
      if (roll(2) == 0)
        limbo_.push_back(m);
    to_receiver_.clear();
    to_sender_.clear();
    sender_.on_reconnect();
    // The receiver says where it is when the new connection opens.
    to_sender_.push_back(receiver_.taken());
  }

  void crash_sender() {
    sender_ = link_sender::restore(capacity, capacity * 16, durable_outbox_, durable_last_seq_);
    break_connection();
  }

  void crash_receiver() {
    receiver_ = link_receiver{durable_taken_};
    break_connection();
  }

  std::string check_prefix() const {
    if (!protocol_error_.empty())
      return "protocol error: " + protocol_error_;
    if (effects_.size() > acked_.size())
      return "more effects than acknowledged messages";
    for (size_t i = 0; i < effects_.size(); ++i)
      if (effects_[i] != acked_[i])
        return "effect " + std::to_string(i) + " is " + effects_[i] + ", expected " + acked_[i];
    return {};
  }

  std::string heal_and_check() {
    limbo_.clear();
    break_connection();
    for (int round = 0; round < 100000 && sender_.pending() > 0; ++round) {
      transmit(16);
      while (!to_receiver_.empty())
        deliver_one();
      to_sender_.push_back(receiver_.taken());
      while (!to_sender_.empty())
        deliver_ack();
    }
    if (auto broken = check_prefix(); !broken.empty())
      return broken;
    if (effects_.size() != acked_.size())
      return std::to_string(acked_.size() - effects_.size()) + " acknowledged messages never took effect";
    return {};
  }

  static constexpr size_t capacity = 32;
  uint64_t rng_;
  link_sender sender_{capacity, capacity * 16};
  link_receiver receiver_;
  std::deque<link_message> to_receiver_;
  std::deque<uint64_t> to_sender_;
  std::vector<link_message> limbo_;
  std::vector<link_message> durable_outbox_;
  uint64_t durable_last_seq_ = 0;
  uint64_t durable_taken_ = 0;
  std::vector<std::string> acked_;
  std::vector<std::string> effects_;
  std::string protocol_error_;
  uint64_t next_payload_ = 0;
};

// Verifies, over 10,000 seeded runs of drops, late and reordered arrivals, lost acknowledgements, crashes of either side and a full outbox, that every acknowledged message takes effect exactly once and in order.
TEST(LinkProtocol, EveryAcknowledgedMessageTakesEffectOnceInOrder) {
  for (uint64_t seed = 1; seed <= 10000; ++seed) {
    simulation sim{seed};
    auto broken = sim.run(400);
    ASSERT_TRUE(broken.empty()) << "seed " << seed << ": " << broken;
  }
}

// Verifies the outbox is bounded (overloaded when full, room again after acknowledgements) and a bad acknowledgement changes nothing.
TEST(LinkProtocol, TheOutboxIsBoundedAndAcknowledgementsAreChecked) {
  link_sender s{3, 1000};
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(s.push("x"));
  auto full = s.push("y");
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, errc::overloaded);
  EXPECT_NE(full.error().message.find("outbox is full"), std::string::npos);
  EXPECT_EQ(s.next_batch(10).size(), 3u);
  auto bad = s.on_ack(4);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, errc::invalid_argument);
  EXPECT_EQ(s.pending(), 3u);
  ASSERT_TRUE(s.on_ack(2));
  EXPECT_EQ(s.pending(), 1u);
  EXPECT_TRUE(s.push("z"));
  // Bytes bound too.
  link_sender b{100, 10};
  ASSERT_TRUE(b.push("12345678"));
  EXPECT_FALSE(b.push("123"));
  EXPECT_TRUE(b.push("12"));
  EXPECT_EQ(b.pending_bytes(), 10u);
}

// Verifies a batch stays within its byte budget (a frame must fit the
// peer's request limit), but always carries one message.
TEST(LinkProtocol, ABatchKeepsToItsBytes) {
  link_sender s{10, 1000};
  for (auto p : {"aaaa", "bbbb", "cccccccccc", "d"})
    ASSERT_TRUE(s.push(p));
  auto first = s.next_batch(10, 9);
  ASSERT_EQ(first.size(), 2u); // 4 + 4; the 10 bytes do not fit
  auto second = s.next_batch(10, 9);
  ASSERT_EQ(second.size(), 1u); // larger than the budget, alone
  EXPECT_EQ(second[0].payload, "cccccccccc");
  EXPECT_EQ(s.next_batch(10, 9).size(), 1u);
  EXPECT_TRUE(s.next_batch(10, 9).empty());
}

// Verifies a reconnect resends everything unacknowledged from the oldest, and the receiver drops duplicates and gaps.
TEST(LinkProtocol, AReconnectResendsFromTheOldestUnacknowledged) {
  link_sender s{10, 1000};
  for (auto p : {"a", "b", "c"})
    ASSERT_TRUE(s.push(p));
  EXPECT_EQ(s.next_batch(10).size(), 3u);
  EXPECT_TRUE(s.next_batch(10).empty());
  ASSERT_TRUE(s.on_ack(1));
  s.on_reconnect();
  auto again = s.next_batch(10);
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0], (link_message{2, "b"}));
  EXPECT_EQ(again[1], (link_message{3, "c"}));

  link_receiver r{1};
  EXPECT_EQ(r.check(1), link_receiver::verdict::duplicate);
  EXPECT_EQ(r.check(3), link_receiver::verdict::gap);
  EXPECT_EQ(r.check(2), link_receiver::verdict::take);
  r.taken_through(2);
  EXPECT_EQ(r.taken(), 2u);
}

} // namespace
} // namespace parley::federation
