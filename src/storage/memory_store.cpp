#include "storage/memory_store.hpp"

#include <filesystem>
#include <fstream>
#include <mutex>

#include "parley/storage/records.hpp"
#include "storage/shard_files.hpp"

namespace parley::storage {

memory_store::memory_store(std::string node_id) : node_id_(std::move(node_id)) {
}

expected<void> memory_store::write(const write_batch& b) {
  std::unique_lock guard{mtx_};
  for (auto& op : b.ops()) {
    auto& m = cols_[static_cast<size_t>(op.col)];
    if (op.range)
      m.erase(m.lower_bound(op.key), m.lower_bound(op.value));
    else if (op.erase)
      m.erase(op.key);
    else
      m.insert_or_assign(op.key, op.value);
  }
  return {};
}

expected<std::optional<std::string>> memory_store::get(column c, std::string_view key) const {
  std::shared_lock guard{mtx_};
  auto& m = cols_[static_cast<size_t>(c)];
  auto i = m.find(key);
  if (i == m.end())
    return std::optional<std::string>{};
  return std::optional<std::string>{i->second};
}

expected<void> memory_store::scan(column c, std::string_view prefix, std::string_view start,
                                  const scan_fn& fn) const {
  std::shared_lock guard{mtx_};
  auto& m = cols_[static_cast<size_t>(c)];
  std::string_view from = start.empty() || start < prefix ? prefix : start;
  for (auto i = m.lower_bound(from); i != m.end(); ++i) {
    if (std::string_view{i->first}.substr(0, prefix.size()) != prefix)
      break;
    if (!fn(i->first, i->second))
      break;
  }
  return {};
}

expected<void> memory_store::scan_reverse(column c, std::string_view prefix,
                                          std::string_view before, const scan_fn& fn) const {
  std::shared_lock guard{mtx_};
  auto& m = cols_[static_cast<size_t>(c)];
  auto i = before.empty() ? m.end() : m.lower_bound(before);
  if (before.empty()) {
    // Past the prefix range: first key not starting with prefix that is > it.
    i = m.lower_bound(prefix);
    while (i != m.end() && std::string_view{i->first}.substr(0, prefix.size()) == prefix)
      ++i;
  }
  while (i != m.begin()) {
    --i;
    if (std::string_view{i->first}.substr(0, prefix.size()) != prefix)
      break;
    if (!fn(i->first, i->second))
      break;
  }
  return {};
}

expected<void> memory_store::checkpoint(const std::string&) const {
  return unexpected{errc::failed_precondition,
                    "a memory store (durability 'memory') has no files to checkpoint"};
}

// A memory node's shard moves too (its data lives as long as the process):
// its files are plain (length, bytes) pairs of keys and values.
namespace {

void put_bytes(std::ofstream& out, std::string_view b) {
  const auto n = static_cast<uint32_t>(b.size());
  const char len[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
                       static_cast<char>(n)};
  out.write(len, 4);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
}

bool get_bytes(std::ifstream& in, std::string& b) {
  unsigned char len[4];
  if (!in.read(reinterpret_cast<char*>(len), 4))
    return false;
  b.resize(uint32_t{len[0]} << 24 | uint32_t{len[1]} << 16 | uint32_t{len[2]} << 8 | len[3]);
  return static_cast<bool>(in.read(b.data(), static_cast<std::streamsize>(b.size())));
}

} // namespace

expected<std::vector<shard_file>> memory_store::export_shard(uint32_t s, const std::string& dir) const {
  if (auto ok = empty_dir_for_export(dir); !ok)
    return unexpected{ok.error()};
  const auto lo = shard_begin(s);
  const auto hi = shard_begin(s + 1);
  std::vector<shard_file> out;
  std::shared_lock guard{mtx_};
  // The posts of other shards that the shard's inbox entries name (a room's
  // post is stored under the room's shard), as in the RocksDB store.
  std::map<std::string, std::string> named;
  auto& inbox = cols_[static_cast<size_t>(column::inbox)];
  auto& messages = cols_[static_cast<size_t>(column::messages)];
  for (auto it = inbox.lower_bound(lo); it != inbox.lower_bound(hi); ++it)
    if (it->second.compare(0, 2, lo) != 0)
      if (auto m = messages.find(it->second); m != messages.end())
        named.emplace(m->first, m->second);
  for (int i = 0; i < column_count; ++i) {
    const auto c = static_cast<column>(i);
    auto& m = cols_[static_cast<size_t>(i)];
    auto first = m.lower_bound(lo);
    auto last = m.lower_bound(hi);
    const bool extra = c == column::messages && !named.empty();
    if (!is_sharded(c) || (first == last && !extra))
      continue;
    const auto path = dir + "/" + std::string{to_string(c)} + ".kv";
    {
      std::ofstream f(path, std::ios::binary);
      for (auto it = first; it != last; ++it) {
        put_bytes(f, it->first);
        put_bytes(f, it->second);
      }
      if (extra)
        for (auto& [k, v] : named) {
          put_bytes(f, k);
          put_bytes(f, v);
        }
      if (!f.flush())
        return unexpected{errc::storage_failure, "cannot write '" + path + "'"};
    }
    auto sum = file_checksum(path);
    if (!sum)
      return unexpected{sum.error()};
    std::error_code ec;
    out.push_back(shard_file{c, path, std::filesystem::file_size(path, ec), *sum});
  }
  return out;
}

expected<void> memory_store::import_shard(uint32_t s, const std::vector<shard_file>& files) {
  if (auto ok = check_shard_files(files); !ok)
    return ok;
  std::array<std::map<std::string, std::string, std::less<>>, column_count> incoming;
  for (auto& f : files) {
    std::ifstream in(f.path, std::ios::binary);
    std::string k, v;
    while (get_bytes(in, k)) {
      // Only the messages file names keys of other shards (posts).
      if (!get_bytes(in, v) || (shard_of_key(k) != s && f.col != column::messages))
        return unexpected{errc::storage_failure, "the shard file '" + f.path + "' is not a shard " + std::to_string(s)
                                                   + " export"};
      incoming[static_cast<size_t>(f.col)].insert_or_assign(std::move(k), std::move(v));
    }
  }
  const auto lo = shard_begin(s);
  const auto hi = shard_begin(s + 1);
  std::unique_lock guard{mtx_};
  for (int i = 0; i < column_count; ++i) {
    if (!is_sharded(static_cast<column>(i)))
      continue;
    auto& m = cols_[static_cast<size_t>(i)];
    m.erase(m.lower_bound(lo), m.lower_bound(hi));
    for (auto& [k, v] : incoming[static_cast<size_t>(i)])
      m.insert_or_assign(k, v);
  }
  // Consumed, as RocksDB's import moves them into its store.
  std::error_code ec;
  for (auto& f : files)
    std::filesystem::remove(f.path, ec);
  return {};
}

uint64_t memory_store::estimate_count(column c) const {
  std::shared_lock guard{mtx_};
  return cols_[static_cast<size_t>(c)].size();
}

} // namespace parley::storage
