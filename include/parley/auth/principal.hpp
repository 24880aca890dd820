#pragma once

// Who is calling. Every request into a node carries an authenticated
// principal: the API derives it from a verified bearer token or a client
// certificate (never from a claim the caller makes about itself), and the
// node's own callers (the daemon's demo, the simulator, federation) name
// theirs explicitly. What each principal may do is decided in one place,
// parley/auth/access.hpp (docs/security.md has the matrix).

#include <cstdint>
#include <string>
#include <string_view>

#include "parley/error.hpp"
#include "parley/model/ids.hpp"

namespace parley {

/// The kinds of principal.
enum class principal_role : uint8_t {
  /// Everything, including erasure of personal data.
  admin,
  /// Runs the node: agent and room lifecycle, backups, drain; never reads or
  /// writes message content and never acts as an agent. (`operator` is a C++
  /// keyword, hence the underscore.)
  operator_,
  /// Reads metadata (manifests, rooms, turns, events, node info); changes nothing.
  observer,
  /// One agent acting as itself, and only as itself.
  agent,
  /// Another node of the network: it may open a federation link (as the
  /// node it names) and nothing else; what it carries is authorized by the
  /// principals the requests carry.
  node,
};

/// "admin", "operator", "observer", "agent", "node".
std::string_view to_string(principal_role r) noexcept;

struct principal {
  principal_role role = principal_role::observer;
  /// The agent (role agent), or a free label naming the person or service
  /// behind a staff principal (may be empty).
  std::string name;

  static principal admin(std::string label = {}) { return {principal_role::admin, std::move(label)}; }
  static principal operator_(std::string label = {}) {
    return {principal_role::operator_, std::move(label)};
  }
  static principal observer(std::string label = {}) {
    return {principal_role::observer, std::move(label)};
  }
  static principal agent(agent_id id) { return {principal_role::agent, std::move(id)}; }
  static principal node(std::string id) { return {principal_role::node, std::move(id)}; }

  bool is_admin() const noexcept { return role == principal_role::admin; }
  /// True when this is the agent principal of `id`.
  bool is_agent(std::string_view id) const noexcept {
    return role == principal_role::agent && name == id;
  }

  friend bool operator==(const principal&, const principal&) = default;
};

/// "agent:alice", "admin", "operator:oncall" (role, then ':' and the name
/// when there is one): the form tokens and certificates carry.
std::string to_string(const principal& p);

/// Parses the form to_string writes. invalid_argument for an unknown role,
/// an agent without a valid id, or a label that is not a valid id.
expected<principal> parse_principal(std::string_view text);

} // namespace parley
