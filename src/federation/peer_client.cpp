// The gRPC peer transport (parley/federation/peer_client.hpp): per peer,
// an outbox (link_protocol's link_sender) and a thread that keeps one
// Federation.Link stream open while requests wait, writes them in batches,
// and, with a reader thread, hands each reply to its caller.

#include "parley/federation/peer_client.hpp"

#include <condition_variable>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <thread>
#include <unordered_map>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "federation/peer_codec.hpp"
#include "parley/federation/link_protocol.hpp"
#include "parley/v1/federation.grpc.pb.h"

namespace parley::federation {

namespace {

// Payload bytes of one frame: well under the 1 MiB a node takes in one
// request by default (limits.max_request_bytes), framing included.
constexpr size_t max_frame_payload = 512 * 1024;

using done_fn = std::function<void(expected<remote_reply>)>;

class peer_link {
public:
  peer_link(const peer_client_options& o, std::shared_ptr<grpc::ChannelCredentials> creds, std::string peer,
            uint64_t session)
    : opts_(o), creds_(std::move(creds)), peer_(std::move(peer)), session_(session),
      sender_(o.max_pending, o.max_pending_bytes), thread_([this] { run(); }) {}

  ~peer_link() {
    {
      std::lock_guard guard{mtx_};
      stopping_ = true;
      if (ctx_)
        ctx_->TryCancel();
    }
    cv_.notify_all();
    thread_.join();
  }

  void call(const remote_request& r, done_fn done) {
    pb::PeerRequest wire;
    to_pb(r, wire);
    std::unique_lock guard{mtx_};
    if (stopping_) {
      guard.unlock();
      return done(unexpected{errc::unavailable, "the link to node '" + peer_ + "' is closing"});
    }
    auto seq = sender_.push(wire.SerializeAsString());
    if (!seq) {
      guard.unlock();
      return done(unexpected{link_full(peer_, seq.error().message)});
    }
    waiting_.emplace(*seq, std::move(done));
    guard.unlock();
    cv_.notify_all();
  }

private:
  void run() {
    auto backoff = std::chrono::milliseconds(100);
    for (;;) {
      {
        std::unique_lock guard{mtx_};
        cv_.wait(guard, [this] { return stopping_ || sender_.pending() > 0; });
        if (stopping_)
          break;
      }
      if (serve_one_stream())
        backoff = std::chrono::milliseconds(100);
      forget_if_gone();
      std::unique_lock guard{mtx_};
      if (cv_.wait_for(guard, backoff, [this] { return stopping_; }))
        break;
      backoff = std::min<std::chrono::milliseconds>(backoff * 2, std::chrono::seconds(1));
    }
    // Whoever still waits learns that no answer comes.
    std::unordered_map<uint64_t, done_fn> left;
    {
      std::lock_guard guard{mtx_};
      left.swap(waiting_);
    }
    for (auto& [seq, done] : left)
      done(unexpected{errc::unavailable, "the link to node '" + peer_ + "' closed before it answered"});
  }

  // A peer that stays out of the network (it left after a hand-off, or
  // its lease ended) will not answer what it was sent: after
  // forget_after, its callers get unavailable and resolve the owner again
  // (the new owner, or the same node once it is back).
  void forget_if_gone() {
    if (!opts_.address_of(peer_).empty()) {
      gone_since_.reset();
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (!gone_since_)
      gone_since_ = now;
    if (now - *gone_since_ < opts_.forget_after)
      return;
    gone_since_.reset();
    std::unordered_map<uint64_t, done_fn> left;
    {
      std::lock_guard guard{mtx_};
      left.swap(waiting_);
      // The numbering goes on; the next hello's resume_from skips these.
      sender_ = link_sender::restore(opts_.max_pending, opts_.max_pending_bytes, {}, sender_.last_seq());
    }
    for (auto& [seq, done] : left)
      done(unexpected{errc::unavailable, "node '" + peer_ + "' is not a member of the network: the request was "
                                                              "not answered; resolve its owner again"});
  }

  std::shared_ptr<grpc::Channel> channel(const std::string& address) {
    if (address != address_ || !channel_) {
      grpc::ChannelArguments args;
      // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: that is also the connect timeout.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      args.SetMaxReceiveMessageSize(64 << 20);
      channel_ = grpc::CreateCustomChannel(address, creds_, args);
      stub_ = pb::Federation::NewStub(channel_);
      address_ = address;
    }
    return channel_;
  }

  // One stream, until it fails or the transport stops; true if the peer
  // answered on it (the backoff starts over).
  bool serve_one_stream() {
    const auto address = opts_.address_of(peer_);
    if (address.empty())
      return false;
    channel(address);
    grpc::ClientContext ctx;
    if (opts_.bearer_token)
      if (auto token = opts_.bearer_token(); !token.empty())
        ctx.AddMetadata("authorization", "Bearer " + token);
    pb::PeerFrame hello;
    {
      std::lock_guard guard{mtx_};
      if (stopping_)
        return false;
      ctx_ = &ctx;
      broken_ = false;
      sender_.on_reconnect();
      hello.mutable_hello()->set_node(opts_.node);
      hello.mutable_hello()->set_session(session_);
      hello.mutable_hello()->set_resume_from(sender_.outbox().empty() ? sender_.last_seq() + 1
                                                                      : sender_.outbox().front().seq);
    }
    auto stream = stub_->Link(&ctx);
    bool answered = false;
    std::thread reader;
    if (stream->Write(hello)) {
      reader = std::thread([&] {
        pb::PeerFrame in;
        while (stream->Read(&in)) {
          answered = true;
          take(in);
        }
        std::lock_guard guard{mtx_};
        broken_ = true;
        cv_.notify_all();
      });
      write_loop(*stream);
    }
    {
      std::lock_guard guard{mtx_};
      ctx_ = nullptr;
    }
    ctx.TryCancel();
    if (reader.joinable())
      reader.join();
    auto status = stream->Finish();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED)
      spdlog::warn("link to node '{}' at {} failed: {} (retrying)", peer_, address, status.error_message());
    return answered;
  }

