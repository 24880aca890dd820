// The `etcd` backend: membership under a lease, the shard map changed by
// compare-and-swap, the coordinator by put-if-absent, and a cache of all of
// it kept current by one watch. Two threads: the watch, and the lease's
// keepalive (started by join). Key layout: etcd_keys.hpp.

#include <arpa/inet.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "coordination/etcd_keys.hpp"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"

namespace parley::coordination {

namespace {

namespace pb = etcdserverpb;
using clock_type = std::chrono::steady_clock;

// Holds a streaming call's context so that another thread can cancel it.
class cancellable {
public:
  void set(grpc::ClientContext* c) {
    std::lock_guard guard{mtx_};
    ctx_ = c;
    if (cancelled_ && c)
      c->TryCancel();
  }
  void cancel() {
    std::lock_guard guard{mtx_};
    cancelled_ = true;
    if (ctx_)
      ctx_->TryCancel();
  }
  /// Ready for the next call (after its thread was joined).
  void reset() {
    std::lock_guard guard{mtx_};
    ctx_ = nullptr;
    cancelled_ = false;
  }

private:
  std::mutex mtx_;
  grpc::ClientContext* ctx_ = nullptr;
  bool cancelled_ = false;
};

class etcd_coordination final : public coordination {
public:
  etcd_coordination(etcd_options o, std::shared_ptr<grpc::Channel> ch)
    : opts_(std::move(o)), keys_(opts_.prefix), kv_(pb::KV::NewStub(ch)), lease_(pb::Lease::NewStub(ch)),
      watch_(pb::Watch::NewStub(ch)), shards_(shard_count) {}

  ~etcd_coordination() override {
    stopping_ = true;
    stop_keepalive();
    watch_cancel_.cancel();
    if (watch_thread_.joinable())
      watch_thread_.join();
  }

  // Reads everything once, then follows it with the watch.
  expected<void> start() {
    if (auto ok = reload(); !ok)
      return ok;
    watch_thread_ = std::thread([this] { watch_loop(); });
    return {};
  }

  expected<void> join(const member& self) override {
    if (registered())
      return unexpected{errc::already_exists, "node '" + self.node + "' has joined already"};
    stop_keepalive();
    const auto ttl_s = std::max<int64_t>(1, (opts_.lease_ttl.count() + 999) / 1000);
    pb::LeaseGrantRequest grant;
    grant.set_ttl(ttl_s);
    pb::LeaseGrantResponse granted;
    const auto sent = clock_type::now();
    auto ctx = call_context();
    if (auto s = lease_->LeaseGrant(ctx.get(), grant, &granted); !s.ok())
      return failed("grant a lease", s);
    if (!granted.error().empty())
      return unexpected{errc::unavailable, "etcd refused a lease: " + granted.error()};
    auto done = run_txn(put_if_absent(keys_.member(self.node), etcd_keys::encode_member(self), granted.id()),
                        "register node '" + self.node + "'");
    if (!done) {
      (void) revoke(granted.id()); // else it expires with its TTL
      return unexpected{done.error()};
    }
    if (!done->succeeded()) {
      (void) revoke(granted.id()); // else it expires with its TTL
      std::string holder;
      auto& r = done->responses(0).response_range();
      if (r.kvs_size() > 0)
        if (auto m = etcd_keys::decode_member(self.node, r.kvs(0).value()))
          holder = " (registered at " + m->address + ", incarnation " + std::to_string(m->incarnation) + ")";
      return unexpected{errc::already_exists,
                        "node '" + self.node + "' is already a member of the network" + holder
                          + ": another process runs under this name, or its lease has not expired yet"};
    }
    {
      std::lock_guard guard{mtx_};
      self_ = self;
      lease_id_ = granted.id();
      lease_until_ = sent + std::chrono::seconds(granted.ttl()) - margin();
      members_[self.node] = self;
    }
    keepalive_stop_ = false;
    keepalive_thread_ = std::thread([this, id = granted.id()] { keepalive_loop(id); });
    return {};
  }

  expected<void> set_state(member_state s) override {
    member updated;
    int64_t lease = 0;
    {
      std::lock_guard guard{mtx_};
      if (!self_ || clock_type::now() >= lease_until_)
        return not_registered();
      updated = *self_;
      lease = lease_id_;
    }
    updated.state = s;
    pb::PutRequest put;
    put.set_key(keys_.member(updated.node));
    put.set_value(etcd_keys::encode_member(updated));
    put.set_lease(lease);
    pb::PutResponse out;
    auto ctx = call_context();
    if (auto st = kv_->Put(ctx.get(), put, &out); !st.ok())
      return failed("change the state of node '" + updated.node + "'", st);
    std::lock_guard guard{mtx_};
    if (self_)
      self_->state = s;
    members_[updated.node] = updated;
    return {};
  }

