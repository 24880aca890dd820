// parley.v1.Admin over a real server (NodeInfo, Backup, Drain), the
// standard health service and server reflection.
//
// Debian's gRPC ships neither the generated health nor the reflection
// client headers. Health requests and answers are built from protobuf's
// wrapper types, which have the same wire form (HealthCheckRequest is one
// string field 1 like StringValue, HealthCheckResponse one enum field 1
// like Int32Value). Reflection uses the descriptors that
// libgrpc++_reflection (linked for the server) registers in the generated
// pool, through dynamic messages.

#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/text_format.h>
#include <google/protobuf/wrappers.pb.h>
#include <grpcpp/impl/client_unary_call.h>
#include <grpcpp/impl/rpc_method.h>

#include <filesystem>
#include <set>

#include "api/api_fixture.hpp"

namespace parley::api_test {
namespace {

using grpc::StatusCode;

// grpc.health.v1.HealthCheckResponse.ServingStatus
constexpr int serving = 1;
constexpr int not_serving = 2;

/// grpc.health.v1.Health/Check for `service` ("" = the whole server): the
/// call's status and the serving status it answered.
std::pair<grpc::Status, int> health_check(grpc::Channel& ch, const std::string& service = {}) {
  static const grpc::internal::RpcMethod check{"/grpc.health.v1.Health/Check",
                                               grpc::internal::RpcMethod::NORMAL_RPC};
  google::protobuf::StringValue req;
  req.set_value(service);
  google::protobuf::Int32Value out;
  auto ctx = caller();
  auto s = grpc::internal::BlockingUnaryCall(&ch, check, ctx.get(), req, &out);
  return {s, out.value()};
}

/// The service names listed by server reflection (v1alpha), or why not.
struct reflection_answer {
  grpc::Status status;
  std::set<std::string> services;
  /// The name of the file that defines `symbol` (when asked).
  std::string file_of_symbol;
};

reflection_answer reflect(grpc::Channel& ch, const std::string& symbol) {
  reflection_answer out;
  auto* pool = google::protobuf::DescriptorPool::generated_pool();
  auto* req_type = pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionRequest");
  auto* resp_type = pool->FindMessageTypeByName("grpc.reflection.v1alpha.ServerReflectionResponse");
  if (!req_type || !resp_type) {
    out.status = {StatusCode::UNIMPLEMENTED, "reflection descriptors not in the generated pool"};
    return out;
  }
  google::protobuf::DynamicMessageFactory factory;
  std::unique_ptr<google::protobuf::Message> list(factory.GetPrototype(req_type)->New());
  std::unique_ptr<google::protobuf::Message> find(factory.GetPrototype(req_type)->New());
  std::unique_ptr<google::protobuf::Message> resp(factory.GetPrototype(resp_type)->New());
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(R"(list_services: "")", list.get()));
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
    "file_containing_symbol: \"" + symbol + "\"", find.get()));

  static const grpc::internal::RpcMethod info{
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    grpc::internal::RpcMethod::BIDI_STREAMING};
  auto ctx = caller();
  std::unique_ptr<grpc::ClientReaderWriter<google::protobuf::Message, google::protobuf::Message>>
    stream(grpc::internal::ClientReaderWriterFactory<google::protobuf::Message,
                                                     google::protobuf::Message>::Create(&ch, info,
                                                                                        ctx.get()));
  const auto* refl = resp->GetReflection();
  if (stream->Write(*list) && stream->Read(resp.get())) {
    auto* lsr = resp_type->FindFieldByName("list_services_response");
    const auto& services = refl->GetMessage(*resp, lsr);
    auto* service_field = lsr->message_type()->FindFieldByName("service");
    auto* name_field = service_field->message_type()->FindFieldByName("name");
    const auto* lrefl = services.GetReflection();
    for (int i = 0; i < lrefl->FieldSize(services, service_field); ++i) {
      const auto& s = lrefl->GetRepeatedMessage(services, service_field, i);
      out.services.insert(s.GetReflection()->GetString(s, name_field));
    }
  }
  resp->Clear();
  if (stream->Write(*find) && stream->Read(resp.get())) {
    auto* fdr = resp_type->FindFieldByName("file_descriptor_response");
    const auto& files = refl->GetMessage(*resp, fdr);
    auto* proto_field = fdr->message_type()->FindFieldByName("file_descriptor_proto");
    const auto* frefl = files.GetReflection();
    if (frefl->FieldSize(files, proto_field) > 0) {
      google::protobuf::FileDescriptorProto file;
      if (file.ParseFromString(frefl->GetRepeatedString(files, proto_field, 0)))
        out.file_of_symbol = file.name();
    }
  }
  stream->WritesDone();
  out.status = stream->Finish();
  return out;
}

