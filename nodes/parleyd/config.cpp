#include "config.hpp"

#include <fstream>
#include <functional>
#include <map>
#include <cstdlib>

#include <yaml-cpp/yaml.h>

namespace parleyd {

namespace {

using parley::errc;
using parley::unexpected;

// Every known key (section.key) with how to apply its value.
using setter = std::function<void(const YAML::Node&, daemon_options&)>;

template <class T>
setter set(T daemon_options::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.*field = v.as<T>(); };
}

template <class T>
setter set_node(T parley::node_config::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.node.*field = v.as<T>(); };
}

template <class T>
setter set_api(T parley::api::server_options::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.api.*field = v.as<T>(); };
}

template <class T>
setter set_auth(T parley::api::auth_options::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.api.auth.*field = v.as<T>(); };
}

template <class T>
setter set_api_limit(T parley::api::api_limits::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.api.limits.*field = v.as<T>(); };
}

template <class T>
setter set_limit(T parley::node_limits::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.node.limits.*field = v.as<T>(); };
}

template <class T>
setter set_demo(T demo_options::*field) {
  return [field](const YAML::Node& v, daemon_options& o) { o.demo.*field = v.as<T>(); };
}

const std::map<std::string, setter>& keys() {
  static const std::map<std::string, setter> k{
    {"node.id", set_node(&parley::node_config::node_id)},
    {"node.threads", set_node(&parley::node_config::scheduler_threads)},
    {"node.data_dir", set_node(&parley::node_config::data_dir)},
    {"node.durability", set(&daemon_options::durability)},
    {"node.record_message_events", set_node(&parley::node_config::record_message_events)},
    {"node.call_timeout_ms",
     [](const YAML::Node& v, daemon_options& o) {
       o.node.call_timeout = std::chrono::milliseconds(v.as<uint32_t>());
     }},
    {"limits.inbox",
     [](const YAML::Node& v, daemon_options& o) { o.node.attention.inbox_limit = v.as<uint32_t>(); }},
    {"limits.max_request_bytes", set_api(&parley::api::server_options::max_request_bytes)},
    {"limits.requests_per_second", set_api_limit(&parley::api::api_limits::requests_per_second)},
    {"limits.request_burst", set_api_limit(&parley::api::api_limits::request_burst)},
    {"limits.streams_per_principal", set_api_limit(&parley::api::api_limits::streams_per_principal)},
    {"limits.api_threads", set_api_limit(&parley::api::api_limits::max_threads)},
    {"limits.api_memory_bytes", set_api_limit(&parley::api::api_limits::max_memory)},
    {"limits.max_reply_hops", set_limit(&parley::node_limits::max_reply_hops)},
    {"limits.backlog", set_limit(&parley::node_limits::backlog)},
    {"limits.read_ahead", set_limit(&parley::node_limits::read_ahead)},
    {"limits.max_subscriptions", set_limit(&parley::node_limits::max_subscriptions)},
    {"limits.subscription_queue", set_limit(&parley::node_limits::subscription_queue)},
    {"limits.max_links", set_limit(&parley::node_limits::max_links)},
    {"limits.max_members", set_limit(&parley::node_limits::max_members)},
    {"limits.history_max_age_ms", set_limit(&parley::node_limits::history_max_age_ms)},
    {"limits.history_max_per_dialogue", set_limit(&parley::node_limits::history_max_per_dialogue)},
    {"limits.idempotency_window_ms", set_limit(&parley::node_limits::idempotency_window_ms)},
    {"limits.retention_interval_ms", set_limit(&parley::node_limits::retention_interval_ms)},
    {"limits.idle_dialogues",
     [](const YAML::Node& v, daemon_options& o) { o.node.attention.max_idle_dialogues = v.as<uint32_t>(); }},
    {"events.retained_in_memory", set_node(&parley::node_config::event_retention)},
    {"events.retained_on_disk", set_node(&parley::node_config::event_log_retention)},
    {"events.max_age_ms", set_node(&parley::node_config::event_log_max_age_ms)},
    {"api.enabled", set(&daemon_options::api_enabled)},
    {"api.listen", set_api(&parley::api::server_options::listen)},
    {"api.tls_cert_file", set_api(&parley::api::server_options::tls_cert_file)},
    {"api.health_listen", set_api(&parley::api::server_options::health_listen)},
    {"api.tls_key_file", set_api(&parley::api::server_options::tls_key_file)},
    {"auth.token_key_file", set(&daemon_options::token_key_file)},
    {"auth.issuer", set_auth(&parley::api::auth_options::issuer)},
    {"auth.audience", set_auth(&parley::api::auth_options::audience)},
    {"auth.leeway_s", set_auth(&parley::api::auth_options::leeway_s)},
    {"auth.client_ca_file", set_auth(&parley::api::auth_options::client_ca_file)},
    {"auth.insecure", set_auth(&parley::api::auth_options::insecure)},
    {"api.retry_after_ms", set_api(&parley::api::server_options::retry_after_ms)},
    {"log.level", set(&daemon_options::log_level)},
    {"log.summary", set(&daemon_options::summary)},
    {"shutdown.grace_ms", set(&daemon_options::shutdown_grace_ms)},
    {"cluster.backend", [](const YAML::Node& v, daemon_options& o) { o.cluster.backend = v.as<std::string>(); }},
    {"cluster.etcd_endpoints",
     [](const YAML::Node& v, daemon_options& o) { o.cluster.etcd_endpoints = v.as<std::vector<std::string>>(); }},
    {"cluster.prefix", [](const YAML::Node& v, daemon_options& o) { o.cluster.prefix = v.as<std::string>(); }},
    {"cluster.lease_ttl_ms", [](const YAML::Node& v, daemon_options& o) { o.cluster.lease_ttl_ms = v.as<uint32_t>(); }},
    {"cluster.keepalive_ms", [](const YAML::Node& v, daemon_options& o) { o.cluster.keepalive_ms = v.as<uint32_t>(); }},
    {"cluster.advertise", [](const YAML::Node& v, daemon_options& o) { o.cluster.advertise = v.as<std::string>(); }},
    {"cluster.min_members", [](const YAML::Node& v, daemon_options& o) { o.cluster.min_members = v.as<uint32_t>(); }},
    {"cluster.peer_ca_file", [](const YAML::Node& v, daemon_options& o) { o.cluster.peer_ca_file = v.as<std::string>(); }},
    {"cluster.peer_cert_file", [](const YAML::Node& v, daemon_options& o) { o.cluster.peer_cert_file = v.as<std::string>(); }},
    {"cluster.peer_key_file", [](const YAML::Node& v, daemon_options& o) { o.cluster.peer_key_file = v.as<std::string>(); }},
    {"cluster.peer_outbox_limit",
     [](const YAML::Node& v, daemon_options& o) { o.cluster.peer_outbox_limit = v.as<uint32_t>(); }},
    {"cluster.peer_outbox_bytes",
     [](const YAML::Node& v, daemon_options& o) { o.cluster.peer_outbox_bytes = v.as<uint64_t>(); }},
    {"cluster.move_pause_ms", [](const YAML::Node& v, daemon_options& o) { o.cluster.move_pause_ms = v.as<uint32_t>(); }},
    {"cluster.outbox_wait_ms", [](const YAML::Node& v, daemon_options& o) { o.cluster.outbox_wait_ms = v.as<uint32_t>(); }},
    {"demo.enabled", set(&daemon_options::demo_enabled)},
    {"demo.agents", set_demo(&demo_options::agents)},
    {"demo.group_rooms", set_demo(&demo_options::group_rooms)},
    {"demo.direct_rooms", set_demo(&demo_options::direct_rooms)},
    {"demo.seed", set_demo(&demo_options::seed)},
    {"demo.tick_ms", set(&daemon_options::tick_ms)},
    {"demo.nudges_per_tick", set(&daemon_options::nudges_per_tick)},
  };
  return k;
}

} // namespace

