#pragma once

// Shared helpers of the benchmark programs: command-line options, RSS
// readings, timing, and the report (one table row on stdout, one JSON object
// per line appended to the --json file; scripts/bench wraps those lines in a
// list).
//
// The benchmarks are measurements, not assertions: a figure below its target
// prints BELOW and the program still exits 0.

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

namespace bench {

// -- options ------------------------------------------------------------------

/// `prog <figure> [--quick] [--json FILE] [--n N] [--seconds S] [--balls B]
///  [--repeats R] [--manual-clock] [--dir DIR] [--threads T]
///  [--baseline-name NAME] [--baseline-value V] [--baseline-unit U]
///  [--baseline2-name NAME] [--baseline2-value V] [--baseline2-unit U]`
struct options {
  std::string figure;
  bool quick = false;
  std::string json_file;
  /// 0 = the figure's default (full or quick).
  uint64_t n = 0;
  double seconds = 0;
  /// Figure 3: messages in flight per pair; 0 = bench::balls_per_pair.
  uint32_t balls = 0;
  /// Analysis only: run the node on a manual clock (no clock_gettime calls).
  bool manual_clock = false;
  /// Fresh processes per figure (the median is reported); 0 = 3 for a full
  /// run, 1 for --quick.
  unsigned repeats = 0;
  /// Storage figures: the directory of a store built beforehand.
  std::string dir;
  /// Storage figures: client threads; 0 = the figure's default.
  unsigned threads = 0;
  std::string baseline_name;
  double baseline_value = 0;
  std::string baseline_unit;
  /// A second baseline, for a program that reports two figures from one
  /// measurement (storage_bench ack: p50 and p99).
  std::string baseline2_name;
  double baseline2_value = 0;
  std::string baseline2_unit;

  static options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
      std::string_view a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) {
          std::cerr << "missing value after " << a << "\n";
          std::exit(2);
        }
        return argv[++i];
      };
      if (a == "--quick")
        o.quick = true;
      else if (a == "--json")
        o.json_file = next();
      else if (a == "--n")
        o.n = std::stoull(next());
      else if (a == "--repeats")
        o.repeats = static_cast<unsigned>(std::stoul(next()));
      else if (a == "--manual-clock")
        o.manual_clock = true;
      else if (a == "--balls")
        o.balls = static_cast<uint32_t>(std::stoul(next()));
      else if (a == "--seconds")
        o.seconds = std::stod(next());
      else if (a == "--baseline-name")
        o.baseline_name = next();
      else if (a == "--baseline-value")
        o.baseline_value = std::stod(next());
      else if (a == "--baseline-unit")
        o.baseline_unit = next();
      else if (a == "--baseline2-name")
        o.baseline2_name = next();
      else if (a == "--baseline2-value")
        o.baseline2_value = std::stod(next());
      else if (a == "--baseline2-unit")
        o.baseline2_unit = next();
      else if (a == "--dir")
        o.dir = next();
      else if (a == "--threads")
        o.threads = static_cast<unsigned>(std::stoul(next()));
      else if (!a.empty() && a[0] != '-' && o.figure.empty())
        o.figure = std::string{a};
      else {
        std::cerr << "unknown argument: " << a << "\n";
        std::exit(2);
      }
    }
    return o;
  }

  uint64_t size(uint64_t full, uint64_t quick_size) const {
    return n != 0 ? n : (quick ? quick_size : full);
  }
  double duration(double full, double quick_s) const {
    return seconds > 0 ? seconds : (quick ? quick_s : full);
  }
  unsigned runs() const { return repeats != 0 ? repeats : (quick ? 1 : 3); }
};

// -- measuring ----------------------------------------------------------------

