// The Federation service (proto/parley/v1/federation.proto): the serving
// side of the links other nodes open to this one. Each request is handed to
// node::serve_remote in the link's order (so each agent gets a link's
// messages in that order), answered by number, and acknowledged
// cumulatively. What a peer's link has been through outlives its stream (a
// peer_session per node): a request resent after a reconnect is answered
// from memory if it was answered, ignored if it is still running, and never
// served twice.

#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "api/handler.hpp"
#include "parley/auth/access.hpp"
#include "federation/peer_codec.hpp"
#include "parley/v1/federation.grpc.pb.h"

namespace parley::api {

namespace {

namespace fpb = ::parley::v1;

// Replies kept per peer for requests resent after a reconnect.
constexpr size_t kept_replies = 65536;
// Replies written in one frame at most.
constexpr int replies_per_frame = 256;

class link_writer;

struct peer_session {
  std::mutex mtx;
  uint64_t session = 0;
  uint64_t dispatched = 0;       // highest number handed to the node
  uint64_t answered_through = 0; // every number up to it is answered
  std::set<uint64_t> answered_ahead;
  std::map<uint64_t, fpb::PeerReply> recent;
  std::weak_ptr<link_writer> writer; // the current stream's
};

using link_reactor = grpc::ServerBidiReactor<fpb::PeerFrame, fpb::PeerFrame>;

// Writes replies on one stream, one write in flight, batching what queued
// meanwhile. Outlives its reactor (answers may come later): closed then.
class link_writer {
public:
  explicit link_writer(link_reactor* r) : reactor_(r) {}

  void queue(fpb::PeerReply reply, uint64_t answered_through) {
    std::lock_guard guard{mtx_};
    if (closed_)
      return;
    pending_.push_back(std::move(reply));
    through_ = std::max(through_, answered_through);
    pump();
  }
  void write_done(bool ok) {
    std::lock_guard guard{mtx_};
    writing_ = false;
    if (!ok)
      failed_ = true;
    pump();
  }
  /// Ends the stream with `s` once no write is in flight.
  void finish(grpc::Status s) {
    std::lock_guard guard{mtx_};
    if (!finish_)
      finish_ = std::move(s);
    pump();
  }
  void close() {
    std::lock_guard guard{mtx_};
    closed_ = true;
  }

private:
  void pump() {
    if (closed_ || writing_ || finished_)
      return;
    if (finish_ || failed_) {
      finished_ = true;
      reactor_->Finish(finish_ ? *finish_ : grpc::Status::OK);
      return;
    }
    if (pending_.empty())
      return;
    out_.Clear();
    int n = 0;
    while (!pending_.empty() && n++ < replies_per_frame) {
      out_.add_replies()->Swap(&pending_.front());
      pending_.pop_front();
    }
    out_.set_answered_through(through_);
    writing_ = true;
    reactor_->StartWrite(&out_);
  }

  std::mutex mtx_;
  link_reactor* reactor_;
  std::deque<fpb::PeerReply> pending_;
  uint64_t through_ = 0;
  fpb::PeerFrame out_;
  bool writing_ = false, failed_ = false, finished_ = false, closed_ = false;
  std::optional<grpc::Status> finish_;
};

class sessions {
public:
  std::shared_ptr<peer_session> of(const std::string& node) {
    std::lock_guard guard{mtx_};
    auto& s = map_[node];
    if (!s)
      s = std::make_shared<peer_session>();
    return s;
  }

private:
  std::mutex mtx_;
  std::map<std::string, std::shared_ptr<peer_session>> map_;
};

class peer_link final : public link_reactor, public drainable {
public:
  peer_link(api_state& st, sessions& all, grpc::CallbackServerContext* ctx)
    : st_(st), all_(all), writer_(std::make_shared<link_writer>(this)) {
    principal who;
    if (auto s = admit_call(st, ctx, who); !s.ok()) {
      writer_->finish(s);
      return;
    }
    if (auto ok = authorize(who, action::federate); !ok) {
      writer_->finish({grpc::StatusCode::PERMISSION_DENIED,
                       "only nodes of the network may open a federation link; " + to_string(who) + " is not one"});
      return;
    }
    who_ = who;
    st_.streams.add(this);
    registered_ = true;
    StartRead(&in_);
  }

  // A draining node ends its links (the peers hold their requests until
  // it is back, or its shards have moved).
  void drain() override {
    writer_->finish({grpc::StatusCode::UNAVAILABLE, "node is draining"});
  }

