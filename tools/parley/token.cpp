// parley token issue: signs a bearer token for a principal with the shared
// HMAC key. Offline: it contacts no node, so it works where the key lives
// (a CI secret store, an operator's machine) and nowhere else.

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "parley/auth/token.hpp"

namespace parley::cli {

namespace {

/// Longest --ttl: a year and a day covers yearly rotation; longer-lived
/// bearer tokens are better not made at all.
constexpr int64_t max_ttl_s = 366 * 86400;

struct issue_options {
  std::string agent;
  std::string role;
  std::string name;
  std::string ttl = "1h";
  std::string issuer = "parley";
  std::string audience = "parley";
  std::string key_file;
};

int usage_error(const std::string& message) {
  std::cerr << "error: " << message << "\n";
  return exit_usage;
}

// --key-file, else $PARLEY_TOKEN_KEY_FILE, else $PARLEY_TOKEN_KEY. The
// secret itself is never a command-line value: argv is visible to every
// user of the machine (ps, /proc) and lands in shell history.
expected<auth::token_key> find_key(const std::string& key_file) {
  if (!key_file.empty())
    return auth::load_key_file(key_file);
  if (const char* path = std::getenv("PARLEY_TOKEN_KEY_FILE"); path != nullptr && *path != '\0')
    return auth::load_key_file(path);
  if (const char* secret = std::getenv("PARLEY_TOKEN_KEY"); secret != nullptr && *secret != '\0')
    return auth::key_from_env("PARLEY_TOKEN_KEY");
  return unexpected{errc::invalid_argument,
                    "no token key: give --key-file PATH, or set PARLEY_TOKEN_KEY_FILE (a path) or "
                    "PARLEY_TOKEN_KEY (the secret itself)"};
}

int issue(const session& s, const issue_options& o) {
  // The option group admits exactly one of --agent and --role.
  principal who = principal::agent(o.agent);
  if (o.role == "admin")
    who = principal::admin(o.name);
  else if (o.role == "operator")
    who = principal::operator_(o.name);
  else if (o.role == "observer")
    who = principal::observer(o.name);
  if (auto back = parse_principal(to_string(who)); !back || *back != who)
    return usage_error((o.role.empty() ? "--agent: " : "--name: ")
                       + (back ? std::string{"'" + to_string(who) + "' is not a valid principal"}
                               : back.error().message));

  auto ttl = auth::parse_duration_s(o.ttl);
  if (!ttl)
    return usage_error("--ttl: " + ttl.error().message);
  if (*ttl <= 0 || *ttl > max_ttl_s)
    return usage_error("--ttl: '" + o.ttl + "' is out of range: more than 0 and at most 366d");

  auto key = find_key(o.key_file);
  if (!key)
    return usage_error(key.error().message);

  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
  auth::token_claims c;
  c.who = who;
  c.issuer = o.issuer;
  c.audience = o.audience;
  c.issued_at = now;
  c.expires_at = now + *ttl;
  auto token = auth::issue_token(*key, c);
  if (!token) {
    if (token.error().code == errc::invalid_argument)
      return usage_error(token.error().message);
    std::cerr << "error: " << to_string(token.error()) << "\n";
    return exit_failed;
  }
  if (s.json())
    std::cout << nlohmann::json{{"token", *token}, {"principal", to_string(who)}, {"expires_at", c.expires_at}}
                   .dump(2)
              << "\n";
  else
    std::cout << *token << "\n";
  return exit_ok;
}

} // namespace

void add_token_commands(CLI::App& app, session& s, action& run) {
  auto* token = app.add_subcommand("token", "Issue bearer tokens (offline: no node is contacted)");
  token->require_subcommand(1);

  auto o = std::make_shared<issue_options>();
  auto* cmd = token->add_subcommand(
    "issue", "Sign a bearer token (JWT, HS256) for an agent or a staff role; prints it on stdout");
  auto* who = cmd->add_option_group("principal", "Whom the token names (exactly one)");
  auto* agent = who->add_option("--agent", o->agent, "An agent: the token acts as agent:ID")->type_name("ID");
  who->add_option("--role", o->role, "A staff role")->type_name("ROLE")->check(CLI::IsMember({"admin", "operator", "observer"}));
  who->require_option(1);
  cmd->add_option("--name", o->name, "A label for a staff role's holder (operator:LABEL); not with --agent")
    ->type_name("LABEL")
    ->excludes(agent);
  cmd->add_option("--ttl", o->ttl, "Lifetime: 45s, 30m, 1h, 7d or seconds; at most 366d")
    ->type_name("DURATION")
    ->capture_default_str();
  cmd->add_option("--issuer", o->issuer, "The iss claim: who issued it, as the node expects")->capture_default_str();
  cmd->add_option("--audience", o->audience, "The aud claim: whom it is for, as the node expects")
    ->capture_default_str();
  cmd->add_option("--key-file", o->key_file,
                  "File holding the HMAC key, at least 32 bytes (else $PARLEY_TOKEN_KEY_FILE, "
                  "else the key in $PARLEY_TOKEN_KEY)")
    ->type_name("PATH");
  cmd->callback([&s, &run, o] { run = [&s, o] { return issue(s, *o); }; });
}

} // namespace parley::cli
