// parley, the operator CLI, as a real process against real parleyd
// processes: every verb's good path, tables and --json, paging, the exit
// codes of each status family, events tail (replay, follow, resume across a
// restart, SIGINT), and the admin verbs.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/process.hpp"
#include "support/temp_dir.hpp"

extern char** environ;

namespace parley {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

const std::string parley_cli = PARLEY_CLI_PATH;
const std::string parleyd = PARLEYD_PATH;

// -- running the CLI --------------------------------------------------------------

struct cli_result {
  /// The exit code; -signal if killed; -1000 if it did not end in time.
  int code = -1000;
  std::string out;
  std::string err;
};

std::ostream& operator<<(std::ostream& os, const cli_result& r) {
  return os << "exit " << r.code << "\n--- stdout\n" << r.out << "--- stderr\n" << r.err;
}

// The CLI as a child process with stdout and stderr apart, and an
// environment without PARLEY_* (plus `env`), so that the caller's shell
// cannot change what a test sees.
class cli_process {
public:
  explicit cli_process(std::vector<std::string> args, std::vector<std::string> env = {},
                       const std::string& input = {}) {
    args.insert(args.begin(), parley_cli);
    for (char** e = environ; *e != nullptr; ++e)
      if (std::string_view{*e}.rfind("PARLEY_", 0) != 0)
        env.emplace_back(*e);
    int out[2], err[2], in[2];
    if (pipe(out) != 0 || pipe(err) != 0 || pipe(in) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
        close(fd);
      std::vector<char*> argv, envp;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      for (auto& e : env)
        envp.push_back(e.data());
      envp.push_back(nullptr);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    // Small inputs only: they fit the pipe's buffer.
    if (!input.empty() && write(in[1], input.data(), input.size()) < 0)
      input_failed_ = true;
    close(in[1]);
    out_ = out[0];
    err_ = err[0];
  }

  ~cli_process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    for (int fd : {out_, err_})
      if (fd >= 0)
        close(fd);
  }

  cli_process(const cli_process&) = delete;
  cli_process& operator=(const cli_process&) = delete;

  bool started() const noexcept { return pid_ > 0 && !input_failed_; }

  void signal(int sig) { kill(pid_, sig); }

  /// Reads until stdout contains `text` or `timeout` passes.
  bool wait_for_stdout(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (r_.out.find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline)
        return false;
      read_some(20);
    }
    return true;
  }

  /// Waits for the exit (killing the child after `timeout`) and returns
  /// what it printed.
  cli_result wait(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        while (read_some(0)) {
        }
        r_.code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
        return r_;
      }
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        exited_ = true;
        r_.code = -1000;
        return r_;
      }
      read_some(20);
    }
  }

  const cli_result& so_far() const noexcept { return r_; }

private:
  // Waits up to `ms` for output on either pipe; false when none came.
  bool read_some(int ms) {
    pollfd p[2] = {{out_, POLLIN, 0}, {err_, POLLIN, 0}};
    if (poll(p, 2, ms) <= 0)
      return false;
    bool got = false;
    for (int i = 0; i < 2; ++i) {
      if ((p[i].revents & (POLLIN | POLLHUP)) == 0)
        continue;
      char buf[4096];
      auto n = read(p[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? r_.out : r_.err).append(buf, static_cast<size_t>(n));
        got = true;
      }
    }
    return got;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  int err_ = -1;
  bool exited_ = false;
  bool input_failed_ = false;
  cli_result r_;
};

cli_result run_cli(std::vector<std::string> args, std::vector<std::string> env = {},
                   const std::string& input = {}) {
  cli_process p{std::move(args), std::move(env), input};
  if (!p.started())
    return {};
  return p.wait(30s);
}

// A port on 127.0.0.1 where nothing listens: bound (so nobody else gets
// it) but not listening, so connections are refused.
class closed_port {
public:
  closed_port() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
        && getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~closed_port() { close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  int fd_ = -1;
  int port_ = 0;
};

// A port on 127.0.0.1 that accepts connections (the kernel completes the
// handshake) but never speaks: calls to it can only time out.
class silent_port {
public:
  silent_port() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && listen(fd_, 16) == 0
        && getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~silent_port() { close(fd_); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

private:
  int fd_ = -1;
  int port_ = 0;
};

// -- a parleyd to talk to -----------------------------------------------------------

// A parleyd without the demo on a free port (or `listen`), stopped with
// SIGTERM at the end.
class daemon_process {
public:
  explicit daemon_process(std::vector<std::string> extra = {}, std::string listen = "127.0.0.1:0")
    : p_{args(std::move(extra), listen)} {
    // "gRPC API listening on 127.0.0.1:<port> (plaintext...)"
    const std::string marker = "gRPC API listening on ";
    if (!p_.wait_for_output("(plaintext", 30s))
      return;
    auto& out = p_.output();
    auto at = out.find(marker);
    auto end = out.find(" (", at);
    if (at != std::string::npos && end != std::string::npos)
      server_ = out.substr(at + marker.size(), end - at - marker.size());
  }

  ~daemon_process() { stop(); }

  /// host:port; empty if the daemon did not start.
  const std::string& server() const noexcept { return server_; }
  std::string output() const { return p_.output(); }

  /// SIGTERM; the exit code.
  int stop() {
    if (stopped_)
      return code_;
    stopped_ = true;
    p_.signal(SIGTERM);
    code_ = p_.wait_exit(20s);
    return code_;
  }