  void OnReadDone(bool ok) override {
    if (!ok)
      return writer_->finish(grpc::Status::OK); // the peer closed or went away
    if (in_.has_hello())
      if (auto s = hello(in_.hello()); !s.ok())
        return writer_->finish(s);
    if (in_.requests_size() > 0 && !session_)
      return writer_->finish({grpc::StatusCode::FAILED_PRECONDITION, "a federation link starts with a hello"});
    for (auto& r : *in_.mutable_requests())
      take(r);
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override { writer_->write_done(ok); }
  void OnDone() override {
    if (registered_)
      st_.streams.remove(this);
    writer_->close();
    delete this;
  }

private:
  grpc::Status hello(const fpb::PeerHello& h) {
    if (auto ok = validate_agent_id(h.node()); !ok || h.session() == 0)
      return {grpc::StatusCode::INVALID_ARGUMENT, "a federation hello names its node and a session number other than 0"};
    // A node's credential (its certificate, or a token minted for it) names
    // it: it links as that node only.
    if (who_.role == principal_role::node && who_.name != h.node())
      return {grpc::StatusCode::PERMISSION_DENIED, "the credential of node '" + who_.name + "' cannot link as node '"
                                                     + h.node() + "'"};
    if (auto& cluster = st_.n.config().cluster) {
      bool member = false;
      for (auto& m : cluster->members())
        member = member || m.node == h.node();
      if (!member)
        return {grpc::StatusCode::PERMISSION_DENIED, "node '" + h.node() + "' is not a member of this network"};
    }
    peer_ = h.node();
    session_ = all_.of(peer_);
    std::lock_guard guard{session_->mtx};
    if (session_->session != h.session() || session_->dispatched + 1 < h.resume_from()) {
      // A session this node does not know (the peer or this node
      // restarted): it starts where the peer resumes. What this node served
      // before a restart of its own is recognised by the idempotency keys.
      session_->session = h.session();
      session_->dispatched = session_->answered_through = h.resume_from() > 0 ? h.resume_from() - 1 : 0;
      session_->answered_ahead.clear();
      session_->recent.clear();
    }
    session_->writer = writer_;
    return grpc::Status::OK;
  }

  void take(fpb::PeerRequest& r) {
    const auto seq = r.seq();
    {
      std::lock_guard guard{session_->mtx};
      if (seq <= session_->dispatched) {
        // A resend: answer again if it was answered; else it still runs.
        if (auto it = session_->recent.find(seq); it != session_->recent.end())
          writer_->queue(it->second, session_->answered_through);
        return;
      }
      if (seq != session_->dispatched + 1)
        return; // a gap: the resend fills it, in order
      session_->dispatched = seq;
    }
    auto req = federation::from_pb(r);
    if (!req)
      return complete(session_, seq, unexpected{req.error()});
    // serve_remote reaches the agent's mailbox before it first suspends:
    // requests start here in the link's order.
    start(st_.n.serve_remote(std::move(*req)),
          // By reference: g++ 12 warns (wrongly, -Wmaybe-uninitialized) on
          // a move of this expected.
          [session = session_, seq](const expected<federation::remote_reply>& out) { complete(session, seq, out); });
  }

  static void complete(const std::shared_ptr<peer_session>& s, uint64_t seq, const expected<federation::remote_reply>& r) {
    fpb::PeerReply reply;
    reply.set_seq(seq);
    federation::to_pb(r, reply);
    std::shared_ptr<link_writer> writer;
    uint64_t through = 0;
    {
      std::lock_guard guard{s->mtx};
      if (seq > s->dispatched)
        return; // the session started over meanwhile
      s->recent[seq] = reply;
      while (s->recent.size() > kept_replies)
        s->recent.erase(s->recent.begin());
      s->answered_ahead.insert(seq);
      while (!s->answered_ahead.empty() && *s->answered_ahead.begin() == s->answered_through + 1) {
        s->answered_through = *s->answered_ahead.begin();
        s->answered_ahead.erase(s->answered_ahead.begin());
      }
      through = s->answered_through;
      writer = s->writer.lock();
    }
    if (writer)
      writer->queue(std::move(reply), through);
  }

  api_state& st_;
  sessions& all_;
  std::shared_ptr<link_writer> writer_;
  std::shared_ptr<peer_session> session_;
  std::string peer_;
  principal who_; // the link's authenticated caller
  fpb::PeerFrame in_;
  bool registered_ = false;
};

class federation_service final : public fpb::Federation::CallbackService {
public:
  explicit federation_service(api_state& st) : st_(st) {}
  link_reactor* Link(grpc::CallbackServerContext* ctx) override { return new peer_link(st_, sessions_, ctx); }

private:
  api_state& st_;
  sessions sessions_;
};

} // namespace

std::unique_ptr<grpc::Service> make_federation_service(api_state& st) {
  return std::make_unique<federation_service>(st);
}

} // namespace parley::api
