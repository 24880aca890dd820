// parley: the operator CLI of a Parley node, a client of the public gRPC
// API (proto/parley/v1/api.proto). Verbs in the style of kubectl; tables for
// people, --json for scripts; exit codes by status family (cli.hpp,
// docs/cli.md).

#include <iostream>

#include <CLI/CLI.hpp>

#include "cli.hpp"

namespace {

constexpr const char* footer = R"(Exit codes:
  0   success
  1   the server answered with another error (INTERNAL, UNKNOWN, ...)
  2   usage error (bad command line, unreadable --token-file, --ca-file,
      --client-cert/--client-key or token key)
  3   NOT_FOUND            the agent, room, ... does not exist
  4   ALREADY_EXISTS       the id is taken
  5   PERMISSION_DENIED    the token's principal may not (or UNAUTHENTICATED:
                           no token, or a bad or expired one)
  6   FAILED_PRECONDITION  not your turn, room closed, agent retired, no store
  7   RESOURCE_EXHAUSTED   full inbox or overload; retry later
  8   UNAVAILABLE          cannot connect, or the node is draining/stopping
  9   INVALID_ARGUMENT or OUT_OF_RANGE: the server refused a value
  10  DEADLINE_EXCEEDED    no answer within --timeout-ms (may have taken effect)
Errors print "error: <STATUS_NAME>: <message>" on stderr.

Environment: PARLEY_SERVER, PARLEY_AGENT (--as), PARLEY_TOKEN_FILE
(--token-file), PARLEY_TOKEN (the token itself); for `token issue`,
PARLEY_TOKEN_KEY_FILE (a path) or PARLEY_TOKEN_KEY (the key itself). Use
`parley <verb> --help` for each verb; docs/cli.md has examples.)";

} // namespace

int main(int argc, char** argv) {
  using namespace parley::cli;
  global_options opt;
  session s{opt};
  action run;

  CLI::App app{"parley: operate a Parley node over its gRPC API", "parley"};
  app.set_version_flag("--version", PARLEY_VERSION);
  app.get_formatter()->column_width(36);
  // Global options may also follow the verb: `parley agents ls --json`.
  app.fallthrough();
  app.require_subcommand(1);
  app.add_option("--server", opt.server, "The node's API, host:port")
    ->envname("PARLEY_SERVER")
    ->capture_default_str();
  app.add_option("--as", opt.as, "The agent verbs act as when they name none")->envname("PARLEY_AGENT");
  app.add_option("--token-file", opt.token_file,
                 "File with the bearer token (else $PARLEY_TOKEN, else the file $PARLEY_TOKEN_FILE); "
                 "`parley token issue` makes one");
  app.add_flag("--tls", opt.tls, "Connect with TLS (verified against the system roots or --ca-file)");
  app.add_option("--ca-file", opt.ca_file, "PEM roots to verify the node's certificate (implies --tls)");
  app.add_option("--client-cert", opt.cert_file, "Client certificate, PEM (mTLS; implies --tls)");
  app.add_option("--client-key", opt.key_file, "The client certificate's private key, PEM");
  app.add_option("--timeout-ms", opt.timeout_ms, "Deadline of each call")
    ->capture_default_str()
    ->check(CLI::Range(1, 24 * 3600 * 1000));
  app.add_flag("--json", opt.json, "Print JSON (proto field names) instead of tables");

  add_agents_commands(app, s, run);
  add_rooms_commands(app, s, run);
  add_send_command(app, s, run);
  add_turn_commands(app, s, run);
  add_events_commands(app, s, run);
  add_node_commands(app, s, run);
  add_token_commands(app, s, run);
  app.footer(footer);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; every real parse error is a usage error.
    return app.exit(e) == 0 ? exit_ok : exit_usage;
  }
  if (!run) {
    std::cerr << app.help();
    return exit_usage;
  }
  // `token issue` signs offline: it needs neither a channel nor a token,
  // and must not fail on a stale PARLEY_TOKEN_FILE.
  if (!app.got_subcommand("token"))
    if (int rc = s.open(); rc != exit_ok)
      return rc;
  return run();
}