  /// Runs the CLI against this daemon.
  cli_result cli(std::vector<std::string> args, std::vector<std::string> env = {},
                 const std::string& input = {}) const {
    args.insert(args.begin(), {"--server", server_});
    return run_cli(std::move(args), std::move(env), input);
  }

private:
  static std::vector<std::string> args(std::vector<std::string> extra, const std::string& listen) {
    std::vector<std::string> a{parleyd, "--listen", listen, "--no-demo", "--threads", "2"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  test::child_process p_;
  std::string server_;
  bool stopped_ = false;
  int code_ = 0;
};

#define ASSERT_STARTED(d) ASSERT_FALSE((d).server().empty()) << "parleyd did not start:\n" << (d).output()

// The lines of `text`.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string l; std::getline(in, l);)
    out.push_back(l);
  return out;
}

// The whitespace-separated words of `line`.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  std::istringstream in{line};
  for (std::string w; in >> w;)
    out.push_back(w);
  return out;
}

// The table row whose first column is `id` (its words), or empty.
std::vector<std::string> row(const std::string& table, const std::string& id) {
  for (auto& l : lines(table)) {
    auto w = words(l);
    if (!w.empty() && w[0] == id)
      return w;
  }
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Parses stdout as one JSON document; a test failure (and null) if it is not one.
json parse_json(const cli_result& r) {
  auto doc = json::parse(r.out, nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "not JSON: " << r;
  return doc.is_discarded() ? json{} : doc;
}

void introduce(const daemon_process& d, const std::string& id, const std::string& behavior = "external") {
  auto r = d.cli({"agents", "introduce", id, "--behavior", behavior});
  ASSERT_EQ(r.code, 0) << r;
}

// -- help and usage ------------------------------------------------------------------

// Verifies --help works on the program and on every verb with exit code 0, and that the main help lists the exit codes.
TEST(ParleyCli, HelpWorksOnEveryVerb) {
  auto top = run_cli({"--help"});
  EXPECT_EQ(top.code, 0) << top;
  for (auto* text : {"Exit codes:", "3   NOT_FOUND", "8   UNAVAILABLE", "agents", "rooms", "send",
                     "turn", "events", "node", "--server", "--json", "PARLEY_SERVER"})
    EXPECT_TRUE(contains(top.out, text)) << text << "\n" << top;
  const std::vector<std::vector<std::string>> verbs = {
    {"agents"}, {"agents", "ls"}, {"agents", "show"}, {"agents", "introduce"}, {"agents", "retire"},
    {"rooms"}, {"rooms", "ls"}, {"rooms", "show"}, {"rooms", "create"}, {"rooms", "join"},
    {"rooms", "leave"}, {"rooms", "history"}, {"send"}, {"turn"}, {"turn", "request"},
    {"turn", "yield"}, {"turn", "show"}, {"events"}, {"events", "tail"}, {"node"},
    {"node", "info"}, {"node", "backup"}, {"node", "drain"}};
  for (auto verb : verbs) {
    std::string name = "parley";
    for (auto& v : verb)
      name += " " + v;
    verb.push_back("--help");
    auto r = run_cli(verb);
    EXPECT_EQ(r.code, 0) << name << ": " << r;
    EXPECT_TRUE(contains(r.out, "Usage: " + name)) << name << ": " << r;
  }
  auto version = run_cli({"--version"});
  EXPECT_EQ(version.code, 0) << version;
  EXPECT_FALSE(version.out.empty()) << version;
}

// Verifies a wrong command line exits with 2 and a message before any call (the server named is unreachable: a call would exit 8).
TEST(ParleyCli, UsageErrorsExitWithTwo) {
  closed_port nobody;
  test::temp_dir dir;
  const std::vector<std::vector<std::string>> bad = {
    {},
    {"agents"},
    {"agents", "frobnicate"},
    {"agents", "show"},
    {"agents", "ls", "--status", "sleepy"},
    {"agents", "introduce", "x", "--behavior", "loud"},
    {"rooms", "create", "--creator", "a", "--policy", "loudest"},
    {"rooms", "history"},
    {"rooms", "history", "lounge", "--pair", "a", "b"},
    {"rooms", "join", "lounge"},
    {"send", "--from", "a", "hello"},
    {"send", "--from", "a", "--to-agent", "b", "--to-room", "r", "hello"},
    {"send", "--to-agent", "b", "hello"},
    {"send", "--from", "a", "--to-agent", "b", "--json-content", "{not json"},
    {"send", "--from", "a", "--to-agent", "b", "--json-content", "42"},
    {"turn", "request", "lounge"},
    {"events", "tail", "--idle-ms", "0"},
    {"node", "backup"},
    {"--timeout-ms", "0", "node", "info"},
    {"--admin-token-file", dir.sub("missing"), "node", "info"},
    {"--ca-file", dir.sub("missing.pem"), "node", "info"},
  };
  for (auto args : bad) {
    std::string shown;
    for (auto& a : args)
      shown += a + " ";
    args.insert(args.begin(), {"--server", nobody.address()});
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 2) << shown << ": " << r;
    EXPECT_FALSE(r.err.empty()) << shown << ": " << r;
    EXPECT_TRUE(r.out.empty()) << shown << ": " << r;
  }
}

// Verifies that without a server every verb that calls one exits with 8 and says UNAVAILABLE, and that PARLEY_SERVER picks the server.
TEST(ParleyCli, UnreachableServerExitsWithEight) {
  closed_port nobody;
  for (std::vector<std::string> args : {std::vector<std::string>{"agents", "ls"},
                                        {"node", "info"},
                                        {"events", "tail", "--from", "1"},
                                        {"events", "tail", "-f", "--retries", "1"}}) {
    args.insert(args.begin(), {"--server", nobody.address()});
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 8) << r;
    EXPECT_TRUE(contains(r.err, "error: UNAVAILABLE: ")) << r;
    EXPECT_TRUE(contains(r.err, nobody.address())) << r;
  }
  auto r = run_cli({"agents", "ls"}, {"PARLEY_SERVER=" + nobody.address()});
  EXPECT_EQ(r.code, 8) << r;
  EXPECT_TRUE(contains(r.err, "is parleyd running at '" + nobody.address() + "'")) << r;
}

// Verifies a server that never answers makes a call exit with 10 after --timeout-ms.
TEST(ParleyCli, SilentServerExitsWithTenAfterTheTimeout) {
  silent_port mute;
  auto t0 = std::chrono::steady_clock::now();
  auto r = run_cli({"--server", mute.address(), "--timeout-ms", "300", "node", "info"});
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.code, 10) << r;
  EXPECT_TRUE(r.err.starts_with("error: DEADLINE_EXCEEDED")) << r;
  EXPECT_LT(took, 10s);
}

// -- agents --------------------------------------------------------------------------

// Verifies agents introduce, ls (filters, table, JSON), show and retire, and the NOT_FOUND and ALREADY_EXISTS exit codes.
TEST(ParleyCli, ManagesAgents) {
  daemon_process d;
  ASSERT_STARTED(d);
  auto alice = d.cli({"agents", "introduce", "alice", "--name", "Alice Liddell", "--bio", "Curious.",
                      "--skill", "py:Python", "--skill", "sql", "--behavior", "silent"});
  ASSERT_EQ(alice.code, 0) << alice;
  EXPECT_TRUE(contains(alice.out, "Alice Liddell")) << alice;
  EXPECT_TRUE(contains(alice.out, "py (Python), sql")) << alice;
  auto bob = d.cli({"agents", "introduce", "bob", "--behavior", "echo", "--json"});
  ASSERT_EQ(bob.code, 0) << bob;
  auto bob_doc = parse_json(bob);
  EXPECT_EQ(bob_doc.value("id", ""), "bob");
  EXPECT_EQ(bob_doc.value("status", ""), "AGENT_STATUS_ACTIVE");

  auto again = d.cli({"agents", "introduce", "alice"});
  EXPECT_EQ(again.code, 4) << again;
  EXPECT_TRUE(again.err.starts_with("error: ALREADY_EXISTS: ")) << again;

  auto ls = d.cli({"agents", "ls"});
  ASSERT_EQ(ls.code, 0) << ls;
  EXPECT_EQ(words(lines(ls.out).at(0)), (std::vector<std::string>{"ID", "STATUS", "ROOMS", "SKILLS"}))
    << ls;
  EXPECT_EQ(row(ls.out, "alice"), (std::vector<std::string>{"alice", "active", "0", "py,", "sql"})) << ls;
  EXPECT_EQ(row(ls.out, "bob"), (std::vector<std::string>{"bob", "active", "0", "-"})) << ls;
  EXPECT_TRUE(ls.err.empty()) << ls;

  auto ls_json = d.cli({"agents", "ls", "--json"});
  ASSERT_EQ(ls_json.code, 0) << ls_json;
  auto doc = parse_json(ls_json);
  ASSERT_EQ(doc["agents"].size(), 2u) << ls_json;
  EXPECT_EQ(doc["agents"][0]["id"], "alice");
  EXPECT_EQ(doc["agents"][0]["skills"][0]["name"], "Python");
  EXPECT_EQ(doc["next_page_token"], "");

  auto by_skill = d.cli({"agents", "ls", "--skill", "Python"});
  EXPECT_EQ(by_skill.code, 0) << by_skill;
  EXPECT_FALSE(row(by_skill.out, "alice").empty()) << by_skill;
  EXPECT_TRUE(row(by_skill.out, "bob").empty()) << by_skill;

  auto show = d.cli({"agents", "show", "alice"});
  ASSERT_EQ(show.code, 0) << show;
  EXPECT_EQ(row(show.out, "NAME"), (std::vector<std::string>{"NAME", "Alice", "Liddell"})) << show;
  EXPECT_EQ(row(show.out, "BIO"), (std::vector<std::string>{"BIO", "Curious."})) << show;
  auto show_json = d.cli({"--json", "agents", "show", "alice"});
  EXPECT_EQ(parse_json(show_json).value("display_name", ""), "Alice Liddell") << show_json;

  auto missing = d.cli({"agents", "show", "nobody"});
  EXPECT_EQ(missing.code, 3) << missing;
  EXPECT_TRUE(missing.err.starts_with("error: NOT_FOUND: ")) << missing;
  EXPECT_TRUE(missing.out.empty()) << missing;

  auto retire = d.cli({"agents", "retire", "bob"});
  EXPECT_EQ(retire.code, 0) << retire;
  EXPECT_TRUE(contains(retire.out, "agent 'bob' retired")) << retire;
  auto retired = d.cli({"agents", "ls", "--status", "retired"});
  EXPECT_EQ(retired.code, 0) << retired;
  EXPECT_EQ(row(retired.out, "bob"), (std::vector<std::string>{"bob", "retired", "0", "-"})) << retired;
  EXPECT_TRUE(row(retired.out, "alice").empty()) << retired;
  auto retire_missing = d.cli({"agents", "retire", "nobody"});
  EXPECT_EQ(retire_missing.code, 3) << retire_missing;

  // PARLEY_SERVER stands in for --server.
  auto by_env = run_cli({"agents", "ls"}, {"PARLEY_SERVER=" + d.server()});
  EXPECT_EQ(by_env.code, 0) << by_env;
  EXPECT_FALSE(row(by_env.out, "alice").empty()) << by_env;
}

// Verifies ls follows pages up to --limit, hints how to continue, and --page-token and --all get the rest.
TEST(ParleyCli, ListsPageUpToTheLimit) {
  daemon_process d;
  ASSERT_STARTED(d);
  for (int i = 1; i <= 7; ++i)
    introduce(d, "agent-" + std::to_string(i));
  auto first = d.cli({"agents", "ls", "--limit", "3"});
  ASSERT_EQ(first.code, 0) << first;
  ASSERT_EQ(lines(first.out).size(), 4u) << first; // header + 3
  EXPECT_FALSE(row(first.out, "agent-3").empty()) << first;
  auto hint = first.err.find("--page-token ");
  ASSERT_NE(hint, std::string::npos) << first;
  auto token = words(first.err.substr(hint + 13)).at(0);
  if (!token.empty() && token.back() == ',')
    token.pop_back();
  auto rest = d.cli({"agents", "ls", "--limit", "3", "--page-token", token});
  ASSERT_EQ(rest.code, 0) << rest;
  ASSERT_EQ(lines(rest.out).size(), 4u) << rest;
  EXPECT_FALSE(row(rest.out, "agent-4").empty()) << rest;
  EXPECT_FALSE(row(rest.out, "agent-6").empty()) << rest;

  auto all = d.cli({"agents", "ls", "--all"});
  ASSERT_EQ(all.code, 0) << all;
  EXPECT_EQ(lines(all.out).size(), 8u) << all;
  EXPECT_TRUE(all.err.empty()) << all;

  auto json_page = d.cli({"agents", "ls", "--limit", "5", "--json"});
  auto doc = parse_json(json_page);
  EXPECT_EQ(doc["agents"].size(), 5u) << json_page;
  EXPECT_NE(doc["next_page_token"], "") << json_page;
  EXPECT_TRUE(json_page.err.empty()) << json_page;

  auto rooms = d.cli({"rooms", "ls"});
  EXPECT_EQ(rooms.code, 0) << rooms;
  EXPECT_EQ(lines(rooms.out).size(), 1u) << rooms;
}

// -- rooms, turns, messages ---------------------------------------------------------------

// Verifies rooms create, ls, show, join and leave, their exit codes, and that history on a node without a store exits with 6.
TEST(ParleyCli, ManagesRooms) {
  daemon_process d;
  ASSERT_STARTED(d);
  for (auto* id : {"alice", "bob", "carol"})
    introduce(d, id);
  auto lounge = d.cli({"rooms", "create", "--creator", "alice", "--id", "lounge", "--topic", "tea time",
                       "--policy", "fifo", "--max-messages", "2", "--slot-ms", "60000"});
  ASSERT_EQ(lounge.code, 0) << lounge;
  EXPECT_EQ(row(lounge.out, "POLICY"), (std::vector<std::string>{"POLICY", "fifo"})) << lounge;
  EXPECT_EQ(row(lounge.out, "alice").at(1), "owner") << lounge;
  auto taken = d.cli({"rooms", "create", "--creator", "bob", "--id", "lounge"});
  EXPECT_EQ(taken.code, 4) << taken;
  EXPECT_TRUE(taken.err.starts_with("error: ALREADY_EXISTS: ")) << taken;

  // --as names the creator when --creator is not given.
  auto den = d.cli({"--as", "carol", "rooms", "create", "--id", "den", "--invite-only", "--json"});
  ASSERT_EQ(den.code, 0) << den;
  auto den_doc = parse_json(den);
  EXPECT_EQ(den_doc.value("created_by", ""), "carol");
  EXPECT_EQ(den_doc.value("invite_only", false), true);
  EXPECT_EQ(den_doc["rules"].value("policy", ""), "SPEAKER_POLICY_NONE");

  auto join = d.cli({"rooms", "join", "lounge", "--agent", "bob"});
  ASSERT_EQ(join.code, 0) << join;
  EXPECT_EQ(row(join.out, "bob").at(1), "member") << join;
  auto twice = d.cli({"rooms", "join", "lounge", "--agent", "bob"});
  EXPECT_EQ(twice.code, 4) << twice;
  auto nowhere = d.cli({"rooms", "join", "nowhere", "--agent", "bob"});
  EXPECT_EQ(nowhere.code, 3) << nowhere;

  auto ls = d.cli({"rooms", "ls"});
  ASSERT_EQ(ls.code, 0) << ls;
  EXPECT_EQ(words(lines(ls.out).at(0)),
            (std::vector<std::string>{"ID", "KIND", "MEMBERS", "POLICY", "OPEN", "TOPIC"}))
    << ls;
  EXPECT_EQ(row(ls.out, "lounge"),
            (std::vector<std::string>{"lounge", "group", "2", "fifo", "yes", "tea", "time"}))
    << ls;
  EXPECT_EQ(row(ls.out, "den"), (std::vector<std::string>{"den", "group", "1", "none", "yes"})) << ls;
  auto mine = d.cli({"rooms", "ls", "--member", "bob", "--json"});
  auto mine_doc = parse_json(mine);
  ASSERT_EQ(mine_doc["rooms"].size(), 1u) << mine;
  EXPECT_EQ(mine_doc["rooms"][0]["id"], "lounge");

  auto show = d.cli({"rooms", "show", "lounge"});
  ASSERT_EQ(show.code, 0) << show;
  EXPECT_EQ(row(show.out, "TOPIC"), (std::vector<std::string>{"TOPIC", "tea", "time"})) << show;
  EXPECT_EQ(row(show.out, "TURN"), (std::vector<std::string>{"TURN", "SLOT", "60000", "ms"})) << show;
  EXPECT_FALSE(row(show.out, "MEMBER").empty()) << show;
  auto show_missing = d.cli({"rooms", "show", "nowhere"});
  EXPECT_EQ(show_missing.code, 3) << show_missing;

  auto leave = d.cli({"rooms", "leave", "lounge", "--agent", "bob"});
  EXPECT_EQ(leave.code, 0) << leave;
  EXPECT_TRUE(contains(leave.out, "agent 'bob' left room 'lounge'")) << leave;
  auto after = d.cli({"rooms", "show", "lounge", "--json"});
  EXPECT_EQ(parse_json(after)["members"].size(), 1u) << after;

  auto history = d.cli({"rooms", "history", "lounge"});
  EXPECT_EQ(history.code, 6) << history;
  EXPECT_TRUE(history.err.starts_with("error: FAILED_PRECONDITION: ")) << history;
}

// Verifies turn request, yield and show, send to rooms and agents (idempotent, JSON content, stdin), history with paging and order, and the FAILED_PRECONDITION exit code.
TEST(ParleyCli, TakesTurnsSendsAndReadsHistory) {
  test::temp_dir dir;
  daemon_process d{{"--data-dir", dir.sub("data")}};
  ASSERT_STARTED(d);
  introduce(d, "alice");
  introduce(d, "bob");
  ASSERT_EQ(d.cli({"rooms", "create", "--creator", "alice", "--id", "lounge", "--policy", "fifo"}).code, 0);
  ASSERT_EQ(d.cli({"rooms", "join", "lounge", "--agent", "bob"}).code, 0);

  auto granted = d.cli({"turn", "request", "lounge", "--agent", "alice"});
  ASSERT_EQ(granted.code, 0) << granted;
  EXPECT_EQ(row(granted.out, "SPEAKER").at(1), "alice") << granted;
  auto queued = d.cli({"--as", "bob", "turn", "request", "lounge"});
  ASSERT_EQ(queued.code, 0) << queued;
  EXPECT_EQ(row(queued.out, "WAITING"), (std::vector<std::string>{"WAITING", "bob"})) << queued;
  auto not_held = d.cli({"turn", "yield", "lounge", "--agent", "bob"});
  EXPECT_EQ(not_held.code, 6) << not_held;
  EXPECT_TRUE(not_held.err.starts_with("error: FAILED_PRECONDITION: ")) << not_held;
  auto out_of_turn = d.cli({"send", "--from", "bob", "--to-room", "lounge", "too early"});
  EXPECT_EQ(out_of_turn.code, 6) << out_of_turn;

  auto hello = d.cli({"send", "--from", "alice", "--to-room", "lounge", "hello room"});
  ASSERT_EQ(hello.code, 0) << hello;
  EXPECT_TRUE(hello.out.starts_with("sent ")) << hello;
  auto yielded = d.cli({"turn", "yield", "lounge", "--agent", "alice", "--json"});
  ASSERT_EQ(yielded.code, 0) << yielded;
  EXPECT_EQ(parse_json(yielded)["current"].value("speaker", ""), "bob") << yielded;
  auto shown = d.cli({"turn", "show", "lounge"});
  EXPECT_EQ(shown.code, 0) << shown;
  EXPECT_EQ(row(shown.out, "SPEAKER").at(1), "bob") << shown;

  // A retry with the same --id takes effect once.
  auto first = d.cli({"send", "--from", "bob", "--to-room", "lounge", "--id", "k1", "--json", "second"});
  ASSERT_EQ(first.code, 0) << first;
  auto retry = d.cli({"send", "--from", "bob", "--to-room", "lounge", "--id", "k1", "--json", "second"});
  ASSERT_EQ(retry.code, 0) << retry;
  EXPECT_EQ(parse_json(first).value("id", ""), "k1") << first;
  EXPECT_EQ(parse_json(retry).value("sent_at", ""), parse_json(first).value("sent_at", "x")) << retry;

  auto direct = d.cli({"send", "--from", "alice", "--to-agent", "bob", "--json-content", R"({"k": 1})"});
  EXPECT_EQ(direct.code, 0) << direct;
  auto piped = d.cli({"send", "--from", "bob", "--to-agent", "alice", "-"}, {}, "from stdin\n");
  EXPECT_EQ(piped.code, 0) << piped;
  auto nobody = d.cli({"send", "--from", "alice", "--to-agent", "nobody", "hi"});
  EXPECT_EQ(nobody.code, 3) << nobody;

  auto history = d.cli({"rooms", "history", "lounge"});
  ASSERT_EQ(history.code, 0) << history;
  auto h = lines(history.out);
  ASSERT_EQ(h.size(), 3u) << history;
  EXPECT_EQ(words(h[0]), (std::vector<std::string>{"TIME", "FROM", "CONTENT"})) << history;
  EXPECT_TRUE(contains(h[1], "bob") && contains(h[1], "second")) << history; // newest first
  EXPECT_TRUE(contains(h[2], "alice") && contains(h[2], "hello room")) << history;
  auto oldest = d.cli({"rooms", "history", "lounge", "--oldest-first"});
  ASSERT_EQ(lines(oldest.out).size(), 3u) << oldest;
  EXPECT_TRUE(contains(lines(oldest.out)[1], "hello room")) << oldest;

  auto page = d.cli({"rooms", "history", "lounge", "--limit", "1", "--json"});
  auto page_doc = parse_json(page);
  ASSERT_EQ(page_doc["messages"].size(), 1u) << page;
  EXPECT_EQ(page_doc["messages"][0]["content"], "second");
  auto token = page_doc.value("next_page_token", "");
  ASSERT_FALSE(token.empty()) << page;
  auto next = d.cli({"rooms", "history", "lounge", "--limit", "1", "--page-token", token, "--json"});
  auto next_doc = parse_json(next);
  ASSERT_EQ(next_doc["messages"].size(), 1u) << next;
  EXPECT_EQ(next_doc["messages"][0]["content"], "hello room");
  auto cut = d.cli({"rooms", "history", "lounge", "--limit", "1"});
  EXPECT_TRUE(contains(cut.err, "--page-token")) << cut;

  auto pair = d.cli({"rooms", "history", "--pair", "alice", "bob", "--oldest-first", "--json"});
  ASSERT_EQ(pair.code, 0) << pair;
  auto pair_doc = parse_json(pair);
  ASSERT_EQ(pair_doc["messages"].size(), 2u) << pair;
  EXPECT_EQ(pair_doc["messages"][0]["content_type"], "json");
  EXPECT_EQ(json::parse(pair_doc["messages"][0]["content"].get<std::string>()), json({{"k", 1}}));
  EXPECT_EQ(pair_doc["messages"][1]["content"], "from stdin");
}

// Verifies a full inbox exits with 7 and passes on the node's retry-after hint.
TEST(ParleyCli, FullInboxExitsWithSeven) {
  daemon_process d{{"--inbox-limit", "1"}};
  ASSERT_STARTED(d);
  introduce(d, "alice");
  introduce(d, "bob"); // external, without a link: messages wait in its inbox
  ASSERT_EQ(d.cli({"send", "--from", "alice", "--to-agent", "bob", "one"}).code, 0);
  auto full = d.cli({"send", "--from", "alice", "--to-agent", "bob", "two"});
  EXPECT_EQ(full.code, 7) << full;
  EXPECT_TRUE(full.err.starts_with("error: RESOURCE_EXHAUSTED: ")) << full;
  EXPECT_TRUE(contains(full.err, "hint: retry after 100 ms")) << full;
}

// -- permissions and the admin verbs ------------------------------------------------------

// A key file of 48 bytes and a newline, as `openssl rand -base64 36` makes one.
std::string write_token_key(const test::temp_dir& dir) {
  auto path = dir.sub("token.key");
  std::ofstream{path} << "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1z\n";
  return path;
}

// Verifies a node with a token key: a call without a token exits 5
// (UNAUTHENTICATED); an agent's token acts only as itself (PERMISSION_DENIED,
// 5); operators introduce and back up but do not send; observers read; the
// token comes from --token-file, PARLEY_TOKEN or PARLEY_TOKEN_FILE.
TEST(ParleyCli, TokensGuardChangesAndAdminVerbs) {
  test::temp_dir dir;
  auto key = write_token_key(dir);
  auto issue = [&](std::vector<std::string> who) {
    std::vector<std::string> args{"token", "issue", "--key-file", key};
    args.insert(args.end(), who.begin(), who.end());
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 0) << r;
    auto path = dir.sub("token-" + std::to_string(std::hash<std::string>{}(r.out)));
    std::ofstream{path} << r.out;
    return std::pair{r.out.substr(0, r.out.find('\n')), path};
  };
  auto [admin, admin_file] = issue({"--role", "admin"});
  auto [op, op_file] = issue({"--role", "operator", "--name", "oncall"});
  auto [obs, obs_file] = issue({"--role", "observer"});
  auto [carol, carol_file] = issue({"--agent", "carol"});
  auto [dave, dave_file] = issue({"--agent", "dave"});
  daemon_process d{{"--token-key-file", key}};
  ASSERT_STARTED(d);

