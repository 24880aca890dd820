#include "parley/model/member_index.hpp"

#include <functional>

namespace parley {

namespace {

size_t hash_of(std::string_view id) {
  return std::hash<std::string_view>{}(id);
}

// Slots for n members: a power of two at least twice n (load <= 1/2 keeps
// probe runs short), at least 8.
size_t slots_for(size_t n) {
  size_t cap = 8;
  while (cap < 2 * n)
    cap *= 2;
  return cap;
}

} // namespace

void member_index::place(const std::vector<room_member>& members, uint32_t pos) {
  const size_t mask = slots_.size() - 1;
  size_t i = hash_of(members[pos].id) & mask;
  while (slots_[i] != empty)
    i = (i + 1) & mask;
  slots_[i] = pos;
}

void member_index::rebuild(const std::vector<room_member>& members) {
  slots_.assign(slots_for(members.size()), empty);
  for (size_t p = 0; p < members.size(); ++p)
    place(members, static_cast<uint32_t>(p));
  size_ = members.size();
}

void member_index::add(const std::vector<room_member>& members, size_t pos) {
  if (slots_.size() < slots_for(size_ + 1)) {
    rebuild(members);
    return;
  }
  place(members, static_cast<uint32_t>(pos));
  ++size_;
}

std::optional<size_t> member_index::find(const std::vector<room_member>& members,
                                         std::string_view id) const {
  if (slots_.empty())
    return std::nullopt;
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash_of(id) & mask; slots_[i] != empty; i = (i + 1) & mask)
    if (members[slots_[i]].id == id)
      return slots_[i];
  return std::nullopt;
}

} // namespace parley
