// parley events tail: the event stream (in a network, every node's),
// resumable by its token (or, for the node called alone, by offset).

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "cli.hpp"
#include "output.hpp"
#include "parley/v1/api.grpc.pb.h"

namespace parley::cli {

namespace pb = ::parley::v1;

namespace {

using clock_type = std::chrono::steady_clock;

// Set by SIGINT and SIGTERM while tailing; polled by the watcher thread,
// which cancels the stream (gRPC calls are not async-signal-safe).
std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free);

extern "C" void on_stop_signal(int) {
  stop_requested.store(true);
}

void catch_stop_signals() {
  struct sigaction sa{};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct tail_options {
  std::vector<std::string> topics;
  std::string agent;
  std::string room;
  uint64_t from = 0;
  bool this_node = false;
  bool from_oldest = false;
  std::string resume;
  bool follow = false;
  uint64_t limit = 0;
  int idle_ms = 500;
  unsigned retries = 5;
};

// Why a stream that we ended ourselves ended.
enum class stop_reason { none, signal, idle, limit };

class tailer {
public:
  tailer(const session& s, const tail_options& o) : s_(s), o_(o) {}

  int run() {
    catch_stop_signals();
    auto stub = pb::Events::NewStub(s_.channel());
    if (!s_.json())
      header();
    unsigned failures = 0;
    for (;;) {
      pb::SubscribeRequest req;
      for (auto& t : o_.topics)
        req.add_topics(t);
      req.set_agent(o_.agent);
      req.set_room(o_.room);
      // After an event: resume after it (on every node, whichever is
      // called). Before the first: as asked.
      if (!token_.empty()) {
        req.set_resume_token(token_);
      } else if (!o_.resume.empty()) {
        req.set_resume_token(o_.resume);
      } else {
        req.set_from_offset(o_.from);
        req.set_from_oldest(o_.from_oldest);
      }
      // An offset is the called node's: it follows that node alone.
      req.set_this_node_only(o_.this_node || o_.from > 0);
      grpc::ClientContext ctx;
      s_.prepare(ctx, false);
      auto [status, why] = stream(*stub, ctx, req, failures);
      if (why != stop_reason::none || status.ok())
        return finish(exit_ok);
      // UNAVAILABLE: the node went away or drains; RESOURCE_EXHAUSTED: we
      // fell behind and the node cut us off; CANCELLED without our stop: the
      // server cancelled the stream (a node shutting down cancels the
      // streams it has not finished, also one that reconnected to it while
      // it stopped). All say "resume from last + 1".
      const auto code = status.error_code();
      bool retry = o_.follow
                   && (code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED
                       || code == grpc::StatusCode::CANCELLED)
                   && failures < o_.retries;
      if (!retry) {
        int rc = s_.fail(status, ctx);
        return finish(rc);
      }
      ++failures;
      // 250 ms, 500 ms, 1 s, ... at most 8 s between attempts.
      auto backoff = std::chrono::milliseconds(250) * (1 << std::min(failures - 1, 5u));
      std::cerr << "stream broke (" << status_name(status.error_code()) << ": "
                << status.error_message() << "); reconnecting in " << backoff.count()
                << " ms (attempt " << failures << " of " << o_.retries << ")\n";
      if (!sleep_unless_stopped(backoff))
        return finish(exit_ok);
    }
  }

private:
  // One subscription until it ends: the status and, if we ended it, why.
  std::pair<grpc::Status, stop_reason> stream(pb::Events::Stub& stub, grpc::ClientContext& ctx,
                                              const pb::SubscribeRequest& req, unsigned& failures) {
    std::atomic<int64_t> last_activity{now_ms()};
    std::atomic<stop_reason> why{stop_reason::none};
    std::atomic<bool> done{false};
    std::thread watcher{[&] {
      while (!done.load()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        stop_reason r = stop_reason::none;
        if (stop_requested.load())
          r = stop_reason::signal;
        else if (!o_.follow && now_ms() - last_activity.load() >= o_.idle_ms)
          r = stop_reason::idle;
        if (r != stop_reason::none) {
          why.store(r);
          ctx.TryCancel();
          return;
        }
      }
    }};
    auto reader = stub.Subscribe(&ctx, req);
    pb::Event e;
    while (reader->Read(&e)) {
      last_activity.store(now_ms());
      print(e);
      last_ = e.offset();
      token_ = e.resume_token();
      failures = 0;
      if (o_.limit != 0 && ++printed_ >= o_.limit) {
        why.store(stop_reason::limit);
        ctx.TryCancel();
        break;
      }
    }
    grpc::Status status = reader->Finish();
    done.store(true);
    watcher.join();
    return {status, why.load()};
  }

  void header() {
    std::printf("%-8s  %-24s  %-20s  %-16s  %-16s  %-12s  %s\n", "OFFSET", "TIME", "KIND", "AGENT", "ROOM",
                "NODE", "DETAIL");
    std::fflush(stdout);
  }

  void print(const pb::Event& e) {
    if (s_.json()) {
      std::printf("%s\n", to_json_line(e).c_str());
    } else {
      auto dash = [](const std::string& v) { return v.empty() ? std::string{"-"} : printable(v); };
      std::printf("%-8llu  %-24s  %-20s  %-16s  %-16s  %-12s  %s\n",
                  static_cast<unsigned long long>(e.offset()), format_time(e.at()).c_str(),
                  dash(e.kind()).c_str(), dash(e.agent()).c_str(), dash(e.room()).c_str(),
                  dash(e.node()).c_str(), dash(e.detail()).c_str());
    }
    std::fflush(stdout);
  }

  // Where to resume, for people on stderr, for scripts as a last JSON line
  // on stdout: the last event's offset (in its node's log) and the stream's
  // resume token (every node's position).
  int finish(int rc) {
    std::optional<uint64_t> last = last_;
    if (!last && o_.from > 0)
      last = o_.from - 1;
    const std::string token = token_.empty() ? o_.resume : token_;
    if (s_.json()) {
      std::string tok = token.empty() ? "null" : "\"" + token + "\"";
      if (last)
        std::printf("{\"last_offset\":\"%llu\",\"resume_from\":\"%llu\",\"resume_token\":%s}\n",
                    static_cast<unsigned long long>(*last), static_cast<unsigned long long>(*last + 1), tok.c_str());
      else
        std::printf("{\"last_offset\":null,\"resume_from\":null,\"resume_token\":%s}\n", tok.c_str());
      std::fflush(stdout);
    } else if (last) {
      std::cerr << "last offset: " << *last << " (resume with --from " << *last + 1 << ")\n";
    } else {
      std::cerr << "last offset: none (no event seen)\n";
    }
    if (!s_.json() && !token.empty())
      std::cerr << "resume token: " << token << " (resume with --resume '" << token << "')\n";
    return rc;
  }

  // False when a stop signal came first.
  static bool sleep_unless_stopped(std::chrono::milliseconds d) {
    auto until = clock_type::now() + d;
    while (clock_type::now() < until) {
      if (stop_requested.load())
        return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return !stop_requested.load();
  }

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now().time_since_epoch())
      .count();
  }

  const session& s_;
  const tail_options& o_;
  std::optional<uint64_t> last_;
  std::string token_; // the last event's resume token
  uint64_t printed_ = 0;
};

} // namespace

