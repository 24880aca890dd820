// The etcd key layout and the JSON values (etcd_keys.hpp).

#include "coordination/etcd_keys.hpp"

#include <charconv>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace parley::coordination::etcd_keys {

layout::layout(std::string prefix) : root_(std::move(prefix)) {
  while (!root_.empty() && root_.back() == '/')
    root_.pop_back();
  root_ += '/';
}

std::string layout::root_end() const {
  // The prefix ends in '/': the next byte value ends its range.
  std::string end = root_;
  end.back() = static_cast<char>('/' + 1);
  return end;
}

std::string layout::shard(shard_id s) const {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04u", static_cast<unsigned>(s));
  return root_ + "shards/" + buf;
}

std::optional<parsed_key> layout::parse(std::string_view key) const {
  if (key.substr(0, root_.size()) != root_)
    return std::nullopt;
  key.remove_prefix(root_.size());
  if (key == "coordinator")
    return parsed_key{parsed_key::kind::coordinator, {}, 0};
  constexpr std::string_view members = "members/", shards = "shards/";
  if (key.substr(0, members.size()) == members && key.size() > members.size())
    return parsed_key{parsed_key::kind::member, std::string{key.substr(members.size())}, 0};
  if (key.substr(0, shards.size()) == shards) {
    auto digits = key.substr(shards.size());
    unsigned s = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), s);
    if (ec == std::errc{} && end == digits.data() + digits.size() && s < shard_count)
      return parsed_key{parsed_key::kind::shard, {}, static_cast<shard_id>(s)};
  }
  return std::nullopt;
}

std::string encode_member(const member& m) {
  return nlohmann::json{{"address", m.address},
                        {"incarnation", m.incarnation},
                        {"state", std::string{to_string(m.state)}}}
    .dump();
}

std::optional<member> decode_member(std::string_view node, std::string_view value) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("address") || !j["address"].is_string() || !j.contains("state")
      || !j["state"].is_string() || !j.contains("incarnation") || !j["incarnation"].is_number_unsigned())
    return std::nullopt;
  auto state = parse_member_state(j["state"].get<std::string>());
  if (!state)
    return std::nullopt;
  return member{std::string{node}, j["address"].get<std::string>(), j["incarnation"].get<uint64_t>(), *state};
}

std::string encode_owner(const shard_owner& o) {
  return nlohmann::json{{"node", o.node}, {"moving_to", o.moving_to}}.dump();
}

std::optional<shard_owner> decode_owner(std::string_view value, uint64_t epoch) {
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (!j.is_object() || !j.contains("node") || !j["node"].is_string())
    return std::nullopt;
  shard_owner o{j["node"].get<std::string>(), epoch, {}};
  if (j.contains("moving_to") && j["moving_to"].is_string())
    o.moving_to = j["moving_to"].get<std::string>();
  return o;
}

} // namespace parley::coordination::etcd_keys
