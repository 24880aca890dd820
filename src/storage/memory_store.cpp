#include "storage/memory_store.hpp"

#include <mutex>

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

uint64_t memory_store::estimate_count(column c) const {
  std::shared_lock guard{mtx_};
  return cols_[static_cast<size_t>(c)].size();
}

} // namespace parley::storage
