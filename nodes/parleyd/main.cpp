// parleyd: the Parley node daemon. Reads its config file and flags, starts
// a node (recovering its store) and the gRPC API, optionally builds the
// demo population, prints a live summary, and on SIGINT or SIGTERM drains
// and stops within the configured grace period.

#include <csignal>
#include <cstdio>
#include <ctime>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "config.hpp"
#include "demo.hpp"
#include "parley/api/server.hpp"
#include "parley/auth/token.hpp"
#include "parley/federation/peer_client.hpp"
#include "parley/node/node.hpp"

namespace {

using parleyd::daemon_options;

void print_summary(const parley::node_stats& now, const parley::node_stats& before, double secs) {
  auto rate = [secs](uint64_t a, uint64_t b) { return secs > 0 ? static_cast<double>(a - b) / secs : 0.0; };
  std::printf("agents %-6llu rooms %-4llu (closed %llu)  turns %-7llu (%6.1f/s)  messages %-8llu "
              "(%8.1f/s)  refused %llu\n",
              static_cast<unsigned long long>(now.agents), static_cast<unsigned long long>(now.rooms),
              static_cast<unsigned long long>(now.rooms_closed),
              static_cast<unsigned long long>(now.turns_granted),
              rate(now.turns_granted, before.turns_granted),
              static_cast<unsigned long long>(now.deliveries), rate(now.deliveries, before.deliveries),
              static_cast<unsigned long long>(now.refused));
  std::fflush(stdout);
}

// The value of --config, found before the flags are parsed: the file's
// settings are the defaults that flags then override.
std::string config_path(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a{argv[i]};
    if (a == "--config" && i + 1 < argc)
      return argv[i + 1];
    if (a.starts_with("--config="))
      return std::string{a.substr(9)};
  }
  return {};
}

} // namespace