/// Resident set size of this process in bytes (/proc/self/statm).
inline uint64_t rss_bytes() {
  std::ifstream f{"/proc/self/statm"};
  uint64_t pages_total = 0, pages_resident = 0;
  f >> pages_total >> pages_resident;
  return pages_resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

/// Returns freed heap pages to the OS, so that RSS counts live data rather
/// than what glibc keeps cached from transient allocations (mailboxes that
/// drained, specs that were consumed). Applied to Parley and raw CAF alike.
inline void trim_heap() {
  malloc_trim(0);
}

/// Bytes the allocator has handed out and not got back (glibc mallinfo2).
inline double heap_in_use() {
  auto mi = mallinfo2();
  return static_cast<double>(mi.uordblks + mi.hblkhd);
}

/// CPU seconds (user + system) of the calling thread, and of the process.
inline double thread_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_THREAD, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
inline double process_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec)
         + static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}
/// Minor page faults of the process so far.
inline long page_faults() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_minflt;
}

using clock_type = std::chrono::steady_clock;

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

/// Polls `done` every 100 us until it holds or `timeout_s` passes; false on
/// timeout.
template <class F>
bool wait_until(F&& done, double timeout_s) {
  auto t0 = clock_type::now();
  while (!done()) {
    if (seconds_since(t0) > timeout_s)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  return true;
}

/// Lets a running load warm up for `warmup`, then reads `counter` before
/// and after a window of `secs` seconds. Returns (before, after, elapsed s).
template <class Read>
auto measure_window(double warmup, double secs, Read counter) {
  std::this_thread::sleep_for(std::chrono::duration<double>(warmup));
  const auto before = counter();
  const auto t0 = clock_type::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(secs));
  const auto after = counter();
  return std::make_tuple(before, after, seconds_since(t0));
}

/// The q-quantile (0..1, nearest rank) of `xs` (sorted in place); 0 if empty.
inline double percentile(std::vector<double>& xs, double q) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(xs.size())));
  return xs[std::min(xs.size() - 1, rank == 0 ? 0 : rank - 1)];
}

// -- repeated runs --------------------------------------------------------------

/// One measurement: the figure's value and the facts printed under its row.
struct sample {
  double value = 0;
  std::vector<std::string> notes;
  /// Further values of the same measurement, reported as figures of their
  /// own (storage_bench ack: value = p99, more = {p50}).
  std::vector<double> more = {};
};

namespace detail {
/// The pipe a forked measurement run writes its sample to (-1 outside one).
inline int sample_fd = -1;
} // namespace detail

/// Ends a measurement run: hands `s` to the parent and exits at once, so a
/// process holding a million actors skips seconds of teardown that nothing
/// measures.
[[noreturn]] inline void deliver(const sample& s) {
  char buf[64];
  std::string text(buf, static_cast<size_t>(std::snprintf(buf, sizeof buf, "%.17g\n", s.value)));
  text += std::to_string(s.more.size()) + "\n";
  for (double x : s.more)
    text.append(buf, static_cast<size_t>(std::snprintf(buf, sizeof buf, "%.17g\n", x)));
  for (auto& n : s.notes)
    text += n + "\n";
  for (size_t done = 0; done < text.size();) {
    auto k = write(detail::sample_fd, text.data() + done, text.size() - done);
    if (k <= 0)
      break;
    done += static_cast<size_t>(k);
  }
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(0);
}