  expected<void> leave() override {
    int64_t lease = 0;
    std::string node;
    {
      std::lock_guard guard{mtx_};
      if (!self_)
        return not_registered();
      lease = lease_id_;
      node = self_->node;
    }
    stop_keepalive();
    // Revoking the lease deletes every key under it: the member entry, and
    // the coordinator's if this node held it.
    auto ok = revoke(lease);
    std::lock_guard guard{mtx_};
    self_.reset();
    lease_id_ = 0;
    lease_until_ = {};
    members_.erase(node);
    if (coordinator_ == node)
      coordinator_.clear();
    return ok;
  }

  bool registered() const override {
    std::lock_guard guard{mtx_};
    return self_ && clock_type::now() < lease_until_;
  }

  std::vector<member> members() const override {
    std::lock_guard guard{mtx_};
    std::vector<member> out;
    out.reserve(members_.size());
    for (auto& [_, m] : members_)
      out.push_back(m);
    return out;
  }

  shard_owner owner(shard_id shard) const override {
    std::lock_guard guard{mtx_};
    return shard < shards_.size() ? shards_[shard] : shard_owner{};
  }

  expected<uint64_t> assign(shard_id shard, uint64_t expected_epoch, const shard_owner& to) override {
    if (shard >= shard_count)
      return unexpected{errc::invalid_argument, "shard " + std::to_string(shard) + " does not exist (there are "
                                                  + std::to_string(shard_count) + ")"};
    if (to.node.empty())
      return unexpected{errc::invalid_argument, "shard " + std::to_string(shard) + " needs an owner"};
    const auto key = keys_.shard(shard);
    pb::TxnRequest txn;
    auto* same = txn.add_compare();
    same->set_key(key);
    same->set_result(pb::Compare::EQUAL);
    if (expected_epoch == 0) {
      same->set_target(pb::Compare::CREATE);
      same->set_create_revision(0);
    } else {
      same->set_target(pb::Compare::MOD);
      same->set_mod_revision(static_cast<int64_t>(expected_epoch));
    }
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(etcd_keys::encode_owner(to));
    txn.add_failure()->mutable_request_range()->set_key(key);
    auto done = run_txn(txn, "assign shard " + std::to_string(shard));
    if (!done)
      return unexpected{done.error()};
    if (!done->succeeded()) {
      std::string now = "never assigned";
      auto& r = done->responses(0).response_range();
      if (r.kvs_size() > 0) {
        auto cur = etcd_keys::decode_owner(r.kvs(0).value(), static_cast<uint64_t>(r.kvs(0).mod_revision()));
        now = cur ? "owned by '" + cur->node + "' at epoch " + std::to_string(cur->epoch)
                  : "holding an entry that does not parse";
      }
      return unexpected{errc::failed_precondition, "shard " + std::to_string(shard)
                                                     + " changed first: expected epoch "
                                                     + std::to_string(expected_epoch) + ", now " + now};
    }
    const auto epoch = static_cast<uint64_t>(done->header().revision());
    std::lock_guard guard{mtx_};
    if (shards_[shard].epoch < epoch) {
      shards_[shard] = to;
      shards_[shard].epoch = epoch;
    }
    return epoch;
  }

  expected<bool> claim_coordinator() override {
    std::string node;
    int64_t lease = 0;
    {
      std::lock_guard guard{mtx_};
      if (!self_ || clock_type::now() >= lease_until_)
        return not_registered();
      node = self_->node;
      lease = lease_id_;
    }
    auto done = run_txn(put_if_absent(keys_.coordinator(), node, lease), "claim the coordinator");
    if (!done)
      return unexpected{done.error()};
    std::string holder = node;
    if (!done->succeeded()) {
      auto& r = done->responses(0).response_range();
      holder = r.kvs_size() > 0 ? r.kvs(0).value() : std::string{};
    }
    std::lock_guard guard{mtx_};
    coordinator_ = holder;
    return holder == node;
  }

  std::string coordinator() const override {
    std::lock_guard guard{mtx_};
    return coordinator_;
  }

  void subscribe(std::function<void(const change&)> f) override {
    std::lock_guard guard{subs_mtx_};
    subs_.push_back(std::move(f));
  }

private:
  std::chrono::milliseconds margin() const {
    return std::min<std::chrono::milliseconds>(std::chrono::seconds(1), opts_.lease_ttl / 4);
  }

