#pragma once

// Errors as values. Every module boundary returns `expected<T>`; exceptions
// never cross one. `errc` is the one closed list of failure kinds; the API
// issue maps each value to exactly one gRPC status code.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace parley {

enum class errc : uint8_t {
  /// Input broke a documented rule (bad id, oversize field, unknown enum).
  invalid_argument = 1,
  /// The named agent, room or message does not exist.
  not_found,
  /// An agent or room with that id exists already.
  already_exists,
  /// The caller lacks the right (room role, manifest ownership).
  permission_denied,
  /// The state forbids it now: not your turn, room closed, agent retired.
  failed_precondition,
  /// A bounded resource is full (inbox); retry later.
  overloaded,
  /// The node is stopping or a part it needs is gone.
  unavailable,
  /// A position outside what is kept (an event offset already pruned).
  out_of_range,
  /// Durable storage failed to read or write.
  storage_failure,
  /// A bug: a state the code believes impossible.
  internal,
  /// The caller presented no credential, or one that is not valid (missing,
  /// malformed, expired, not yet valid, wrong audience, wrong signature).
  unauthenticated,
  /// No answer in time: the change may or may not have happened. Only a
  /// send with an id is safe to retry (its id makes the retry idempotent).
  deadline_exceeded,
};

/// Stable lower-case name of `x`, e.g. "not_found".
std::string_view to_string(errc x) noexcept;

/// The errc named `text` (as to_string gives it); internal if unknown.
errc parse_errc(std::string_view text) noexcept;

/// A failure: what kind, and a sentence for a person naming the ids involved.
struct error {
  errc code = errc::internal;
  std::string message;

  friend bool operator==(const error&, const error&) = default;
};

/// Renders "not_found: agent 'bob' does not exist".
std::string to_string(const error& x);

/// Tags an error for construction of a failed `expected`.
struct unexpected {
  error err;
  unexpected(errc code, std::string message) : err{code, std::move(message)} {}
  explicit unexpected(error e) : err(std::move(e)) {}
};

/// A value or an error (std::expected arrives in C++23; this is the subset we
/// use). Accessing the wrong alternative is a bug and throws
/// std::bad_variant_access.
template <class T>
class [[nodiscard]] expected {
public:
  expected(T value) : data_(std::in_place_index<0>, std::move(value)) {}
  expected(unexpected u) : data_(std::in_place_index<1>, std::move(u.err)) {}

  bool has_value() const noexcept { return data_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const parley::error& error() const& { return std::get<1>(data_); }

private:
  std::variant<T, parley::error> data_;
};

template <>
class [[nodiscard]] expected<void> {
public:
  expected() = default;
  expected(unexpected u) : err_(std::move(u.err)), ok_(false) {}

  bool has_value() const noexcept { return ok_; }
  explicit operator bool() const noexcept { return ok_; }
  const parley::error& error() const& { return err_; }

private:
  parley::error err_;
  bool ok_ = true;
};

} // namespace parley
