#pragma once

// Bearer tokens: JSON Web Tokens (RFC 7519) in the compact JWS form
// (RFC 7515) signed with HMAC-SHA256 under one secret the node and the
// issuer share. A token names a principal ("sub"), who issued it ("iss"),
// whom it is for ("aud") and when it expires ("exp").
//
// The algorithm is pinned: only HS256 is issued and only HS256 is accepted,
// whatever the token's header says ("none", "HS512", "RS256", ... are
// refused), because an algorithm chosen by the token is the classic JWT
// forgery. No OpenSSL or JSON types appear here; they stay in token.cpp.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "parley/auth/principal.hpp"
#include "parley/error.hpp"

namespace parley::auth {

/// Fewest bytes a secret may have: HS256 wants a key as long as its output
/// (RFC 7518 §3.2).
inline constexpr size_t min_key_bytes = 32;

/// Most bytes load_key_file and key_from_env accept, so that a wrong path
/// (a log, /dev/zero) is refused instead of read whole.
inline constexpr size_t max_key_bytes = 4096;

/// A shared HMAC secret of at least min_key_bytes bytes, used as raw bytes
/// (a base64 or hex text is not decoded). `openssl rand -base64 48` makes a
/// good one. Never print or log it.
struct token_key {
  std::string secret;
};

/// Reads the key from the file at `path`: its whole content, less one
/// trailing newline ("\n" or "\r\n"). Any file that reads (a pipe such as
/// /dev/stdin too).
/// Failure: invalid_argument when the file cannot be read, or holds fewer
/// than min_key_bytes or more than max_key_bytes bytes; the message names
/// the file but never contains bytes of it.
/// Thread-safe.
[[nodiscard]] expected<token_key> load_key_file(const std::string& path);

/// Reads the key from the environment variable `name` (same rules as
/// load_key_file: one trailing newline stripped, length bounds).
/// Failure: invalid_argument when the variable is unset or empty, or its
/// length is out of bounds; the message names the variable, never its value.
/// Thread-safe as far as std::getenv is (no concurrent setenv).
[[nodiscard]] expected<token_key> key_from_env(const char* name);

/// What a token says.
struct token_claims {
  /// "sub", as to_string(who): "agent:alice", "admin", "operator:oncall".
  principal who;
  /// "iss": who issued the token.
  std::string issuer;
  /// "aud": whom the token is for (issued as one string).
  std::string audience;
  /// "iat": when it was issued, seconds since the epoch (0 if the token has none).
  int64_t issued_at = 0;
  /// "nbf": not valid before, seconds since the epoch; 0 = none (omitted).
  int64_t not_before = 0;
  /// "exp": not valid after, seconds since the epoch; required (> 0).
  int64_t expires_at = 0;
  /// "jti": a unique id for the token; empty = none (omitted).
  std::string id;

  friend bool operator==(const token_claims&, const token_claims&) = default;
};

/// Signs `c` into a compact token "header.payload.signature" with the
/// header {"alg":"HS256","typ":"JWT"}.
/// Failure: invalid_argument when the key is shorter than min_key_bytes,
/// `c.who` is not a principal parse_principal accepts, issuer or audience
/// is empty, expires_at is not positive, or a text field is not valid UTF-8
/// (such a token could never be verified, so none is made); internal if
/// OpenSSL fails. Messages never contain the key.
/// Pure and thread-safe.
[[nodiscard]] expected<std::string> issue_token(const token_key& key, const token_claims& c);

/// What verify_token demands beyond a good signature.
struct verify_options {
  /// "iss" must equal it. Must not be empty. Default: empty.
  std::string issuer;
  /// "aud" must equal it, or be an array containing it. Must not be empty.
  /// Default: empty.
  std::string audience;
  /// Clock skew allowed for "exp" and "nbf", seconds (negative counts as 0).
  /// Default: 30.
  int64_t leeway_s = 30;
  /// Longer tokens are refused before any decoding. Default: 8192.
  size_t max_bytes = 8192;
};

/// Verifies `token` at time `now_s` (seconds since the epoch) and returns
/// its claims. Checks, in order: size and form (three base64url parts
/// without padding, each of the first two a JSON object), the header's
/// "alg" is exactly "HS256" (and "typ", if present, "JWT" in any case; a
/// "crit" header is refused), the signature (compared in constant time), then the claims:
/// "exp" a positive integer and now_s <= exp + leeway; "nbf", if present, an
/// integer and now_s + leeway >= nbf; "iat", if present, an integer; "iss"
/// equal to o.issuer; "aud" as o.audience says; "sub" a valid principal;
/// "jti", if present, a string.
/// Failure: unauthenticated, with a sentence saying which rule the token
/// broke; internal when the key is shorter than min_key_bytes or o.issuer or
/// o.audience is empty (a configuration bug: nothing would be checked).
/// Messages never contain the token, a part of it, or the key.
/// Pure and thread-safe.
[[nodiscard]] expected<token_claims> verify_token(const token_key& key, std::string_view token,
                                                  const verify_options& o, int64_t now_s);

/// Parses a duration in seconds: digits, then optionally one unit of "s",
/// "m", "h" or "d" ("45s", "30m", "1h", "7d", "3600"). Zero is allowed; the
/// caller bounds the range.
/// Failure: invalid_argument for anything else (empty, a sign, spaces,
/// another or a second unit, a value beyond int64 seconds).
/// Pure and thread-safe.
[[nodiscard]] expected<int64_t> parse_duration_s(std::string_view text);

} // namespace parley::auth
