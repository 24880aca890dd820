#pragma once

// What every verb of `parley` shares: the global options, the session (one
// gRPC channel and the metadata each call carries), the exit codes and the
// paging of list calls. Each verb family registers its subcommands with an
// add_*_commands function; a subcommand's callback only stores the action,
// which main runs after the whole command line parsed.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <grpcpp/grpcpp.h>

namespace parley::cli {

/// The exit codes of `parley`: one per family of outcome, so that scripts
/// can tell "not there" from "not allowed" from "try again later". Listed in
/// `parley --help` and docs/cli.md; never renumber.
enum exit_code : int {
  /// The command did what it was asked.
  exit_ok = 0,
  /// The server answered with another error (INTERNAL, UNKNOWN, ...).
  exit_failed = 1,
  /// The command line is wrong (or names a file that cannot be read).
  exit_usage = 2,
  /// NOT_FOUND: the agent, room, ... does not exist.
  exit_not_found = 3,
  /// ALREADY_EXISTS: the id is taken.
  exit_already_exists = 4,
  /// PERMISSION_DENIED or UNAUTHENTICATED: see the token (--token-file).
  exit_permission_denied = 5,
  /// FAILED_PRECONDITION: not in this state (not your turn, room closed,
  /// agent retired, node without a store).
  exit_failed_precondition = 6,
  /// RESOURCE_EXHAUSTED: full inbox or overload; retry later.
  exit_resource_exhausted = 7,
  /// UNAVAILABLE: no connection, or the node is draining or stopping.
  exit_unavailable = 8,
  /// INVALID_ARGUMENT or OUT_OF_RANGE: the server refused a value.
  exit_invalid_argument = 9,
  /// DEADLINE_EXCEEDED: no answer within --timeout-ms; the call may or may
  /// not have taken effect.
  exit_deadline_exceeded = 10,
};

/// The exit code for a gRPC status code (exit_ok for OK).
int exit_code_of(grpc::StatusCode c) noexcept;

/// "NOT_FOUND" etc.
const char* status_name(grpc::StatusCode c) noexcept;

/// The options before or after any verb.
struct global_options {
  /// host:port of the node. Default: $PARLEY_SERVER, else 127.0.0.1:7700.
  std::string server = "127.0.0.1:7700";
  /// The agent verbs act as when they name none (--from, --agent, ...).
  /// Default: $PARLEY_AGENT. Who the node lets act is the token's principal.
  std::string as;
  /// File with the bearer token (`parley token issue` makes one). Default:
  /// the token in $PARLEY_TOKEN, else the file $PARLEY_TOKEN_FILE, else none.
  std::string token_file;
  /// Use TLS (implied by ca_file and cert_file). Default: false.
  bool tls = false;
  /// PEM roots to verify the server with; empty = the system roots. Default: empty.
  std::string ca_file;
  /// Client certificate and key (mTLS), PEM. Default: none.
  std::string cert_file;
  std::string key_file;
  /// Deadline of each unary call in ms. Default: 10000.
  int timeout_ms = 10000;
  /// Print JSON instead of tables. Default: false.
  bool json = false;
};

/// One connection to a node and the metadata of every call. Not thread-safe
/// except prepare() and fail(), which only read.
class session {
public:
  explicit session(global_options& opt) : opt_(opt) {}

  /// Reads the bearer token (the file, else $PARLEY_TOKEN) and the TLS
  /// files, and creates the channel. exit_usage, with a message on stderr, when a
  /// named file cannot be read; else exit_ok. Connecting happens lazily.
  int open();

  /// The channel; open() must have succeeded.
  const std::shared_ptr<grpc::Channel>& channel() const noexcept { return channel_; }

  /// Adds the metadata and, if `deadline`, the per-call deadline to `ctx`.
  void prepare(grpc::ClientContext& ctx, bool deadline = true) const;

  /// Prints "error: <STATUS_NAME>: <message>" (and hints) to stderr and
  /// returns the exit code for `s`.
  int fail(const grpc::Status& s, const grpc::ClientContext& ctx) const;

  /// Runs one unary call `f(ctx)` with a prepared context: exit_ok, or
  /// the exit code after fail().
  template <class F>
  int call(F&& f) const {
    grpc::ClientContext ctx;
    prepare(ctx);
    grpc::Status s = f(&ctx);
    return s.ok() ? exit_ok : fail(s, ctx);
  }

  const global_options& opt() const noexcept { return opt_; }
  bool json() const noexcept { return opt_.json; }

private:
  global_options& opt_;
  std::string token_;
  std::shared_ptr<grpc::Channel> channel_;
};

/// What a parsed command does; returns its exit code.
using action = std::function<int()>;

/// Registers the verbs of one family under `app`. A verb's callback sets
/// `run`; options live in objects owned by the callbacks.
void add_agents_commands(CLI::App& app, session& s, action& run);
void add_rooms_commands(CLI::App& app, session& s, action& run);
void add_send_command(CLI::App& app, session& s, action& run);
void add_turn_commands(CLI::App& app, session& s, action& run);
void add_events_commands(CLI::App& app, session& s, action& run);
void add_node_commands(CLI::App& app, session& s, action& run);
/// `token issue` runs offline: main opens no session for it (only
/// s.json() is read).
void add_token_commands(CLI::App& app, session& s, action& run);

// -- paging -------------------------------------------------------------------

/// --limit, --all and --page-token of the list verbs.
struct page_options {
  uint64_t limit = 100;
  bool all = false;
  std::string token;
};

void add_page_options(CLI::App& cmd, page_options& p, const std::string& what);

/// One page: the call's status, how many items it brought, its next token.
struct page_result {
  grpc::Status status;
  size_t items = 0;
  std::string next;
};

/// Calls `fetch(ctx, page_size, token)` from p.token until the last page,
/// or until p.limit items arrived (unless p.all). `next` receives the token
/// to continue with (empty when everything was read). exit_ok or the exit
/// code of the failed call.
int paginate(const session& s, const page_options& p,
             const std::function<page_result(grpc::ClientContext&, uint32_t, const std::string&)>& fetch,
             std::string& next);

/// Reads the pages of a list rpc into `all` (paginate() for one response
/// type): `call(ctx, req, page)` makes the stub call, `items(response)` is
/// the response's repeated field. all.next_page_token() says how to go on.
template <class Req, class Resp, class Call, class Items>
int read_pages(const session& s, const page_options& p, Req& req, Resp& all, Call call,
               Items items) {
  std::string next;
  int rc = paginate(
    s, p,
    [&](grpc::ClientContext& ctx, uint32_t size, const std::string& token) {
      req.set_page_size(size);
      req.set_page_token(token);
      Resp page;
      page_result r;
      r.status = call(ctx, req, page);
      auto& got = items(page);
      r.items = static_cast<size_t>(got.size());
      r.next = page.next_page_token();
      for (auto& x : got)
        items(all).Add()->Swap(&x);
      return r;
    },
    next);
  all.set_next_page_token(next);
  return rc;
}

/// For people: on stderr, how to get the rest of a list cut at the limit.
void print_more_hint(const session& s, const std::string& what, const std::string& next);

/// The agent named by a verb's option, else --as. Empty: prints a usage
/// error naming `option` and the caller returns exit_usage.
std::string agent_or_caller(const session& s, const std::string& given, const std::string& option);

} // namespace parley::cli
