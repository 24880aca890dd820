#include "cli.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

namespace parley::cli {

int exit_code_of(grpc::StatusCode c) noexcept {
  switch (c) {
    case grpc::StatusCode::OK: return exit_ok;
    case grpc::StatusCode::NOT_FOUND: return exit_not_found;
    case grpc::StatusCode::ALREADY_EXISTS: return exit_already_exists;
    case grpc::StatusCode::PERMISSION_DENIED:
    case grpc::StatusCode::UNAUTHENTICATED: return exit_permission_denied;
    case grpc::StatusCode::FAILED_PRECONDITION: return exit_failed_precondition;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return exit_resource_exhausted;
    case grpc::StatusCode::UNAVAILABLE: return exit_unavailable;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::OUT_OF_RANGE: return exit_invalid_argument;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return exit_deadline_exceeded;
    default: return exit_failed;
  }
}

const char* status_name(grpc::StatusCode c) noexcept {
  switch (c) {
    case grpc::StatusCode::OK: return "OK";
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "UNKNOWN";
  }
}

namespace {

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in{path};
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

} // namespace

int session::open() {
  // The order every Parley client uses: --token-file, then the token in
  // PARLEY_TOKEN, then the file named by PARLEY_TOKEN_FILE.
  const char* env_token = std::getenv("PARLEY_TOKEN");
  if (opt_.token_file.empty() && !(env_token && *env_token))
    if (const char* f = std::getenv("PARLEY_TOKEN_FILE"); f && *f)
      opt_.token_file = f;
  if (!opt_.token_file.empty()) {
    // The first line (`parley token issue > file` writes one).
    std::ifstream in{opt_.token_file};
    if (!in || !std::getline(in, token_) || token_.empty()) {
      std::cerr << "error: --token-file '" << opt_.token_file << "' cannot be read or is empty\n";
      return exit_usage;
    }
  } else if (env_token) {
    token_ = env_token;
  }
  while (!token_.empty() && (token_.back() == '\r' || token_.back() == ' '))
    token_.pop_back();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (opt_.tls || !opt_.ca_file.empty() || !opt_.cert_file.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!opt_.ca_file.empty() && !read_file(opt_.ca_file, ssl.pem_root_certs)) {
      std::cerr << "error: --ca-file '" << opt_.ca_file << "' cannot be read\n";
      return exit_usage;
    }
    if (opt_.cert_file.empty() != opt_.key_file.empty()) {
      std::cerr << "error: --client-cert and --client-key go together (a client certificate and its key)\n";
      return exit_usage;
    }
    if (!opt_.cert_file.empty()
        && (!read_file(opt_.cert_file, ssl.pem_cert_chain) || !read_file(opt_.key_file, ssl.pem_private_key))) {
      std::cerr << "error: --client-cert '" << opt_.cert_file << "' or --client-key '" << opt_.key_file
                << "' cannot be read\n";
      return exit_usage;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  // gRPC's default reconnect backoff grows to two minutes; a CLI that
  // follows a stream across a node restart should notice the node within
  // seconds (events tail --follow retries on its own, with its own backoff).
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: that is also the connect timeout.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  channel_ = grpc::CreateCustomChannel(opt_.server, creds, args);
  return exit_ok;
}

void session::prepare(grpc::ClientContext& ctx, bool deadline) const {
  if (!token_.empty())
    ctx.AddMetadata("authorization", "Bearer " + token_);
  if (deadline)
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(opt_.timeout_ms));
}

int session::fail(const grpc::Status& s, const grpc::ClientContext& ctx) const {
  std::cerr << "error: " << status_name(s.error_code());
  if (!s.error_message().empty())
    std::cerr << ": " << s.error_message();
  std::cerr << '\n';
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      // Only for connection failures: a draining node or a failed storage
      // write also say UNAVAILABLE, and their messages say so.
      if (s.error_message().find("connect") != std::string::npos
          || s.error_message().find("DNS") != std::string::npos)
        std::cerr << "hint: is parleyd running at '" << opt_.server
                  << "'? (--server or PARLEY_SERVER)\n";
      break;
    case grpc::StatusCode::PERMISSION_DENIED:
      std::cerr << "hint: the token's principal may not do this (docs/security.md has who may "
                   "do what); use a token of the agent itself, or an operator's or admin's\n";
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
      std::cerr << "hint: present a valid token with --token-file, PARLEY_TOKEN_FILE or "
                   "PARLEY_TOKEN (an admin makes one with `parley token issue`)\n";
      break;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: {
      auto& trailers = ctx.GetServerTrailingMetadata();
      if (auto it = trailers.find("retry-after-ms"); it != trailers.end())
        std::cerr << "hint: retry after " << std::string(it->second.data(), it->second.size())
                  << " ms\n";
      break;
    }
    default: break;
  }
  return exit_code_of(s.error_code());
}

// -- paging -------------------------------------------------------------------

void add_page_options(CLI::App& cmd, page_options& p, const std::string& what) {
  cmd.add_option("--limit", p.limit, "Print at most this many " + what)
    ->capture_default_str()
    ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  cmd.add_flag("--all", p.all, "Print all " + what + " (ignores --limit)");
  cmd.add_option("--page-token", p.token, "Continue where an earlier listing stopped");
}

int paginate(const session& s, const page_options& p,
             const std::function<page_result(grpc::ClientContext&, uint32_t, const std::string&)>& fetch,
             std::string& next) {
  // The API takes pages of 1 to 1000 items.
  constexpr uint64_t max_page = 1000;
  std::string token = p.token;
  uint64_t got = 0;
  for (;;) {
    uint64_t want = p.all ? max_page : std::min(max_page, p.limit - got);
    grpc::ClientContext ctx;
    s.prepare(ctx);
    auto r = fetch(ctx, static_cast<uint32_t>(want), token);
    if (!r.status.ok())
      return s.fail(r.status, ctx);
    got += r.items;
    token = r.next;
    if (token.empty() || (!p.all && got >= p.limit))
      break;
  }
  next = token;
  return exit_ok;
}

void print_more_hint(const session& s, const std::string& what, const std::string& next) {
  if (next.empty() || s.json())
    return;
  std::cerr << "(more " << what << " may follow: run again with --page-token " << next
            << ", or with --all)\n";
}

std::string agent_or_caller(const session& s, const std::string& given, const std::string& option) {
  if (!given.empty())
    return given;
  if (!s.opt().as.empty())
    return s.opt().as;
  std::cerr << "error: " << option << " is required (or act as an agent with --as)\n";
  return {};
}

} // namespace parley::cli