class AdminApi : public ApiFixture {};

// Verifies NodeInfo: the node's id, version, durability, counters and start
// time.
TEST_F(AdminApi, NodeInfoDescribesTheNode) {
  ASSERT_TRUE(introduce_all({"ada", "bob"}));
  ASSERT_TRUE(is_ok(create_group("ada", "lab")));
  ASSERT_TRUE(send_all("ada", "bob", {"hi"}));
  pb::NodeInfoResponse info;
  ASSERT_TRUE(is_ok(admin->NodeInfo(caller().get(), {}, &info)));
  EXPECT_EQ(info.node_id(), "node-1");
  EXPECT_FALSE(info.version().empty());
  EXPECT_EQ(info.durability(), "memory");
  EXPECT_EQ(info.agents(), 2u);
  EXPECT_EQ(info.rooms(), 1u);
  EXPECT_EQ(info.messages_sent(), 1u);
  EXPECT_EQ(info.deliveries(), 1u);
  EXPECT_GT(info.started_at(), 0);
  EXPECT_FALSE(info.draining());
}

// Verifies that a memory node has nothing to back up, and that a directory
// is required.
TEST_F(AdminApi, BackupOfAMemoryNodeIsFailedPrecondition) {
  pb::BackupRequest req;
  req.set_directory(dir_.sub("backup"));
  pb::BackupResponse out;
  EXPECT_TRUE(is_error(admin->Backup(as_admin().get(), req, &out), StatusCode::FAILED_PRECONDITION,
                       {"no store"}));
  req.set_directory("");
  EXPECT_TRUE(is_error(admin->Backup(as_admin().get(), req, &out), StatusCode::INVALID_ARGUMENT,
                       {"directory"}));
}

// Verifies the health service: SERVING for the server, NOT_FOUND for a
// service it does not know.
TEST_F(AdminApi, HealthAnswersServing) {
  auto [s, status] = health_check(*channel_);
  ASSERT_TRUE(is_ok(s));
  EXPECT_EQ(status, serving);
  auto [unknown, ignored] = health_check(*channel_, "no.such.Service");
  EXPECT_TRUE(is_error(unknown, StatusCode::NOT_FOUND));
}

// Verifies server reflection: it lists every Parley service and the health
// service, and finds the file defining a Parley symbol.
TEST_F(AdminApi, ReflectionListsTheServices) {
  auto r = reflect(*channel_, "parley.v1.AgentLink");
  ASSERT_TRUE(is_ok(r.status));
  for (auto name : {"parley.v1.Agents", "parley.v1.Rooms", "parley.v1.Turns", "parley.v1.Messages",
                    "parley.v1.Events", "parley.v1.AgentLink", "parley.v1.Admin",
                    "grpc.health.v1.Health"})
    EXPECT_TRUE(r.services.count(name)) << name << " is not listed";
  EXPECT_EQ(r.file_of_symbol, "parley/v1/api.proto");
}

