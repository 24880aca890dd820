// Events.Subscribe: a node event_stream written to the client by a
// callback reactor, so an open subscription holds no thread: the reactor
// writes while the stream has events (one write in flight, gRPC's rule),
// and when it runs dry the stream's on_ready wakes it from the event bus's
// thread. It holds one of the caller's stream slots; it ends at the first
// event the subscriber fell too far behind to get (RESOURCE_EXHAUSTED,
// trailer resume-from-offset), on drain (UNAVAILABLE) and when an agent
// leaves the room it followed (PERMISSION_DENIED); the trailer and message
// say where to resume, so that resuming loses nothing.

#include "api/convert.hpp"
#include "api/stream_reactor.hpp"

namespace parley::api {

namespace {

constexpr size_t write_batch_events = 256;

expected<subscription_spec> spec_of(const pb::SubscribeRequest& req) {
  subscription_spec spec;
  spec.topics = 0;
  for (auto& name : req.topics()) {
    auto t = parse_topic(name);
    if (!t)
      return unexpected{errc::invalid_argument, "topics: " + t.error().message};
    spec.topics |= mask_of(*t);
  }
  if (spec.topics == 0)
    spec.topics = all_topics;
  spec.agent = req.agent();
  spec.room = req.room();
  spec.from_seq = req.from_offset();
  spec.this_node_only = req.this_node_only();
  spec.from_oldest = req.from_oldest();
  if (!req.resume_token().empty()) {
    auto at = event_cursor::parse(req.resume_token());
    if (!at)
      return unexpected{at.error()};
    spec.resume = std::move(*at);
  }
  return spec;
}

class subscribe_reactor final : public stream_reactor<grpc::ServerWriteReactor<pb::Event>> {
public:
  subscribe_reactor(api_state& st, grpc::CallbackServerContext* ctx, const pb::SubscribeRequest& req)
    : stream_reactor(st, ctx) {
    std::optional<subscription_spec> spec;
    if (!opened([&] { return open(req, spec); }))
      return;
    if (!begin_call())
      return; // drained meanwhile: finished already
    start(st_.n.subscribe_async(who_, std::move(*spec)),
          [this](expected<std::unique_ptr<event_stream>> s) noexcept { subscribed(std::move(s)); });
  }

private:
  grpc::Status open(const pb::SubscribeRequest& req, std::optional<subscription_spec>& spec) {
    if (auto s = admit_stream(); !s.ok())
      return s;
    auto parsed = spec_of(req);
    if (!parsed)
      return to_status(parsed.error());
    spec = std::move(*parsed);
    return grpc::Status::OK;
  }

  // The node's answer, on an actor's thread.
  void subscribed(expected<std::unique_ptr<event_stream>> s) noexcept {
    if (s) // before the stream is ours to poll: nothing can wake it yet
      (*s)->on_ready([this] { // on the bus's thread
        std::lock_guard guard{mtx_};
        pump();
      });
    std::lock_guard guard{mtx_};
    calling_ = false;
    try {
      if (!s)
        return finish(fail(st_, ctx_, s.error()));
      stream_ = std::move(*s);
      pump();
    } catch (const std::exception& e) {
      fail_with(internal_error(e));
    }
  }

  void quiet() override {
    if (stream_)
      stream_->on_ready(nullptr);
  }

  void pump() override {
    if (finished_ || writing_ || calling_ || !stream_) // !stream_: not subscribed yet
      return;
    try {
      if (failure_)
        return finish(*failure_);
      if (cancelled_)
        return finish(grpc::Status::OK);
      if (draining_)
        return finish_at(resume_offset(), {grpc::StatusCode::UNAVAILABLE,
                                           "the node is draining; resume elsewhere or later from offset "
                                             + std::to_string(resume_offset())});
      if (next_ == batch_.size()) {
        // Where the stream stands after the last event written; each
        // event written moves it on.
        cursor_ = stream_->cursor();
        batch_ = stream_->try_next(write_batch_events); // a miss arms on_ready
        next_ = 0;
        if (batch_.empty()) {
          if (auto why = stream_->ended())
            return finish_at(stream_->resume_from(), to_status(*why, ctx_, st_.opt.retry_after_ms));
          return;
        }
      }
      out_.Clear();
      auto& e = batch_[next_++];
      if (e.node.empty())
        e.node = st_.n.config().node_id;
      cursor_.passed(e.node, e.seq);
      to_pb(e, out_);
      out_.set_resume_token(cursor_.token());
      write(out_, next_ < batch_.size()); // a batch's events leave in one write
    } catch (const std::exception& e) {
      fail_with(internal_error(e));
    }
  }

  // Offset after the last event written.
  uint64_t resume_offset() const {
    return next_ < batch_.size() ? batch_[next_].seq : stream_->resume_from();
  }

  // Trailers: this node's offset, and the token for the whole stream
  // (after the last event written).
  void finish_at(uint64_t resume, grpc::Status s) {
    ctx_->AddTrailingMetadata("resume-from-offset", std::to_string(resume));
    if (next_ == batch_.size())
      cursor_ = stream_->cursor();
    ctx_->AddTrailingMetadata("resume-token", cursor_.token());
    finish(std::move(s));
  }

  std::unique_ptr<event_stream> stream_;
  std::vector<event> batch_; // taken from the stream; [next_, end) not yet written
  event_cursor cursor_;       // after the last event written
  size_t next_ = 0;
  pb::Event out_; // the write in flight
};

class events_service final : public pb::Events::WithCallbackMethod_Subscribe<pb::Events::Service> {
public:
  explicit events_service(api_state& st) : st_(st) {}

  grpc::ServerWriteReactor<pb::Event>* Subscribe(grpc::CallbackServerContext* ctx,
                                                 const pb::SubscribeRequest* req) override {
    return new subscribe_reactor(st_, ctx, *req); // gRPC's way: it deletes itself in OnDone
  }

private:
  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_events_service(api_state& st) {
  return std::make_unique<events_service>(st);
}

} // namespace parley::api
