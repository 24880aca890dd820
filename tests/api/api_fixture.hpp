#pragma once

// What the API tests share: a node behind a real server on 127.0.0.1 (port
// 0), a channel to it with one generated stub per service, contexts that
// carry caller metadata, status assertions, and clients for server streams
// and agent links that read on their own thread so that a test waits for
// what it expects with a bound instead of blocking in Read.
//
// ApiFixture runs a memory node; DurableApiFixture keeps the node's store in
// a temp dir and can restart node and server on it (restart()).

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "parley/api/server.hpp"
#include "parley/auth/token.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "support/node_fixture.hpp"
#include "support/temp_dir.hpp"

namespace parley::api_test {

namespace pb = ::parley::v1;
using test_support::wait_timeout;

/// Deadline of every call a test makes (streams too): a server that hangs
/// fails the test instead of hanging the binary.
inline constexpr std::chrono::seconds call_deadline{20};

/// The HS256 key the test servers accept bearer tokens under.
inline auth::token_key test_key() {
  return {"parley-api-tests-0123456789abcdef-not-a-real-secret"};
}

/// A token for `who`, signed with `key` (the test key unless given),
/// valid for an hour.
inline std::string token_for(const principal& who, const auth::token_key& key = test_key(),
                             int64_t ttl_s = 3600) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  auth::token_claims c;
  c.who = who;
  c.issuer = "parley";
  c.audience = "parley";
  c.issued_at = now;
  c.expires_at = now + ttl_s;
  auto t = auth::issue_token(key, c);
  EXPECT_TRUE(t.has_value());
  return t ? *t : std::string{};
}

/// A context with a deadline that authenticates as `who` (no credential
/// for nullopt).
inline std::unique_ptr<grpc::ClientContext> context_for(const std::optional<principal>& who) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + call_deadline);
  if (who)
    ctx->AddMetadata("authorization", "Bearer " + token_for(*who));
  return ctx;
}

/// A context with a raw `authorization` value (bad credentials).
inline std::unique_ptr<grpc::ClientContext> context_with(const std::string& authorization) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + call_deadline);
  ctx->AddMetadata("authorization", authorization);
  return ctx;
}

/// The admin secret older tests name; caller() maps it to an admin token.
inline const std::string admin_secret = "s3cret";

/// A context for the caller the older tests describe: an admin when
/// `admin_token` is the admin secret, a token signed with another key when
/// it is anything else (refused: UNAUTHENTICATED), else agent `agent`, else
/// an observer.
inline std::unique_ptr<grpc::ClientContext> caller(const std::string& agent = {},
                                                   const std::string& admin_token = {}) {
  if (admin_token == admin_secret)
    return context_for(principal::admin("tests"));
  if (!admin_token.empty())
    return context_with("Bearer " + token_for(principal::admin(), auth::token_key{std::string(40, 'x')}));
  if (!agent.empty())
    return context_for(principal::agent(agent));
  return context_for(principal::observer("tests"));
}

inline std::string code_name(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "code " + std::to_string(static_cast<int>(c));
  }
}

inline ::testing::AssertionResult is_ok(const grpc::Status& s) {
  if (s.ok())
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "failed with " << code_name(s.error_code()) << ": " << s.error_message();
}

/// Passes when `s` failed with `code` and its message contains every needle.
inline ::testing::AssertionResult is_error(const grpc::Status& s, grpc::StatusCode code,
                                           std::vector<std::string_view> needles = {}) {
  if (s.ok())
    return ::testing::AssertionFailure() << "succeeded, expected " << code_name(code);
  if (s.error_code() != code)
    return ::testing::AssertionFailure() << "failed with " << code_name(s.error_code()) << " ("
                                         << s.error_message() << "), expected " << code_name(code);
  for (auto n : needles)
    if (s.error_message().find(n) == std::string::npos)
      return ::testing::AssertionFailure()
             << "message \"" << s.error_message() << "\" lacks \"" << n << "\"";
  return ::testing::AssertionSuccess();
}

/// The same check for a send result reported on a link.
inline ::testing::AssertionResult is_error(const pb::SendResult& r, grpc::StatusCode code,
                                           std::vector<std::string_view> needles = {}) {
  return is_error(grpc::Status{static_cast<grpc::StatusCode>(r.error_code()), r.error_message()},
                  code, std::move(needles));
}

// -- reading on a thread --------------------------------------------------------

