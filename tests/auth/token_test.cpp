// Bearer tokens: issue and verify round trips, interop with another
// implementation, and every refusal of verify_token. The refused tokens are
// crafted here by hand (OpenSSL's base64 and HMAC, not token.cpp's), so a
// test never depends on the code it checks to build its input.

#include "parley/auth/token.hpp"

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/hand_made_jwt.hpp"
#include "support/temp_dir.hpp"

namespace parley::auth {
namespace {

constexpr int64_t now = 1'800'000'000;
const token_key key{"0123456789abcdef0123456789abcdef-test"};
const token_key other_key{"fedcba9876543210fedcba9876543210-test"};

verify_options options() {
  verify_options o;
  o.issuer = "parley";
  o.audience = "parley";
  return o;
}

// -- crafting tokens by hand --------------------------------------------------------

using test::b64url;
using test::b64url_decode;

const std::string hs256_header = R"({"alg":"HS256","typ":"JWT"})";

// header.payload signed with HMAC-`md` under `k`.
std::string craft(const std::string& header, const std::string& payload, const token_key& k = key,
                  const EVP_MD* md = EVP_sha256()) {
  std::string input = b64url(header) + "." + b64url(payload);
  return input + "." + b64url(test::hmac(md, k.secret, input));
}

// A good payload for `now`, with `extra` members appended (a later
// duplicate overrides an earlier one).
std::string payload(const std::string& extra = {}) {
  std::string p = R"({"sub":"agent:alice","iss":"parley","aud":"parley","iat":1800000000,"exp":1800003600)";
  if (!extra.empty())
    p += "," + extra;
  return p + "}";
}

std::string signing_input(const std::string& token) {
  return token.substr(0, token.rfind('.'));
}

// Expects `token` refused as unauthenticated with `fragment` in the
// message, and the message to hold neither the key nor any part of the token.
void expect_refused(std::string_view token, const std::string& fragment,
                    const verify_options& o = options(), int64_t at = now) {
  auto r = verify_token(key, token, o, at);
  ASSERT_FALSE(r) << "accepted: " << token;
  EXPECT_EQ(r.error().code, errc::unauthenticated) << to_string(r.error());
  EXPECT_NE(r.error().message.find(fragment), std::string::npos)
    << "'" << fragment << "' not in: " << r.error().message;
  EXPECT_EQ(r.error().message.find(key.secret), std::string::npos) << r.error().message;
  size_t start = 0;
  while (start <= token.size()) {
    auto end = token.find('.', start);
    auto part = token.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (part.size() >= 8) {
      EXPECT_EQ(r.error().message.find(part), std::string::npos) << "echoes the token: " << r.error().message;
    }
    if (end == std::string_view::npos)
      break;
    start = end + 1;
  }
}

token_claims claims_for(principal who) {
  token_claims c;
  c.who = std::move(who);
  c.issuer = "parley";
  c.audience = "parley";
  c.issued_at = now;
  c.expires_at = now + 3600;
  return c;
}

// -- round trips and interop ----------------------------------------------------------

// Verifies a token issued for each role verifies back to exactly the claims issued (nbf and jti included).
TEST(Token, RoundTripsEveryRole) {
  for (auto who : {principal::agent("alice"), principal::admin(), principal::admin("root-ca"),
                   principal::operator_("oncall"), principal::operator_(), principal::observer("grafana"),
                   principal::observer(), principal::node("node-a")}) {
    auto c = claims_for(who);
    c.not_before = now - 10;
    c.id = "t-" + to_string(who);
    auto t = issue_token(key, c);
    ASSERT_TRUE(t) << to_string(t.error());
    auto back = verify_token(key, *t, options(), now);
    ASSERT_TRUE(back) << to_string(who) << ": " << to_string(back.error());
    EXPECT_EQ(*back, c) << to_string(who);
  }
}

// Verifies issued tokens carry the pinned header {"alg":"HS256","typ":"JWT"} and omit nbf and jti when unset.
TEST(Token, IssuesHs256HeaderAndOmitsUnsetClaims) {
  auto t = issue_token(key, claims_for(principal::agent("alice")));
  ASSERT_TRUE(t) << to_string(t.error());
  auto dot1 = t->find('.');
  auto dot2 = t->find('.', dot1 + 1);
  EXPECT_EQ(b64url_decode(t->substr(0, dot1)), hs256_header);
  auto body = b64url_decode(t->substr(dot1 + 1, dot2 - dot1 - 1));
  EXPECT_EQ(body.find("nbf"), std::string::npos) << body;
  EXPECT_EQ(body.find("jti"), std::string::npos) << body;
  EXPECT_NE(body.find(R"("sub":"agent:alice")"), std::string::npos) << body;
}

// Verifies interop with Python's standard library: the same claims give the same bytes, and Python's token verifies.
TEST(Token, MatchesATokenMadeByPython) {
  // Made once with /usr/bin/python3 (hmac, hashlib, base64, json only):
  //   key = b"parley-interop-key-0123456789abcdef"
  //   b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
  //   header = json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":"), sort_keys=True)
  //   payload = json.dumps({"sub": "agent:alice", "iss": "parley", "aud": "parley",
  //                         "iat": 1700000000, "exp": 1700003600, "jti": "kat-1"},
  //                        separators=(",", ":"), sort_keys=True)
  //   si = b64(header.encode()) + "." + b64(payload.encode())
  //   print(si + "." + b64(hmac.new(key, si.encode(), hashlib.sha256).digest()))
  const std::string python_token =
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJhdWQiOiJwYXJsZXkiLCJleHAiOjE3MDAwMDM2MDAsImlhdCI6MTcwMDAwMDAwMCwiaXNzIjoicGFybGV5IiwianRpIjoia2F0LTEiLCJzdWIiOiJhZ2VudDphbGljZSJ9."
    "1qCW5KjmwOS6ndDzBerzbBKTA5iK_vYbRWqRQM22ZDI";
  const token_key interop_key{"parley-interop-key-0123456789abcdef"};
  token_claims c;
  c.who = principal::agent("alice");
  c.issuer = "parley";
  c.audience = "parley";
  c.issued_at = 1700000000;
  c.expires_at = 1700003600;
  c.id = "kat-1";
  auto ours = issue_token(interop_key, c);
  ASSERT_TRUE(ours) << to_string(ours.error());
  EXPECT_EQ(*ours, python_token);
  auto back = verify_token(interop_key, python_token, options(), 1700000100);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(*back, c);
}

// Verifies a foreign token with members in another order, "aud" as an array and "nbf" verifies.
TEST(Token, VerifiesAForeignTokenWithAudienceArrayAndNotBefore) {
  // Made with /usr/bin/python3 as above, but without sort_keys and with
  //   header {"typ": "JWT", "alg": "HS256"},
  //   payload {"sub": "operator:oncall", "iss": "parley", "aud": ["billing", "parley"],
  //            "iat": 1700000000, "nbf": 1700000060, "exp": 1700086400}.
  const std::string python_token =
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
    "eyJzdWIiOiJvcGVyYXRvcjpvbmNhbGwiLCJpc3MiOiJwYXJsZXkiLCJhdWQiOlsiYmlsbGluZyIsInBhcmxleSJdLCJpYXQiOjE3MDAwMDAwMDAsIm5iZiI6MTcwMDAwMDA2MCwiZXhwIjoxNzAwMDg2NDAwfQ."
    "BQZ3UZ81koarAeO48bvNSpiJLJU0UxDMEQNk-8xYCso";
  const token_key interop_key{"parley-interop-key-0123456789abcdef"};
  auto back = verify_token(interop_key, python_token, options(), 1700000100);
  ASSERT_TRUE(back) << to_string(back.error());
  EXPECT_EQ(back->who, principal::operator_("oncall"));
  EXPECT_EQ(back->audience, "parley");
  EXPECT_EQ(back->not_before, 1700000060);
  EXPECT_EQ(back->expires_at, 1700086400);
}

// -- the algorithm is pinned ----------------------------------------------------------

// Verifies alg "none" is refused, with an empty signature and with a valid HS256 one alike.
TEST(Token, RefusesAlgNone) {
  std::string input = b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(payload());
  expect_refused(input + ".", "algorithm is not HS256");
  expect_refused(craft(R"({"alg":"none"})", payload()), "algorithm is not HS256");
  expect_refused(craft(R"({"alg":"None","typ":"JWT"})", payload()), "algorithm is not HS256");
}

// Verifies a token with an HS512 header signed with HMAC-SHA512 under the same key is refused.
TEST(Token, RefusesHs512SignedWithTheSameKey) {
  expect_refused(craft(R"({"alg":"HS512","typ":"JWT"})", payload(), key, EVP_sha512()),
                 "algorithm is not HS256");
}

// Verifies any header algorithm but exactly "HS256" is refused even when the HS256 signature is right.
TEST(Token, RefusesEveryOtherAlgorithmHeader) {
  for (auto* h : {R"({"alg":"RS256","typ":"JWT"})", R"({"alg":"ES256"})", R"({"alg":"hs256"})",
                  R"({"alg":"HS256 "})", R"({"alg":["HS256"]})", R"({"alg":null})", R"({"typ":"JWT"})",
                  R"({})"})
    expect_refused(craft(h, payload()), "algorithm is not HS256");
}

// Verifies a "typ" other than JWT (in any case) and any "crit" header are refused.
TEST(Token, RefusesOtherTypeAndCriticalHeaders) {
  expect_refused(craft(R"({"alg":"HS256","typ":"at+jwt"})", payload()), "type is not JWT");
  expect_refused(craft(R"({"alg":"HS256","typ":7})", payload()), "type is not JWT");
  expect_refused(craft(R"({"alg":"HS256","crit":["exp"]})", payload()), "critical extensions");
  expect_refused(craft(R"({"alg":"HS256","typ":"JWS"})", payload()), "type is not JWT");
  // Without "typ", and with "jwt" in another case (a media type), it is fine.
  EXPECT_TRUE(verify_token(key, craft(R"({"alg":"HS256"})", payload()), options(), now));
  EXPECT_TRUE(verify_token(key, craft(R"({"alg":"HS256","typ":"jwt"})", payload()), options(), now));
}

// -- the signature ---------------------------------------------------------------------

// Verifies a token whose payload was changed after signing (another subject) is refused.
TEST(Token, RefusesPayloadChangedAfterSigning) {
  auto good = craft(hs256_header, payload());
  ASSERT_TRUE(verify_token(key, good, options(), now));
  auto dot1 = good.find('.');
  auto dot2 = good.find('.', dot1 + 1);
  auto forged = good.substr(0, dot1 + 1) + b64url(payload(R"("sub":"admin")")) + good.substr(dot2);
  expect_refused(forged, "signature is not valid");
  // The header too is signed.
  auto reheadered = b64url(R"({"typ":"JWT","alg":"HS256"})") + good.substr(dot1);
  expect_refused(reheadered, "signature is not valid");
}

// Verifies a token signed with another key is refused.
TEST(Token, RefusesWrongKey) {
  expect_refused(craft(hs256_header, payload(), other_key), "signature is not valid");
  auto t = issue_token(other_key, claims_for(principal::admin()));
  ASSERT_TRUE(t);
  expect_refused(*t, "signature is not valid");
}

// Verifies altered, truncated, extended, empty and non-canonically encoded signatures are refused.
TEST(Token, RefusesDamagedSignatures) {
  auto good = craft(hs256_header, payload());
  auto input = signing_input(good);
  auto sig = good.substr(input.size() + 1);
  ASSERT_EQ(sig.size(), 43u);
  auto flipped = sig;
  flipped[5] = flipped[5] == 'A' ? 'B' : 'A';
  expect_refused(input + "." + flipped, "signature is not valid");
  expect_refused(input + "." + sig.substr(0, 42), "signature is not valid");
  expect_refused(input + "." + sig.substr(0, 40), "signature is not valid");
  expect_refused(input + "." + sig + "AAAA", "signature is not valid");
  expect_refused(input + ".", "signature is not valid");
  // 43 characters carry 258 bits: the last 2 must be zero. Setting them
  // would decode to the same 32 bytes under a lax decoder.
  auto lax = sig;
  const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  lax.back() = alphabet[alphabet.find(lax.back()) | 1];
  expect_refused(input + "." + lax, "signature is not valid");
  expect_refused(input + "." + sig + "=", "signature is not valid");
}

// -- time ---------------------------------------------------------------------------------

// Verifies expiry with leeway: valid up to exp + leeway, refused one second later, and leeway 0 is exact.
TEST(Token, RefusesExpiredBeyondLeewayOnly) {
  auto t = craft(hs256_header, payload()); // exp = now + 3600
  const int64_t exp = now + 3600;
  EXPECT_TRUE(verify_token(key, t, options(), exp));
  EXPECT_TRUE(verify_token(key, t, options(), exp + 30)) << "within the default 30 s of leeway";
  expect_refused(t, "expired", options(), exp + 31);
  auto strict = options();
  strict.leeway_s = 0;
  EXPECT_TRUE(verify_token(key, t, strict, exp));
  expect_refused(t, "expired", strict, exp + 1);
  auto negative = options();
  negative.leeway_s = -1000;
  EXPECT_TRUE(verify_token(key, t, negative, exp)) << "negative leeway counts as 0";
}

// Verifies a token whose nbf is beyond now + leeway is refused, and accepted within the leeway.
TEST(Token, RefusesNotYetValid) {
  auto t = craft(hs256_header, payload(R"("nbf":1800000100)"));
  expect_refused(t, "not valid yet", options(), now);
  expect_refused(t, "not valid yet", options(), 1800000100 - 31);
  EXPECT_TRUE(verify_token(key, t, options(), 1800000100 - 30));
  EXPECT_TRUE(verify_token(key, t, options(), 1800000100));
}

// Verifies exp near the int64 limit and leeway do not overflow into "expired".
TEST(Token, HugeExpiryDoesNotOverflow) {
  auto t = craft(hs256_header, payload(R"("exp":9223372036854775807)"));
  EXPECT_TRUE(verify_token(key, t, options(), now));
  expect_refused(craft(hs256_header, payload(R"("exp":9223372036854775808)")), "not a positive integer");
}

// -- claims --------------------------------------------------------------------------------

// Verifies a token without exp is refused.
TEST(Token, RefusesMissingExp) {
  expect_refused(craft(hs256_header, R"({"sub":"agent:alice","iss":"parley","aud":"parley","iat":1800000000})"),
                 "no expiry time");
}

// Verifies exp must be a positive integer: a string, a float, null, zero and a negative value are refused.
TEST(Token, RefusesNonIntegerExp) {
  for (auto* exp : {R"("exp":"1800003600")", R"("exp":1800003600.0)", R"("exp":1.8e9)", R"("exp":null)",
                    R"("exp":0)", R"("exp":-5)", R"("exp":true)"})
    expect_refused(craft(hs256_header, payload(exp)), "not a positive integer");
  expect_refused(craft(hs256_header, payload(R"("nbf":"1")")), "(nbf) is not an integer");
  expect_refused(craft(hs256_header, payload(R"("iat":1.5)")), "(iat) is not an integer");
  expect_refused(craft(hs256_header, payload(R"("jti":42)")), "(jti) is not a string");
}

// Verifies a wrong, missing or non-string issuer is refused.
TEST(Token, RefusesWrongIssuer) {
  expect_refused(craft(hs256_header, payload(R"("iss":"evil")")), "not issued by 'parley'");
  expect_refused(craft(hs256_header, payload(R"("iss":["parley"])")), "not issued by 'parley'");
  expect_refused(craft(hs256_header, R"({"sub":"admin","aud":"parley","exp":1800003600})"),
                 "not issued by 'parley'");
}

// Verifies aud as a string must equal ours and as an array must contain it; other forms are refused.
TEST(Token, ChecksAudienceAsStringOrArray) {
  EXPECT_TRUE(verify_token(key, craft(hs256_header, payload(R"("aud":"parley")")), options(), now));
  EXPECT_TRUE(verify_token(key, craft(hs256_header, payload(R"("aud":["x","parley"])")), options(), now));
  EXPECT_TRUE(verify_token(key, craft(hs256_header, payload(R"("aud":[1,"parley"])")), options(), now));
  expect_refused(craft(hs256_header, payload(R"("aud":"billing")")), "not meant for 'parley'");
  expect_refused(craft(hs256_header, payload(R"("aud":["billing","x"])")), "not meant for 'parley'");
  expect_refused(craft(hs256_header, payload(R"("aud":[])")), "not meant for 'parley'");
  expect_refused(craft(hs256_header, payload(R"("aud":"parley2")")), "not meant for 'parley'");
  expect_refused(craft(hs256_header, payload(R"("aud":{"parley":true})")), "not meant for 'parley'");
  expect_refused(craft(hs256_header, R"({"sub":"admin","iss":"parley","exp":1800003600})"),
                 "not meant for 'parley'");
}

// Verifies sub must be a valid principal: "agent:" (no id), "root", a number and no sub are refused.
TEST(Token, RefusesInvalidSubject) {
  expect_refused(craft(hs256_header, payload(R"("sub":"agent:")")), "principal (sub) is not valid");
  expect_refused(craft(hs256_header, payload(R"("sub":"agent")")), "principal (sub) is not valid");
  expect_refused(craft(hs256_header, payload(R"("sub":"root")")), "principal (sub) is not valid");
  expect_refused(craft(hs256_header, payload(R"("sub":"")")), "principal (sub) is not valid");
  expect_refused(craft(hs256_header, payload(R"("sub":7)")), "names no principal");
  expect_refused(craft(hs256_header, R"({"iss":"parley","aud":"parley","exp":1800003600})"),
                 "names no principal");
}

// -- form ----------------------------------------------------------------------------------

// Verifies a token over max_bytes is refused before decoding, and max_bytes is inclusive.
TEST(Token, RefusesOversizedToken) {
  auto t = craft(hs256_header, payload(R"("pad":")" + std::string(9000, 'x') + "\""));
  expect_refused(t, "longer than 8192 bytes");
  auto small = craft(hs256_header, payload());
  auto o = options();
  o.max_bytes = small.size();
  EXPECT_TRUE(verify_token(key, small, o, now));
  o.max_bytes = small.size() - 1;
  expect_refused(small, "longer than", o);
}

// Verifies empty, 2-part and 4-part tokens are refused as malformed.
TEST(Token, RefusesWrongNumberOfParts) {
  auto good = craft(hs256_header, payload());
  expect_refused("", "empty");
  expect_refused(signing_input(good), "three parts");
  expect_refused(good + ".", "three parts");
  expect_refused(good + "." + good, "three parts");
  expect_refused("...", "three parts");
  expect_refused("abc", "three parts");
}

// Verifies parts that are not base64url (garbage, padding, standard base64, spaces) or not JSON objects are refused.
TEST(Token, RefusesGarbageBase64AndJson) {
  auto sig = [](const std::string& input) { return input + "." + b64url(test::hmac(EVP_sha256(), key.secret, input)); };
  const std::string body = b64url(payload());
  expect_refused(sig("!!!!." + body), "header is not a base64url-encoded JSON object");
  expect_refused(sig("$%^&*()." + body), "header is not");
  expect_refused(sig(b64url(hs256_header) + "=." + body), "header is not");
  expect_refused(sig(b64url(hs256_header) + " ." + body), "header is not");
  expect_refused(sig("." + body), "header is not");
  expect_refused(sig(b64url("[1,2]") + "." + body), "header is not");
  expect_refused(sig(b64url("{\"alg\":\"HS256\"") + "." + body), "header is not");
  expect_refused(sig(b64url("\"HS256\"") + "." + body), "header is not");
  const std::string head = b64url(hs256_header);
  expect_refused(sig(head + ".A"), "payload is not"); // one character is never base64
  expect_refused(sig(head + "." + "e30" + "*"), "payload is not");
  expect_refused(sig(head + "." + b64url("not json")), "payload is not");
  expect_refused(sig(head + "." + b64url("[\"sub\",\"admin\"]")), "payload is not");
  expect_refused(sig(head + "." + b64url("null")), "payload is not");
  expect_refused(sig(head + "."), "payload is not");
  expect_refused(sig(head + "." + b64url("{\"sub\":\"\xff\"}")), "payload is not");
  // '+' and '/' belong to standard base64, not to base64url.
  std::string plus_body = b64url(payload(R"("x":">>>?")"));
  ASSERT_NE(plus_body.find_first_of("-_"), std::string::npos) << plus_body;
  for (auto& c : plus_body)
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  expect_refused(sig(head + "." + plus_body), "payload is not");
}

// -- misuse fails closed ----------------------------------------------------------------------

// Verifies verification with a short key or an empty expected issuer or audience refuses everything (internal).
TEST(Token, FailsClosedWhenMisconfigured) {
  auto t = craft(hs256_header, payload());
  auto empty_key_token = b64url(hs256_header) + "." + b64url(payload());
  empty_key_token += "." + b64url(test::hmac(EVP_sha256(), "", empty_key_token));
  auto r = verify_token(token_key{}, empty_key_token, options(), now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::internal);
  auto o = options();
  o.issuer.clear();
  r = verify_token(key, t, o, now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::internal);
  o = options();
  o.audience.clear();
  r = verify_token(key, t, o, now);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::internal);
}