  auto anonymous = d.cli({"agents", "introduce", "carol"});
  EXPECT_EQ(anonymous.code, 5) << anonymous;
  EXPECT_TRUE(anonymous.err.starts_with("error: UNAUTHENTICATED: ")) << anonymous;
  EXPECT_TRUE(contains(anonymous.err, "hint: ")) << anonymous;
  EXPECT_EQ(d.cli({"--token-file", carol_file, "agents", "introduce", "carol"}).code, 0);
  auto not_self = d.cli({"--token-file", carol_file, "agents", "introduce", "dave"});
  EXPECT_EQ(not_self.code, 5) << not_self;
  EXPECT_TRUE(not_self.err.starts_with("error: PERMISSION_DENIED: agent 'carol' may not")) << not_self;
  EXPECT_EQ(d.cli({"--token-file", admin_file, "agents", "introduce", "dave"}).code, 0);
  EXPECT_EQ(d.cli({"agents", "introduce", "erin"}, {"PARLEY_TOKEN=" + op}).code, 0);
  EXPECT_EQ(d.cli({"agents", "introduce", "erin2"}, {"PARLEY_TOKEN_FILE=" + admin_file}).code, 0);
  auto forged = d.cli({"agents", "introduce", "frank"}, {"PARLEY_TOKEN=" + admin + "x"});
  EXPECT_EQ(forged.code, 5) << forged;
  EXPECT_TRUE(forged.err.starts_with("error: UNAUTHENTICATED: ")) << forged;
  EXPECT_EQ(d.cli({"--token-file", dave_file, "agents", "retire", "carol"}).code, 5);
  EXPECT_EQ(d.cli({"--token-file", dave_file, "rooms", "create", "--creator", "carol"}).code, 5);
  EXPECT_EQ(d.cli({"--token-file", dave_file, "send", "--from", "carol", "--to-agent", "dave", "hi"}).code, 5);
  EXPECT_EQ(d.cli({"--token-file", op_file, "send", "--from", "carol", "--to-agent", "dave", "hi"}).code, 5);

