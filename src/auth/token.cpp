#include "parley/auth/token.hpp"

#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace parley::auth {

namespace {

using json = nlohmann::json;

constexpr size_t sha256_bytes = 32;

// -- base64url (RFC 4648 §5) without padding, as JWS requires ------------------

constexpr char b64url_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string b64url_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  auto byte = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(in[k])); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(b64url_alphabet[(v >> 18) & 63]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
    out.push_back(b64url_alphabet[(v >> 6) & 63]);
    out.push_back(b64url_alphabet[v & 63]);
  }
  if (in.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    out.push_back(b64url_alphabet[(v >> 18) & 63]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
  } else if (in.size() - i == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(b64url_alphabet[(v >> 18) & 63]);
    out.push_back(b64url_alphabet[(v >> 12) & 63]);
    out.push_back(b64url_alphabet[(v >> 6) & 63]);
  }
  return out;
}

int b64url_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

// Strict: only the URL-safe alphabet, no padding, no whitespace, and the
// unused low bits of the last character zero. Only the canonical spelling
// decodes, so one signature has exactly one textual form.
std::optional<std::string> b64url_decode(std::string_view in) {
  if (in.size() % 4 == 1)
    return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = b64url_value(c);
    if (v < 0)
      return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  if ((acc & ((1u << bits) - 1)) != 0)
    return std::nullopt;
  return out;
}

// -- HMAC ------------------------------------------------------------------------

std::optional<std::array<unsigned char, sha256_bytes>> hmac_sha256(std::string_view key,
                                                                   std::string_view data) {
  std::array<unsigned char, sha256_bytes> mac{};
  unsigned int len = 0;
  if (key.size() > static_cast<size_t>(INT_MAX))
    return std::nullopt;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &len)
        == nullptr
      || len != sha256_bytes)
    return std::nullopt;
  return mac;
}

// -- keys ------------------------------------------------------------------------

void strip_one_newline(std::string& s) {
  if (!s.empty() && s.back() == '\n') {
    s.pop_back();
    if (!s.empty() && s.back() == '\r')
      s.pop_back();
  }
}

// The length rules shared by both sources; `what` names the source
// ("token key file '/etc/parley/key'"). Only lengths go into the message.
expected<token_key> checked_key(std::string secret, const std::string& what) {
  strip_one_newline(secret);
  if (secret.size() < min_key_bytes)
    return unexpected{errc::invalid_argument,
                      what + " holds " + std::to_string(secret.size()) + " bytes; a token key needs at least "
                        + std::to_string(min_key_bytes)};
  if (secret.size() > max_key_bytes)
    return unexpected{errc::invalid_argument, what + " holds more than " + std::to_string(max_key_bytes)
                                                + " bytes; is it the right file?"};
  return token_key{std::move(secret)};
}

// -- JSON helpers -----------------------------------------------------------------

// An integer claim as int64: floats ("1.7e9") and integers beyond int64 are
// not NumericDates we accept.
std::optional<int64_t> as_int64(const json& v) {
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_integer())
    return v.get<int64_t>();
  return std::nullopt;
}

// Decodes one part into a JSON object; nullopt if it is not one. nlohmann
// keeps the last of duplicate members, which RFC 7515 §5.2 permits.
std::optional<json> decode_object(std::string_view part) {
  auto text = b64url_decode(part);
  if (!text)
    return std::nullopt;
  auto doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object())
    return std::nullopt;
  return doc;
}

int64_t saturating_add(int64_t a, int64_t b) noexcept {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r))
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  return r;
}

bool is_jwt(const json& typ) {
  const auto& t = typ.get_ref<const std::string&>();
  return t.size() == 3 && (t[0] | 0x20) == 'j' && (t[1] | 0x20) == 'w' && (t[2] | 0x20) == 't';
}

unexpected refuse(std::string sentence) {
  return unexpected{errc::unauthenticated, std::move(sentence)};
}

} // namespace

expected<token_key> load_key_file(const std::string& path) {
  const std::string what = "token key file '" + path + "'";
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr)
    return unexpected{errc::invalid_argument, what + " cannot be opened: " + std::strerror(errno)};
  // One byte past the limit tells "too long" from "exactly the limit"
  // without reading an endless file (a wrong path to /dev/zero) whole.
  std::string secret(max_key_bytes + 2, '\0');
  size_t n = std::fread(secret.data(), 1, secret.size(), f);
  bool failed = std::ferror(f) != 0;
  int err = errno;
  std::fclose(f);
  if (failed)
    return unexpected{errc::invalid_argument, what + " cannot be read: " + std::strerror(err)};
  secret.resize(n);
  return checked_key(std::move(secret), what);
}

