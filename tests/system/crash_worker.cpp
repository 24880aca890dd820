// The child process of the crash test: a durable node (sync) under load
// from several threads until it is SIGKILLed. Every send is announced before
// it is made and acknowledged after it returned, one unbuffered line each
// (crash_protocol.hpp), so that the test knows exactly what was promised
// when the kill came.
//
// Usage: parley_crash_worker --data-dir DIR --cycle N [--seed S]
//                            [--retry-file FILE] [--duration-ms MS]
// Without --duration-ms it runs until killed.

#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "parley/node/node.hpp"
#include "system/crash_protocol.hpp"

namespace {

using namespace parley;

const principal as_admin = principal::admin("crash-worker");

// One write(2) per line: lines of several threads never interleave and a
// line is out of the process before the send it announces starts.
void emit(std::string line) {
  if (line.size() > 1000)
    line.resize(1000);
  for (auto& c : line)
    if (c == '\n')
      c = ' ';
  line.push_back('\n');
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    auto n = ::write(STDOUT_FILENO, p, left);
    if (n < 0)
      std::_Exit(3); // the test went away: nothing left to tell
    p += n;
    left -= static_cast<size_t>(n);
  }
}

[[noreturn]] void give_up(const std::string& why) {
  emit("ERROR " + why);
  std::_Exit(1);
}

struct options {
  std::string data_dir;
  uint64_t cycle = 0;
  uint64_t seed = 1;
  std::string retry_file;
  int64_t duration_ms = 0;
};

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      give_up("flag " + a + " needs a value");
    std::string v = argv[++i];
    if (a == "--data-dir")
      o.data_dir = v;
    else if (a == "--cycle")
      o.cycle = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--seed")
      o.seed = std::strtoull(v.c_str(), nullptr, 10);
    else if (a == "--retry-file")
      o.retry_file = v;
    else if (a == "--duration-ms")
      o.duration_ms = std::strtoll(v.c_str(), nullptr, 10);
    else
      give_up("unknown flag " + a);
  }
  if (o.data_dir.empty())
    give_up("--data-dir is required");
  return o;
}

// Introduces what a fresh store lacks, or what a crash during an earlier
// setup left out; a recovered store is used as it is.
void set_up(node& n) {
  const auto names = crash::agent_names();
  for (auto& id : names) {
    if (n.get_manifest(as_admin, id))
      continue;
    agent_spec s;
    s.man.id = id;
    s.man.display_name = "Crash " + id;
    s.behavior.k = behavior_spec::kind::silent; // stored; the factory re-attaches holding
    s.custom = std::make_shared<crash::holding_behavior>();
    if (auto ok = n.introduce(as_admin, std::move(s)); !ok)
      give_up("introduce " + id + ": " + to_string(ok.error()));
  }
  auto ensure_room = [&](const std::string& id, speaker_rules rules) {
    auto r = n.get_room(as_admin, id);
    if (!r) {
      group_spec g;
      g.id = id;
      g.topic = "crash test";
      g.rules = rules;
      auto made = n.create_group(as_admin, names.front(), std::move(g));
      if (!made)
        give_up("create room " + id + ": " + to_string(made.error()));
      r = std::move(made);
    }
    for (auto& a : names) {
      if (r->find(a))
        continue;
      if (auto ok = n.join(as_admin, id, a); !ok)
        give_up("join " + a + " to " + id + ": " + to_string(ok.error()));
    }
  };
  speaker_rules open;
  open.policy = speaker_policy::none;
  open.turn_slot_ms = 0;
  ensure_room(crash::lobby, open);
  speaker_rules fifo;
  fifo.policy = speaker_policy::fifo;
  fifo.turn_slot_ms = 0;
  fifo.max_messages_per_turn = crash::stage_messages_per_turn;
  fifo.max_rounds = 0;
  ensure_room(crash::stage, fifo);
}

message make_message(const std::string& from, bool to_room, const std::string& to,
                     const std::string& id) {
  message m;
  m.id = id;
  m.from = from;
  m.to = to_room ? address::room(to) : address::agent(to);
  m.content = crash::content_for(id);
  return m;
}

