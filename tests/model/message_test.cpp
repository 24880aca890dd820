#include "parley/model/message.hpp"

#include <string>

#include <gtest/gtest.h>

#include "parley/model/limits.hpp"

namespace parley {
namespace {

message valid_message() {
  message m;
  m.id = "m-1";
  m.from = "alice";
  m.to = address::agent("bob");
  m.content = "hello";
  return m;
}

bool mentions(const error& e, std::string_view text) {
  return e.message.find(text) != std::string::npos;
}

// Verifies a plain text message passes, with or without an id (the node assigns one).
TEST(Message, AcceptsValidTextMessage) {
  auto m = valid_message();
  EXPECT_TRUE(validate(m));
  m.id.clear();
  EXPECT_TRUE(validate(m));
  m.to = address::room("lobby");
  m.reply_to = "m-0";
  EXPECT_TRUE(validate(m));
}

// Verifies content up to 64 KiB passes and one byte more fails naming size and limit.
TEST(Message, RejectsContentOver64KiB) {
  auto m = valid_message();
  m.content = std::string(limits::max_content, 'x');
  EXPECT_TRUE(validate(m));
  m.content.push_back('x');
  auto r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(r.error(), "65537")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), "65536")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), "'alice'")) << r.error().message;
}

// Verifies json content must parse as an object or array.
TEST(Message, RejectsJsonContentThatIsNotAnObjectOrArray) {
  auto m = valid_message();
  m.type = content_type::json;
  for (auto bad : {"", "{", "{\"a\": }", "hello", "42", "\"text\"", "null", "{} {}", "[1,]"}) {
    m.content = bad;
    auto r = validate(m);
    ASSERT_FALSE(r) << "accepted json content: " << bad;
    EXPECT_EQ(r.error().code, errc::invalid_argument);
    EXPECT_TRUE(mentions(r.error(), "json")) << r.error().message;
  }
}

// Verifies well-formed json objects and arrays pass, and text content is never parsed.
TEST(Message, AcceptsJsonObjectsAndArrays) {
  auto m = valid_message();
  m.type = content_type::json;
  for (auto good : {"{}", "{\"a\": [1, 2, {\"b\": null}]}", "[]", " [\"x\", 1.5, true] "}) {
    m.content = good;
    auto r = validate(m);
    EXPECT_TRUE(r) << good << ": " << (r ? "" : r.error().message);
  }
  m.type = content_type::text;
  m.content = "{ not json";
  EXPECT_TRUE(validate(m));
}

// Verifies deeply nested json near the size limit is handled without crashing.
TEST(Message, AcceptsDeeplyNestedJsonWithinLimit) {
  auto m = valid_message();
  m.type = content_type::json;
  const size_t depth = limits::max_content / 2;
  m.content = std::string(depth, '[') + std::string(depth, ']');
  EXPECT_TRUE(validate(m));
  m.content.pop_back(); // unbalanced
  EXPECT_FALSE(validate(m));
}

// Verifies a malformed recipient id is refused and named as the recipient.
TEST(Message, RejectsBadRecipientId) {
  auto m = valid_message();
  m.to = address::agent("bob smith");
  auto r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, errc::invalid_argument);
  EXPECT_TRUE(mentions(r.error(), "recipient")) << r.error().message;
  EXPECT_TRUE(mentions(r.error(), "agent id")) << r.error().message;

  m.to = address::room("");
  r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_TRUE(mentions(r.error(), "room id")) << r.error().message;
}

// Verifies a malformed sender, message id or reply_to is refused.
TEST(Message, RejectsBadSenderAndIds) {
  auto m = valid_message();
  m.from = "";
  auto r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_TRUE(mentions(r.error(), "sender")) << r.error().message;

  m = valid_message();
  m.id = "m 1";
  EXPECT_FALSE(validate(m));

  m = valid_message();
  m.reply_to = std::string(129, 'r');
  r = validate(m);
  ASSERT_FALSE(r);
  EXPECT_TRUE(mentions(r.error(), "reply_to")) << r.error().message;
}

// Verifies the message enums have stable names.
TEST(MessageEnums, HaveStableNames) {
  EXPECT_EQ(to_string(content_type::text), "text");
  EXPECT_EQ(to_string(content_type::json), "json");
  EXPECT_EQ(to_string(message_status::sent), "sent");
  EXPECT_EQ(to_string(message_status::delivered), "delivered");
  EXPECT_EQ(to_string(message_status::read), "read");
}

// Verifies the media types clients send are taken for the content types
// they mean, and that other names are still refused.
TEST(MessageEnums, AcceptsMediaTypeNames) {
  EXPECT_EQ(parse_content_type("text/plain").value(), content_type::text);
  EXPECT_EQ(parse_content_type("application/json").value(), content_type::json);
  EXPECT_EQ(parse_content_type("text").value(), content_type::text);
  EXPECT_FALSE(parse_content_type("text/html").has_value());
}

} // namespace
} // namespace parley
