#pragma once

// Pieces of a JWT made by hand with OpenSSL (not with token.cpp), so a test
// of the token code never builds its input with the code it checks.

#include <string>
#include <string_view>

#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace parley::test {

/// base64url without padding (OpenSSL's standard base64, translated).
inline std::string b64url(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=')
    out.pop_back();
  for (auto& c : out)
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  return out;
}

/// base64url back to bytes; only fed what b64url or issue_token made.
inline std::string b64url_decode(std::string in) {
  for (auto& c : in)
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (in.size() % 4 != 0)
    in.push_back('=');
  std::string out(in.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()), static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(n < 0 ? 0 : n));
  while (!in.empty() && in.back() == '=') {
    in.pop_back();
    out.pop_back();
  }
  return out;
}

/// The HMAC of `data` under `key` with digest `md` (EVP_sha256() for HS256).
inline std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

} // namespace parley::test