// Verifies issue_token refuses claims no node could verify: short key, bad principal, no issuer, audience or exp, non-UTF-8.
TEST(Token, IssueRefusesUnverifiableClaims) {
  auto good = claims_for(principal::agent("alice"));
  auto expect_invalid = [](const token_key& k, const token_claims& c, const char* why) {
    auto t = issue_token(k, c);
    ASSERT_FALSE(t) << why;
    EXPECT_EQ(t.error().code, errc::invalid_argument) << why;
    EXPECT_EQ(t.error().message.find(k.secret), std::string::npos) << why;
  };
  expect_invalid(token_key{"too short"}, good, "short key");
  auto c = good;
  c.who = principal::agent("");
  expect_invalid(key, c, "agent without id");
  c.who = principal::operator_("on call");
  expect_invalid(key, c, "label with a space");
  c = good;
  c.issuer.clear();
  expect_invalid(key, c, "no issuer");
  c = good;
  c.audience.clear();
  expect_invalid(key, c, "no audience");
  c = good;
  c.expires_at = 0;
  expect_invalid(key, c, "no exp");
  c = good;
  c.id = "\xff\xfe";
  expect_invalid(key, c, "jti not UTF-8");
}

// -- keys -------------------------------------------------------------------------------------

void write_file(const std::string& path, const std::string& content) {
  std::ofstream out{path, std::ios::binary};
  out << content;
}

