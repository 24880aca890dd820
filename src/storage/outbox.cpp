// Outbox records (parley/storage/outbox.hpp).

#include "parley/storage/outbox.hpp"

#include "parley/storage/records.hpp"
#include "parley/v1/storage.pb.h"

namespace parley::storage {

namespace pb = v1::storage;

std::string outbox_key(uint64_t seq) {
  return u64_key(seq);
}

std::string encode(const outbox_entry& x) {
  pb::OutboxRecord r;
  r.set_kind(x.what == outbox_entry::kind::direct ? "direct" : "room_delivery");
  r.set_message(encode(x.msg));
  for (auto& m : x.members)
    r.add_members(m);
  return r.SerializeAsString();
}

expected<outbox_entry> decode_outbox(std::string_view key, std::string_view bytes) {
  const auto what = "outbox entry " + std::to_string(key.size() == 8 ? parse_u64_key(key) : 0);
  pb::OutboxRecord r;
  if (key.size() != 8 || !r.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return unexpected{errc::storage_failure, "stored " + what + " cannot be decoded: not a valid record"};
  outbox_entry x;
  x.seq = parse_u64_key(key);
  if (r.kind() == "direct")
    x.what = outbox_entry::kind::direct;
  else if (r.kind() == "room_delivery")
    x.what = outbox_entry::kind::room_delivery;
  else
    return unexpected{errc::storage_failure, "stored " + what + " cannot be decoded: unknown kind '" + r.kind() + "'"};
  auto m = decode_message(r.message());
  if (!m)
    return unexpected{m.error().code, what + ": " + m.error().message};
  x.msg = std::move(*m);
  x.members.assign(r.members().begin(), r.members().end());
  return x;
}

expected<std::vector<outbox_entry>> load_outbox(const state_store& store) {
  std::vector<outbox_entry> out;
  std::optional<error> bad;
  auto ok = store.scan(column::outbox, {}, {}, [&](std::string_view k, std::string_view v) {
    auto e = decode_outbox(k, v);
    if (!e) {
      bad = e.error();
      return false;
    }
    out.push_back(std::move(*e));
    return true;
  });
  if (!ok)
    return unexpected{ok.error()};
  if (bad)
    return unexpected{*bad};
  return out;
}

} // namespace parley::storage
