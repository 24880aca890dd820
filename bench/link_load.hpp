#pragma once

// The client side of Parley's agent link (parley.v1 AgentLink.Link) in the
// API figures, shared by api_bench (a node in the same process) and
// cluster_bench (parleyd processes): opening a link, the link figure's
// send_batch messages and how their results are judged, and its load (one
// batch_pump per linked sender). Kept apart from grpc_load.hpp, which
// raw_grpc includes without the parley.v1 protos.

#include <grpcpp/grpcpp.h>

#include "bench_params.hpp"
#include "grpc_load.hpp"
#include "parley/v1/api.grpc.pb.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace bench {

/// How a program gives up: says `what: why` and exits (its fail()).
using fail_fn = void (*)(const std::string& what, const std::string& why);

/// The client side of an open AgentLink.Link (past its `ready`).
struct link_client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<::parley::v1::AgentLink::Stub> stub;
  std::unique_ptr<grpc::ClientContext> ctx;
  std::unique_ptr<grpc::ClientReaderWriter<::parley::v1::LinkClient, ::parley::v1::LinkServer>> stream;
};

/// Links external agent `agent` over `channel` with `credit`; `fail` if
/// the link does not answer its open with `ready`.
inline link_client open_link(std::shared_ptr<grpc::Channel> channel, const std::string& agent, uint32_t credit,
                             fail_fn fail) {
  link_client l;
  l.channel = std::move(channel);
  l.stub = ::parley::v1::AgentLink::NewStub(l.channel);
  l.ctx = std::make_unique<grpc::ClientContext>();
  l.stream = l.stub->Link(l.ctx.get());
  ::parley::v1::LinkClient open;
  open.mutable_open()->set_agent(agent);
  open.mutable_open()->set_credit(credit);
  ::parley::v1::LinkServer first;
  if (!l.stream->Write(open) || !l.stream->Read(&first) || !first.has_ready())
    fail("AgentLink.Link " + agent, l.stream->Finish().error_message());
  return l;
}

/// `count` prebuilt send_batch messages of `batch` messages each, to
/// `recipients` round robin, with the texts of api_texts() (empty ids: the
/// node picks them; empty from: the linked agent).
inline std::vector<::parley::v1::LinkClient> link_batches(const std::vector<std::string>& recipients, size_t batch,
                                                          size_t count) {
  const auto& texts = api_texts();
  std::vector<::parley::v1::LinkClient> batches(count);
  uint64_t i = 0;
  for (auto& b : batches)
    for (size_t k = 0; k < batch; ++k, ++i) {
      auto* m = b.mutable_send_batch()->add_messages();
      m->set_to_agent(recipients[i % recipients.size()]);
      m->set_content(texts[i % texts.size()]);
    }
  return batches;
}

/// A message counts when its SendResult comes back without an error.
inline answer judge_link(const ::parley::v1::LinkServer& x, std::string& why) {
  if (!x.has_sent())
    return answer::other;
  if (x.sent().error_code() == 0)
    return answer::ok;
  why = x.sent().error_message();
  return answer::failed;
}

using link_pump = batch_pump<::parley::v1::LinkClient, ::parley::v1::LinkServer>;

/// The shape of a link load, per link; the default is the link figure's.
struct link_shape {
  /// Messages per send_batch.
  size_t batch = api_batch;
  /// Batches written and not yet answered, at most.
  unsigned window = api_batches_in_flight;
  /// Batches built before the load starts (cycled).
  size_t prebuilt = api_prebuilt_batches;
  /// Messages/s to keep to; 0: as fast as the window lets it.
  double per_s = 0;
};

/// One pump per sender, each on its own link (its own connection) to
/// `address`, writing send_batch to `recipients` round robin.
struct link_load {
  std::vector<link_client> links; // keep the channels and stubs (the pumps go first)
  std::vector<std::unique_ptr<link_pump>> pumps;

  link_load(const std::string& address, const std::vector<std::string>& senders,
            const std::vector<std::string>& recipients, fail_fn fail, const link_shape& shape = {}) {
    for (auto& self : senders) {
      auto l = open_link(own_channel(address), self, 0, fail);
      pumps.push_back(std::make_unique<link_pump>(std::move(l.ctx), std::move(l.stream),
                                                  link_batches(recipients, shape.batch, shape.prebuilt),
                                                  shape.batch, shape.window, judge_link, shape.per_s));
      links.push_back(std::move(l));
    }
  }

  uint64_t acknowledged() const { return bench::acknowledged(pumps); }
  uint64_t failed() const { return bench::failed(pumps); }
  uint64_t late() const {
    uint64_t sum = 0;
    for (auto& p : pumps)
      sum += p->late();
    return sum;
  }
  /// "failed results N[ (first: WHY)][, A LINK BROKE]".
  std::string problems() const {
    std::string failure;
    bool broken = false;
    for (auto& p : pumps) {
      broken = broken || p->broken();
      if (failure.empty())
        failure = p->first_failure();
    }
    return "failed results " + std::to_string(failed()) + (failure.empty() ? "" : " (first: " + failure + ")")
           + (broken ? ", A LINK BROKE" : "");
  }
};

} // namespace bench