  // A call waits for a connection up to its deadline instead of failing
  // at once: an etcd restart or leader change is brief.
  std::unique_ptr<grpc::ClientContext> call_context() const {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + opts_.call_timeout);
    ctx->set_wait_for_ready(true);
    return ctx;
  }

  unexpected failed(const std::string& what, const grpc::Status& s) const {
    std::string where;
    for (auto& e : opts_.endpoints)
      where += (where.empty() ? "" : ",") + e;
    return unexpected{errc::unavailable, "etcd at " + where + " could not " + what + ": " + s.error_message()};
  }

  unexpected not_registered() const {
    return unexpected{errc::failed_precondition, "this node is not a registered member (not joined, left, or its lease expired)"};
  }

  // Puts `value` at `key` under `lease` if the key does not exist; else
  // reads what is there (responses(0) of the failure branch).
  static pb::TxnRequest put_if_absent(const std::string& key, const std::string& value, int64_t lease) {
    pb::TxnRequest txn;
    auto* absent = txn.add_compare();
    absent->set_key(key);
    absent->set_target(pb::Compare::CREATE);
    absent->set_result(pb::Compare::EQUAL);
    absent->set_create_revision(0);
    auto* put = txn.add_success()->mutable_request_put();
    put->set_key(key);
    put->set_value(value);
    put->set_lease(lease);
    txn.add_failure()->mutable_request_range()->set_key(key);
    return txn;
  }

  expected<pb::TxnResponse> run_txn(const pb::TxnRequest& txn, const std::string& what) {
    pb::TxnResponse out;
    auto ctx = call_context();
    if (auto s = kv_->Txn(ctx.get(), txn, &out); !s.ok())
      return failed(what, s);
    return out;
  }

  expected<void> revoke(int64_t lease) {
    pb::LeaseRevokeRequest req;
    req.set_id(lease);
    pb::LeaseRevokeResponse out;
    auto ctx = call_context();
    if (auto s = lease_->LeaseRevoke(ctx.get(), req, &out); !s.ok() && s.error_code() != grpc::StatusCode::NOT_FOUND)
      return failed("revoke lease " + std::to_string(lease), s);
    return {};
  }

  void stop_keepalive() {
    {
      std::lock_guard guard{keepalive_mtx_};
      keepalive_stop_ = true;
    }
    keepalive_cv_.notify_all();
    keepalive_cancel_.cancel();
    if (keepalive_thread_.joinable())
      keepalive_thread_.join();
    keepalive_cancel_.reset();
  }

  void notify(const std::vector<change>& changes) {
    if (changes.empty())
      return;
    std::vector<std::function<void(const change&)>> subs;
    {
      std::lock_guard guard{subs_mtx_};
      subs = subs_;
    }
    for (auto& c : changes)
      for (auto& f : subs)
        f(c);
  }

  void lose_lease(int64_t id) {
    member who;
    {
      std::lock_guard guard{mtx_};
      if (lease_id_ != id || !self_)
        return;
      lease_until_ = {};
      who = *self_;
    }
    spdlog::error("node '{}' lost its etcd lease: it is no longer a member", who.node);
    notify({change{change::kind::lease_lost, who, 0, {}}});
  }