  // Observers read; the admin verbs need an operator or admin.
  auto ls = d.cli({"--token-file", obs_file, "agents", "ls"});
  EXPECT_EQ(ls.code, 0) << ls;
  EXPECT_EQ(lines(ls.out).size(), 5u) << ls;
  EXPECT_EQ(d.cli({"--token-file", obs_file, "node", "info"}).code, 0);
  auto backup = d.cli({"--token-file", carol_file, "node", "backup", dir.sub("backup")});
  EXPECT_EQ(backup.code, 5) << backup;
  auto drain = d.cli({"--token-file", obs_file, "node", "drain"});
  EXPECT_EQ(drain.code, 5) << drain;
  // An operator may back up only a node with a store.
  auto no_store = d.cli({"--token-file", op_file, "node", "backup", dir.sub("backup")});
  EXPECT_EQ(no_store.code, 6) << no_store;
  EXPECT_TRUE(no_store.err.starts_with("error: FAILED_PRECONDITION: ")) << no_store;
  auto still = d.cli({"--token-file", obs_file, "node", "info", "--json"});
  EXPECT_EQ(parse_json(still).value("draining", true), false) << still;
}

// Verifies node info, and node backup on a durable node writes a backup into the directory.
TEST(ParleyCli, ShowsAndBacksUpTheNode) {
  test::temp_dir dir;
  daemon_process d{{"--data-dir", dir.sub("data"), "--node-id", "cli-node"}};
  ASSERT_STARTED(d);
  introduce(d, "alice");
  auto info = d.cli({"node", "info"});
  ASSERT_EQ(info.code, 0) << info;
  EXPECT_EQ(row(info.out, "NODE"), (std::vector<std::string>{"NODE", "cli-node"})) << info;
  EXPECT_EQ(row(info.out, "DURABILITY"), (std::vector<std::string>{"DURABILITY", "sync"})) << info;
  EXPECT_EQ(row(info.out, "AGENTS"), (std::vector<std::string>{"AGENTS", "1"})) << info;
  EXPECT_EQ(row(info.out, "DRAINING"), (std::vector<std::string>{"DRAINING", "no"})) << info;
  auto info_json = parse_json(d.cli({"node", "info", "--json"}));
  EXPECT_EQ(info_json.value("node_id", ""), "cli-node");
  EXPECT_EQ(info_json.value("agents", ""), "1"); // uint64 is a string in proto3 JSON

  auto backup = d.cli({"node", "backup", dir.sub("backup"), "--json"});
  ASSERT_EQ(backup.code, 0) << backup << d.output();
  EXPECT_EQ(parse_json(backup).value("directory", ""), dir.sub("backup"));
  ASSERT_TRUE(std::filesystem::is_directory(dir.sub("backup")));
  EXPECT_FALSE(std::filesystem::is_empty(dir.sub("backup")));
  auto again = d.cli({"node", "backup", dir.sub("backup")});
  EXPECT_EQ(again.code, 0) << again;
  EXPECT_TRUE(contains(again.out, "backup written to")) << again;
}

