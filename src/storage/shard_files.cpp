// What a shard move needs from any store: which families move, and the
// checksum that tells a receiving node that a file arrived whole.

#include <filesystem>
#include <fstream>
#include <memory>
#include <set>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "storage/shard_files.hpp"

namespace parley::storage {

bool is_sharded(column c) noexcept {
  return c != column::meta && c != column::events && c != column::outbox;
}

expected<uint64_t> file_checksum(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return unexpected{errc::storage_failure, "cannot read '" + path + "'"};
  std::unique_ptr<XXH64_state_t, decltype(&XXH64_freeState)> state{XXH64_createState(), &XXH64_freeState};
  XXH64_reset(state.get(), 0);
  std::string buf(1 << 16, '\0');
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    XXH64_update(state.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad())
    return unexpected{errc::storage_failure, "cannot read '" + path + "'"};
  return static_cast<uint64_t>(XXH64_digest(state.get()));
}

expected<void> check_shard_files(const std::vector<shard_file>& files) {
  std::set<column> seen;
  for (auto& f : files) {
    const auto family = std::string{to_string(f.col)};
    if (!is_sharded(f.col) || !seen.insert(f.col).second)
      return unexpected{errc::invalid_argument, "a shard's files name family '" + family + "' "
                                                  + (is_sharded(f.col) ? "twice" : "that is not sharded")};
    std::error_code ec;
    const auto size = std::filesystem::file_size(f.path, ec);
    if (ec)
      return unexpected{errc::storage_failure, "the shard file of '" + family + "' (" + f.path + ") cannot be read: "
                                                 + ec.message()};
    if (size != f.size)
      return unexpected{errc::storage_failure, "the shard file of '" + family + "' has " + std::to_string(size)
                                                 + " bytes, not the " + std::to_string(f.size) + " exported"};
    auto sum = file_checksum(f.path);
    if (!sum)
      return unexpected{sum.error()};
    if (*sum != f.checksum)
      return unexpected{errc::storage_failure, "the shard file of '" + family
                                                 + "' is damaged: its checksum is not the one exported"};
  }
  return {};
}

expected<void> empty_dir_for_export(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec)
    return unexpected{errc::storage_failure, "cannot create '" + dir + "': " + ec.message()};
  if (!std::filesystem::is_empty(dir, ec) || ec)
    return unexpected{errc::failed_precondition, "a shard is exported into an empty directory; '" + dir
                                                   + "' is not"};
  return {};
}

} // namespace parley::storage