/// Items one reader thread pushes and a test takes with a bounded wait, and
/// the stream's final status.
template <class T>
class inbox_queue {
public:
  void push(T x) {
    std::lock_guard guard{mtx_};
    items_.push_back(std::move(x));
    cv_.notify_all();
  }

  void end(grpc::Status s) {
    std::lock_guard guard{mtx_};
    status_ = std::move(s);
    cv_.notify_all();
  }

  /// The next item; nullopt when none came within `timeout` or the stream
  /// ended without more.
  std::optional<T> next(std::chrono::milliseconds timeout) {
    std::unique_lock guard{mtx_};
    cv_.wait_for(guard, timeout, [this] { return !items_.empty() || status_.has_value(); });
    if (items_.empty())
      return std::nullopt;
    auto x = std::move(items_.front());
    items_.pop_front();
    return x;
  }

  /// The final status once the stream ended (after every item was pushed);
  /// nullopt if it did not end within `timeout`.
  std::optional<grpc::Status> wait_end(std::chrono::milliseconds timeout) {
    std::unique_lock guard{mtx_};
    cv_.wait_for(guard, timeout, [this] { return status_.has_value(); });
    return status_;
  }

  /// Items received and not yet taken.
  size_t waiting() const {
    std::lock_guard guard{mtx_};
    return items_.size();
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::deque<T> items_;
  std::optional<grpc::Status> status_;
};

/// A server stream (Events.Subscribe) read on its own thread. Destroying it
/// cancels the call.
template <class T>
class stream_reader {
public:
  using start_fn = std::function<std::unique_ptr<grpc::ClientReader<T>>(grpc::ClientContext*)>;

  stream_reader(std::unique_ptr<grpc::ClientContext> ctx, const start_fn& start)
    : ctx_(std::move(ctx)), reader_(start(ctx_.get())) {
    thread_ = std::thread([this] {
      T x;
      while (reader_->Read(&x))
        q_.push(std::move(x));
      q_.end(reader_->Finish());
    });
  }

  ~stream_reader() {
    ctx_->TryCancel();
    thread_.join();
  }

  stream_reader(const stream_reader&) = delete;
  stream_reader& operator=(const stream_reader&) = delete;

  std::optional<T> next(std::chrono::milliseconds timeout = wait_timeout) { return q_.next(timeout); }

  /// Up to `n` items, waiting at most `timeout` for each.
  std::vector<T> take(size_t n, std::chrono::milliseconds timeout = wait_timeout) {
    std::vector<T> out;
    while (out.size() < n) {
      auto x = q_.next(timeout);
      if (!x)
        break;
      out.push_back(std::move(*x));
    }
    return out;
  }

  std::optional<grpc::Status> wait_end(std::chrono::milliseconds timeout = wait_timeout) {
    return q_.wait_end(timeout);
  }

  /// Disconnects (the client goes away).
  void cancel() { ctx_->TryCancel(); }

private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReader<T>> reader_;
  inbox_queue<T> q_;
  std::thread thread_;
};

/// The client side of one AgentLink.Link call: writes from the test's
/// thread, reads on its own. Destroying it cancels the call (an abrupt
/// disconnect) unless close() ended it.
class link_client {
public:
  link_client(pb::AgentLink::Stub& stub, std::unique_ptr<grpc::ClientContext> ctx)
    : ctx_(std::move(ctx)), stream_(stub.Link(ctx_.get())) {
    thread_ = std::thread([this] {
      pb::LinkServer x;
      while (stream_->Read(&x))
        q_.push(x);
      // Finish needs the writes closed too; a half-open call is cancelled
      // by then (the server ended it or the test disconnected).
      q_.end(stream_->Finish());
    });
  }

  ~link_client() {
    disconnect();
  }

  link_client(const link_client&) = delete;
  link_client& operator=(const link_client&) = delete;

  bool write(const pb::LinkClient& m) { return stream_->Write(m); }

  bool open(const std::string& agent, uint32_t credit) {
    pb::LinkClient m;
    m.mutable_open()->set_agent(agent);
    m.mutable_open()->set_credit(credit);
    return write(m);
  }

  bool credit(uint32_t n) {
    pb::LinkClient m;
    m.set_credit(n);
    return write(m);
  }

  bool ack(const std::vector<uint64_t>& deliveries) {
    pb::LinkClient m;
    for (auto d : deliveries)
      m.mutable_ack()->add_deliveries(d);
    return write(m);
  }