// Verifies node erase erases an agent's personal data and shows the
// tombstone, node erasure shows it again, and an agent never erased is
// NOT_FOUND (exit 3).
TEST(ParleyCli, ErasesAnAgentsPersonalData) {
  test::temp_dir dir;
  daemon_process d{{"--data-dir", dir.sub("data")}};
  ASSERT_STARTED(d);
  introduce(d, "alice");
  introduce(d, "bob");
  ASSERT_EQ(d.cli({"send", "--from", "alice", "--to-agent", "bob", "personal words"}).code, 0);
  auto erased = d.cli({"node", "erase", "alice"});
  ASSERT_EQ(erased.code, 0) << erased;
  EXPECT_EQ(row(erased.out, "AGENT"), (std::vector<std::string>{"AGENT", "alice"})) << erased;
  EXPECT_EQ(row(erased.out, "MESSAGES"), (std::vector<std::string>{"MESSAGES", "1"})) << erased;
  auto tomb = d.cli({"node", "erasure", "alice", "--json"});
  ASSERT_EQ(tomb.code, 0) << tomb;
  EXPECT_EQ(parse_json(tomb).value("agent", ""), "alice") << tomb;
  auto history = d.cli({"rooms", "history", "--pair", "alice", "bob", "--json"});
  ASSERT_EQ(history.code, 0) << history;
  EXPECT_FALSE(contains(history.out, "personal words")) << history;
  EXPECT_EQ(d.cli({"node", "erasure", "bob"}).code, 3);
}

