#include "parley/auth/principal.hpp"

namespace parley {

std::string_view to_string(principal_role r) noexcept {
  switch (r) {
    case principal_role::admin: return "admin";
    case principal_role::operator_: return "operator";
    case principal_role::observer: return "observer";
    case principal_role::agent: return "agent";
    case principal_role::node: return "node";
  }
  return "unknown";
}

std::string to_string(const principal& p) {
  std::string out{to_string(p.role)};
  if (!p.name.empty()) {
    out.push_back(':');
    out += p.name;
  }
  return out;
}

expected<principal> parse_principal(std::string_view text) {
  const auto colon = text.find(':');
  const auto role = text.substr(0, colon);
  const auto name = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  for (auto r : {principal_role::admin, principal_role::operator_, principal_role::observer,
                 principal_role::agent, principal_role::node}) {
    if (to_string(r) != role)
      continue;
    // An agent and a node are named; a staff principal's name is a label.
    const bool named = r == principal_role::agent || r == principal_role::node;
    if (named || !name.empty())
      if (auto ok = validate_id(name, r == principal_role::agent ? "agent id"
                                      : r == principal_role::node ? "node id"
                                                                  : "principal name");
          !ok)
        return unexpected{errc::invalid_argument,
                          "principal '" + std::string{text} + "': " + ok.error().message};
    return principal{r, std::string{name}};
  }
  return unexpected{errc::invalid_argument,
                    "principal '" + std::string{text}
                      + "': the role must be admin, operator, observer, agent (agent:<id>) or node (node:<id>)"};
}

} // namespace parley