  void write_loop(grpc::ClientReaderWriter<pb::PeerFrame, pb::PeerFrame>& stream) {
    for (;;) {
      std::vector<link_message> batch;
      {
        std::unique_lock guard{mtx_};
        for (;;) {
          if (stopping_ || broken_)
            return;
          batch = sender_.next_batch(opts_.batch, max_frame_payload);
          if (!batch.empty())
            break;
          cv_.wait(guard);
        }
      }
      pb::PeerFrame out;
      for (auto& m : batch) {
        auto* r = out.add_requests();
        r->ParseFromString(m.payload);
        r->set_seq(m.seq);
      }
      if (!stream.Write(out))
        return;
    }
  }

  void take(pb::PeerFrame& in) {
    std::vector<std::pair<done_fn, expected<remote_reply>>> done;
    {
      std::lock_guard guard{mtx_};
      for (auto& r : in.replies()) {
        auto it = waiting_.find(r.seq());
        if (it == waiting_.end())
          continue; // answered before (a resend's second answer)
        done.emplace_back(std::move(it->second), from_pb(r));
        waiting_.erase(it);
      }
      if (in.answered_through() > 0)
        if (auto ok = sender_.on_ack(in.answered_through()); !ok)
          spdlog::warn("link to node '{}': {}", peer_, ok.error().message);
    }
    for (auto& [f, r] : done)
      f(std::move(r));
  }

  const peer_client_options& opts_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  const std::string peer_;
  const uint64_t session_;

  std::mutex mtx_;
  std::condition_variable cv_;
  link_sender sender_;
  std::unordered_map<uint64_t, done_fn> waiting_;
  std::optional<std::chrono::steady_clock::time_point> gone_since_; // run()'s thread only
  bool stopping_ = false;
  bool broken_ = false;
  grpc::ClientContext* ctx_ = nullptr;

  // The link thread's own.
  std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Federation::Stub> stub_;

  std::thread thread_; // last: starts once everything above exists
};

class peer_client final : public peer_transport {
public:
  peer_client(peer_client_options o, std::shared_ptr<grpc::ChannelCredentials> creds)
    : opts_(std::move(o)), creds_(std::move(creds)) {
    // A new number per process: the peers start its links over.
    std::random_device rd;
    session_ = (uint64_t{rd()} << 32 | rd()) | 1;
  }

  ~peer_client() override { close(); }

  void close() override {
    std::map<std::string, std::shared_ptr<peer_link>> links;
    {
      std::lock_guard guard{mtx_};
      closed_ = true;
      links.swap(links_);
    }
    links.clear(); // joins each link's threads, outside the lock (a call
                   // still using one ends it when it is done)
  }

  void call(const std::string& node, remote_request r, std::function<void(expected<remote_reply>)> done) override {
    std::shared_ptr<peer_link> link;
    {
      std::lock_guard guard{mtx_};
      if (!closed_) {
        auto& l = links_[node];
        if (!l)
          l = std::make_shared<peer_link>(opts_, creds_, node, session_);
        link = l;
      }
    }
    if (!link)
      return done(unexpected{errc::unavailable, "this node's links to its peers are closed: it is stopping"});
    link->call(r, std::move(done));
  }

private:
  peer_client_options opts_;
  std::shared_ptr<grpc::ChannelCredentials> creds_;
  uint64_t session_ = 1;
  std::mutex mtx_;
  bool closed_ = false;
  std::map<std::string, std::shared_ptr<peer_link>> links_;
};

} // namespace

expected<std::shared_ptr<peer_transport>> make_peer_client(peer_client_options opts) {
  if (opts.node.empty() || !opts.address_of)
    return unexpected{errc::invalid_argument, "a peer client needs this node's name and a way to find its peers"};
  auto read = [](const std::string& file, const char* what, std::string& out) -> expected<void> {
    std::ifstream in(file);
    if (!in)
      return unexpected{errc::invalid_argument, std::string{"cannot read "} + what + " '" + file + "'"};
    std::stringstream pem;
    pem << in.rdbuf();
    out = pem.str();
    return {};
  };
  if (opts.tls_cert_file.empty() != opts.tls_key_file.empty())
    return unexpected{errc::invalid_argument, "a node's certificate for its links needs both its file and its key"};
  if (!opts.tls_cert_file.empty() && opts.tls_ca_file.empty())
    return unexpected{errc::invalid_argument, "a node's certificate for its links needs TLS to its peers "
                                              "(the peers' CA file)"};
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (!opts.tls_ca_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (auto ok = read(opts.tls_ca_file, "the peers' CA file", ssl.pem_root_certs); !ok)
      return unexpected{ok.error()};
    // Presented to the peers (mutual TLS): they take this node's identity
    // from it.
    if (!opts.tls_cert_file.empty()) {
      if (auto ok = read(opts.tls_cert_file, "this node's certificate", ssl.pem_cert_chain); !ok)
        return unexpected{ok.error()};
      if (auto ok = read(opts.tls_key_file, "this node's private key", ssl.pem_private_key); !ok)
        return unexpected{ok.error()};
    }
    creds = grpc::SslCredentials(ssl);
  }
  return std::shared_ptr<peer_transport>{std::make_shared<peer_client>(std::move(opts), std::move(creds))};
}

} // namespace parley::federation
