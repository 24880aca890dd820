#include "api/auth.hpp"

#include <chrono>

namespace parley::api {

namespace {

// Verified tokens remembered (for the handler's lookup after the processor's).
constexpr size_t cache_capacity = 16384;

int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size())
    return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i])
      return false;
  return true;
}

unexpected unauthenticated(std::string why) {
  return unexpected{errc::unauthenticated, std::move(why)};
}

// The principal a verified client certificate names: a URI SAN
// "parley:<principal>", else the subject's common name.
std::optional<expected<principal>> from_certificate(const grpc::AuthContext* ctx) {
  if (!ctx || !ctx->IsPeerAuthenticated())
    return std::nullopt;
  for (auto* prop : {"peer_uri", GRPC_X509_SAN_PROPERTY_NAME})
    for (auto& v : ctx->FindPropertyValues(prop)) {
      std::string_view s{v.data(), v.size()};
      if (s.starts_with("parley:"))
        return parse_principal(s.substr(7));
    }
  for (auto& v : ctx->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME))
    return parse_principal(std::string_view{v.data(), v.size()});
  return std::nullopt;
}

} // namespace

authenticator::authenticator(auth_options o) : opt_(std::move(o)) {
}

bool authenticator::exempt(std::string_view path) noexcept {
  return path.starts_with("/grpc.health.v1.Health/")
         || path.starts_with("/grpc.reflection.v1alpha.ServerReflection/")
         || path.starts_with("/grpc.reflection.v1.ServerReflection/");
}

expected<principal> authenticator::from_token(std::string_view token) {
  // The whole token is the key: a hit is the very string verified before.
  const std::string signature{token};
  const auto now = now_s();
  {
    std::lock_guard guard{mtx_};
    if (auto it = cache_.find(signature); it != cache_.end() && now <= it->second.expires_at + opt_.leeway_s)
      return it->second.who;
  }
  auth::verify_options vo;
  vo.issuer = opt_.issuer;
  vo.audience = opt_.audience;
  vo.leeway_s = opt_.leeway_s;
  auto claims = auth::verify_token(*opt_.token_key, token, vo, now);
  if (!claims)
    return unexpected{claims.error().code == errc::internal ? claims.error()
                                                            : error{errc::unauthenticated,
                                                                    "bearer token refused: " + claims.error().message}};
  std::lock_guard guard{mtx_};
  if (cache_.size() >= cache_capacity) {
    for (size_t i = 0; i < cache_capacity / 2 && !order_.empty(); ++i) {
      cache_.erase(order_.front());
      order_.pop_front();
    }
  }
  if (cache_.emplace(signature, cached{claims->who, claims->expires_at}).second)
    order_.push_back(signature);
  return claims->who;
}

expected<principal> authenticator::authenticate(std::string_view authorization,
                                                const grpc::AuthContext* ctx) {
  if (!authorization.empty()) {
    if (!starts_with_icase(authorization, "bearer "))
      return unauthenticated("metadata 'authorization' must be 'Bearer <token>'");
    if (!opt_.token_key)
      return unauthenticated("this node accepts no bearer tokens (no token key is configured)");
    auto token = authorization.substr(7);
    while (!token.empty() && token.front() == ' ')
      token.remove_prefix(1);
    return from_token(token);
  }
  if (auto cert = from_certificate(ctx)) {
    if (!*cert)
      return unauthenticated("client certificate names no valid principal (want a URI SAN "
                             "'parley:<principal>' or a subject CN such as 'agent:alice'): "
                             + cert->error().message);
    return **cert;
  }
  if (!opt_.has_credentials())
    return principal::admin("local");
  return unauthenticated("no credentials: send metadata 'authorization: Bearer <token>' (parley "
                         "token issue makes one)"
                         + std::string{opt_.client_ca_file.empty() ? "" : " or a client certificate"});
}

namespace {

class auth_processor final : public grpc::AuthMetadataProcessor {
public:
  explicit auth_processor(std::shared_ptr<authenticator> a) : auth_(std::move(a)) {}

  // Verifying an HMAC is quick: no need for a thread of its own.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& md, grpc::AuthContext* ctx, OutputMetadata*,
                       OutputMetadata*) override {
    auto find = [&](const char* key) -> std::string_view {
      auto it = md.find(key);
      return it == md.end() ? std::string_view{} : std::string_view{it->second.data(), it->second.size()};
    };
    if (authenticator::exempt(find(":path")))
      return grpc::Status::OK;
    auto who = auth_->authenticate(find("authorization"), ctx);
    if (!who)
      return {who.error().code == errc::unauthenticated ? grpc::StatusCode::UNAUTHENTICATED
                                                        : grpc::StatusCode::INTERNAL,
              who.error().message};
    return grpc::Status::OK;
  }

private:
  std::shared_ptr<authenticator> auth_;
};

} // namespace

std::shared_ptr<grpc::AuthMetadataProcessor> make_auth_processor(std::shared_ptr<authenticator> a) {
  return std::make_shared<auth_processor>(std::move(a));
}

} // namespace parley::api