expected<token_key> key_from_env(const char* name) {
  const std::string what = std::string{"environment variable "} + name;
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0')
    return unexpected{errc::invalid_argument, what + " is not set (or empty)"};
  return checked_key(value, what);
}

expected<std::string> issue_token(const token_key& key, const token_claims& c) {
  if (key.secret.size() < min_key_bytes)
    return unexpected{errc::invalid_argument, "the token key is shorter than "
                                                + std::to_string(min_key_bytes) + " bytes"};
  const std::string sub = to_string(c.who);
  // A principal that would not parse back (an agent without an id, a label
  // with a space) would make a token that no node accepts.
  if (auto back = parse_principal(sub); !back || *back != c.who)
    return unexpected{errc::invalid_argument,
                      "the token's principal is not valid: "
                        + (back ? std::string{"it does not read back as itself"} : back.error().message)};
  if (c.issuer.empty() || c.audience.empty())
    return unexpected{errc::invalid_argument, "a token needs an issuer and an audience"};
  if (c.expires_at <= 0)
    return unexpected{errc::invalid_argument, "a token needs an expiry time (expires_at > 0)"};

  json payload = {{"sub", sub},
                  {"iss", c.issuer},
                  {"aud", c.audience},
                  {"iat", c.issued_at},
                  {"exp", c.expires_at}};
  if (c.not_before != 0)
    payload["nbf"] = c.not_before;
  if (!c.id.empty())
    payload["jti"] = c.id;
  std::string payload_text;
  try {
    payload_text = payload.dump();
  } catch (const json::type_error&) {
    // dump's only failure: a string that is not UTF-8, which no verifier
    // would parse back.
    return unexpected{errc::invalid_argument, "the token's issuer, audience and id must be UTF-8"};
  }
  std::string signing_input =
    b64url_encode(R"({"alg":"HS256","typ":"JWT"})") + '.' + b64url_encode(payload_text);
  auto mac = hmac_sha256(key.secret, signing_input);
  if (!mac)
    return unexpected{errc::internal, "HMAC-SHA256 failed in OpenSSL"};
  signing_input.push_back('.');
  signing_input += b64url_encode(
    std::string_view{reinterpret_cast<const char*>(mac->data()), mac->size()});
  return signing_input;
}