  bool send(const pb::Message& msg) {
    pb::LinkClient m;
    *m.mutable_send() = msg;
    return write(m);
  }

  bool send_batch(const std::vector<pb::Message>& msgs) {
    pb::LinkClient m;
    for (auto& x : msgs)
      *m.mutable_send_batch()->add_messages() = x;
    return write(m);
  }

  std::optional<pb::LinkServer> next(std::chrono::milliseconds timeout = wait_timeout) {
    return q_.next(timeout);
  }

  /// The next `n` items, each of which must be a delivery (a failure names
  /// what came instead). Returns the deliveries received.
  std::vector<pb::Message> deliveries(size_t n, std::chrono::milliseconds timeout = wait_timeout) {
    std::vector<pb::Message> out;
    while (out.size() < n) {
      auto x = q_.next(timeout);
      if (!x) {
        ADD_FAILURE() << "got " << out.size() << " of " << n << " deliveries";
        break;
      }
      if (!x->has_delivery()) {
        ADD_FAILURE() << "expected a delivery, got " << x->ShortDebugString();
        break;
      }
      out.push_back(x->delivery());
    }
    return out;
  }

  /// Ends the call from the client side (WritesDone) and returns the
  /// server's status; nullopt if the server did not end it in time.
  std::optional<grpc::Status> close(std::chrono::milliseconds timeout = wait_timeout) {
    if (!closed_) {
      closed_ = true;
      stream_->WritesDone();
    }
    return q_.wait_end(timeout);
  }

  /// The call's final status once the server ended it.
  std::optional<grpc::Status> wait_end(std::chrono::milliseconds timeout = wait_timeout) {
    return q_.wait_end(timeout);
  }

  /// Goes away without closing (a crashed or disconnected process).
  void disconnect() {
    if (thread_.joinable()) {
      ctx_->TryCancel();
      thread_.join();
    }
  }

  size_t waiting() const { return q_.waiting(); }

private:
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::LinkClient, pb::LinkServer>> stream_;
  inbox_queue<pb::LinkServer> q_;
  bool closed_ = false;
  std::thread thread_;
};

// -- builders -------------------------------------------------------------------

inline pb::Message text_to_agent(const std::string& from, const std::string& to,
                                 const std::string& content, const std::string& id = {}) {
  pb::Message m;
  m.set_id(id);
  m.set_from(from);
  m.set_to_agent(to);
  m.set_content(content);
  return m;
}

inline pb::Message text_to_room(const std::string& from, const std::string& room,
                                const std::string& content, const std::string& id = {}) {
  pb::Message m;
  m.set_id(id);
  m.set_from(from);
  m.set_to_room(room);
  m.set_content(content);
  return m;
}

inline std::vector<std::string> contents(const std::vector<pb::Message>& ms) {
  std::vector<std::string> out;
  for (auto& m : ms)
    out.push_back(m.content());
  return out;
}

inline std::vector<uint64_t> delivery_numbers(const std::vector<pb::Message>& ms) {
  std::vector<uint64_t> out;
  for (auto& m : ms)
    out.push_back(m.delivery());
  return out;
}

// -- fixture --------------------------------------------------------------------

/// A memory node (2 scheduler threads, wall time) behind a server on
/// 127.0.0.1:0 and one stub per service. configure_node/configure_server
/// change the configs before the start.
class ApiFixture : public ::testing::Test {
protected:
  virtual void configure_node(node_config&) {}
  virtual void configure_server(api::server_options&) {}

  void SetUp() override { start(); }
  void TearDown() override { stop(); }

  /// Starts the node (unless it runs) and a server, and connects the stubs.
  void start() {
    if (!node_) {
      node_config cfg;
      cfg.scheduler_threads = 2;
      if (durable_) {
        cfg.data_dir = dir_.sub("store");
        cfg.durability = storage::durability::sync;
      }
      configure_node(cfg);
      node_ = test_support::start_ok(cfg);
      ASSERT_TRUE(node_);
    }
    opt_ = {};
    opt_.listen = "127.0.0.1:0";
    opt_.auth.token_key = test_key();
    configure_server(opt_);
    auto srv = api::server::start(*node_, opt_);
    ASSERT_TRUE(srv) << to_string(srv.error());
    server_ = std::move(*srv);
    channel_ = grpc::CreateChannel(server_->address(), grpc::InsecureChannelCredentials());
    agents = pb::Agents::NewStub(channel_);
    rooms = pb::Rooms::NewStub(channel_);
    turns = pb::Turns::NewStub(channel_);
    messages = pb::Messages::NewStub(channel_);
    events = pb::Events::NewStub(channel_);
    link = pb::AgentLink::NewStub(channel_);
    admin = pb::Admin::NewStub(channel_);
  }

