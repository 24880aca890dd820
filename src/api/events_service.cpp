// Events.Subscribe: a node event_stream written to the client. The stream
// holds this handler's thread (sync API) and one of the caller's stream
// slots; it ends at the first event the subscriber fell too far behind to
// get (RESOURCE_EXHAUSTED, trailer resume-from-offset), on drain
// (UNAVAILABLE) and when an agent leaves the room it followed
// (PERMISSION_DENIED); the message says where to resume, so that resuming
// loses nothing.

#include "api/convert.hpp"
#include "api/handler.hpp"

namespace parley::api {

namespace {

constexpr size_t write_batch_events = 256;

class events_service final : public pb::Events::Service {
public:
  explicit events_service(api_state& st) : st_(st) {}

  grpc::Status Subscribe(grpc::ServerContext* ctx, const pb::SubscribeRequest* req,
                         grpc::ServerWriter<pb::Event>* writer) override {
    return handle(st_, ctx, [&](const principal& p) -> grpc::Status {
      subscription_spec spec;
      spec.topics = 0;
      for (auto& name : req->topics()) {
        auto t = parse_topic(name);
        if (!t)
          return {grpc::StatusCode::INVALID_ARGUMENT, "topics: " + t.error().message};
        spec.topics |= mask_of(*t);
      }
      if (spec.topics == 0)
        spec.topics = all_topics;
      spec.agent = req->agent();
      spec.room = req->room();
      spec.from_seq = req->from_offset();
      auto slot = st_.admit.open_stream(p);
      if (!slot)
        return fail(st_, ctx, slot.error());
      auto stream = st_.n.subscribe(p, spec);
      if (!stream)
        return fail(st_, ctx, stream.error());
      auto& s = **stream;
      bool wrote = false;
      for (;;) {
        auto batch = s.next(write_batch_events, std::chrono::milliseconds(100));
        for (size_t i = 0; i < batch.size(); ++i) {
          pb::Event pe;
          to_pb(batch[i], pe);
          // Events of a batch leave in one write; not the stream's first
          // (gRPC 1.51 fails a buffered write that would carry the initial
          // metadata).
          auto opts = grpc::WriteOptions();
          if (wrote && i + 1 < batch.size())
            opts.set_buffer_hint();
          if (!writer->Write(pe, opts))
            return grpc::Status::OK; // the client went away
          wrote = true;
        }
        if (auto why = s.ended()) {
          ctx->AddTrailingMetadata("resume-from-offset", std::to_string(s.resume_from()));
          return to_status(*why, ctx, st_.opt.retry_after_ms);
        }
        if (ctx->IsCancelled())
          return grpc::Status::OK;
        if (st_.draining.load()) {
          ctx->AddTrailingMetadata("resume-from-offset", std::to_string(s.resume_from()));
          return {grpc::StatusCode::UNAVAILABLE, "the node is draining; resume elsewhere or later "
                                                 "from offset "
                                                   + std::to_string(s.resume_from())};
        }
      }
    });
  }

private:
  api_state& st_;
};

} // namespace

std::unique_ptr<grpc::Service> make_events_service(api_state& st) {
  return std::make_unique<events_service>(st);
}

} // namespace parley::api
