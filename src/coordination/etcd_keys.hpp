#pragma once

// What the etcd backend keeps in etcd, under the network's prefix P:
//   P/members/<node>   {"address", "incarnation", "state"}, under the node's lease
//   P/shards/<nnnn>    {"node", "moving_to"}; the key's mod_revision is the epoch
//   P/coordinator      the coordinator's name, under its lease
// Values are JSON, so `etcdctl get --prefix P` shows an operator the network.

#include <optional>
#include <string>
#include <string_view>

#include "parley/coordination/coordination.hpp"

namespace parley::coordination::etcd_keys {

/// What a key under the prefix names.
struct parsed_key {
  enum class kind { member, shard, coordinator } what;
  std::string node; // member
  shard_id shard = 0;
};

class layout {
public:
  explicit layout(std::string prefix);

  const std::string& root() const noexcept { return root_; }
  /// The end of the range that holds every key of the network.
  std::string root_end() const;
  std::string member(std::string_view node) const { return root_ + "members/" + std::string{node}; }
  std::string shard(shard_id s) const;
  std::string coordinator() const { return root_ + "coordinator"; }
  /// What `key` names; nullopt for a key this version does not know.
  std::optional<parsed_key> parse(std::string_view key) const;

private:
  std::string root_; // the prefix with one trailing '/'
};

std::string encode_member(const member& m);
/// The member `node` stored as `value`; nullopt if it does not parse.
std::optional<member> decode_member(std::string_view node, std::string_view value);
std::string encode_owner(const shard_owner& o);
/// The owner entry stored as `value` at `epoch`; nullopt if it does not parse.
std::optional<shard_owner> decode_owner(std::string_view value, uint64_t epoch);

} // namespace parley::coordination::etcd_keys
