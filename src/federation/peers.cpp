// Names and the stale-owner refusal of requests between nodes.

#include "parley/federation/peers.hpp"

namespace parley::federation {

namespace {
// The refusal's message starts with this; the sender recognises it.
constexpr std::string_view stale_prefix = "stale shard owner: ";
} // namespace

std::string_view to_string(remote_request::kind k) noexcept {
  switch (k) {
    case remote_request::kind::deliver_direct: return "deliver_direct";
    case remote_request::kind::send_as: return "send_as";
    case remote_request::kind::read_manifest: return "read_manifest";
    case remote_request::kind::introduce: return "introduce";
    case remote_request::kind::retire: return "retire";
    case remote_request::kind::update_manifest: return "update_manifest";
    case remote_request::kind::read_inbox: return "read_inbox";
  }
  return "unknown";
}

bool is_stale_owner(const error& e) noexcept {
  return e.code == errc::failed_precondition && std::string_view{e.message}.starts_with(stale_prefix);
}

error stale_owner(shard_id shard, uint64_t asked_epoch, const std::string& owner, uint64_t epoch) {
  return {errc::failed_precondition,
          std::string{stale_prefix} + "shard " + std::to_string(shard) + " at epoch " + std::to_string(asked_epoch)
            + " is not served here; its owner is " + (owner.empty() ? "nobody yet" : "'" + owner + "'")
            + " at epoch " + std::to_string(epoch)};
}

} // namespace parley::federation