// Verifies a key file's content is the key, less one trailing newline ("\n" or "\r\n") and no more.
TEST(TokenKey, LoadsFileLessOneTrailingNewline) {
  test::temp_dir dir;
  const std::string secret = "s3cret-s3cret-s3cret-s3cret-s3cret!";
  write_file(dir.sub("plain"), secret);
  write_file(dir.sub("nl"), secret + "\n");
  write_file(dir.sub("crlf"), secret + "\r\n");
  write_file(dir.sub("two"), secret + "\n\n");
  for (auto* name : {"plain", "nl", "crlf"}) {
    auto k = load_key_file(dir.sub(name));
    ASSERT_TRUE(k) << name << ": " << to_string(k.error());
    EXPECT_EQ(k->secret, secret) << name;
  }
  auto two = load_key_file(dir.sub("two"));
  ASSERT_TRUE(two);
  EXPECT_EQ(two->secret, secret + "\n");
}

// Verifies a key under 32 bytes (after the newline) is refused, naming the file but not the key.
TEST(TokenKey, RefusesShortKeyWithoutEchoingIt) {
  test::temp_dir dir;
  const std::string secret = "0123456789abcdef0123456789abcde"; // 31 bytes
  write_file(dir.sub("short"), secret + "\n");
  auto k = load_key_file(dir.sub("short"));
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().code, errc::invalid_argument);
  EXPECT_NE(k.error().message.find(dir.sub("short")), std::string::npos) << k.error().message;
  EXPECT_NE(k.error().message.find("at least 32"), std::string::npos) << k.error().message;
  EXPECT_EQ(k.error().message.find("0123456789"), std::string::npos) << k.error().message;
  write_file(dir.sub("exact"), secret + "f");
  EXPECT_TRUE(load_key_file(dir.sub("exact")));
}

