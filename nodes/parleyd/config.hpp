#pragma once

// parleyd's settings: defaults, then the YAML config file (--config), then
// flags. nodes/configs/ has annotated examples; docs/operations.md lists
// every key.

#include <cstdint>
#include <string>

#include "cluster.hpp"
#include "demo.hpp"
#include "parley/api/server.hpp"
#include "parley/node/node.hpp"

namespace parleyd {

struct daemon_options {
  parley::node_config node;
  parley::api::server_options api;
  /// Empty: no gRPC server (a demo-only node). Set by api.listen.
  bool api_enabled = true;
  /// File holding the HS256 key of bearer tokens (else the environment:
  /// PARLEY_TOKEN_KEY_FILE names such a file, PARLEY_TOKEN_KEY holds the
  /// key). Never a command-line value.
  std::string token_key_file;
  demo_options demo;
  bool demo_enabled = true;
  /// The network this node belongs to (cluster.*; docs/federation.md).
  cluster_options cluster;
  uint32_t tick_ms = 40;
  uint32_t nudges_per_tick = 3;
  double duration_s = 0;
  std::string log_level = "info";
  /// sync | async | memory; empty = sync with a data dir, else memory.
  std::string durability;
  /// How long SIGTERM waits for running calls before cancelling them.
  uint32_t shutdown_grace_ms = 10000;
  /// Print the one-line summary every second.
  bool summary = true;
};

/// Applies the YAML file at `path` over `opt`. Unknown keys and bad values
/// are errors naming the key, so a typo never goes unnoticed.
parley::expected<void> load_config(const std::string& path, daemon_options& opt);

/// Resolves what depends on several settings (durability default, the
/// admin token file). Call after flags.
parley::expected<void> finish_config(daemon_options& opt);

} // namespace parleyd
