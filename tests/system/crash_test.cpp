// The crash test of durable node state: a worker process (crash_worker.cpp)
// runs a sync node under load and is SIGKILLed at a random moment, again and
// again on the same data directory. After each kill the store is opened
// in-process and checked against a model of everything the workers printed,
// Jepsen total-queue style: every acknowledged message is in its dialogue's
// history exactly once (lost, duplicated and unexpected all 0), a message
// refused for good is absent, one whose send was cut short by the kill is
// there at most once, retried ids answer their first outcome and are stored
// once, rooms and turns are consistent and the event log has no gap.
//
// PARLEY_CRASH_CYCLES (default 50) sets the number of kills,
// PARLEY_CRASH_SEED replays the timing of a run (it is printed).

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "parley/node/node.hpp"
#include "parley/storage/message_log.hpp"
#include "parley/storage/records.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"
#include "system/crash_protocol.hpp"

namespace parley {
namespace {

const principal as_admin = principal::admin("crash-test");

using namespace std::chrono_literals;

const std::string worker_path = PARLEY_CRASH_WORKER_PATH;

uint64_t env_or(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

/// What the workers said about one send, keyed by from/id.
struct send_record {
  std::string from;
  bool to_room = false;
  std::string to;
  std::string id;
  uint64_t first_cycle = 0;
  /// The latest attempt's outcome: acknowledged, refused (took no effect,
  /// so no earlier attempt did either), or unknown (cut short by the kill).
  enum class outcome { unknown, acked, refused } last = outcome::unknown;
  /// sent_at of the acknowledgement, once there was one.
  std::optional<int64_t> acked_at;

  std::string dialogue() const {
    return to_room ? "room:" + to : from < to ? from + "|" + to : to + "|" + from;
  }
};

/// A refusal code of node::send that means the send took no effect.
bool took_no_effect(std::string_view code) {
  return code == "failed_precondition" || code == "overloaded";
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in{text};
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

/// Findings of one check; every count but the informative ones must be 0.
struct tally {
  uint64_t lost = 0;            // acknowledged, absent
  uint64_t duplicated = 0;      // present more than once
  uint64_t unexpected = 0;      // present, never attempted
  uint64_t refused_present = 0; // refused for good, present
  uint64_t mismatched = 0;      // present with other content, dialogue or time than acknowledged
  // Informative: sends cut short by the kill.
  uint64_t unacked_present = 0;
  uint64_t unacked_absent = 0;
  std::vector<std::string> details;

  void note(std::string what) {
    if (details.size() < 20)
      details.push_back(std::move(what));
  }
};

class CrashTest : public ::testing::Test {
protected:
  void SetUp() override {
    seed_ = env_or("PARLEY_CRASH_SEED", std::random_device{}());
    cycles_ = env_or("PARLEY_CRASH_CYCLES", 50);
    rng_.seed(seed_);
    std::cout << "crash test: " << cycles_ << " cycles, seed " << seed_
              << " (PARLEY_CRASH_SEED replays the timing)" << std::endl;
  }

  std::string store_dir() const { return base_.sub("store"); }
  std::string retry_file() const { return base_.sub("retry.txt"); }

  // -- one cycle: run the worker, kill it, read what it said ----------------

  /// Runs the worker until a random moment after its first acknowledgement
  /// (or, in about one cycle in eight after the first, earlier: in its first
  /// 150 ms, while it opens and recovers the store, or in the 20 ms after
  /// its setup, while it retries) and kills it; returns its output, or
  /// nothing (with a failure).
  std::optional<std::string> run_and_kill(uint64_t cycle) {
    std::vector<std::string> argv{worker_path,          "--data-dir", store_dir(), "--cycle",
                                  std::to_string(cycle), "--seed",     std::to_string(rng_())};
    if (!retried_.empty()) {
      std::ofstream out{retry_file(), std::ios::trunc};
      for (auto& key : retried_) {
        auto& r = model_.at(key);
        out << r.from << (r.to_room ? " room " : " agent ") << r.to << " " << r.id << "\n";
      }
      out.close();
      argv.push_back("--retry-file");
      argv.push_back(retry_file());
    }
    // The first cycle always sets the population up completely. An early
    // kill comes during the start (open, recovery), or just after the
    // setup (while the worker retries).
    early_ = cycle > 1 && rng_() % 8 == 0;
    const bool after_ready = rng_() % 2 == 0;
    const auto delay = std::chrono::milliseconds(
      !early_ ? 30 + rng_() % 221 : after_ready ? rng_() % 21 : rng_() % 151);
    test::child_process p{argv};
    EXPECT_TRUE(p.started());
    bool loading = true;
    bool acked = true;
    if (early_) {
      if (after_ready)
        loading = p.wait_for_output("READY ", 60s);
      p.read_for(delay);
    } else {
      loading = p.wait_for_output("LOADING\n", 60s);
      acked = loading && p.wait_for_output("\nACK ", 30s);
      if (acked)
        p.read_for(delay);
    }
    p.signal(SIGKILL);
    const int rc = p.wait_exit(30s);
    EXPECT_TRUE(loading) << "cycle " << cycle << ": the worker did not start its load:\n"
                         << p.output();
    EXPECT_TRUE(acked) << "cycle " << cycle << ": no acknowledged send:\n" << p.output();
    EXPECT_EQ(rc, -SIGKILL) << "cycle " << cycle << ": the worker ended on its own:\n"
                            << p.output();
    if (!loading || !acked || rc != -SIGKILL)
      return std::nullopt;
    if (early_)
      ++early_kills_;
    return p.output();
  }

  /// Applies the worker's lines to the model; the retried sends of this
  /// cycle must answer their first outcome. Sets retried_ for the next cycle.
  void absorb(uint64_t cycle, const std::string& output) {
    std::set<std::string> retry_answered;
    std::vector<std::string> attempted; // keys in order
    const auto acks_before = acks_total_;
    for (auto& line : split_lines(output)) {
      std::istringstream in{line};
      std::string tag;
      in >> tag;
      if (tag == "ERROR") {
        ADD_FAILURE() << "cycle " << cycle << ": " << line;
      } else if (tag == "ATTEMPT") {
        send_record r;
        std::string kind;
        ASSERT_TRUE(in >> r.from >> kind >> r.to >> r.id) << line;
        r.to_room = kind == "room";
        r.first_cycle = cycle;
        auto key = r.from + "/" + r.id;
        ASSERT_FALSE(model_.contains(key)) << "cycle " << cycle << ": id used twice: " << line;
        model_.emplace(key, std::move(r));
        attempted.push_back(key);
        ++attempts_total_;
      } else if (tag == "ACK" || tag == "FAIL") {
        std::string from, id, third;
        ASSERT_TRUE(in >> from >> id >> third) << line;
        auto it = model_.find(from + "/" + id);
        ASSERT_NE(it, model_.end()) << "cycle " << cycle << ": outcome without attempt: " << line;
        auto& r = it->second;
        if (tag == "ACK") {
          int64_t at = 0;
          ASSERT_TRUE(in >> at) << line;
          EXPECT_EQ(third, "delivered") << line;
          r.last = send_record::outcome::acked;
          r.acked_at = at;
          ++acks_total_;
        } else {
          ++refusals_[third];
          // Only a post out of turn in the moderated room, or a full inbox.
          EXPECT_TRUE(third == "overloaded" || (third == "failed_precondition" && r.to_room
                                                && r.to == crash::stage))
            << "cycle " << cycle << ": unexpected refusal: " << line;
          r.last = took_no_effect(third) ? send_record::outcome::refused
                                         : send_record::outcome::unknown;
        }
      } else if (tag == "RETRY") {
        std::string from, id, result;
        ASSERT_TRUE(in >> from >> id >> result) << line;
        auto key = from + "/" + id;
        ASSERT_TRUE(std::find(retried_.begin(), retried_.end(), key) != retried_.end())
          << "cycle " << cycle << ": retry of a send not in the retry file: " << line;
        ASSERT_TRUE(retry_answered.insert(key).second) << "retried twice: " << line;
        auto& r = model_.at(key);
        ++retries_total_;
        if (result == "ok") {
          std::string status;
          int64_t at = 0;
          ASSERT_TRUE(in >> status >> at) << line;
          EXPECT_EQ(status, "delivered") << line;
          if (r.acked_at) {
            ++retries_of_acked_;
            EXPECT_EQ(at, *r.acked_at)
              << "cycle " << cycle << ": a retry of an acknowledged send answered another time: "
              << line;
          } else {
            r.acked_at = at;
          }
          r.last = send_record::outcome::acked;
        } else {
          std::string code;
          ASSERT_TRUE(in >> code) << line;
          EXPECT_FALSE(r.acked_at) << "cycle " << cycle
                                   << ": a retry of an acknowledged send was refused: " << line;
          r.last = took_no_effect(code) ? send_record::outcome::refused
                                        : send_record::outcome::unknown;
        }
      }
    }
    // Every retry is answered before the load starts; a kill before that
    // may have cut one short, so that it may or may not have taken effect.
    const bool loaded = output.find("\nLOADING\n") != std::string::npos;
    for (auto& key : retried_) {
      if (retry_answered.contains(key))
        continue;
      EXPECT_FALSE(loaded) << "cycle " << cycle << ": no answer to the retry of " << key;
      if (auto& r = model_.at(key); !r.acked_at)
        r.last = send_record::outcome::unknown;
    }
    // The last sends of this cycle (the newest of them were cut short) are
    // sent again by the next worker, before its load; a worker killed before
    // its load passes on the sends it had to retry.
    if (!attempted.empty()) {
      const size_t keep = std::min<size_t>(20, attempted.size());
      retried_.assign(attempted.end() - static_cast<std::ptrdiff_t>(keep), attempted.end());
    }
    cycle_attempts_ = attempted.size();
    cycle_acks_ = acks_total_ - acks_before;
  }

  // -- checks of the recovered store ----------------------------------------

  /// Every message of a dialogue, oldest first, through all pages.
  template <class Fetch>
  std::vector<message> whole_history(const std::string& what, Fetch fetch) {
    std::vector<message> out;
    history_query q;
    q.direction = history_query::order::oldest_first;
    q.limit = max_page_size;
    for (;;) {
      auto page = fetch(q);
      EXPECT_TRUE(page) << what << ": " << to_string(page.error());
      if (!page)
        return out;
      for (auto& m : page->messages)
        out.push_back(std::move(m));
      if (page->next_cursor.empty())
        return out;
      q.cursor = page->next_cursor;
    }
  }

  tally check_messages(node& n) {
    const auto names = crash::agent_names();
    // dialogue -> messages found there
    std::map<std::string, std::vector<message>> found;
    for (auto& r : {crash::lobby, crash::stage})
      found["room:" + r] = whole_history(
        "room " + r, [&](const history_query& q) { return n.room_history(as_admin, r, q); });
    for (size_t i = 0; i < names.size(); ++i)
      for (size_t j = i + 1; j < names.size(); ++j)
        found[names[i] < names[j] ? names[i] + "|" + names[j] : names[j] + "|" + names[i]] =
          whole_history(names[i] + "|" + names[j], [&](const history_query& q) {
            return n.direct_history(as_admin, names[i], names[j], q);
          });
    tally t;
    std::map<std::string, std::vector<int64_t>> seen; // key -> sent_at of each copy
    for (auto& [dialogue, ms] : found) {
      // Oldest first, across pages.
      for (size_t i = 1; i < ms.size(); ++i)
        if (ms[i].sent_at < ms[i - 1].sent_at) {
          ++t.mismatched;
          t.note("history of " + dialogue + " out of order at " + ms[i].from + "/" + ms[i].id);
        }
      for (auto& m : ms) {
        auto key = m.from + "/" + m.id;
        auto it = model_.find(key);
        if (it == model_.end()) {
          ++t.unexpected;
          t.note("unexpected " + key + " in " + dialogue);
          continue;
        }
        seen[key].push_back(m.sent_at);
        auto& r = it->second;
        if (dialogue != r.dialogue() || m.to.is_room() != r.to_room || m.to.id != r.to
            || m.content != crash::content_for(r.id)) {
          ++t.mismatched;
          t.note("mismatched " + key + " in " + dialogue + " (to " + m.to.id + ", content '"
                 + m.content + "')");
        }
      }
    }
    // Each durable inbox entry (a delivery not yet served) is a stored
    // message addressed to its agent.
    for (auto& a : names) {
      auto inbox = n.inbox(as_admin, a, max_page_size);
      EXPECT_TRUE(inbox) << "inbox of " << a << ": " << to_string(inbox.error());
      if (!inbox)
        continue;
      for (auto& m : *inbox) {
        auto key = m.from + "/" + m.id;
        const bool for_a = m.to.is_room() ? m.from != a : m.to.id == a;
        if (!seen.contains(key) || !for_a) {
          ++t.mismatched;
          t.note("inbox of " + a + " holds " + key + " to " + m.to.id
                 + (seen.contains(key) ? "" : ", which is not in the history"));
        }
      }
    }
    for (auto& [key, r] : model_) {
      auto it = seen.find(key);
      const size_t copies = it == seen.end() ? 0 : it->second.size();
      if (copies > 1) {
        ++t.duplicated;
        t.note("duplicated " + key + " (" + std::to_string(copies)
               + " copies, first attempted in cycle " + std::to_string(r.first_cycle) + ")");
      }
      switch (r.last) {
        case send_record::outcome::acked:
          if (copies == 0) {
            ++t.lost;
            t.note("lost " + key + " (acknowledged in cycle " + std::to_string(r.first_cycle)
                   + " or later)");
          } else if (it->second.front() != *r.acked_at) {
            ++t.mismatched;
            t.note("stored " + key + " sent at " + std::to_string(it->second.front())
                   + ", acknowledged as sent at " + std::to_string(*r.acked_at));
          }
          break;
        case send_record::outcome::refused:
          if (copies != 0) {
            ++t.refused_present;
            t.note("refused " + key + " is stored");
          }
          break;
        case send_record::outcome::unknown:
          ++(copies == 0 ? t.unacked_absent : t.unacked_present);
          break;
      }
    }
    return t;
  }

  void check_rooms_and_turns(node& n, uint64_t cycle) {
    const auto names = crash::agent_names();
    EXPECT_EQ(*n.list_agents(as_admin), names) << "cycle " << cycle;
    const std::vector<room_id> rooms{crash::lobby, crash::stage};
    EXPECT_EQ(*n.list_rooms(as_admin), rooms) << "cycle " << cycle;
    std::map<agent_id, std::set<room_id>> member_of;
    for (auto& id : rooms) {
      auto r = n.get_room(as_admin, id);
      ASSERT_TRUE(r) << "cycle " << cycle << ": " << to_string(r.error());
      EXPECT_TRUE(r->open) << "cycle " << cycle << ": room " << id << " closed";
      std::vector<agent_id> members;
      for (auto& m : r->members) {
        members.push_back(m.id);
        member_of[m.id].insert(id);
      }
      std::sort(members.begin(), members.end());
      EXPECT_EQ(members, names) << "cycle " << cycle << ": members of " << id;
    }
    // Each agent's manifest lists exactly the rooms that list it.
    for (auto& a : names) {
      auto m = n.get_manifest(as_admin, a);
      ASSERT_TRUE(m) << "cycle " << cycle << ": " << to_string(m.error());
      std::set<room_id> listed(m->rooms.begin(), m->rooms.end());
      EXPECT_EQ(listed, member_of[a]) << "cycle " << cycle << ": rooms in the manifest of " << a;
      EXPECT_EQ(listed.size(), m->rooms.size()) << "cycle " << cycle << ": a room twice for " << a;
    }
    auto lobby = n.turns(as_admin, crash::lobby);
    ASSERT_TRUE(lobby) << to_string(lobby.error());
    EXPECT_FALSE(lobby->current) << "cycle " << cycle << ": a speaker in the unmoderated room";
    EXPECT_TRUE(lobby->waiting.empty()) << "cycle " << cycle;
    auto stage = n.turns(as_admin, crash::stage);
    ASSERT_TRUE(stage) << to_string(stage.error());
    EXPECT_FALSE(stage->closed) << "cycle " << cycle;
    std::set<agent_id> waiting;
    for (auto& w : stage->waiting) {
      EXPECT_TRUE(member_of[w.who].contains(crash::stage))
        << "cycle " << cycle << ": waiter " << w.who << " is not a member";
      EXPECT_TRUE(waiting.insert(w.who).second) << "cycle " << cycle << ": " << w.who
                                                << " waits twice";
    }
    if (stage->current) {
      auto& g = *stage->current;
      EXPECT_TRUE(member_of[g.speaker].contains(crash::stage))
        << "cycle " << cycle << ": speaker " << g.speaker << " is not a member";
      EXPECT_FALSE(waiting.contains(g.speaker))
        << "cycle " << cycle << ": speaker " << g.speaker << " also waits";
      EXPECT_EQ(g.turn, stage->turns_granted) << "cycle " << cycle;
      EXPECT_LE(stage->messages_in_turn, crash::stage_messages_per_turn) << "cycle " << cycle;
    } else {
      // A yield grants the next waiter in the same change: nobody waits
      // for a free turn.
      EXPECT_TRUE(stage->waiting.empty())
        << "cycle " << cycle << ": " << stage->waiting.size() << " waiting, nobody speaks";
    }
    EXPECT_GE(stage->turns_granted, turns_granted_)
      << "cycle " << cycle << ": turns granted went back";
    turns_granted_ = stage->turns_granted;
  }

  void check_events(node& n, uint64_t cycle) {
    auto es = n.events_since(as_admin, 0, 100'000'000);
    ASSERT_TRUE(es) << to_string(es.error());
    ASSERT_FALSE(es->empty()) << "cycle " << cycle;
    // The log is under its retention: it starts at 1 and has no gap.
    EXPECT_EQ(es->front().seq, 1u) << "cycle " << cycle;
    size_t gaps = 0;
    for (size_t i = 1; i < es->size(); ++i)
      if ((*es)[i].seq != (*es)[i - 1].seq + 1 && gaps++ < 5)
        ADD_FAILURE() << "cycle " << cycle << ": event " << (*es)[i - 1].seq << " is followed by "
                      << (*es)[i].seq;
    EXPECT_EQ(gaps, 0u) << "cycle " << cycle;
    // What the previous check saw was made durable by its node's stop: a
    // later crash keeps it unchanged.
    EXPECT_GE(es->size(), events_.size()) << "cycle " << cycle << ": events disappeared";
    for (size_t i = 0; i < std::min(es->size(), events_.size()); ++i)
      if (!((*es)[i] == events_[i])) {
        ADD_FAILURE() << "cycle " << cycle << ": event " << events_[i].seq << " changed";
        break;
      }
    events_ = std::move(*es);
  }

  /// Opens the store in-process and checks it; false if something failed.
  bool check(uint64_t cycle) {
    node_config cfg;
    cfg.node_id = crash::node_name;
    cfg.data_dir = store_dir();
    cfg.durability = durability::sync;
    cfg.behavior_factory = crash::holding_factory();
    auto started = node::start(cfg);
    EXPECT_TRUE(started) << "cycle " << cycle << ": the store does not open: "
                         << to_string(started.error());
    if (!started)
      return false;
    auto& n = **started;
    auto t = check_messages(n);
    EXPECT_EQ(t.lost, 0u) << "cycle " << cycle;
    EXPECT_EQ(t.duplicated, 0u) << "cycle " << cycle;
    EXPECT_EQ(t.unexpected, 0u) << "cycle " << cycle;
    EXPECT_EQ(t.refused_present, 0u) << "cycle " << cycle;
    EXPECT_EQ(t.mismatched, 0u) << "cycle " << cycle;
    for (auto& d : t.details)
      ADD_FAILURE() << "cycle " << cycle << ": " << d;
    check_rooms_and_turns(n, cycle);
    check_events(n, cycle);
    n.stop();
    std::cout << "cycle " << cycle << (early_ ? " (killed early)" : "") << ": "
              << cycle_attempts_ << " sends attempted, " << cycle_acks_
              << " acknowledged; so far " << model_.size() << " sends, "
              << t.unacked_present + t.unacked_absent << " cut short by kills ("
              << t.unacked_present << " stored), " << events_.size() << " events" << std::endl;
    last_ = std::move(t);
    return !::testing::Test::HasFailure();
  }

  test::temp_dir base_;
  uint64_t seed_ = 0;
  uint64_t cycles_ = 0;
  std::mt19937_64 rng_;
  /// Every send any worker attempted, by from/id.
  std::map<std::string, send_record> model_;
  /// Keys the next worker retries.
  std::vector<std::string> retried_;
  std::vector<event> events_;
  std::map<std::string, uint64_t> refusals_;
  uint64_t turns_granted_ = 0;
  uint64_t attempts_total_ = 0;
  uint64_t acks_total_ = 0;
  uint64_t retries_total_ = 0;
  uint64_t retries_of_acked_ = 0;
  size_t cycle_attempts_ = 0;
  bool early_ = false;
  uint64_t early_kills_ = 0;
  size_t cycle_acks_ = 0;
  /// The latest check's findings (it covers every send so far).
  tally last_;
};

// Verifies a node SIGKILLed under load, again and again, keeps every acknowledged message exactly
// once, answers retries with their first outcome and recovers rooms, turns and a gapless event log.
TEST_F(CrashTest, SigkilledNodeKeepsEveryAcknowledgedMessageOnce) {
  const auto t0 = std::chrono::steady_clock::now();
  uint64_t cycle = 1;
  for (; cycle <= cycles_; ++cycle) {
    auto output = run_and_kill(cycle);
    if (!output)
      break;
    absorb(cycle, *output);
    if (HasFailure() || !check(cycle))
      break;
  }
  const auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t acked = 0;
  for (auto& [key, r] : model_)
    acked += r.last == send_record::outcome::acked;
  std::ostringstream refused;
  for (auto& [code, k] : refusals_)
    refused << " " << code << " " << k;
  std::cout << "crash test summary: seed " << seed_ << ", " << std::min(cycle, cycles_ + 1) - 1
            << "/" << cycles_ << " cycles passed in " << secs << " s; " << attempts_total_
            << " sends attempted, " << acked << " acknowledged (" << acks_total_
            << " acks), refused:" << (refused.str().empty() ? " none" : refused.str()) << "; "
            << early_kills_ << " early kills (start, setup, retries); " << retries_total_
            << " retries (" << retries_of_acked_
            << " of acknowledged sends); cut short by kills " << last_.unacked_present
            << " stored, " << last_.unacked_absent << " absent; lost " << last_.lost
            << ", duplicated " << last_.duplicated << ", unexpected " << last_.unexpected
            << " (last check)" << std::endl;
  EXPECT_EQ(cycle, cycles_ + 1) << "stopped after a failure in cycle " << cycle;
  EXPECT_GT(acks_total_, cycles_) << "the load hardly ran";
}

} // namespace
} // namespace parley