// Announces, sends and reports one message; true if it was acknowledged.
bool send_one(node& n, const std::string& from, bool to_room, const std::string& to,
              const std::string& id) {
  emit("ATTEMPT " + from + (to_room ? " room " : " agent ") + to + " " + id);
  auto r = n.send(as_admin, make_message(from, to_room, to, id));
  if (!r) {
    emit("FAIL " + from + " " + id + " " + std::string{to_string(r.error().code)} + " "
         + r.error().message);
    return false;
  }
  emit("ACK " + from + " " + id + " " + std::string{to_string(r->status)} + " "
       + std::to_string(r->sent_at));
  return true;
}

// Sends again what the previous cycle attempted (acknowledged or not).
void retry(node& n, const std::string& file) {
  std::ifstream in{file};
  if (!in)
    give_up("cannot read retry file " + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    std::istringstream fields{line};
    std::string from, kind, to, id;
    if (!(fields >> from >> kind >> to >> id) || (kind != "room" && kind != "agent"))
      give_up("bad retry line: " + line);
    auto r = n.send(as_admin, make_message(from, kind == "room", to, id));
    if (r)
      emit("RETRY " + from + " " + id + " ok " + std::string{to_string(r->status)} + " "
           + std::to_string(r->sent_at));
    else
      emit("RETRY " + from + " " + id + " fail " + std::string{to_string(r.error().code)} + " "
           + r.error().message);
  }
}

// One load thread: direct messages, lobby posts and, now and then, a turn
// in the stage (ask, post while holding it, give it back).
void load(node& n, const options& o, int t, const std::atomic<bool>& done) {
  std::mt19937_64 rng{o.seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(t) * 7919 + o.cycle};
  const std::string mine[2] = {crash::agent_name(2 * t), crash::agent_name(2 * t + 1)};
  const std::string prefix = "c" + std::to_string(o.cycle) + "-t" + std::to_string(t) + "-";
  uint64_t next = 0;
  auto new_id = [&] { return prefix + std::to_string(next++); };
  while (!done.load()) {
    const auto pick = rng() % 10;
    const auto& from = mine[rng() % 2];
    if (pick < 5) {
      auto to = crash::agent_name(static_cast<int>(rng() % crash::agent_count));
      if (to == from)
        continue;
      send_one(n, from, false, to, new_id());
    } else if (pick < 8) {
      send_one(n, from, true, crash::lobby, new_id());
    } else {
      // Ask (again: a no-op while waiting or speaking), then look who speaks.
      (void)n.request_turn(as_admin, crash::stage, from);
      auto turns = n.turns(as_admin, crash::stage);
      std::string holder;
      if (turns && turns->current)
        holder = turns->current->speaker;
      if (holder == mine[0] || holder == mine[1]) {
        // Up to one more than the turn allows: the last may be refused.
        auto k = 1 + rng() % (crash::stage_messages_per_turn + 1);
        for (uint64_t i = 0; i < k; ++i)
          send_one(n, holder, true, crash::stage, new_id());
        (void)n.yield_turn(as_admin, crash::stage, holder); // fails if the turn ended already
      } else if (rng() % 4 == 0) {
        send_one(n, from, true, crash::stage, new_id()); // not our turn: refused
      }
    }
  }
}

} // namespace

int main(int argc, char** argv) {
  // Dies with the test: a worker that runs until killed must not outlive a
  // test that was itself killed (a ctest timeout).
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() == 1)
    return 2;
  auto o = parse(argc, argv);
  node_config cfg;
  cfg.node_id = crash::node_name;
  cfg.scheduler_threads = 2;
  cfg.data_dir = o.data_dir;
  cfg.durability = durability::sync;
  cfg.behavior_factory = crash::holding_factory();
  auto started = node::start(cfg);
  if (!started)
    give_up("start: " + to_string(started.error()));
  auto& n = **started;
  set_up(n);
  emit("READY " + std::to_string(n.list_agents(as_admin)->size()) + " "
       + std::to_string(n.list_rooms(as_admin)->size()));
  if (!o.retry_file.empty())
    retry(n, o.retry_file);
  emit("LOADING");
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < crash::load_threads; ++t)
    threads.emplace_back([&, t] { load(n, o, t, done); });
  if (o.duration_ms > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(o.duration_ms));
    done = true;
  }
  for (auto& t : threads)
    t.join();
  n.stop();
  emit("STOPPED");
  return 0;
}
