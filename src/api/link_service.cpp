// AgentLink.Link: an external process acts as one agent over a
// bidirectional stream. The handler's thread writes what the agent
// receives (deliveries within the credit window, grants, invitations); a
// reader thread carries out what the process sends (credit, messages,
// acknowledgements, turn requests). Writes from both go through one mutex:
// gRPC allows one write at a time.

#include <atomic>
#include <mutex>
#include <thread>

#include "api/convert.hpp"
#include "api/handler.hpp"

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

class link_service final : public pb::AgentLink::Service {
public:
  explicit link_service(api_state& st) : st_(st) {}

  grpc::Status Link(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<pb::LinkServer, pb::LinkClient>* stream) override {
    return handle(st_, ctx, [&](const principal& p) { return run(ctx, stream, p); });
  }

private:
  grpc::Status run(grpc::ServerContext* ctx,
                   grpc::ServerReaderWriter<pb::LinkServer, pb::LinkClient>* stream, const principal& p) {
    auto slot = st_.admit.open_stream(p);
    if (!slot)
      return fail(st_, ctx, slot.error());
    pb::LinkClient first;
    if (!stream->Read(&first))
      return grpc::Status::OK; // the client went away before saying anything
    if (!first.has_open())
      return {grpc::StatusCode::INVALID_ARGUMENT, "link: the first message must be `open`"};
    const auto agent = first.open().agent();
    auto link = st_.n.open_link(p, agent, first.open().credit() == 0 ? default_credit
                                                                     : first.open().credit());
    if (!link)
      return fail(st_, ctx, link.error());
    std::mutex write_mtx;
    // `more`: further writes follow at once, so gRPC may hold this one
    // back and send them together (one syscall per batch of results).
    auto write = [&](const pb::LinkServer& m, bool more = false) {
      std::lock_guard guard{write_mtx};
      return more ? stream->Write(m, grpc::WriteOptions().set_buffer_hint()) : stream->Write(m);
    };
    {
      pb::LinkServer ready;
      ready.mutable_ready()->set_agent(agent);
      ready.mutable_ready()->set_pending((*link)->pending_at_open());
      if (!write(ready))
        return grpc::Status::OK;
    }
    std::atomic<bool> client_done{false};
    std::thread reader([&] {
      pb::LinkClient in;
      while (stream->Read(&in)) {
        if (!serve_client(in, p, agent, **link, write))
          break;
      }
      client_done = true;
    });
    bool open = true;
    while (open && !client_done && !ctx->IsCancelled() && !st_.draining.load()) {
      auto item = (*link)->next(std::chrono::milliseconds(50));
      if (!item)
        continue;
      pb::LinkServer out;
      encode_item(*item, agent, out);
      open = write(out);
    }
    const bool draining = st_.draining.load();
    const std::string why =
      "the node is draining; reconnect later: unacknowledged deliveries come again";
    if (draining && open && !client_done) {
      // The reader blocks in Read, which only a cancel ends (sync API); the
      // client learns why from this message before the stream is cancelled.
      pb::LinkServer bye;
      bye.mutable_closing()->set_code(static_cast<int>(grpc::StatusCode::UNAVAILABLE));
      bye.mutable_closing()->set_message(why);
      write(bye);
    }
    if (!client_done)
      ctx->TryCancel(); // ends the reader's Read
    reader.join();
    if (draining)
      return {grpc::StatusCode::UNAVAILABLE, why};
    return grpc::Status::OK;
  }

  template <class Write>
  bool serve_client(const pb::LinkClient& in, const principal& p, const std::string& agent,
                    agent_link& link, Write& write) {
    switch (in.msg_case()) {
      case pb::LinkClient::kCredit:
        link.add_credit(in.credit()); // capped at max_link_credit
        return true;
      case pb::LinkClient::kAck:
        link.acknowledge({in.ack().deliveries().begin(), in.ack().deliveries().end()});
        return true;
      case pb::LinkClient::kSend:
        return send(std::vector<pb::Message>{in.send()}, p, agent, write);
      case pb::LinkClient::kSendBatch:
        return send({in.send_batch().messages().begin(), in.send_batch().messages().end()}, p, agent,
                    write);
      case pb::LinkClient::kRequestTurn:
      case pb::LinkClient::kYieldTurn: {
        const bool request = in.msg_case() == pb::LinkClient::kRequestTurn;
        auto& t = request ? in.request_turn() : in.yield_turn();
        auto ok = request ? st_.n.request_turn(p, t.room(), agent) : st_.n.yield_turn(p, t.room(), agent);
        if (ok)
          return true;
        // Reported like a failed send, under the id "turn:<room>".
        pb::LinkServer out;
        result_of(unexpected{ok.error()}, "turn:" + t.room(), *out.mutable_sent());
        return write(out);
      }
      default: {
        pb::LinkServer out;
        result_of(unexpected{errc::invalid_argument, "link: unexpected message (open twice?)"}, "",
                  *out.mutable_sent());
        return write(out);
      }
    }
  }

  // Sends as the linked agent; `from` may be empty or must be the agent.
  template <class Write>
  bool send(const std::vector<pb::Message>& batch, const principal& p, const std::string& agent,
            Write& write) {
    std::vector<message> ms;
    std::vector<std::pair<size_t, expected<message>>> early; // decode failures
    std::vector<size_t> index;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto m = from_pb(batch[i]);
      if (m && !m->from.empty() && m->from != agent)
        m = unexpected{errc::permission_denied,
                       "message.from: a link of '" + agent + "' sends only as '" + agent + "'"};
      if (!m) {
        early.emplace_back(i, std::move(m));
        continue;
      }
      m->from = agent;
      index.push_back(i);
      ms.push_back(std::move(*m));
    }
    auto results = st_.n.send_many(p, std::move(ms));
    std::vector<expected<message>> all(batch.size(), unexpected{errc::internal, "not sent"});
    for (size_t k = 0; k < index.size(); ++k)
      all[index[k]] = std::move(results[k]);
    for (auto& [i, r] : early)
      all[i] = std::move(r);
    for (size_t i = 0; i < all.size(); ++i) {
      pb::LinkServer out;
      result_of(all[i], batch[i].id(), *out.mutable_sent());
      if (!write(out, i + 1 < all.size()))
        return false;
    }
    return true;
  }

  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_link_service(api_state& st) {
  return std::make_unique<link_service>(st);
}

} // namespace parley::api
