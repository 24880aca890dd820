// AgentLink.Link: an external process acts as one agent over a
// bidirectional stream, served by a callback reactor, so an open link holds
// no thread. Toward the client it writes what the agent receives
// (deliveries within the credit window, grants, invitations), taken from
// the agent_link while it has items; when it runs dry the link's on_ready
// wakes the reactor from the thread that made an item available (the
// agent's actor, or the credit's reader). From the client it reads one
// message at a time and carries it out (credit, acknowledgements, messages
// through send_many_async, turn requests); the next read starts only once
// the current message's results are queued, so a link has one batch in
// flight at most (back-pressure). One write is in flight at a time (gRPC's
// rule); results keep the order of the client's sends.

#include <deque>

#include "api/convert.hpp"
#include "api/stream_reactor.hpp"

namespace parley::api {

namespace {

constexpr uint32_t default_credit = 64;

void encode_item(const link_item& item, const std::string& agent, pb::LinkServer& out) {
  switch (item.k) {
    case link_item::kind::message:
      api::to_pb(item.msg, *out.mutable_delivery());
      break;
    case link_item::kind::granted: {
      auto* g = out.mutable_granted();
      g->set_speaker(agent);
      g->set_turn(item.turn);
      g->set_room(item.room);
      break;
    }
    case link_item::kind::invited: {
      auto* inv = out.mutable_invited();
      inv->set_room(item.room);
      inv->set_by(item.by);
      inv->set_role(api::to_pb(item.role));
      break;
    }
  }
}

void result_of(const expected<message>& r, const std::string& asked_id, pb::SendResult& out) {
  if (r) {
    out.set_id(r->id);
    out.set_status(to_pb(r->status));
    out.set_sent_at(r->sent_at);
    return;
  }
  out.set_id(asked_id);
  out.set_error_code(static_cast<int>(status_code(r.error().code)));
  out.set_error_message(r.error().message);
}

// Link items taken per wake-up and written as one batch.
constexpr size_t write_batch_items = 64;

const std::string drain_reason =
  "the node is draining; reconnect later: unacknowledged deliveries come again";

// Calls into the link (add_credit may wake the reactor) are made without
// holding mtx_; the answers of the node's calls come on an actor's thread.
class link_reactor final
  : public stream_reactor<grpc::ServerBidiReactor<pb::LinkClient, pb::LinkServer>> {
public:
  link_reactor(api_state& st, grpc::CallbackServerContext* ctx) : stream_reactor(st, ctx) {
    if (!opened([this] { return admit_stream(); }))
      return;
    std::lock_guard guard{mtx_};
    read_next(); // the `open`
  }

  void OnReadDone(bool ok) override {
    if (!ok) { // the client closed its side, or went away
      std::lock_guard guard{mtx_};
      client_done_ = true;
      return pump();
    }
    try {
      if (!link_)
        open();
      else
        serve_client();
    } catch (const std::exception& e) {
      std::lock_guard guard{mtx_};
      fail_with(internal_error(e));
    }
  }

private:
  void quiet() override {
    if (link_)
      link_->on_ready(nullptr);
  }

  void open() {
    if (!in_.has_open()) {
      std::lock_guard guard{mtx_};
      return finish({grpc::StatusCode::INVALID_ARGUMENT, "link: the first message must be `open`"});
    }
    const auto credit = in_.open().credit() == 0 ? default_credit : in_.open().credit();
    auto link = st_.n.open_link(who_, in_.open().agent(), credit);
    std::lock_guard guard{mtx_};
    if (!link) {
      // An agent of another node: its link is served there. The trailers
      // tell a client where to open it (docs/api.md, "Agent links").
      if (link.error().code == errc::unavailable)
        if (auto there = st_.n.served_elsewhere(in_.open().agent()); there && !there->address.empty()) {
          ctx_->AddTrailingMetadata("parley-node", there->node);
          ctx_->AddTrailingMetadata("parley-node-address", there->address);
          return finish({grpc::StatusCode::UNAVAILABLE, "agent '" + in_.open().agent() + "' is served by node '"
                                                          + there->node + "' at " + there->address
                                                          + ": open its link there"});
        }
      return finish(fail(st_, ctx_, link.error()));
    }
    agent_ = in_.open().agent();
    link_ = std::move(*link);
    link_->on_ready([this] {
      std::lock_guard guard{mtx_};
      pump();
    });
    auto& ready = *queue().mutable_ready();
    ready.set_agent(agent_);
    ready.set_pending(link_->pending_at_open());
    read_next();
    pump();
  }

  void serve_client() {
    switch (in_.msg_case()) {
      case pb::LinkClient::kCredit:
        link_->add_credit(in_.credit()); // capped at max_link_credit; may wake us
        return answered(no_results);
      case pb::LinkClient::kAck:
        link_->acknowledge({in_.ack().deliveries().begin(), in_.ack().deliveries().end()});
        return answered(no_results);
      case pb::LinkClient::kSend:
        return send({in_.send()});
      case pb::LinkClient::kSendBatch:
        return send({in_.send_batch().messages().begin(), in_.send_batch().messages().end()});
      case pb::LinkClient::kRequestTurn:
      case pb::LinkClient::kYieldTurn:
        return turn(in_.msg_case() == pb::LinkClient::kRequestTurn);
      default:
        return answered([] {
          std::vector<pb::SendResult> r(1);
          result_of(unexpected{errc::invalid_argument, "link: unexpected message (open twice?)"}, "", r[0]);
          return r;
        });
    }
  }

  void turn(bool request) {
    auto room = request ? in_.request_turn().room() : in_.yield_turn().room();
    if (!begin_call())
      return; // the stream ends; the request is not made
    auto t = request ? st_.n.request_turn_async(who_, room, agent_) : st_.n.yield_turn_async(who_, room, agent_);
    start(std::move(t), [this, room](expected<void> ok) {
      answered([&] {
        std::vector<pb::SendResult> r;
        if (!ok) // reported like a failed send, under the id "turn:<room>"
          result_of(unexpected{ok.error()}, "turn:" + room, r.emplace_back());
        return r;
      });
    });
  }

  // Sends as the linked agent; `from` may be empty or must be the agent.
  void send(std::vector<pb::Message> batch) {
    std::vector<message> ms;
    std::vector<std::pair<size_t, expected<message>>> early; // decode failures
    std::vector<size_t> index;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto m = from_pb(batch[i]);
      if (m && !m->from.empty() && m->from != agent_)
        m = unexpected{errc::permission_denied,
                       "message.from: a link of '" + agent_ + "' sends only as '" + agent_ + "'"};
      if (!m) {
        early.emplace_back(i, std::move(m));
        continue;
      }
      m->from = agent_;
      index.push_back(i);
      ms.push_back(std::move(*m));
    }
    std::vector<std::string> ids;
    for (auto& m : batch)
      ids.push_back(m.id());
    const auto n = ms.size();
    if (!begin_call())
      return; // the stream ends: nothing of the batch is sent, no result is owed
    auto t = st_.n.send_many_async(who_, std::move(ms));
    start(
      std::move(t),
      [this, ids = std::move(ids), index = std::move(index),
       early = std::move(early)](std::vector<expected<message>> results) mutable {
        answered([&] {
          std::vector<expected<message>> all(ids.size(), unexpected{errc::internal, "not sent"});
          for (size_t k = 0; k < index.size(); ++k)
            all[index[k]] = std::move(results[k]);
          for (auto& [i, r] : early)
            all[i] = std::move(r);
          std::vector<pb::SendResult> out(all.size());
          for (size_t i = 0; i < all.size(); ++i)
            result_of(all[i], ids[i], out[i]);
          return out;
        });
      },
      [n](const std::exception& e) { return std::vector<expected<message>>(n, internal_failure<message>(e)); });
  }

