#pragma once

// A checker in the style of Jepsen's total-queue: the ids clients tried to
// enqueue and those acknowledged to them, against the ids the queues hold
// at the end. Acknowledged but absent is lost, present twice is
// duplicated, present but never tried is unexpected. Tried and never
// acknowledged may be present or not (the outcome was unknown to the
// client); the count is reported.

#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace parley::cluster_test {

class queue_checker {
public:
  struct report {
    size_t attempted = 0;
    size_t acknowledged = 0;
    size_t read = 0;
    size_t lost = 0;
    size_t duplicated = 0;
    size_t unexpected = 0;
    size_t unacknowledged = 0; // tried, never acknowledged
    std::vector<std::string> examples; // a few ids of each fault, for the log

    std::string text() const {
      std::ostringstream o;
      o << "attempted " << attempted << ", acknowledged " << acknowledged << ", read " << read << "; lost " << lost
        << ", duplicated " << duplicated << ", unexpected " << unexpected << ", never acknowledged "
        << unacknowledged;
      for (auto& e : examples)
        o << "\n  " << e;
      return o.str();
    }
  };

  void attempted(const std::string& id) {
    std::lock_guard guard{mtx_};
    attempted_.insert(id);
  }

  void acknowledged(const std::string& id) {
    std::lock_guard guard{mtx_};
    acknowledged_.insert(id);
  }

  report check(const std::vector<std::string>& read) const {
    std::lock_guard guard{mtx_};
    report r;
    r.attempted = attempted_.size();
    r.acknowledged = acknowledged_.size();
    r.read = read.size();
    std::map<std::string, size_t> seen;
    for (auto& id : read)
      ++seen[id];
    auto example = [&r](const std::string& what, const std::string& id) {
      if (r.examples.size() < 12)
        r.examples.push_back(what + " " + id);
    };
    for (auto& [id, n] : seen) {
      if (n > 1) {
        ++r.duplicated;
        example("duplicated (" + std::to_string(n) + "x)", id);
      }
      if (!attempted_.count(id)) {
        ++r.unexpected;
        example("unexpected", id);
      }
    }
    for (auto& id : acknowledged_)
      if (!seen.count(id)) {
        ++r.lost;
        example("lost", id);
      }
    for (auto& id : attempted_)
      r.unacknowledged += acknowledged_.count(id) ? 0 : 1;
    return r;
  }

private:
  mutable std::mutex mtx_;
  std::set<std::string> attempted_;
  std::set<std::string> acknowledged_;
};

} // namespace parley::cluster_test