  // Renews the lease every keepalive_interval. Each stream lives at most one
  // TTL, so a hung etcd cannot block the thread past the lease's end.
  void keepalive_loop(int64_t id) {
    while (!stopping_) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + opts_.lease_ttl);
      keepalive_cancel_.set(&ctx);
      auto stream = lease_->LeaseKeepAlive(&ctx);
      for (;;) {
        {
          std::lock_guard guard{keepalive_mtx_};
          if (keepalive_stop_)
            break;
        }
        const auto sent = clock_type::now();
        pb::LeaseKeepAliveRequest req;
        req.set_id(id);
        pb::LeaseKeepAliveResponse resp;
        if (!stream->Write(req) || !stream->Read(&resp))
          break;
        if (resp.ttl() <= 0) {
          keepalive_cancel_.set(nullptr);
          ctx.TryCancel();
          (void) stream->Finish();
          return lose_lease(id);
        }
        {
          std::lock_guard guard{mtx_};
          if (lease_id_ == id)
            lease_until_ = sent + std::chrono::seconds(resp.ttl()) - margin();
        }
        std::unique_lock guard{keepalive_mtx_};
        if (keepalive_cv_.wait_for(guard, opts_.keepalive_interval, [this] { return keepalive_stop_; }))
          break;
      }
      keepalive_cancel_.set(nullptr);
      ctx.TryCancel();
      (void) stream->Finish();
      {
        std::lock_guard guard{keepalive_mtx_};
        if (keepalive_stop_)
          return;
      }
      bool expired = false;
      {
        std::lock_guard guard{mtx_};
        expired = lease_id_ == id && clock_type::now() >= lease_until_;
      }
      if (expired)
        return lose_lease(id);
      std::unique_lock guard{keepalive_mtx_};
      keepalive_cv_.wait_for(guard, std::chrono::milliseconds(200), [this] { return keepalive_stop_; });
    }
  }

  // Applies one key's new value (or its deletion) to the cache; the change
  // it makes, if any.
  std::optional<change> apply(const std::string& key, const std::string* value, uint64_t mod_revision) {
    auto k = keys_.parse(key);
    if (!k)
      return std::nullopt;
    switch (k->what) {
      case etcd_keys::parsed_key::kind::member: {
        auto it = members_.find(k->node);
        if (!value) {
          if (it == members_.end())
            return std::nullopt;
          change c{change::kind::member_left, it->second, 0, {}};
          members_.erase(it);
          return c;
        }
        auto m = etcd_keys::decode_member(k->node, *value);
        if (!m) {
          spdlog::warn("etcd key '{}' holds a member entry that does not parse; ignored", key);
          return std::nullopt;
        }
        if (it != members_.end() && it->second == *m)
          return std::nullopt;
        const auto kind = it == members_.end() ? change::kind::member_joined : change::kind::member_changed;
        members_[k->node] = *m;
        return change{kind, *m, 0, {}};
      }
      case etcd_keys::parsed_key::kind::shard: {
        shard_owner o;
        if (value) {
          auto decoded = etcd_keys::decode_owner(*value, mod_revision);
          if (!decoded) {
            spdlog::warn("etcd key '{}' holds a shard entry that does not parse; ignored", key);
            return std::nullopt;
          }
          o = std::move(*decoded);
        }
        if (shards_[k->shard] == o)
          return std::nullopt;
        shards_[k->shard] = o;
        return change{change::kind::shard_changed, {}, k->shard, o};
      }
      case etcd_keys::parsed_key::kind::coordinator:
        coordinator_ = value ? *value : std::string{};
        return std::nullopt;
    }
    return std::nullopt;
  }

  // Reads every key of the network and replaces the cache with it (at
  // start, and when the watch cannot resume: its revision was compacted).
  expected<void> reload() {
    pb::RangeRequest req;
    req.set_key(keys_.root());
    req.set_range_end(keys_.root_end());
    pb::RangeResponse out;
    auto ctx = call_context();
    if (auto s = kv_->Range(ctx.get(), req, &out); !s.ok())
      return failed("read the network's keys", s);
    std::vector<change> changes;
    {
      std::lock_guard guard{mtx_};
      std::map<std::string, member> seen;
      std::vector<bool> shard_seen(shard_count, false);
      coordinator_.clear();
      for (auto& kv : out.kvs()) {
        if (auto c = apply(kv.key(), &kv.value(), static_cast<uint64_t>(kv.mod_revision())))
          changes.push_back(std::move(*c));
        if (auto k = keys_.parse(kv.key())) {
          if (k->what == etcd_keys::parsed_key::kind::member && members_.count(k->node))
            seen[k->node] = members_[k->node];
          if (k->what == etcd_keys::parsed_key::kind::shard)
            shard_seen[k->shard] = true;
        }
      }
      for (auto& [node, m] : members_)
        if (!seen.count(node))
          changes.push_back(change{change::kind::member_left, m, 0, {}});
      members_ = std::move(seen);
      for (shard_id s = 0; s < shard_count; ++s)
        if (!shard_seen[s] && shards_[s].epoch != 0) {
          shards_[s] = {};
          changes.push_back(change{change::kind::shard_changed, {}, s, {}});
        }
      revision_ = out.header().revision();
    }
    notify(changes);
    return {};
  }

  void watch_loop() {
    while (!stopping_) {
      grpc::ClientContext ctx;
      watch_cancel_.set(&ctx);
      auto stream = watch_->Watch(&ctx);
      pb::WatchRequest req;
      auto* create = req.mutable_create_request();
      create->set_key(keys_.root());
      create->set_range_end(keys_.root_end());
      {
        std::lock_guard guard{mtx_};
        create->set_start_revision(revision_ + 1);
      }
      bool compacted = false;
      if (stream->Write(req)) {
        pb::WatchResponse resp;
        while (stream->Read(&resp)) {
          if (resp.compact_revision() != 0 || resp.canceled()) {
            compacted = true;
            break;
          }
          std::vector<change> changes;
          {
            std::lock_guard guard{mtx_};
            for (auto& e : resp.events()) {
              const bool put = e.type() == mvccpb::Event::PUT;
              auto c = apply(e.kv().key(), put ? &e.kv().value() : nullptr,
                             static_cast<uint64_t>(e.kv().mod_revision()));
              if (c)
                changes.push_back(std::move(*c));
              revision_ = std::max(revision_, e.kv().mod_revision());
            }
            // Not resp.header().revision(): the answer that creates a watch
            // carries the store's current revision before the events from
            // the start revision arrive, and a resume from it would skip
            // them (found by the etcd-restart test under load).
          }
          notify(changes);
        }
      }
      watch_cancel_.set(nullptr);
      ctx.TryCancel();
      (void) stream->Finish();
      if (stopping_)
        return;
      if (compacted) {
        spdlog::info("etcd watch from revision {} was compacted: reading the network again", revision_ + 1);
        if (reload())
          continue;
      }
      // etcd went away: try again shortly, from where the watch was.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }

  const etcd_options opts_;
  const etcd_keys::layout keys_;
  std::unique_ptr<pb::KV::Stub> kv_;
  std::unique_ptr<pb::Lease::Stub> lease_;
  std::unique_ptr<pb::Watch::Stub> watch_;

  mutable std::mutex mtx_; // the cache and this node's registration
  std::map<std::string, member> members_;
  std::vector<shard_owner> shards_;
  std::string coordinator_;
  int64_t revision_ = 0;
  std::optional<member> self_;
  int64_t lease_id_ = 0;
  clock_type::time_point lease_until_{};

  std::mutex subs_mtx_;
  std::vector<std::function<void(const change&)>> subs_;

  std::atomic<bool> stopping_{false};
  cancellable watch_cancel_;
  std::thread watch_thread_;
  std::mutex keepalive_mtx_;
  std::condition_variable keepalive_cv_;
  bool keepalive_stop_ = false;
  cancellable keepalive_cancel_;
  std::thread keepalive_thread_;
};

} // namespace