// Verifies missing files, directories and files over the size limit are refused with the path named.
TEST(TokenKey, RefusesUnreadableOrHugeFiles) {
  test::temp_dir dir;
  for (auto path : {dir.sub("missing"), dir.str()}) {
    auto k = load_key_file(path);
    ASSERT_FALSE(k) << path;
    EXPECT_EQ(k.error().code, errc::invalid_argument);
    EXPECT_NE(k.error().message.find(path), std::string::npos) << k.error().message;
  }
  write_file(dir.sub("big"), std::string(max_key_bytes + 1, 'k'));
  auto big = load_key_file(dir.sub("big"));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message.find("kkkk"), std::string::npos) << big.error().message;
  write_file(dir.sub("max"), std::string(max_key_bytes, 'k') + "\n");
  EXPECT_TRUE(load_key_file(dir.sub("max")));
  EXPECT_FALSE(load_key_file("/dev/zero")) << "an endless file is refused, not read whole";
}

// Verifies the key from the environment: set, unset, empty and short, the value never echoed.
TEST(TokenKey, ReadsTheEnvironment) {
  const char* var = "PARLEY_TOKEN_TEST_KEY";
  ::unsetenv(var);
  auto unset = key_from_env(var);
  ASSERT_FALSE(unset);
  EXPECT_NE(unset.error().message.find(var), std::string::npos) << unset.error().message;
  ::setenv(var, "", 1);
  EXPECT_FALSE(key_from_env(var));
  ::setenv(var, "short-secret-value", 1);
  auto shorty = key_from_env(var);
  ASSERT_FALSE(shorty);
  EXPECT_EQ(shorty.error().code, errc::invalid_argument);
  EXPECT_EQ(shorty.error().message.find("short-secret-value"), std::string::npos) << shorty.error().message;
  ::setenv(var, "an-environment-secret-of-40-bytes-------\n", 1);
  auto k = key_from_env(var);
  ASSERT_TRUE(k);
  EXPECT_EQ(k->secret, "an-environment-secret-of-40-bytes-------");
  ::unsetenv(var);
}