int main(int argc, char** argv) {
  daemon_options opt;
  std::string config = config_path(argc, argv);
  if (!config.empty())
    if (auto ok = parleyd::load_config(config, opt); !ok) {
      std::fprintf(stderr, "parleyd: %s\n", ok.error().message.c_str());
      return 2;
    }
  CLI::App app{"parleyd: the Parley node daemon"};
  app.add_option("--config", config, "YAML config file (flags override its settings)");
  app.add_option("--node-id", opt.node.node_id, "Name of this node")->capture_default_str();
  app.add_option("--threads", opt.node.scheduler_threads, "Actor scheduler threads")
    ->capture_default_str()
    ->check(CLI::Range(1u, 256u));
  app.add_option("--data-dir", opt.node.data_dir,
                 "Directory of the node's RocksDB store (none: the node runs in memory)");
  app.add_option("--durability", opt.durability,
                 "sync | async | memory (default: sync with --data-dir, else memory)")
    ->check(CLI::IsMember({"sync", "async", "memory"}));
  app.add_option("--listen", opt.api.listen, "gRPC API address host:port (port 0: any free port)")
    ->capture_default_str();
  app.add_flag("!--no-api", opt.api_enabled, "Run without the gRPC API");
  app.add_option("--health-listen", opt.api.health_listen,
                 "host:port of a plaintext port serving only grpc.health.v1 (probes that cannot speak TLS)");
  app.add_option("--tls-cert", opt.api.tls_cert_file, "PEM certificate for TLS");
  app.add_option("--tls-key", opt.api.tls_key_file, "PEM private key for TLS");
  app.add_option("--token-key-file", opt.token_key_file,
                 "File with the HS256 key of bearer tokens (or env PARLEY_TOKEN_KEY_FILE / "
                 "PARLEY_TOKEN_KEY; without a key or client CAs the node is a development node)");
  app.add_option("--client-ca", opt.api.auth.client_ca_file,
                 "PEM bundle of CAs whose client certificates authenticate callers (mTLS)");
  app.add_flag("--insecure", opt.api.auth.insecure,
               "Serve a non-loopback address without TLS (tokens cross the network in the clear)");
  app.add_option("--inbox-limit", opt.node.attention.inbox_limit, "Pending messages per agent")
    ->capture_default_str()
    ->check(CLI::Range(1u, 1u << 24));
  app.add_option("--shutdown-grace-ms", opt.shutdown_grace_ms,
                 "How long SIGTERM waits for running calls")
    ->capture_default_str();
  app.add_option_function<std::string>(
    "--etcd",
    [&opt](const std::string& list) {
      opt.cluster.backend = "etcd";
      opt.cluster.etcd_endpoints.clear();
      for (size_t start = 0; start <= list.size();) {
        auto end = std::min(list.find(',', start), list.size());
        if (end > start)
          opt.cluster.etcd_endpoints.push_back(list.substr(start, end - start));
        start = end + 1;
      }
    },
    "Join the network coordinated by these etcd endpoints (host:port,...) instead of running alone");
  app.add_option("--advertise", opt.cluster.advertise,
                 "host:port at which the other nodes reach this node's API (default: the bound address)");
  app.add_option("--min-members", opt.cluster.min_members,
                 "Shards are given out once this many nodes are up (a starting network)")
    ->capture_default_str()
    ->check(CLI::Range(1u, 1024u));
  app.add_option("--agents", opt.demo.agents, "Demo agents")->capture_default_str();
  app.add_option("--group-rooms", opt.demo.group_rooms, "Demo group rooms")->capture_default_str();
  app.add_option("--direct-rooms", opt.demo.direct_rooms, "Demo direct rooms")->capture_default_str();
  app.add_option("--seed", opt.demo.seed, "Seed of the demo population and driver")
    ->capture_default_str();
  app.add_option("--tick-ms", opt.tick_ms, "Driver period in ms")
    ->capture_default_str()
    ->check(CLI::Range(1u, 60000u));
  app.add_option("--nudges-per-tick", opt.nudges_per_tick, "Agents nudged per driver tick")
    ->capture_default_str();
  app.add_option("--duration", opt.duration_s, "Stop after this many seconds (0 = until signalled)")
    ->capture_default_str()
    ->check(CLI::NonNegativeNumber);
  app.add_flag("!--no-demo", opt.demo_enabled, "Start without the demo population");
  app.add_option("--log-level", opt.log_level, "trace|debug|info|warn|error")
    ->capture_default_str()
    ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  if (auto ok = parleyd::finish_config(opt); !ok) {
    std::fprintf(stderr, "parleyd: %s\n", ok.error().message.c_str());
    return 2;
  }
  spdlog::set_level(spdlog::level::from_str(opt.log_level));
  if (!config.empty())
    spdlog::info("config '{}'", config);

  // Block the stop signals before any thread starts, so that every CAF
  // worker inherits the mask and only sigtimedwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // The network's view first: the node starts knowing which shards are its.
  auto connected = parleyd::cluster_membership::connect(opt.cluster, opt.node.node_id);
  if (!connected) {
    spdlog::error("cannot join the network: {}", parley::to_string(connected.error()));
    return 1;
  }
  auto membership = std::move(*connected);
  // After membership: the links' threads ask it for addresses until the
  // transport goes, which is before it (locals go in reverse order).
  std::shared_ptr<parley::federation::peer_transport> peers;
  if (auto network = membership->network()) {
    opt.node.cluster = network;
    parley::federation::peer_client_options po;
    po.node = opt.node.node_id;
    po.address_of = [m = membership.get()](const std::string& peer) { return m->address_of(peer); };
    po.tls_ca_file = opt.cluster.peer_ca_file;
    po.tls_cert_file = opt.cluster.peer_cert_file;
    po.tls_key_file = opt.cluster.peer_key_file;
    po.max_pending = opt.cluster.peer_outbox_limit;
    po.max_pending_bytes = opt.cluster.peer_outbox_bytes;
    if (auto key = opt.api.auth.token_key) {
      // Peers authenticate this node as the node principal named after it.
      po.bearer_token = [key = *key, who = opt.node.node_id, iss = opt.api.auth.issuer, aud = opt.api.auth.audience] {
        parley::auth::token_claims c;
        c.who = parley::principal::node(who);
        c.issuer = iss;
        c.audience = aud;
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
        c.issued_at = now;
        c.expires_at = now + 3600;
        auto t = parley::auth::issue_token(key, c);
        return t ? *t : std::string{};
      };
    }
    if (!opt.api.auth.token_key && opt.api.auth.has_credentials() && opt.cluster.peer_cert_file.empty()) {
      spdlog::error("this node wants credentials from its callers, its peers included, but has none to present to "
                    "them: set cluster.peer_cert_file and cluster.peer_key_file (its node certificate, "
                    "URI SAN parley:node:{}) or auth.token_key_file (the network's shared token key)",
                    opt.node.node_id);
      return 1;
    }
    auto made = parley::federation::make_peer_client(std::move(po));
    if (!made) {
      spdlog::error("cannot set up the links to other nodes: {}", parley::to_string(made.error()));
      return 1;
    }
    peers = std::move(*made);
    opt.node.peers = peers;
    opt.node.move_pause = std::chrono::milliseconds(opt.cluster.move_pause_ms);
    opt.node.outbox_limit = opt.cluster.peer_outbox_limit;
    opt.node.outbox_wait = std::chrono::milliseconds(opt.cluster.outbox_wait_ms);
  }

  auto started = parley::node::start(opt.node);
  opt.node.peers.reset(); // held by the node and `peers` only
  if (!started) {
    spdlog::error("cannot start node: {}", parley::to_string(started.error()));
    return 1;
  }
  auto& n = **started;
  spdlog::info("node '{}' started with {} scheduler threads", opt.node.node_id,
               opt.node.scheduler_threads);
  spdlog::info("durability '{}'{}", opt.durability,
               opt.node.data_dir.empty() ? "" : ", data in '" + opt.node.data_dir + "'");
  std::unique_ptr<parley::api::server> api;
  if (opt.api_enabled) {
    auto s = parley::api::server::start(n, opt.api);
    if (!s) {
      spdlog::error("cannot start the gRPC API: {}", parley::to_string(s.error()));
      return 1;
    }
    api = std::move(*s);
    const auto mode = api->security_mode();
    if (opt.api.auth.insecure && !parley::api::is_loopback(opt.api.listen)
        && opt.api.tls_cert_file.empty())
      spdlog::warn("*** --insecure: the API on {} has no transport security; anyone on the "
                   "network can read its traffic, bearer tokens included ***",
                   api->address());
    if (!opt.api.auth.has_credentials())
      spdlog::warn("no credentials configured (auth.token_key_file or auth.client_ca_file): a "
                   "development node, every caller is its admin");
    spdlog::info("gRPC API listening on {} ({})", api->address(), mode);
    if (api->health_port() != 0)
      spdlog::info("health probes (grpc.health.v1 only, plaintext) on port {}", api->health_port());
  }
  // Joined once the API serves, so that what the others see is reachable.
  const uint64_t incarnation =
    n.incarnation() != 0 ? n.incarnation()
                         : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
  if (auto joined = membership->join(api ? api->address() : "", incarnation); !joined) {
    spdlog::error("cannot join the network: {}", parley::to_string(joined.error()));
    if (api)
      api->shutdown(std::chrono::milliseconds(0));
    n.stop();
    return 1;
  }
  int exit_code = 0;
  if (opt.demo_enabled && membership->network() && !membership->wait_for_shards(std::chrono::seconds(60))) {
    spdlog::warn("the network has not given out every shard within 60 s (fewer than cluster.min_members "
                 "nodes up?): no demo population");
    opt.demo_enabled = false;
  }
  if (opt.demo_enabled) {
    // A store that already holds a population keeps it: the demo goes on
    // with the recovered agents and rooms.
    if (n.stats().agents == 0) {
      if (auto ok = parleyd::build_demo(n, opt.demo); !ok) {
        spdlog::error("cannot build the demo population: {}", parley::to_string(ok.error()));
        return 1;
      }
    }
    n.start_driver(opt.demo.seed, std::chrono::milliseconds(opt.tick_ms), opt.nudges_per_tick);
    spdlog::info("demo population: {} agents, {} rooms; press Ctrl-C to stop", n.stats().agents,
                 n.stats().rooms);
  }

  auto before = n.stats();
  auto last = std::chrono::steady_clock::now();
  const auto t0 = last;
  for (;;) {
    timespec one_second{1, 0};
    int sig = sigtimedwait(&stop_signals, nullptr, &one_second);
    if (sig == SIGINT || sig == SIGTERM) {
      spdlog::info("received {}, draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
      break;
    }
    membership->tick();
    if (membership->coordinating())
      n.rebalance();
    if (n.hand_off_progress().done) {
      spdlog::info("every shard of this node is with another node now: leaving the network");
      break;
    }
    if (membership->lost()) {
      spdlog::error("this node lost its membership (its etcd lease ended): stopping; a restart joins "
                    "again as a new incarnation");
      exit_code = 3;
      break;
    }
    auto t = std::chrono::steady_clock::now();
    auto stats = n.stats();
    if (opt.summary)
      print_summary(stats, before, std::chrono::duration<double>(t - last).count());
    before = stats;
    last = t;
    if (opt.duration_s > 0 && std::chrono::duration<double>(t - t0).count() >= opt.duration_s)
      break;
  }
  // Graceful: refuse new calls (health says NOT_SERVING), stop the driver
  // and flush events, let running calls finish within the grace period,
  // then stop every actor and close the store.
  const auto drain_start = std::chrono::steady_clock::now();
  membership->leave();
  if (api)
    api->begin_drain();
  (void) n.drain(parley::principal::admin("parleyd"));
  if (api)
    api->shutdown(std::chrono::milliseconds(opt.shutdown_grace_ms));
  n.stop();
  auto fin = n.stats();
  spdlog::info("stopped in {} ms: {} messages delivered, {} turns granted",
               std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now() - drain_start)
                 .count(),
               fin.deliveries, fin.turns_granted);
  return exit_code;
}
