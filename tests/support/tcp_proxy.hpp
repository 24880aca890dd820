#pragma once

// A TCP proxy on 127.0.0.1 for tests that need to cut a client off from a
// server and heal the link later: cut() closes every connection and refuses
// new ones until heal(). One thread accepts; one thread per connection
// copies bytes both ways.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <list>
#include <mutex>
#include <thread>

namespace parley::test {

class tcp_proxy {
public:
  explicit tcp_proxy(int upstream_port) : upstream_(upstream_port) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener_, 64) != 0
        || getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      return;
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~tcp_proxy() {
    stopping_ = true;
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    if (acceptor_.joinable())
      acceptor_.join();
    cut();
    std::list<std::thread> pumps;
    {
      std::lock_guard guard{mtx_};
      pumps.swap(pumps_);
    }
    for (auto& t : pumps)
      t.join();
  }

  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  int port() const noexcept { return port_; }
  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }

  /// Closes every connection through the proxy and refuses new ones.
  void cut() {
    cut_ = true;
    std::lock_guard guard{mtx_};
    for (int fd : open_)
      shutdown(fd, SHUT_RDWR);
  }
  /// Lets connections through again.
  void heal() { cut_ = false; }

private:
  void accept_loop() {
    while (!stopping_) {
      int client = accept(listener_, nullptr, nullptr);
      if (client < 0)
        return;
      if (cut_) {
        close(client);
        continue;
      }
      int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<uint16_t>(upstream_));
      if (connect(server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard guard{mtx_};
      open_.push_back(client);
      open_.push_back(server);
      pumps_.emplace_back([this, client, server] { pump(client, server); });
    }
  }

  void pump(int a, int b) {
    char buf[16384];
    pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    while (!cut_ && !stopping_) {
      if (poll(fds, 2, 50) < 0)
        break;
      bool done = false;
      for (int i = 0; i < 2 && !done; ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
          continue;
        auto n = read(fds[i].fd, buf, sizeof buf);
        for (ssize_t off = 0; n > 0 && off < n;) {
          // MSG_NOSIGNAL: a peer that closed must not SIGPIPE the test.
          auto w = send(fds[1 - i].fd, buf + off, static_cast<size_t>(n - off), MSG_NOSIGNAL);
          if (w <= 0)
            break;
          off += w;
        }
        if (n <= 0)
          done = true;
      }
      if (done)
        break;
    }
    std::lock_guard guard{mtx_};
    open_.remove(a);
    open_.remove(b);
    close(a);
    close(b);
  }

  int upstream_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> cut_{false};
  std::thread acceptor_;
  std::mutex mtx_;
  std::list<int> open_;
  std::list<std::thread> pumps_;
};

} // namespace parley::test