  static std::vector<pb::SendResult> no_results() { return {}; }

  // The client's message is carried out: queues what `results()` gives,
  // in order, and reads the next message. Not under mtx_; runs where the
  // node's answer came (an actor's thread), where nothing may throw: a
  // failure ends the stream instead.
  template <class F>
  void answered(F results) noexcept {
    std::lock_guard guard{mtx_};
    calling_ = false;
    try {
      for (auto& r : results())
        *queue().mutable_sent() = std::move(r);
      read_next();
      pump();
    } catch (const std::exception& e) {
      fail_with(internal_error(e));
    }
  }

  // Under mtx_.
  pb::LinkServer& queue() { return out_q_.emplace_back(); }

  // Under mtx_.
  void read_next() {
    if (!finished_ && !client_done_ && !cancelled_ && !draining_)
      StartRead(&in_);
  }

  void pump() override {
    if (finished_ || writing_)
      return;
    try {
      if (failure_ || cancelled_) {
        if (!calling_)
          finish(failure_ ? *failure_ : grpc::Status::OK);
        return;
      }
      if (draining_ && !link_)
        return finish({grpc::StatusCode::UNAVAILABLE, drain_reason});
      if (draining_ && out_q_.empty() && !calling_) {
        if (bye_sent_)
          return finish({grpc::StatusCode::UNAVAILABLE, drain_reason});
        // The client learns why before the stream ends.
        auto& bye = *queue().mutable_closing();
        bye.set_code(static_cast<int>(grpc::StatusCode::UNAVAILABLE));
        bye.set_message(drain_reason);
        bye_sent_ = true;
      }
      if (out_q_.empty() && link_ && !client_done_ && !draining_)
        while (out_q_.size() < write_batch_items) {
          auto item = link_->try_next(); // a miss arms on_ready
          if (!item)
            break;
          encode_item(*item, agent_, queue());
        }
      if (out_q_.empty()) {
        if (client_done_ && !calling_)
          finish(grpc::Status::OK);
        return;
      }
      out_ = std::move(out_q_.front());
      out_q_.pop_front();
      write(out_, !out_q_.empty());
    } catch (const std::exception& e) {
      fail_with(internal_error(e));
    }
  }

  agent_id agent_;
  std::unique_ptr<agent_link> link_;
  pb::LinkClient in_; // the read in flight, then the message being carried out
  std::deque<pb::LinkServer> out_q_;
  pb::LinkServer out_; // the write in flight
  bool client_done_ = false;
  bool bye_sent_ = false;
};

class link_service final : public pb::AgentLink::WithCallbackMethod_Link<pb::AgentLink::Service> {
public:
  explicit link_service(api_state& st) : st_(st) {}

  grpc::ServerBidiReactor<pb::LinkClient, pb::LinkServer>* Link(grpc::CallbackServerContext* ctx) override {
    return new link_reactor(st_, ctx); // gRPC's way: it deletes itself in OnDone
  }

private:
  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_link_service(api_state& st) {
  return std::make_unique<link_service>(st);
}

} // namespace parley::api