/// Runs `measure` (which ends with deliver()) `runs` times, each in a fresh
/// process forked from this one (call it before this process starts an
/// actor system), and returns the samples sorted by value. The VM this runs
/// on makes single runs noisy (a process that touches gigabytes right after
/// another freed them pays for it), so the time figures take the median of
/// several fresh processes. Exits with the child's status if a run fails.
template <class F>
std::vector<sample> run_forked(unsigned runs, F&& measure) {
  std::vector<sample> out;
  for (unsigned i = 0; i < runs; ++i) {
    int fds[2];
    if (pipe(fds) != 0) {
      std::perror("pipe");
      std::exit(1);
    }
    std::fflush(stdout);
    std::fflush(stderr);
    const pid_t pid = fork();
    if (pid < 0) {
      std::perror("fork");
      std::exit(1);
    }
    if (pid == 0) {
      close(fds[0]);
      detail::sample_fd = fds[1];
      measure();
      std::cerr << "a measurement run ended without a sample\n";
      std::_Exit(1);
    }
    close(fds[1]);
    std::string text;
    char buf[4096];
    for (ssize_t k; (k = read(fds[0], buf, sizeof buf)) > 0;)
      text.append(buf, static_cast<size_t>(k));
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
      std::cerr << "a measurement run failed\n";
      std::exit(WIFEXITED(status) && WEXITSTATUS(status) != 0 ? WEXITSTATUS(status) : 1);
    }
    std::istringstream in{text};
    std::string line;
    sample s;
    std::getline(in, line);
    s.value = std::stod(line);
    std::getline(in, line);
    for (size_t k = std::stoul(line); k > 0; --k) {
      std::getline(in, line);
      s.more.push_back(std::stod(line));
    }
    while (std::getline(in, line))
      s.notes.push_back(line);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.value < b.value; });
  return out;
}

/// The median over `samples` of their further value number `k`
/// (sample::more), which need not sort like their main values.
inline double median_of_more(const std::vector<sample>& samples, size_t k) {
  std::vector<double> xs;
  for (auto& s : samples)
    if (k < s.more.size())
      xs.push_back(s.more[k]);
  return percentile(xs, 0.5);
}

// -- scratch directories ----------------------------------------------------------