// Verifies node drain: new calls then exit with 8, node info says draining, and a followed event stream gives up after its retries with 8 and the last offset.
TEST(ParleyCli, DrainedNodeRefusesNewCalls) {
  daemon_process d;
  ASSERT_STARTED(d);
  introduce(d, "alice");
  cli_process tail{{"--server", d.server(), "events", "tail", "-f", "--from", "1", "--retries", "2"}};
  ASSERT_TRUE(tail.started());
  ASSERT_TRUE(tail.wait_for_stdout("agent_introduced", 10s)) << tail.so_far();

  auto drain = d.cli({"node", "drain"});
  ASSERT_EQ(drain.code, 0) << drain;
  EXPECT_TRUE(contains(drain.out, "draining")) << drain;
  auto refused = d.cli({"agents", "ls"});
  EXPECT_EQ(refused.code, 8) << refused;
  EXPECT_TRUE(refused.err.starts_with("error: UNAVAILABLE: ")) << refused;
  EXPECT_TRUE(contains(refused.err, "draining")) << refused;
  EXPECT_EQ(d.cli({"agents", "introduce", "bob"}).code, 8);
  auto info = d.cli({"node", "info"});
  EXPECT_EQ(info.code, 0) << info;
  EXPECT_EQ(row(info.out, "DRAINING"), (std::vector<std::string>{"DRAINING", "yes"})) << info;

  auto ended = tail.wait(20s);
  EXPECT_EQ(ended.code, 8) << ended;
  EXPECT_TRUE(contains(ended.err, "reconnecting")) << ended;
  EXPECT_TRUE(contains(ended.err, "last offset: 1 (resume with --from 2)")) << ended;
}

// -- events --------------------------------------------------------------------------------

