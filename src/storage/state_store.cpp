#include "parley/storage/state_store.hpp"

#include "model/enum_names.hpp"
#include "storage/memory_store.hpp"
#include "storage/rocksdb_store.hpp"

namespace parley::storage {

namespace {

constexpr detail::enum_table<column, column_count> column_names{{
  {column::meta, "meta"},
  {column::agents, "agents"},
  {column::rooms, "rooms"},
  {column::moderators, "moderators"},
  {column::attention, "attention"},
  {column::messages, "messages"},
  {column::message_index, "message_index"},
  {column::inbox, "inbox"},
  {column::events, "events"},
  {column::members, "members"},
  {column::erasures, "erasures"},
  {column::outbox, "outbox"},
}};


} // namespace

std::string_view to_string(column c) noexcept {
  return detail::enum_name(column_names, c);
}


expected<std::unique_ptr<state_store>> open_store(const store_options& opt) {
  if (opt.mode == durability::memory)
    return std::unique_ptr<state_store>{new memory_store(opt.node_id)};
  try {
    return rocksdb_store::open(opt);
  } catch (const std::exception& e) {
    return unexpected{errc::storage_failure,
                      "cannot open store '" + opt.path + "': " + std::string{e.what()}};
  }
}

} // namespace parley::storage