void add_events_commands(CLI::App& app, session& s, action& run) {
  auto* events = app.add_subcommand("events", "Read the node's event stream");
  events->require_subcommand(1);
  auto o = std::make_shared<tail_options>();
  auto* tail = events->add_subcommand(
    "tail",
    "Print events (OFFSET TIME KIND AGENT ROOM DETAIL, or one JSON object per line). Without "
    "--follow: those retained from --from and any arriving until the stream is quiet for "
    "--idle-ms. On exit, prints the last offset seen (stderr; with --json, a last JSON line)");
  tail->add_option("--topic", o->topics,
                   "agent_lifecycle, agent_status, room, turn or message (repeatable; default: all)");
  tail->add_option("--agent", o->agent, "Only events about this agent");
  tail->add_option("--room", o->room, "Only events about this room");
  auto* from = tail->add_option("--from", o->from,
                                "Start at this offset of the node called, and follow that node alone (0: live "
                                "events only)")
                 ->capture_default_str();
  tail->add_flag("--this-node", o->this_node, "In a network: only the events of the node called");
  auto* oldest = tail->add_flag("--from-oldest", o->from_oldest, "Start at every node's oldest retained event");
  tail->add_option("--resume", o->resume, "Resume after the event whose resume token this is (any node)")
    ->excludes(from)
    ->excludes(oldest);
  oldest->excludes(from);
  tail->add_flag("-f,--follow", o->follow,
                 "Keep the stream open until SIGINT or SIGTERM; when it breaks (UNAVAILABLE, "
                 "RESOURCE_EXHAUSTED, or CANCELLED by the server), reconnect with backoff and resume after the last offset");
  tail->add_option("-n,--limit", o->limit, "Stop after this many events (0: no limit)");
  tail->add_option("--idle-ms", o->idle_ms, "Without --follow: stop after this long without an event")
    ->capture_default_str()
    ->check(CLI::Range(1, 3600 * 1000));
  tail->add_option("--retries", o->retries,
                   "With --follow: reconnect attempts in a row before giving up")
    ->capture_default_str();
  tail->callback([&s, &run, o] { run = [&s, o] { return tailer{s, *o}.run(); }; });
}

} // namespace parley::cli
