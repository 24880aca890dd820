#include "federation/peer_codec.hpp"

#include "api/convert.hpp"

namespace parley::federation {

namespace {

message_status status_of(pb::MessageStatus s) {
  switch (s) {
    case pb::MESSAGE_STATUS_DELIVERED: return message_status::delivered;
    case pb::MESSAGE_STATUS_READ: return message_status::read;
    default: return message_status::sent;
  }
}

// A message as another node has it: with the fields a node sets, which a
// client's message may not carry (the hop count above all: automatic
// replies between agents of two nodes stop at the limit like any others).
expected<message> message_of(const pb::Message& p) {
  auto m = api::from_pb(p);
  if (!m)
    return m;
  m->sent_at = p.sent_at();
  m->status = status_of(p.status());
  m->hops = p.hops();
  m->delivery = p.delivery();
  m->erased = p.erased();
  return m;
}

} // namespace

void to_pb(const remote_request& r, pb::PeerRequest& out) {
  out.set_caller(to_string(r.caller));
  out.set_shard(r.shard);
  out.set_epoch(r.epoch);
  switch (r.what) {
    case remote_request::kind::deliver_direct: api::to_pb(r.msg, *out.mutable_deliver_direct()); break;
    case remote_request::kind::send_as: api::to_pb(r.msg, *out.mutable_send_as()); break;
    case remote_request::kind::read_manifest: out.set_read_manifest(r.id); break;
    case remote_request::kind::introduce:
      api::to_pb(r.man, *out.mutable_introduce()->mutable_manifest());
      api::to_pb(r.behavior, *out.mutable_introduce()->mutable_behavior());
      break;
    case remote_request::kind::retire: out.set_retire(r.id); break;
    case remote_request::kind::update_manifest: api::to_pb(r.man, *out.mutable_update_manifest()); break;
    case remote_request::kind::read_inbox:
      out.mutable_inbox()->set_agent(r.id);
      out.mutable_inbox()->set_limit(r.limit);
      break;
  }
}

expected<remote_request> from_pb(const pb::PeerRequest& r) {
  remote_request out;
  auto caller = parse_principal(r.caller());
  if (!caller)
    return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": caller: " + caller.error().message};
  out.caller = std::move(*caller);
  if (r.shard() >= shard_count)
    return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + ": shard "
                                                + std::to_string(r.shard()) + " is out of range"};
  out.shard = static_cast<shard_id>(r.shard());
  out.epoch = r.epoch();
  auto take_message = [&](const pb::Message& m) -> expected<void> {
    auto got = message_of(m);
    if (!got)
      return unexpected{got.error()};
    out.msg = std::move(*got);
    return {};
  };
  switch (r.body_case()) {
    case pb::PeerRequest::kDeliverDirect:
      out.what = remote_request::kind::deliver_direct;
      if (auto ok = take_message(r.deliver_direct()); !ok)
        return unexpected{ok.error()};
      break;
    case pb::PeerRequest::kSendAs:
      out.what = remote_request::kind::send_as;
      if (auto ok = take_message(r.send_as()); !ok)
        return unexpected{ok.error()};
      break;
    case pb::PeerRequest::kReadManifest:
      out.what = remote_request::kind::read_manifest;
      out.id = r.read_manifest();
      break;
    case pb::PeerRequest::kIntroduce: {
      out.what = remote_request::kind::introduce;
      auto m = api::from_pb(r.introduce().manifest(), true);
      if (!m)
        return unexpected{m.error()};
      auto b = api::from_pb(r.introduce().behavior());
      if (!b)
        return unexpected{b.error()};
      out.man = std::move(*m);
      out.behavior = std::move(*b);
      break;
    }
    case pb::PeerRequest::kRetire:
      out.what = remote_request::kind::retire;
      out.id = r.retire();
      break;
    case pb::PeerRequest::kUpdateManifest: {
      out.what = remote_request::kind::update_manifest;
      auto m = api::from_pb(r.update_manifest(), false);
      if (!m)
        return unexpected{m.error()};
      out.man = std::move(*m);
      break;
    }
    case pb::PeerRequest::kInbox:
      out.what = remote_request::kind::read_inbox;
      out.id = r.inbox().agent();
      out.limit = r.inbox().limit();
      break;
    case pb::PeerRequest::BODY_NOT_SET:
      return unexpected{errc::invalid_argument, "request " + std::to_string(r.seq()) + " has no body"};
  }
  return out;
}

void to_pb(const expected<remote_reply>& r, pb::PeerReply& out) {
  if (!r) {
    out.set_error_code(std::string{to_string(r.error().code)});
    out.set_error_message(r.error().message);
    return;
  }
  out.set_status(api::to_pb(r->status));
  out.set_sent_at(r->sent_at);
  if (!r->msg.id.empty())
    api::to_pb(r->msg, *out.mutable_message());
  if (!r->man.id.empty())
    api::to_pb(r->man, *out.mutable_manifest());
  for (auto& m : r->messages)
    api::to_pb(m, *out.add_messages());
}

expected<remote_reply> from_pb(const pb::PeerReply& r) {
  if (!r.error_code().empty())
    return unexpected{parse_errc(r.error_code()), r.error_message()};
  remote_reply out;
  out.sent_at = r.sent_at();
  out.status = status_of(r.status());
  if (r.has_message()) {
    auto m = message_of(r.message());
    if (!m)
      return unexpected{errc::internal, "a peer answered a message this node cannot read: " + m.error().message};
    out.msg = std::move(*m);
  }
  if (r.has_manifest()) {
    auto m = api::from_pb(r.manifest(), false);
    if (!m)
      return unexpected{errc::internal, "a peer answered a manifest this node cannot read: " + m.error().message};
    out.man = std::move(*m);
  }
  for (auto& pm : r.messages()) {
    auto m = message_of(pm);
    if (!m)
      return unexpected{errc::internal, "a peer answered a message this node cannot read: " + m.error().message};
    out.messages.push_back(std::move(*m));
  }
  return out;
}

} // namespace parley::federation
