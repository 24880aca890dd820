#pragma once

#include <array>
#include <map>
#include <shared_mutex>

#include "parley/storage/state_store.hpp"

namespace parley::storage {

/// state_store in memory (durability::memory): ordered maps, nothing on disk.
class memory_store final : public state_store {
public:
  explicit memory_store(std::string node_id);

  expected<void> write(const write_batch& b) override;
  expected<std::optional<std::string>> get(column c, std::string_view key) const override;
  expected<void> scan(column c, std::string_view prefix, std::string_view start,
                      const scan_fn& fn) const override;
  expected<void> scan_reverse(column c, std::string_view prefix, std::string_view before,
                              const scan_fn& fn) const override;
  expected<void> checkpoint(const std::string& dir) const override;
  durability mode() const noexcept override { return durability::memory; }
  const std::string& node_id() const noexcept override { return node_id_; }
  uint64_t disk_bytes() const override { return 0; }
  uint64_t estimate_count(column c) const override;
  expected<std::vector<shard_file>> export_shard(uint32_t s, const std::string& dir) const override;
  expected<void> import_shard(uint32_t s, const std::vector<shard_file>& files) override;
  expected<void> compact() override { return {}; }

private:
  mutable std::shared_mutex mtx_;
  std::array<std::map<std::string, std::string, std::less<>>, column_count> cols_;
  std::string node_id_;
};

} // namespace parley::storage