  /// Stops the server (running calls get 1 s), then the node.
  void stop() {
    if (server_)
      server_->shutdown(std::chrono::milliseconds(1000));
    server_.reset();
    if (node_)
      node_->stop();
    node_.reset();
  }

  /// Stops server and node and starts both again (on the same store for a
  /// durable fixture); the server gets a new port and the stubs a new
  /// channel.
  void restart() {
    stop();
    start();
  }

  node& n() { return *node_; }
  api::server& srv() { return *server_; }

  /// A context for an admin caller.
  std::unique_ptr<grpc::ClientContext> as_admin() { return context_for(principal::admin("tests")); }

  // -- one-line calls for setting up a test (as admin) ----------------------

  grpc::Status introduce(const std::string& id,
                         pb::Behavior::Kind kind = pb::Behavior::KIND_SILENT,
                         pb::Manifest* out = nullptr) {
    pb::IntroduceRequest req;
    req.mutable_manifest()->set_id(id);
    req.mutable_manifest()->set_display_name("Agent " + id);
    req.mutable_behavior()->set_kind(kind);
    pb::Manifest ignored;
    return agents->Introduce(as_admin().get(), req, out ? out : &ignored);
  }

  ::testing::AssertionResult introduce_all(const std::vector<std::string>& ids,
                                           pb::Behavior::Kind kind = pb::Behavior::KIND_SILENT) {
    for (auto& id : ids)
      if (auto r = is_ok(introduce(id, kind)); !r)
        return r << " (introducing '" << id << "')";
    return ::testing::AssertionSuccess();
  }

  grpc::Status create_group(const std::string& creator, const std::string& id,
                            pb::SpeakerPolicy policy = pb::SPEAKER_POLICY_NONE,
                            bool invite_only = false, pb::Room* out = nullptr) {
    pb::CreateGroupRequest req;
    req.set_creator(creator);
    req.set_id(id);
    req.set_topic("topic of " + id);
    req.mutable_rules()->set_policy(policy);
    req.set_invite_only(invite_only);
    pb::Room ignored;
    return rooms->CreateGroup(as_admin().get(), req, out ? out : &ignored);
  }

  grpc::Status join(const std::string& room, const std::string& agent) {
    pb::JoinRequest req;
    req.set_room(room);
    req.set_agent(agent);
    pb::Room ignored;
    return rooms->Join(as_admin().get(), req, &ignored);
  }

  grpc::Status invite(const std::string& room, const std::string& by, const std::string& agent) {
    pb::InviteRequest req;
    req.set_room(room);
    req.set_by(by);
    req.set_agent(agent);
    pb::InviteResponse ignored;
    return rooms->Invite(as_admin().get(), req, &ignored);
  }

  grpc::Status send(const pb::Message& m, pb::SendResponse* out = nullptr) {
    pb::SendRequest req;
    *req.mutable_message() = m;
    pb::SendResponse ignored;
    return messages->Send(as_admin().get(), req, out ? out : &ignored);
  }

  /// Sends `texts` from `from` to `to` in order, as admin.
  ::testing::AssertionResult send_all(const std::string& from, const std::string& to,
                                      const std::vector<std::string>& texts) {
    for (auto& t : texts)
      if (auto r = is_ok(send(text_to_agent(from, to, t))); !r)
        return r << " (sending '" << t << "')";
    return ::testing::AssertionSuccess();
  }

  /// The durable inbox of `agent`, oldest first; ADD_FAILURE on an error.
  std::vector<pb::Message> inbox_of(const std::string& agent) {
    pb::InboxRequest req;
    req.set_agent(agent);
    pb::InboxResponse out;
    auto s = messages->Inbox(as_admin().get(), req, &out);
    EXPECT_TRUE(is_ok(s));
    return {out.messages().begin(), out.messages().end()};
  }

