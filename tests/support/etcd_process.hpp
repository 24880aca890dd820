#pragma once

// A throwaway etcd for tests: its own data directory on /dev/shm (etcd
// preallocates ~120 MB of log, and 3.4 cannot skip fsync), client and peer
// ports from binding port 0, ready when it answers a read. Killed with
// SIGKILL and its directory removed when the object goes away.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "support/process.hpp"

namespace parley::test {

/// A port the kernel just handed out for 127.0.0.1 (free until someone binds it).
inline int free_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0
      && getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

class etcd_process {
public:
  etcd_process() {
    std::string base = std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path().string();
    std::string tmpl = base + "/parley-etcd-XXXXXX";
    if (!mkdtemp(tmpl.data()))
      return;
    dir_ = tmpl;
    client_port_ = free_port();
    peer_port_ = free_port();
    start(true);
  }

  ~etcd_process() {
    proc_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  etcd_process(const etcd_process&) = delete;
  etcd_process& operator=(const etcd_process&) = delete;

  /// host:port of its client URL.
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }
  int client_port() const { return client_port_; }
  /// Started and answering reads.
  bool running() const { return proc_ && proc_->started() && ready_; }

  /// SIGKILL, then a restart on the same data directory and ports.
  void kill_and_restart() { start(false); }
  void kill() { proc_.reset(); }
  /// Restarts it (same data and ports) listening for clients on `host` as
  /// well as on 127.0.0.1: for nodes in other network namespaces.
  void listen_also(const std::string& host) {
    extra_host_ = host;
    start(false);
  }
  void stop_signal(int sig) { if (proc_) proc_->signal(sig); }

  /// Runs etcdctl against it; its output.
  std::string ctl(const std::string& args) const {
    std::string cmd = "ETCDCTL_API=3 etcdctl --endpoints=" + endpoint() + " " + args + " 2>&1";
    std::string out;
    if (auto* p = popen(cmd.c_str(), "r")) {
      char buf[4096];
      while (auto n = fread(buf, 1, sizeof buf, p))
        out.append(buf, n);
      pclose(p);
    }
    return out;
  }

private:
  // Ready when a read works (etcdctl endpoint health does one). The wait is
  // bounded, so a server that cannot start fails the test instead of
  // hanging it; one that exits (its port taken meanwhile, say) is started
  // again, its output shown; on its first start, on new ports (another
  // process may have taken one since free_port handed it out).
  void start(bool first) {
    ready_ = false;
    proc_.reset();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!proc_)
        proc_ = spawn();
      if (ctl("--dial-timeout=1s --command-timeout=2s endpoint health").find("is healthy") != std::string::npos) {
        ready_ = true;
        return;
      }
      if (auto code = proc_->wait_exit(std::chrono::milliseconds(0)); code != -1000) {
        std::fprintf(stderr, "etcd exited with %d, starting it again; it said:\n%s\n", code, proc_->output().c_str());
        proc_.reset();
        if (first) {
          client_port_ = free_port();
          peer_port_ = free_port();
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::fprintf(stderr, "etcd did not answer within 30 s\n");
  }

  std::unique_ptr<child_process> spawn() const {
    const auto client = "http://127.0.0.1:" + std::to_string(client_port_);
    const auto peer = "http://127.0.0.1:" + std::to_string(peer_port_);
    const auto listen =
      extra_host_.empty() ? client : client + ",http://" + extra_host_ + ":" + std::to_string(client_port_);
    return std::make_unique<child_process>(std::vector<std::string>{
      "/usr/bin/etcd", "--name", "t", "--data-dir", dir_, "--listen-client-urls", listen,
      "--advertise-client-urls", client, "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
      "--initial-cluster", "t=" + peer, "--initial-cluster-state", "new", "--logger", "zap", "--log-level",
      "error"}, std::string{}, std::vector<std::string>{}, true);
  }

  std::string dir_;
  std::string extra_host_;
  int client_port_ = 0;
  int peer_port_ = 0;
  std::unique_ptr<child_process> proc_;
  bool ready_ = false;
};

} // namespace parley::test