// -- durations ----------------------------------------------------------------------------------

// Verifies plain seconds and the units s, m, h and d.
TEST(TokenDuration, ParsesUnitsAndPlainSeconds) {
  const std::vector<std::pair<std::string, int64_t>> ok = {
    {"0", 0},         {"45", 45},      {"45s", 45},      {"30m", 1800},
    {"1h", 3600},     {"7d", 604800},  {"366d", 31622400}, {"0090s", 90}};
  for (auto& [text, seconds] : ok) {
    auto d = parse_duration_s(text);
    ASSERT_TRUE(d) << text << ": " << to_string(d.error());
    EXPECT_EQ(*d, seconds) << text;
  }
}

// Verifies everything else is invalid_argument: empty, signs, spaces, other or repeated units, overflow.
TEST(TokenDuration, RefusesOtherForms) {
  for (auto* text : {"", "h", "-1h", "+5", " 1h", "1h ", "1 h", "1H", "1w", "1.5h", "1h30m", "1hh", "10ms",
                     "9223372036854775808", "9223372036854775807d", "abc"}) {
    auto d = parse_duration_s(text);
    ASSERT_FALSE(d) << text;
    EXPECT_EQ(d.error().code, errc::invalid_argument) << text;
  }
}

} // namespace
} // namespace parley::auth