// Verifies Admin.Drain: new calls get UNAVAILABLE, health says NOT_SERVING,
// NodeInfo still answers (draining), running event streams and links end
// with UNAVAILABLE.
TEST_F(AdminApi, DrainRefusesNewCallsAndEndsStreams) {
  ASSERT_TRUE(introduce_all({"ada"}));
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  pb::SubscribeRequest sub;
  sub.set_from_offset(1);
  auto events_stream = subscribe(sub);
  ASSERT_TRUE(events_stream->next()) << "the subscription did not start";
  auto l = open_link("ext", 4);
  ASSERT_TRUE(l);

  pb::DrainResponse drained;
  ASSERT_TRUE(is_ok(admin->Drain(as_admin().get(), {}, &drained)));
  EXPECT_TRUE(srv().draining());

  auto end = events_stream->wait_end();
  ASSERT_TRUE(end) << "the event stream did not end";
  EXPECT_TRUE(is_error(*end, StatusCode::UNAVAILABLE, {"draining", "offset"}));
  auto link_end = l->wait_end();
  ASSERT_TRUE(link_end) << "the link did not end";
  EXPECT_FALSE(link_end->ok()); // its code: LinkEndsWithUnavailableOnDrain

  pb::GetManifestRequest get;
  get.set_agent("ada");
  pb::Manifest m;
  EXPECT_TRUE(is_error(agents->GetManifest(caller().get(), get, &m), StatusCode::UNAVAILABLE,
                       {"draining"}));
  EXPECT_TRUE(is_error(send(text_to_agent("ada", "ext", "late")), StatusCode::UNAVAILABLE));
  pb::ListRoomsResponse lr;
  EXPECT_TRUE(is_error(rooms->ListRooms(caller().get(), {}, &lr), StatusCode::UNAVAILABLE));
  pb::TurnState ts;
  EXPECT_TRUE(is_error(turns->GetTurns(caller().get(), {}, &ts), StatusCode::UNAVAILABLE));
  pb::BackupResponse br;
  EXPECT_TRUE(is_error(admin->Backup(as_admin().get(), {}, &br), StatusCode::UNAVAILABLE));
  auto late_sub = subscribe(sub);
  auto late_end = late_sub->wait_end();
  ASSERT_TRUE(late_end);
  EXPECT_TRUE(is_error(*late_end, StatusCode::UNAVAILABLE));
  grpc::Status why;
  EXPECT_FALSE(open_link("ext", 1, nullptr, &why));
  EXPECT_TRUE(is_error(why, StatusCode::UNAVAILABLE));

  auto [hs, status] = health_check(*channel_);
  ASSERT_TRUE(is_ok(hs));
  EXPECT_EQ(status, not_serving);
  pb::NodeInfoResponse info;
  ASSERT_TRUE(is_ok(admin->NodeInfo(caller().get(), {}, &info)));
  EXPECT_TRUE(info.draining());
  EXPECT_EQ(info.agents(), 2u);
  // Draining twice is harmless.
  EXPECT_TRUE(is_ok(admin->Drain(as_admin().get(), {}, &drained)));
}

class AdminApiWithHealthPort : public ApiFixture {
  void configure_server(api::server_options& o) override { o.health_listen = "127.0.0.1:0"; }
};

// Verifies the plaintext health port (api.health_listen): it answers
// SERVING without credentials, serves no API call (UNIMPLEMENTED), and
// turns NOT_SERVING when the node drains, as the API's own health does.
TEST_F(AdminApiWithHealthPort, HealthPortServesOnlyHealthWithTheApisStatus) {
  ASSERT_NE(srv().health_port(), 0);
  ASSERT_NE(srv().health_port(), srv().port());
  auto probe = grpc::CreateChannel("127.0.0.1:" + std::to_string(srv().health_port()),
                                   grpc::InsecureChannelCredentials());
  auto [s, status] = health_check(*probe);
  ASSERT_TRUE(is_ok(s)) << s.error_message();
  EXPECT_EQ(status, serving);

  ASSERT_TRUE(is_ok(introduce("ada")));
  auto stub = pb::Agents::NewStub(probe);
  pb::GetManifestRequest get;
  get.set_agent("ada");
  pb::Manifest m;
  EXPECT_TRUE(is_error(stub->GetManifest(as_admin().get(), get, &m), StatusCode::UNIMPLEMENTED));
  pb::NodeInfoResponse info;
  EXPECT_TRUE(is_error(pb::Admin::NewStub(probe)->NodeInfo(as_admin().get(), {}, &info),
                       StatusCode::UNIMPLEMENTED));

  pb::DrainResponse drained;
  ASSERT_TRUE(is_ok(admin->Drain(as_admin().get(), {}, &drained)));
  auto [after, drained_status] = health_check(*probe);
  ASSERT_TRUE(is_ok(after));
  EXPECT_EQ(drained_status, not_serving);
}