expected<token_claims> verify_token(const token_key& key, std::string_view token,
                                    const verify_options& o, int64_t now_s) {
  // Configuration bugs fail closed: an empty key would let anybody sign,
  // an empty issuer or audience would check nothing.
  if (key.secret.size() < min_key_bytes)
    return unexpected{errc::internal, "the token key is shorter than "
                                        + std::to_string(min_key_bytes) + " bytes"};
  if (o.issuer.empty() || o.audience.empty())
    return unexpected{errc::internal, "token verification needs an issuer and an audience to check"};

  // -- form
  if (token.empty())
    return refuse("the bearer token is empty");
  if (token.size() > o.max_bytes)
    return refuse("the bearer token is longer than " + std::to_string(o.max_bytes) + " bytes");
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return refuse("the bearer token is malformed: a JWT has three parts separated by '.'");
  const auto header_part = token.substr(0, dot1);
  const auto payload_part = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const auto signature_part = token.substr(dot2 + 1);

  // -- header: the algorithm is ours, not the token's
  auto header = decode_object(header_part);
  if (!header)
    return refuse("the bearer token is malformed: its header is not a base64url-encoded JSON object");
  auto alg = header->find("alg");
  if (alg == header->end() || !alg->is_string() || alg->get_ref<const std::string&>() != "HS256")
    return refuse("the bearer token's algorithm is not HS256, the only one accepted");
  // "typ" is a media type, so its case does not matter (RFC 7515 §4.1.9).
  if (auto typ = header->find("typ"); typ != header->end() && (!typ->is_string() || !is_jwt(*typ)))
    return refuse("the bearer token's type is not JWT");
  // RFC 7515 §4.1.11: extensions listed in "crit" must be understood; we
  // understand none.
  if (header->contains("crit"))
    return refuse("the bearer token's header lists critical extensions, which are not supported");

  // -- signature, before anything in the payload is believed
  auto signature = b64url_decode(signature_part);
  auto expected_mac = hmac_sha256(key.secret, token.substr(0, dot2));
  if (!expected_mac)
    return unexpected{errc::internal, "HMAC-SHA256 failed in OpenSSL"};
  if (!signature || signature->size() != sha256_bytes
      || CRYPTO_memcmp(signature->data(), expected_mac->data(), sha256_bytes) != 0)
    return refuse("the bearer token's signature is not valid (altered, or signed with another key)");

  // -- claims
  auto payload = decode_object(payload_part);
  if (!payload)
    return refuse("the bearer token is malformed: its payload is not a base64url-encoded JSON object");
  token_claims c;
  auto exp = payload->find("exp");
  if (exp == payload->end())
    return refuse("the bearer token has no expiry time (exp)");
  auto exp_value = as_int64(*exp);
  if (!exp_value || *exp_value <= 0)
    return refuse("the bearer token's expiry time (exp) is not a positive integer");
  c.expires_at = *exp_value;
  if (auto nbf = payload->find("nbf"); nbf != payload->end()) {
    auto v = as_int64(*nbf);
    if (!v)
      return refuse("the bearer token's not-before time (nbf) is not an integer");
    c.not_before = *v;
  }
  if (auto iat = payload->find("iat"); iat != payload->end()) {
    auto v = as_int64(*iat);
    if (!v)
      return refuse("the bearer token's issue time (iat) is not an integer");
    c.issued_at = *v;
  }
  const int64_t leeway = o.leeway_s > 0 ? o.leeway_s : 0;
  if (now_s > saturating_add(c.expires_at, leeway))
    return refuse("the bearer token has expired");
  if (saturating_add(now_s, leeway) < c.not_before)
    return refuse("the bearer token is not valid yet (nbf is in the future)");

  auto iss = payload->find("iss");
  if (iss == payload->end() || !iss->is_string() || iss->get_ref<const std::string&>() != o.issuer)
    return refuse("the bearer token was not issued by '" + o.issuer + "'");
  c.issuer = o.issuer;

  auto aud = payload->find("aud");
  bool for_us = false;
  if (aud != payload->end() && aud->is_string())
    for_us = aud->get_ref<const std::string&>() == o.audience;
  else if (aud != payload->end() && aud->is_array())
    for (auto& a : *aud)
      for_us = for_us || (a.is_string() && a.get_ref<const std::string&>() == o.audience);
  if (!for_us)
    return refuse("the bearer token is not meant for '" + o.audience + "' (aud)");
  c.audience = o.audience;

  // parse_principal's message would quote the subject; a sentence about the
  // rule says enough without echoing the token.
  auto sub = payload->find("sub");
  if (sub == payload->end() || !sub->is_string())
    return refuse("the bearer token names no principal (sub)");
  auto who = parse_principal(sub->get_ref<const std::string&>());
  if (!who)
    return refuse("the bearer token's principal (sub) is not valid: it must be agent:<id>, admin, "
                  "operator or observer (each optionally :<label>)");
  c.who = std::move(*who);

  if (auto jti = payload->find("jti"); jti != payload->end()) {
    if (!jti->is_string())
      return refuse("the bearer token's id (jti) is not a string");
    c.id = jti->get<std::string>();
  }
  return c;
}

expected<int64_t> parse_duration_s(std::string_view text) {
  auto bad = [&] {
    return unexpected{errc::invalid_argument,
                      "duration '" + std::string{text}
                        + "': expected a number of seconds, optionally with one unit s, m, h or d "
                          "(45s, 30m, 1h, 7d)"};
  };
  int64_t unit = 1;
  std::string_view digits = text;
  if (!text.empty()) {
    switch (text.back()) {
      case 's': unit = 1; break;
      case 'm': unit = 60; break;
      case 'h': unit = 3600; break;
      case 'd': unit = 86400; break;
      default: unit = 0; break;
    }
    if (unit != 0)
      digits.remove_suffix(1);
    else
      unit = 1;
  }
  if (digits.empty())
    return bad();
  int64_t value = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9')
      return bad();
    if (__builtin_mul_overflow(value, int64_t{10}, &value)
        || __builtin_add_overflow(value, int64_t{ch - '0'}, &value))
      return bad();
  }
  if (__builtin_mul_overflow(value, unit, &value))
    return bad();
  return value;
}

} // namespace parley::auth