expected<std::unique_ptr<coordination>> connect_etcd(const etcd_options& opts) {
  if (opts.endpoints.empty())
    return unexpected{errc::invalid_argument, "etcd: no endpoints given"};
  if (opts.keepalive_interval >= opts.lease_ttl)
    return unexpected{errc::invalid_argument, "etcd: keepalive_interval must be shorter than lease_ttl"};
  // One endpoint: its name as given. Several: gRPC's ipv4 resolver, which
  // fails over between them (they must then be numeric addresses).
  std::string target = opts.endpoints.front();
  if (opts.endpoints.size() > 1) {
    // gRPC has no resolver for a list of names: refuse them plainly rather
    // than fail to connect later.
    for (auto& e : opts.endpoints) {
      auto colon = e.rfind(':');
      auto host = e.substr(0, colon == std::string::npos ? e.size() : colon);
      in_addr ip{};
      if (colon == std::string::npos || inet_pton(AF_INET, host.c_str(), &ip) != 1)
        return unexpected{errc::invalid_argument,
                          "etcd endpoint '" + e + "': several endpoints must be IPv4 addresses with ports "
                            "(a.b.c.d:port); for host names give one name that leads to every member "
                            "(a DNS name with several addresses, or a Kubernetes Service)"};
    }
    target = "ipv4:";
    for (size_t i = 0; i < opts.endpoints.size(); ++i)
      target += (i ? "," : "") + opts.endpoints[i];
  }
  // Reconnect within a second after etcd comes back (gRPC's default
  // backoff grows to two minutes). The "min reconnect backoff" is really
  // the time one connection attempt may take: at 100 ms an etcd that had
  // just restarted never finished a handshake in time and the lease ran out
  // (found by the etcd-restart test once it waited a full TTL).
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + opts.call_timeout))
    return unexpected{errc::unavailable, "etcd at " + target + " did not answer within "
                                           + std::to_string(opts.call_timeout.count()) + " ms"};
  auto c = std::make_unique<etcd_coordination>(opts, std::move(channel));
  if (auto ok = c->start(); !ok)
    return unexpected{ok.error()};
  return std::unique_ptr<coordination>{std::move(c)};
}

} // namespace parley::coordination