// Verifies events tail replays from --from with filters and a limit, prints one JSON object per line, and reports the last offset.
TEST(ParleyCli, TailsEventsFromAnOffset) {
  daemon_process d;
  ASSERT_STARTED(d);
  introduce(d, "alice");
  introduce(d, "bob");
  ASSERT_EQ(d.cli({"rooms", "create", "--creator", "alice", "--id", "lounge"}).code, 0);
  ASSERT_EQ(d.cli({"rooms", "join", "lounge", "--agent", "bob"}).code, 0);

  auto all = d.cli({"events", "tail", "--from", "1"});
  ASSERT_EQ(all.code, 0) << all;
  auto l = lines(all.out);
  ASSERT_GE(l.size(), 5u) << all;
  EXPECT_EQ(words(l[0]).at(0), "OFFSET") << all;
  EXPECT_EQ(words(l[1]).at(0), "1") << all;
  EXPECT_EQ(words(l[1]).at(2), "agent_introduced") << all;
  EXPECT_EQ(words(l[1]).at(3), "alice") << all;
  EXPECT_TRUE(contains(all.out, "room_created")) << all;
  EXPECT_TRUE(contains(all.out, "member_joined")) << all;
  auto last = words(l.back()).at(0);
  EXPECT_TRUE(contains(all.err, "last offset: " + last + " (resume with --from "
                                  + std::to_string(std::stoull(last) + 1) + ")"))
    << all;

  auto js = d.cli({"events", "tail", "--from", "1", "--json"});
  ASSERT_EQ(js.code, 0) << js;
  auto jl = lines(js.out);
  ASSERT_EQ(jl.size(), l.size()) << js; // the events and the offset line, as the header and events
  uint64_t expected_offset = 1;
  for (size_t i = 0; i + 1 < jl.size(); ++i) {
    auto e = json::parse(jl[i], nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << jl[i];
    EXPECT_EQ(e.value("offset", ""), std::to_string(expected_offset++)) << jl[i];
    EXPECT_FALSE(e.value("kind", "").empty()) << jl[i];
  }
  auto tail_line = json::parse(jl.back(), nullptr, false);
  EXPECT_EQ(tail_line.value("last_offset", ""), last) << js;
  EXPECT_EQ(tail_line.value("resume_from", ""), std::to_string(std::stoull(last) + 1)) << js;

  auto rooms_only = d.cli({"events", "tail", "--from", "1", "--topic", "room", "--json"});
  ASSERT_EQ(rooms_only.code, 0) << rooms_only;
  auto rl = lines(rooms_only.out);
  ASSERT_GE(rl.size(), 4u) << rooms_only; // room_created, 2 member_joined, offset line
  for (size_t i = 0; i + 1 < rl.size(); ++i)
    EXPECT_EQ(json::parse(rl[i]).value("room", ""), "lounge") << rl[i];

  auto bob = d.cli({"events", "tail", "--from", "1", "--agent", "bob"});
  ASSERT_EQ(bob.code, 0) << bob;
  for (size_t i = 1; i < lines(bob.out).size(); ++i)
    EXPECT_EQ(words(lines(bob.out)[i]).at(3), "bob") << bob;

  auto one = d.cli({"events", "tail", "--from", "2", "-n", "1"});
  ASSERT_EQ(one.code, 0) << one;
  ASSERT_EQ(lines(one.out).size(), 2u) << one;
  EXPECT_TRUE(contains(one.err, "last offset: 2 (resume with --from 3)")) << one;

  auto resumed = d.cli({"events", "tail", "--from", std::to_string(std::stoull(last) + 1), "--idle-ms", "200"});
  ASSERT_EQ(resumed.code, 0) << resumed;
  EXPECT_EQ(lines(resumed.out).size(), 1u) << resumed; // nothing new
  EXPECT_TRUE(contains(resumed.err, "last offset: " + last)) << resumed;

  // The resume token of the JSON tail line: after the third event, the rest
  // (the same offsets as the full replay), from the oldest when told.
  auto three = d.cli({"events", "tail", "--from-oldest", "-n", "3", "--json"});
  ASSERT_EQ(three.code, 0) << three;
  auto token = json::parse(lines(three.out).back()).value("resume_token", "");
  ASSERT_FALSE(token.empty()) << three;
  auto rest = d.cli({"events", "tail", "--resume", token, "--json"});
  ASSERT_EQ(rest.code, 0) << rest;
  auto restl = lines(rest.out);
  ASSERT_EQ(restl.size(), jl.size() - 3) << rest;
  EXPECT_EQ(json::parse(restl.front()).value("offset", ""), "4") << rest;
  EXPECT_EQ(json::parse(restl.front()).value("node", ""), "node-1") << rest; // the default node id
  auto both = d.cli({"events", "tail", "--resume", token, "--from", "2"});
  EXPECT_NE(both.code, 0) << both;
  auto bad_token = d.cli({"events", "tail", "--resume", "garbage"});
  EXPECT_EQ(bad_token.code, 9) << bad_token;
  EXPECT_TRUE(contains(bad_token.err, "resume_token")) << bad_token;

  auto bad_topic = d.cli({"events", "tail", "--from", "1", "--topic", "gossip"});
  EXPECT_EQ(bad_topic.code, 9) << bad_topic;
  EXPECT_TRUE(contains(bad_topic.err, "error: INVALID_ARGUMENT: ")) << bad_topic;
}

// Verifies events tail --follow prints live events until SIGINT, then exits 0 with the last offset.
TEST(ParleyCli, FollowsEventsUntilInterrupted) {
  daemon_process d;
  ASSERT_STARTED(d);
  introduce(d, "alice");
  cli_process tail{{"--server", d.server(), "events", "tail", "--follow", "--from", "1", "--json"}};
  ASSERT_TRUE(tail.started());
  ASSERT_TRUE(tail.wait_for_stdout("\"alice\"", 10s)) << tail.so_far();
  introduce(d, "bob");
  ASSERT_TRUE(tail.wait_for_stdout("\"bob\"", 10s)) << tail.so_far();
  tail.signal(SIGINT);
  auto r = tail.wait(10s);
  EXPECT_EQ(r.code, 0) << r;
  auto l = lines(r.out);
  ASSERT_EQ(l.size(), 3u) << r;
  EXPECT_EQ(json::parse(l[1]).value("agent", ""), "bob") << r;
  EXPECT_EQ(json::parse(l[2]).value("last_offset", ""), "2") << r;
}

// Verifies a followed stream survives a restart of its durable node on the same address: it resumes after the last offset, without gaps or repeats.
TEST(ParleyCli, FollowResumesAfterTheNodeRestarts) {
  test::temp_dir dir;
  auto first = std::make_unique<daemon_process>(std::vector<std::string>{"--data-dir", dir.sub("data")});
  ASSERT_STARTED(*first);
  const std::string server = first->server();
  introduce(*first, "alice");
  cli_process tail{{"--server", server, "events", "tail", "-f", "--from", "1", "--json", "--retries", "8"}};
  ASSERT_TRUE(tail.started());
  ASSERT_TRUE(tail.wait_for_stdout("\"alice\"", 10s)) << tail.so_far();
  EXPECT_EQ(first->stop(), 0) << first->output();
  first.reset();

  daemon_process second{{"--data-dir", dir.sub("data")}, server};
  ASSERT_STARTED(second);
  introduce(second, "bob");
  ASSERT_TRUE(tail.wait_for_stdout("\"bob\"", 30s)) << tail.so_far();
  tail.signal(SIGINT);
  auto r = tail.wait(10s);
  EXPECT_EQ(r.code, 0) << r;
  EXPECT_TRUE(contains(r.err, "reconnecting")) << r;
  std::vector<uint64_t> offsets;
  for (auto& l : lines(r.out)) {
    auto e = json::parse(l, nullptr, false);
    ASSERT_FALSE(e.is_discarded()) << l;
    if (e.contains("offset"))
      offsets.push_back(std::stoull(e["offset"].get<std::string>()));
  }
  ASSERT_GE(offsets.size(), 2u) << r;
  for (size_t i = 0; i < offsets.size(); ++i)
    EXPECT_EQ(offsets[i], i + 1) << r;
}

// Verifies tail from an offset ahead of the node's log (another log's offset) is refused, not fed older events.
TEST(ParleyCli, TailFromAheadOfTheLogIsOutOfRange) {
  daemon_process d;
  ASSERT_STARTED(d);
  introduce(d, "alice"); // offset 1
  auto r = run_cli({"--server", d.server(), "events", "tail", "--from", "5", "--idle-ms", "1000"});
  EXPECT_EQ(r.code, 9) << r;
  EXPECT_TRUE(contains(r.err, "OUT_OF_RANGE")) << r;
  EXPECT_TRUE(contains(r.err, "ahead of this node's log")) << r;
}

// -- token issue (offline: no node is contacted) ------------------------------------------

// base64url without padding to bytes; empty for anything else.
std::string token_b64url_decode(const std::string& in) {
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    auto v = alphabet.find(c);
    if (v == std::string::npos)
      return {};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

// The '.'-separated parts of a token.
std::vector<std::string> token_parts(const std::string& token) {
  std::vector<std::string> out;
  std::istringstream in{token};
  for (std::string part; std::getline(in, part, '.');)
    out.push_back(part);
  if (!token.empty() && token.back() == '.')
    out.emplace_back();
  return out;
}

// A token's payload as JSON (null if it is not one).
json token_payload(const std::string& token) {
  auto parts = token_parts(token);
  if (parts.size() != 3)
    return json{};
  auto doc = json::parse(token_b64url_decode(parts[1]), nullptr, false);
  return doc.is_discarded() ? json{} : doc;
}


// Verifies token issue prints one signed token whose payload names the agent and lasts --ttl, without contacting a node.
TEST(ParleyCli, TokenIssueSignsATokenOffline) {
  closed_port nobody; // a call to a node would fail: none is made
  test::temp_dir dir;
  auto key = write_token_key(dir);
  auto r = run_cli({"--server", nobody.address(), "token", "issue", "--agent", "alice", "--ttl", "2h",
                    "--key-file", key});
  ASSERT_EQ(r.code, 0) << r;
  EXPECT_TRUE(r.err.empty()) << r;
  ASSERT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n') << r;
  EXPECT_EQ(lines(r.out).size(), 1u) << r;
  auto token = r.out.substr(0, r.out.size() - 1);
  auto parts = token_parts(token);
  ASSERT_EQ(parts.size(), 3u) << r;
  for (auto& p : parts)
    EXPECT_FALSE(p.empty()) << r;
  auto header = json::parse(token_b64url_decode(parts[0]), nullptr, false);
  ASSERT_TRUE(header.is_object()) << r;
  EXPECT_EQ(header.value("alg", ""), "HS256");
  auto payload = token_payload(token);
  ASSERT_TRUE(payload.is_object()) << r;
  EXPECT_EQ(payload.value("sub", ""), "agent:alice") << payload;
  EXPECT_EQ(payload.value("iss", ""), "parley") << payload;
  EXPECT_EQ(payload.value("aud", ""), "parley") << payload;
  ASSERT_TRUE(payload["exp"].is_number_integer() && payload["iat"].is_number_integer()) << payload;
  EXPECT_EQ(payload["exp"].get<int64_t>() - payload["iat"].get<int64_t>(), 7200) << payload;
  auto now = std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
               .count();
  auto skew = payload["iat"].get<int64_t>() - now;
  EXPECT_TRUE(skew > -60 && skew < 60) << payload;
}

// Verifies --json prints {token, principal, expires_at} and that the key may come from PARLEY_TOKEN_KEY_FILE or PARLEY_TOKEN_KEY.
TEST(ParleyCli, TokenIssueTakesTheKeyFromTheEnvironment) {
  test::temp_dir dir;
  auto key = write_token_key(dir);
  auto r = run_cli({"token", "issue", "--role", "operator", "--name", "oncall", "--json"},
                   {"PARLEY_TOKEN_KEY_FILE=" + key});
  ASSERT_EQ(r.code, 0) << r;
  auto doc = parse_json(r);
  ASSERT_TRUE(doc.is_object()) << r;
  EXPECT_EQ(doc.value("principal", ""), "operator:oncall") << r;
  auto payload = token_payload(doc.value("token", ""));
  ASSERT_TRUE(payload.is_object()) << r;
  EXPECT_EQ(payload.value("sub", ""), "operator:oncall") << payload;
  EXPECT_EQ(doc["expires_at"], payload["exp"]) << r;
  EXPECT_EQ(payload["exp"].get<int64_t>() - payload["iat"].get<int64_t>(), 3600) << "default --ttl 1h";

  auto by_value = run_cli({"token", "issue", "--role", "admin"},
                          {"PARLEY_TOKEN_KEY=c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1z"});
  ASSERT_EQ(by_value.code, 0) << by_value;
  EXPECT_EQ(token_payload(lines(by_value.out).at(0)).value("sub", ""), "admin") << by_value;
}

// Verifies there is no --key option: the secret is never a command-line value.
TEST(ParleyCli, TokenIssueTakesNoKeyOnTheCommandLine) {
  for (auto* flag : {"--key", "--secret"}) {
    auto r = run_cli(
      {"token", "issue", "--agent", "alice", flag, "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1z"});
    EXPECT_EQ(r.code, 2) << flag << ": " << r;
    EXPECT_TRUE(r.out.empty()) << flag << ": " << r;
  }
}

// Verifies a missing key exits 2 naming PARLEY_TOKEN_KEY_FILE, and that other bad command lines exit 2 without a token.
TEST(ParleyCli, TokenIssueUsageErrorsExitWithTwo) {
  auto none = run_cli({"token", "issue", "--agent", "alice"});
  EXPECT_EQ(none.code, 2) << none;
  EXPECT_TRUE(contains(none.err, "PARLEY_TOKEN_KEY_FILE")) << none;
  EXPECT_TRUE(none.out.empty()) << none;

  test::temp_dir dir;
  auto key = write_token_key(dir);
  auto short_key = dir.sub("short.key");
  std::ofstream{short_key} << "too-short-a-secret\n";
  const std::vector<std::vector<std::string>> bad = {
    {"token"},
    {"token", "issue", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--role", "admin", "--key-file", key},
    {"token", "issue", "--role", "root", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--name", "x", "--key-file", key},
    {"token", "issue", "--agent", "not an id", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--ttl", "1y", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--ttl", "367d", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--ttl", "0", "--key-file", key},
    {"token", "issue", "--agent", "alice", "--key-file", dir.sub("missing.key")},
    {"token", "issue", "--agent", "alice", "--key-file", short_key},
  };
  for (auto& args : bad) {
    std::string shown;
    for (auto& a : args)
      shown += a + " ";
    auto r = run_cli(args);
    EXPECT_EQ(r.code, 2) << shown << ": " << r;
    EXPECT_FALSE(r.err.empty()) << shown << ": " << r;
    EXPECT_TRUE(r.out.empty()) << shown << ": " << r;
    EXPECT_FALSE(contains(r.err, "too-short-a-secret")) << "the key is never echoed: " << r;
  }
  auto help = run_cli({"token", "issue", "--help"});
  EXPECT_EQ(help.code, 0) << help;
  EXPECT_TRUE(contains(help.out, "Usage: parley token issue")) << help;
}

} // namespace
} // namespace parley