// Verifies a second server on the API's address is refused with
// UNAVAILABLE (gRPC's default SO_REUSEPORT would let both bind it and
// split the connections between two nodes).
TEST_F(AdminApi, AnAddressInUseFailsTheStart) {
  api::server_options o;
  o.listen = srv().address();
  auto second = api::server::start(n(), o);
  ASSERT_FALSE(second) << "a second server bound " << o.listen;
  EXPECT_EQ(second.error().code, errc::unavailable);
  EXPECT_NE(second.error().message.find(o.listen), std::string::npos) << second.error().message;
}

// Verifies a health port that cannot be bound fails the start with
// UNAVAILABLE naming the address, rather than a server without probes.
TEST_F(AdminApiWithHealthPort, HealthPortInUseFailsTheStart) {
  api::server_options o;
  o.listen = "127.0.0.1:0";
  o.health_listen = "127.0.0.1:" + std::to_string(srv().health_port()); // taken
  auto second = api::server::start(n(), o);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, errc::unavailable);
  EXPECT_NE(second.error().message.find("health probes"), std::string::npos) << second.error().message;
  EXPECT_NE(second.error().message.find(o.health_listen), std::string::npos) << second.error().message;
}

// Verifies that a link running when the node drains is told why (a
// `closing` message with UNAVAILABLE and "reconnect later") before the
// stream ends with UNAVAILABLE.
TEST_F(AdminApi, LinkEndsWithUnavailableOnDrain) {
  ASSERT_TRUE(is_ok(introduce("ext", pb::Behavior::KIND_EXTERNAL)));
  auto l = open_link("ext", 4);
  ASSERT_TRUE(l);
  pb::DrainResponse drained;
  ASSERT_TRUE(is_ok(admin->Drain(as_admin().get(), {}, &drained)));
  auto bye = l->next();
  ASSERT_TRUE(bye && bye->has_closing()) << (bye ? bye->ShortDebugString() : "nothing");
  EXPECT_EQ(bye->closing().code(), static_cast<int>(StatusCode::UNAVAILABLE));
  EXPECT_NE(bye->closing().message().find("draining"), std::string::npos);
  EXPECT_NE(bye->closing().message().find("reconnect"), std::string::npos);
  auto end = l->wait_end();
  ASSERT_TRUE(end) << "the link did not end";
  EXPECT_TRUE(is_error(*end, StatusCode::UNAVAILABLE, {"draining"}));
}

// -- durable node -------------------------------------------------------------------

class DurableAdminApi : public DurableApiFixture {};

// Verifies a backup of a durable node into a directory on its host, and
// that NodeInfo reports the durability.
TEST_F(DurableAdminApi, BackupWritesABackup) {
  ASSERT_TRUE(introduce_all({"ada"}));
  pb::BackupRequest req;
  req.set_directory(dir_.sub("backup"));
  pb::BackupResponse out;
  ASSERT_TRUE(is_ok(admin->Backup(as_admin().get(), req, &out)));
  EXPECT_EQ(out.directory(), req.directory());
  ASSERT_TRUE(std::filesystem::is_directory(req.directory()));
  EXPECT_FALSE(std::filesystem::is_empty(req.directory()));
  // Incremental: a second backup into the same directory works too.
  EXPECT_TRUE(is_ok(admin->Backup(as_admin().get(), req, &out)));

  pb::NodeInfoResponse info;
  ASSERT_TRUE(is_ok(admin->NodeInfo(caller().get(), {}, &info)));
  EXPECT_EQ(info.durability(), "sync");
}

// -- with an admin token ----------------------------------------------------------


} // namespace
} // namespace parley::api_test