/// A fresh directory under /tmp (`parley-bench.XXXXXX`) holding the stores
/// of one figure's runs. Call scratch_dir() in the parent before it forks
/// the runs; each run works in its own run_dir(); the directory and all in
/// it are removed when the parent exits (a static object: also when a
/// failed run makes run_forked call std::exit, which runs destructors; the
/// runs themselves end with _Exit and remove nothing).
class scratch {
public:
  scratch() {
    std::string templ = (std::filesystem::temp_directory_path() / "parley-bench.XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    path_ = templ;
    owner_ = getpid();
  }
  ~scratch() {
    if (getpid() != owner_)
      return;
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  scratch(const scratch&) = delete;
  scratch& operator=(const scratch&) = delete;
  const std::filesystem::path& path() const noexcept { return path_; }

private:
  std::filesystem::path path_;
  pid_t owner_ = 0;
};

inline const std::filesystem::path& scratch_dir() {
  static scratch d;
  return d.path();
}

/// The store directory of this run (this process), inside scratch_dir().
inline std::string run_dir() {
  return (scratch_dir() / ("run-" + std::to_string(getpid()))).string();
}

// -- reporting ----------------------------------------------------------------

/// How a figure is judged against its target.
enum class goal {
  /// value >= factor * baseline (throughput).
  at_least_baseline,
  /// value <= factor * baseline (time).
  at_most_baseline,
  /// value <= an absolute limit (memory).
  at_most_absolute,
  /// value >= an absolute floor (api_bench link messages/s).
  at_least_absolute,
  /// No threshold: the ratio is reported.
  report_only,
};

struct figure {
  std::string name;
  double value = 0;
  std::string unit;
  std::string baseline;
  double baseline_value = 0;
  std::string baseline_unit;
  goal g = goal::report_only;
  /// The factor of the baseline or the absolute limit.
  double threshold = 0;
  /// Extra facts printed under the row (not in the JSON).
  std::vector<std::string> notes;

  double ratio() const { return baseline_value != 0 ? value / baseline_value : 0.0; }

  std::string target() const {
    std::ostringstream o;
    switch (g) {
      case goal::at_least_baseline:
        o << ">= " << threshold << "x baseline";
        break;
      case goal::at_most_baseline:
        o << "<= " << threshold << "x baseline";
        break;
      case goal::at_most_absolute:
        o << "<= " << threshold << " " << unit;
        break;
      case goal::at_least_absolute:
        o << ">= " << threshold << " " << unit;
        break;
      case goal::report_only:
        o << "report";
        break;
    }
    return o.str();
  }

  std::string verdict() const {
    switch (g) {
      case goal::at_least_baseline:
        return ratio() >= threshold ? "PASS" : "BELOW";
      case goal::at_most_baseline:
        return ratio() <= threshold ? "PASS" : "BELOW";
      case goal::at_most_absolute:
        return value <= threshold ? "PASS" : "BELOW";
      case goal::at_least_absolute:
        return value >= threshold ? "PASS" : "BELOW";
      case goal::report_only:
        return "REPORT";
    }
    return "?";
  }
};

/// A number for people: 3 significant digits, no exponent below 1e15.
inline std::string human(double v) {
  char buf[64];
  double a = std::fabs(v);
  if (a >= 100 || a == 0)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (a >= 1)
    std::snprintf(buf, sizeof buf, "%.2f", v);
  else
    std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

/// A number for JSON: enough digits to round-trip what we measured.
inline std::string json_number(double v) {
  if (!std::isfinite(v))
    return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

inline std::string to_json(const figure& f) {
  std::ostringstream o;
  o << "{\"name\": " << json_string(f.name) << ", \"value\": " << json_number(f.value)
    << ", \"unit\": " << json_string(f.unit) << ", \"baseline\": " << json_string(f.baseline)
    << ", \"baseline_value\": " << json_number(f.baseline_value)
    << ", \"ratio\": " << json_number(f.ratio()) << ", \"target\": " << json_string(f.target())
    << "}";
  return o.str();
}

/// The table header (scripts/bench prints it once per run).
inline void print_header() {
  std::printf("%-28s | %-22s | %-47s | %-7s | %-18s | %s\n", "name", "value", "baseline", "ratio",
              "target", "result");
}

/// One table row plus its notes on stdout; one JSON line appended to
/// `json_file` when it is not empty.
inline void report(const figure& f, const std::string& json_file) {
  std::string value = human(f.value) + " " + f.unit;
  std::string base = f.baseline + " " + human(f.baseline_value) + " " + f.baseline_unit;
  std::string ratio = human(f.ratio()) + "x";
  std::printf("%-28s | %-22s | %-47s | %-7s | %-18s | %s\n", f.name.c_str(), value.c_str(),
              base.c_str(), ratio.c_str(), f.target().c_str(), f.verdict().c_str());
  for (auto& n : f.notes)
    std::printf("%-28s   %s\n", "", n.c_str());
  std::fflush(stdout);
  if (!json_file.empty()) {
    std::ofstream out{json_file, std::ios::app};
    out << to_json(f) << "\n";
  }
}

/// A baseline program's answer: `name value unit` on one stdout line, read
/// by scripts/bench and handed to the Parley program.
inline void print_baseline(const std::string& name, double value, const std::string& unit) {
  std::printf("%s %s %s\n", name.c_str(), json_number(value).c_str(), unit.c_str());
  std::fflush(stdout);
}

/// Ends a process whose actor system holds a million actors without the
/// teardown (seconds of destructor work that nothing measures).
[[noreturn]] inline void fast_exit(int code = 0) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);
}

// -- figure programs -----------------------------------------------------------

/// What a figure program measures, by name: how to report it and how to
/// take one sample. A second figure (name2...) reports the sample's further
/// value more[0] against the --baseline2-* baseline.
struct figure_def {
  const char* arg;
  const char* name;
  const char* unit;
  goal g;
  double threshold;
  void (*measure)(const options&);
  const char* name2 = nullptr;
  goal g2 = goal::report_only;
  double threshold2 = 0;
  /// Sizes: one run (a deterministic amount, not a noisy rate).
  bool single_run = false;
};

inline figure make_figure(const char* name, const char* unit, goal g, double threshold,
                          double value, const std::string& bname, double bvalue,
                          const std::string& bunit) {
  figure f;
  f.name = name;
  f.unit = unit;
  f.g = g;
  f.threshold = threshold;
  f.value = value;
  f.baseline = bname;
  f.baseline_value = bvalue;
  f.baseline_unit = bunit;
  return f;
}

/// "median of N fresh processes: a b c" for more than one run, else "".
inline std::string all_runs(std::vector<double> values) {
  if (values.size() < 2)
    return {};
  std::sort(values.begin(), values.end());
  std::string out = "median of " + std::to_string(values.size()) + " fresh processes:";
  for (double v : values)
    out += " " + human(v);
  return out;
}

/// Runs the figure of `defs` named o.figure (each sample in fresh forked
/// processes, the median reported beside the baselines of `o`). False if
/// no figure has that name. Call before this process starts any actor
/// system or gRPC server.
template <size_t N>
bool run_figure(const options& o, const figure_def (&defs)[N]) {
  for (auto& def : defs) {
    if (o.figure != def.arg)
      continue;
    (void) scratch_dir(); // made before the runs fork, removed at exit
    auto samples = run_forked(def.single_run ? 1 : o.runs(), [&] { return def.measure(o); });
    auto& median = samples[samples.size() / 2];
    auto f = make_figure(def.name, def.unit, def.g, def.threshold, median.value, o.baseline_name,
                         o.baseline_value, o.baseline_unit);
    f.notes = median.notes;
    std::vector<double> values;
    for (auto& x : samples)
      values.push_back(x.value);
    if (auto all = all_runs(values); !all.empty())
      f.notes.push_back(all);
    report(f, o.json_file);
    if (def.name2) {
      auto f2 = make_figure(def.name2, def.unit, def.g2, def.threshold2, median_of_more(samples, 0),
                            o.baseline2_name, o.baseline2_value, o.baseline2_unit);
      std::vector<double> more;
      for (auto& x : samples)
        more.push_back(x.more.empty() ? 0.0 : x.more[0]);
      if (auto all = all_runs(more); !all.empty())
        f2.notes.push_back(all);
      report(f2, o.json_file);
    }
    return true;
  }
  return false;
}

// -- baseline programs ---------------------------------------------------------

/// What a baseline program (raw_caf, raw_grpc, raw_rocksdb; cluster_bench's
/// one-node baselines) measures, by name, and how it answers.
struct baseline_def {
  const char* arg;
  const char* name;
  const char* unit;
  void (*measure)(const options&);
  /// The name of the second value (sample::more[0]), if any.
  const char* name2 = nullptr;
  /// Sizes: one run (a deterministic amount, not a noisy rate).
  bool single_run = false;
};

/// What differs between the baseline programs around their runs.
struct baseline_runs {
  /// Make scratch_dir() before the runs fork (runs that work in run_dir()).
  bool scratch = false;
  /// What the stderr line of the median calls the runs.
  const char* called = "fresh processes";
};

/// Runs the baseline of `defs` named o.figure, each sample in a fresh
/// forked process, and answers as scripts/bench reads it: the median run's
/// notes on stderr (each after the baseline's name), with more than one run
/// `NAME: median of N fresh processes: v1 v2 ...` on stderr, then `name value
/// unit` on stdout (a second line for name2, the median of more[0]). False
/// if no baseline has that name. Call before this process starts any actor
/// system or gRPC.
template <size_t N>
bool run_baseline(const options& o, const baseline_def (&defs)[N], const baseline_runs& how = {}) {
  for (auto& def : defs) {
    if (o.figure != def.arg)
      continue;
    if (how.scratch)
      (void) scratch_dir(); // made before the runs fork, removed at exit
    auto samples = run_forked(def.single_run ? 1 : o.runs(), [&] { return def.measure(o); });
    auto& median = samples[samples.size() / 2];
    for (auto& n : median.notes)
      std::cerr << def.name << ": " << n << "\n";
    if (samples.size() > 1) {
      std::cerr << def.name << ": median of " << samples.size() << " " << how.called << ":";
      for (auto& x : samples)
        std::cerr << " " << x.value;
      std::cerr << "\n";
    }
    print_baseline(def.name, median.value, def.unit);
    if (def.name2)
      print_baseline(def.name2, median_of_more(samples, 0), def.unit);
    return true;
  }
  return false;
}

} // namespace bench
