#pragma once

// Runs a real child process with its output captured, for system tests.

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

class child_process {
public:
  /// Starts `argv[0]` with `argv` (in directory `cwd` if set, with `env`
  /// entries "NAME=value" added to the environment); stdout and stderr go to
  /// one pipe.
  /// `die_with_parent`: the child gets SIGKILL if the test process dies
  /// first (a crashed test must not leave a server running).
  explicit child_process(std::vector<std::string> argv, std::string cwd = {},
                         std::vector<std::string> env = {}, bool die_with_parent = false) {
    // Everything the child needs is built before fork: between fork and
    // exec only async-signal-safe calls are allowed (a malloc there can
    // deadlock on a lock another thread held at the fork; seen under ASan).
    std::vector<char*> args;
    for (auto& a : argv)
      args.push_back(a.data());
    args.push_back(nullptr);
    std::vector<char*> envp;
    auto overridden = [&](std::string_view entry) {
      auto name = entry.substr(0, entry.find('=') + 1);
      for (auto& e : env)
        if (std::string_view{e}.substr(0, name.size()) == name)
          return true;
      return false;
    };
    for (char** e = environ; *e; ++e)
      if (!overridden(*e))
        envp.push_back(*e);
    for (auto& e : env)
      envp.push_back(e.data());
    envp.push_back(nullptr);
    int fds[2];
    if (pipe(fds) != 0)
      return;
    pid_ = fork();
    if (pid_ == 0) {
      if (die_with_parent)
        prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], STDOUT_FILENO);
      dup2(fds[1], STDERR_FILENO);
      close(fds[0]);
      close(fds[1]);
      if (!cwd.empty() && chdir(cwd.c_str()) != 0)
        _exit(126);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
  }

  ~child_process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0)
      close(out_);
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  bool started() const noexcept { return pid_ > 0; }

  /// Reads output until it contains `text` or `timeout` passes.
  bool wait_for_output(const std::string& text, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (output_.find(text) == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || !read_some(static_cast<int>(left.count())))
        return output_.find(text) != std::string::npos;
    }
    return true;
  }

  /// Keeps reading output for `duration` (so that a chatty child never
  /// blocks on a full pipe while the test waits).
  void read_for(std::chrono::milliseconds duration) {
    auto deadline = std::chrono::steady_clock::now() + duration;
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0)
        return;
      if (!read_some(static_cast<int>(left.count())) && exited_now())
        return;
    }
  }

  void signal(int sig) { kill(pid_, sig); }

  /// Waits for the exit; the exit code, -signal if killed, or -1000 on timeout.
  int wait_exit(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        while (read_some(0)) {
        }
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline)
        return -1000;
      read_some(20);
    }
  }

  const std::string& output() const noexcept { return output_; }

private:
  // True once the child has exited (reaped or not): its output ended.
  bool exited_now() {
    pollfd p{out_, POLLIN, 0};
    return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP) != 0 && (p.revents & POLLIN) == 0;
  }

  // Waits up to `ms` for output; false at end of file or when nothing came.
  bool read_some(int ms) {
    pollfd p{out_, POLLIN, 0};
    if (poll(&p, 1, ms) <= 0)
      return false;
    char buf[4096];
    auto n = read(out_, buf, sizeof buf);
    if (n <= 0)
      return false;
    output_.append(buf, static_cast<size_t>(n));
    return true;
  }

  pid_t pid_ = -1;
  int out_ = -1;
  bool exited_ = false;
  std::string output_;
};

} // namespace parley::test