  /// Events.Subscribe, read on a thread.
  std::unique_ptr<stream_reader<pb::Event>>
  subscribe(const pb::SubscribeRequest& req,
            std::unique_ptr<grpc::ClientContext> ctx = nullptr) {
    if (!ctx)
      ctx = as_admin();
    return std::make_unique<stream_reader<pb::Event>>(
      std::move(ctx), [&](grpc::ClientContext* c) { return events->Subscribe(c, req); });
  }

  /// Opens a link for `agent` (as admin unless `ctx` is given) and waits
  /// for its `ready`. A link just cancelled by its client is still open on
  /// the server for a moment (until its reactor is done): while the
  /// call fails with "already open", this tries again, for up to
  /// wait_timeout (unless `retry_busy` is false). nullptr if no link
  /// opened: `why` gets the final status then, or, without `why`, the test
  /// fails.
  std::unique_ptr<link_client> open_link(const std::string& agent, uint32_t credit,
                                         pb::LinkReady* ready = nullptr,
                                         grpc::Status* why = nullptr,
                                         const std::string& caller_agent = {},
                                         bool retry_busy = true) {
    auto until = std::chrono::steady_clock::now() + wait_timeout;
    for (;;) {
      auto ctx = caller_agent.empty() ? as_admin() : caller(caller_agent);
      auto l = std::make_unique<link_client>(*link, std::move(ctx));
      l->open(agent, credit);
      auto first = l->next();
      if (first && first->has_ready()) {
        if (ready)
          *ready = first->ready();
        return l;
      }
      auto end = l->wait_end();
      grpc::Status s = end ? *end : grpc::Status{grpc::StatusCode::DEADLINE_EXCEEDED, "no answer"};
      const bool busy = s.error_code() == grpc::StatusCode::FAILED_PRECONDITION
                        && s.error_message().find("already open") != std::string::npos;
      if (!busy || !retry_busy || std::chrono::steady_clock::now() > until) {
        if (why)
          *why = s;
        else
          ADD_FAILURE() << "link of '" << agent << "' did not open: " << code_name(s.error_code())
                        << " " << s.error_message();
        return nullptr;
      }
    }
  }

  /// Starts `n` unary calls at once, as admin, through the stubs' callback
  /// API: `fill(i, req)` makes call i's request and `start(ctx, req, out,
  /// done)` starts it. Returns every call's status, in order, once all
  /// finished (each has the call deadline).
  template <class Req, class Resp, class Fill, class Start>
  std::vector<grpc::Status> all_at_once(int n, Fill fill, Start start) {
    struct call {
      std::unique_ptr<grpc::ClientContext> ctx;
      Req req;
      Resp out;
      grpc::Status status;
    };
    std::vector<call> calls(n);
    std::mutex mtx;
    std::condition_variable cv;
    int finished = 0;
    for (int i = 0; i < n; ++i) {
      auto& c = calls[i];
      c.ctx = as_admin();
      fill(i, c.req);
      start(c.ctx.get(), &c.req, &c.out, [&, i](grpc::Status s) {
        std::lock_guard guard{mtx};
        calls[i].status = std::move(s);
        ++finished;
        cv.notify_all();
      });
    }
    std::unique_lock lock{mtx};
    cv.wait(lock, [&] { return finished == n; });
    std::vector<grpc::Status> out;
    for (auto& c : calls)
      out.push_back(c.status);
    return out;
  }

  /// Waits until `agent`'s durable inbox holds exactly `n` messages.
  bool inbox_size_becomes(const std::string& agent, size_t n) {
    return test_support::eventually([&] { return inbox_of(agent).size() == n; });
  }

public:
  // The stubs (public: table-driven tests call them through the fixture).
  std::unique_ptr<pb::Agents::Stub> agents;
  std::unique_ptr<pb::Rooms::Stub> rooms;
  std::unique_ptr<pb::Turns::Stub> turns;
  std::unique_ptr<pb::Messages::Stub> messages;
  std::unique_ptr<pb::Events::Stub> events;
  std::unique_ptr<pb::AgentLink::Stub> link;
  std::unique_ptr<pb::Admin::Stub> admin;

protected:
  bool durable_ = false;
  test::temp_dir dir_;
  api::server_options opt_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<node> node_;
  std::unique_ptr<api::server> server_;
};

/// A node with a RocksDB store (sync) in a temp dir that restart() keeps.
class DurableApiFixture : public ApiFixture {
protected:
  DurableApiFixture() { durable_ = true; }
};

} // namespace parley::api_test