parley::expected<void> load_config(const std::string& path, daemon_options& opt) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return unexpected{errc::invalid_argument, "config '" + path + "' cannot be read"};
  } catch (const YAML::Exception& e) {
    return unexpected{errc::invalid_argument, "config '" + path + "' is not valid YAML: " + e.what()};
  }
  if (root.IsNull())
    return {};
  if (!root.IsMap())
    return unexpected{errc::invalid_argument, "config '" + path + "': the top level must be a map"};
  for (const auto& section : root) {
    const auto name = section.first.as<std::string>();
    if (!section.second.IsMap())
      return unexpected{errc::invalid_argument,
                        "config '" + path + "': '" + name + "' must be a map of settings"};
    for (const auto& kv : section.second) {
      const auto key = name + "." + kv.first.as<std::string>();
      auto it = keys().find(key);
      if (it == keys().end())
        return unexpected{errc::invalid_argument,
                          "config '" + path + "': unknown setting '" + key + "'"};
      try {
        it->second(kv.second, opt);
      } catch (const YAML::Exception&) {
        return unexpected{errc::invalid_argument, "config '" + path + "': '" + key
                                                    + "' has a value of the wrong type"};
      }
    }
  }
  return {};
}

parley::expected<void> finish_config(daemon_options& opt) {
  if (opt.durability.empty())
    opt.durability = opt.node.data_dir.empty() ? "memory" : "sync";
  auto d = parley::parse_durability(opt.durability);
  if (!d)
    return unexpected{errc::invalid_argument,
                      "durability '" + opt.durability + "': must be sync, async or memory"};
  opt.node.durability = *d;
  if (opt.node.scheduler_threads == 0 || opt.node.scheduler_threads > 256)
    return unexpected{errc::invalid_argument, "node.threads: must be 1 to 256"};
  if (opt.node.attention.inbox_limit == 0)
    return unexpected{errc::invalid_argument, "limits.inbox: must be at least 1"};
  if (opt.cluster.backend != "single" && opt.cluster.backend != "etcd")
    return unexpected{errc::invalid_argument,
                      "cluster.backend '" + opt.cluster.backend + "': must be single or etcd"};
  if (opt.cluster.backend == "etcd" && opt.cluster.etcd_endpoints.empty())
    return unexpected{errc::invalid_argument, "cluster.backend etcd needs cluster.etcd_endpoints (or --etcd)"};
  if (opt.cluster.keepalive_ms == 0 || opt.cluster.keepalive_ms >= opt.cluster.lease_ttl_ms)
    return unexpected{errc::invalid_argument, "cluster.keepalive_ms must be above 0 and below cluster.lease_ttl_ms"};
  if (opt.cluster.peer_outbox_limit == 0 || opt.cluster.peer_outbox_bytes < 4096)
    return unexpected{errc::invalid_argument,
                      "cluster.peer_outbox_limit must be at least 1 and cluster.peer_outbox_bytes at least 4096"};
  // The token key: a file (config), else the environment; never a flag, so
  // it never shows in a process listing or a shell history.
  std::string key_file = opt.token_key_file;
  if (key_file.empty())
    if (const char* f = std::getenv("PARLEY_TOKEN_KEY_FILE"); f && *f)
      key_file = f;
  if (!key_file.empty()) {
    auto key = parley::auth::load_key_file(key_file);
    if (!key)
      return unexpected{errc::invalid_argument, "auth.token_key_file: " + key.error().message};
    opt.api.auth.token_key = std::move(*key);
  } else if (const char* k = std::getenv("PARLEY_TOKEN_KEY"); k && *k) {
    auto key = parley::auth::key_from_env("PARLEY_TOKEN_KEY");
    if (!key)
      return unexpected{errc::invalid_argument, key.error().message};
    opt.api.auth.token_key = std::move(*key);
  }
  return {};
}

} // namespace parleyd
