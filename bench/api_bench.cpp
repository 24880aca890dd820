// Parley API figures: a memory node (parley::node, durability memory, 2
// scheduler threads) behind parley::api::server on 127.0.0.1:0, called by
// gRPC clients in the same process, each figure in fresh processes and
// reported beside the raw gRPC baseline that scripts/bench measured just
// before (raw_grpc, passed in with --baseline-*). The figures are the median
// of 3 fresh processes (1 with --quick).
//
//   api_bench unary   Messages.Send calls/s: one client thread, sequential
//                     calls from agent 0 to agent 1 (both silent), a fresh
//                     id each
//   api_bench unary16 the same with 16 client threads, each on its own
//                     connection, thread t from agent 2t to agent 2t+1
//   api_bench link    messages/s into the network through agent links: 2
//                     external agents (introduced with Agents.Introduce,
//                     KIND_EXTERNAL), each with its own link on its own
//                     connection, writing send_batch of 1,000 messages to
//                     1,000 silent agents, 4 batches in flight; a message
//                     counts when its SendResult comes back without error
//   api_bench rtt     round trip between two external agents A and B, each
//                     linked: A sends to B through its link, B's client
//                     acknowledges the delivery and replies through its
//                     link, A's client times its send to B's reply's
//                     delivery; sequential, p50 and p99 (two rows; the p99
//                     row takes the --baseline2-* baseline)
//
// Analysis only (scripts/bench does not run them): the node without gRPC.
//
//   api_bench node_send   sequential node::send/s, the unary figure's calls
//   api_bench node_batch  node::send_many of the link figure's batches/s

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "bench_params.hpp"
#include "bench_report.hpp"
#include "grpc_load.hpp"
#include "link_load.hpp"
#include "parley/api/server.hpp"
#include "parley/node/node.hpp"
#include "parley/v1/api.grpc.pb.h"
#include "population.hpp"

namespace {

namespace pb = ::parley::v1;
using namespace parley;
using bench::agent_name;

[[noreturn]] void fail(const std::string& what, const std::string& why) {
  std::cerr << "api_bench: " << what << ": " << why << "\n";
  bench::fast_exit(1);
}

/// A memory node with `silent` silent agents (agent_name(0..silent-1)) and
/// the API server in front of it. Both live until the run's process exits.
struct api_node {
  std::unique_ptr<node> n;
  std::unique_ptr<api::server> srv;

  explicit api_node(uint64_t silent) {
    node_config cfg;
    cfg.scheduler_threads = bench::scheduler_threads;
    cfg.call_timeout = std::chrono::milliseconds(60000);
    cfg.durability = durability::memory;
    auto started = node::start(cfg);
    if (!started)
      fail("node::start", to_string(started.error()));
    n = std::move(*started);
    if (silent > 0) {
      const auto catalogue = bench::make_catalogue();
      std::vector<agent_spec> specs;
      for (uint64_t i = 0; i < silent; ++i)
        specs.push_back(bench::make_spec(i, catalogue, behavior_spec::kind::silent));
      if (auto r = n->introduce_many(as_admin, std::move(specs)); !r)
        fail("introduce_many", to_string(r.error()));
    }
    api::server_options opt;
    opt.listen = "127.0.0.1:0";
    // Admission still runs on every call (its cost is measured), but the
    // benchmark's one principal must not meet the per-principal rate.
    opt.limits.requests_per_second = 0; // unlimited
    auto s = api::server::start(*n, opt);
    if (!s)
      fail("api::server::start", to_string(s.error()));
    srv = std::move(*s);
  }

  std::shared_ptr<grpc::Channel> channel() const { return bench::own_channel(srv->address()); }
};

/// Introduces external agent `id` through the API (as a client would).
void introduce_external(const api_node& an, const std::string& id) {
  auto stub = pb::Agents::NewStub(an.channel());
  pb::IntroduceRequest req;
  req.mutable_manifest()->set_id(id);
  req.mutable_manifest()->set_display_name("External " + id);
  req.mutable_manifest()->set_bio("A process outside the node, linked through AgentLink.Link.");
  req.mutable_behavior()->set_kind(pb::Behavior::KIND_EXTERNAL);
  grpc::ClientContext ctx;
  pb::Manifest out;
  if (auto s = stub->Introduce(&ctx, req, &out); !s.ok())
    fail("Agents.Introduce " + id, s.error_message());
}

// -- 1. unary Messages.Send ------------------------------------------------------------

[[noreturn]] void run_unary(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  api_node an{2};
  auto stub = pb::Messages::NewStub(an.channel());
  const auto& texts = bench::api_texts();
  pb::SendRequest req;
  req.mutable_message()->set_from(agent_name(0));
  req.mutable_message()->set_to_agent(agent_name(1));
  pb::SendResponse resp;
  uint64_t n = 0;
  auto call = [&] {
    grpc::ClientContext ctx;
    req.mutable_message()->set_id("u-" + std::to_string(n));
    req.mutable_message()->set_content(texts[n % texts.size()]);
    ++n;
    if (auto s = stub->Send(&ctx, req, &resp); !s.ok())
      fail("Messages.Send", s.error_message());
  };
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < bench::warmup_s)
    call();
  const uint64_t first = n;
  const auto s0 = an.n->stats();
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    call();
  const double elapsed = bench::seconds_since(t1);
  const double cpu = bench::process_cpu_s() - cpu0;
  const double switches = static_cast<double>(bench::context_switches() - cs0);
  const auto s1 = an.n->stats();
  const uint64_t calls = n - first;

  bench::sample s;
  s.value = static_cast<double>(calls) / elapsed;
  s.notes.push_back(std::to_string(calls) + " sequential Messages.Send calls (agent 0 -> 1, both "
                    "silent, fresh ids, ~100-byte text), "
                    + std::to_string(s1.deliveries - s0.deliveries)
                    + " deliveries; process CPU " + bench::human(cpu / elapsed) + " cores, "
                    + bench::human(cpu / static_cast<double>(calls) * 1e6) + " us and "
                    + bench::human(switches / static_cast<double>(calls))
                    + " context switches per call");
  bench::deliver(s);
}

// -- 1b. unary Messages.Send from many client threads ------------------------------------

[[noreturn]] void run_unary_threads(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned threads = o.threads != 0 ? o.threads : bench::api_unary_clients;
  api_node an{2 * threads};
  const auto& texts = bench::api_texts();
  const auto s0 = an.n->stats();
  auto r = bench::run_unary_threads(threads, bench::warmup_s, secs, [&](unsigned t) {
    auto stub = std::shared_ptr<pb::Messages::Stub>(pb::Messages::NewStub(an.channel()));
    return [stub, t, &texts, n = uint64_t{0}]() mutable {
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true); // a connect that fails once is retried, not fatal
      pb::SendRequest req;
      req.mutable_message()->set_from(agent_name(2 * t));
      req.mutable_message()->set_to_agent(agent_name(2 * t + 1));
      req.mutable_message()->set_id("u-" + std::to_string(t) + "-" + std::to_string(n));
      req.mutable_message()->set_content(texts[n++ % texts.size()]);
      pb::SendResponse resp;
      if (auto s = stub->Send(&ctx, req, &resp); !s.ok())
        fail("Messages.Send", s.error_message());
    };
  });
  const auto s1 = an.n->stats();
  bench::sample s;
  s.value = static_cast<double>(r.calls) / r.secs;
  s.notes.push_back(std::to_string(threads) + " client threads, each on its own connection sending "
                    "from agent 2t to 2t+1 (silent): " + std::to_string(r.calls) + " calls, "
                    + std::to_string(s1.deliveries - s0.deliveries) + " deliveries in all; process CPU "
                    + bench::human(r.cpu_s / r.secs) + " cores, "
                    + bench::human(r.cpu_s / static_cast<double>(r.calls) * 1e6) + " us and "
                    + bench::human(static_cast<double>(r.switches) / static_cast<double>(r.calls))
                    + " context switches per call");
  bench::deliver(s);
}

// -- 2. messages/s through links ------------------------------------------------------------

[[noreturn]] void run_link(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned clients = o.threads != 0 ? o.threads : bench::api_link_clients;
  const size_t batch = o.n != 0 ? o.n : bench::api_batch;
  api_node an{bench::api_recipients};
  std::vector<std::string> recipients, senders;
  for (uint64_t i = 0; i < bench::api_recipients; ++i)
    recipients.push_back(agent_name(i));
  for (unsigned c = 0; c < clients; ++c) {
    senders.push_back(agent_name(bench::api_recipients + c));
    introduce_external(an, senders.back());
  }
  bench::link_load load{an.srv->address(), senders, recipients, fail, {.batch = batch}};
  std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
  const auto s0 = an.n->stats();
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  const auto [a, b, elapsed] = bench::measure_window(0, secs, [&] { return load.acknowledged(); });
  const double cpu = bench::process_cpu_s() - cpu0;
  const double switches = static_cast<double>(bench::context_switches() - cs0);
  const auto s1 = an.n->stats();
  const double rate = static_cast<double>(b - a) / elapsed;

  bench::sample s;
  s.value = rate;
  s.notes.push_back(std::to_string(clients) + " linked external agents x "
                    + std::to_string(bench::api_batches_in_flight)
                    + " send_batch of " + std::to_string(batch) + " in flight, to "
                    + std::to_string(bench::api_recipients) + " silent agents; "
                    + std::to_string(b - a) + " acknowledged in " + bench::human(elapsed)
                    + " s, " + load.problems());
  const double deliveries = static_cast<double>(s1.deliveries - s0.deliveries);
  s.notes.push_back("node: deliveries/s " + bench::human(deliveries / elapsed)
                    + ", refused " + std::to_string(s1.refused - s0.refused) + "; process CPU "
                    + bench::human(cpu / elapsed) + " cores, "
                    + bench::human(cpu / static_cast<double>(b - a) * 1e6) + " us and "
                    + bench::human(switches / static_cast<double>(b - a))
                    + " context switches per message");
  bench::deliver(s);
}

// -- 3. round trip between two linked agents ----------------------------------------------------

[[noreturn]] void run_rtt(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  api_node an{0};
  const auto a_id = agent_name(0), b_id = agent_name(1);
  introduce_external(an, a_id);
  introduce_external(an, b_id);
  auto a = bench::open_link(an.channel(), a_id, bench::api_rtt_credit, fail);
  auto b = bench::open_link(an.channel(), b_id, bench::api_rtt_credit, fail);
  const auto& texts = bench::api_texts();

  // B's client: acknowledge each delivery, reply to its sender.
  std::atomic<uint64_t> b_failed{0};
  std::thread responder([&] {
    pb::LinkServer in;
    pb::LinkClient ack, reply;
    reply.mutable_send()->set_to_agent(a_id);
    while (b.stream->Read(&in)) {
      if (in.has_delivery()) {
        ack.mutable_ack()->clear_deliveries();
        ack.mutable_ack()->add_deliveries(in.delivery().delivery());
        reply.mutable_send()->set_reply_to(in.delivery().id());
        reply.mutable_send()->set_content("re: " + in.delivery().content());
        if (!b.stream->Write(ack) || !b.stream->Write(reply))
          return;
      } else if (in.has_sent() && in.sent().error_code() != 0) {
        if (b_failed.fetch_add(1) == 0)
          std::cerr << "api_bench: B's reply failed: " << in.sent().error_message() << "\n";
      }
    }
  });

  // A's client: send, wait for the reply's delivery, acknowledge it.
  pb::LinkClient ping, ack;
  ping.mutable_send()->set_to_agent(b_id);
  pb::LinkServer in;
  uint64_t n = 0;
  auto round_trip = [&]() -> double {
    ping.mutable_send()->set_content(texts[n++ % texts.size()]);
    const auto t0 = bench::clock_type::now();
    if (!a.stream->Write(ping))
      fail("A's link", "write failed");
    for (;;) {
      if (!a.stream->Read(&in))
        fail("A's link", a.stream->Finish().error_message());
      if (in.has_sent() && in.sent().error_code() != 0)
        fail("A's send", in.sent().error_message());
      if (in.has_delivery())
        break;
    }
    const double ms = bench::seconds_since(t0) * 1e3;
    ack.mutable_ack()->clear_deliveries();
    ack.mutable_ack()->add_deliveries(in.delivery().delivery());
    if (!a.stream->Write(ack))
      fail("A's link", "write failed");
    return ms;
  };
  auto w0 = bench::clock_type::now();
  while (bench::seconds_since(w0) < bench::warmup_s)
    (void) round_trip();
  std::vector<double> ms;
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    ms.push_back(round_trip());
  const double elapsed = bench::seconds_since(t1);
  const double cpu = bench::process_cpu_s() - cpu0;
  const double switches = static_cast<double>(bench::context_switches() - cs0);
  const double p50 = bench::percentile(ms, 0.50), p99 = bench::percentile(ms, 0.99);

  bench::sample s;
  s.value = p50;
  s.more = {p99};
  s.notes.push_back(std::to_string(ms.size())
                    + " sequential round trips A -> B -> A over two links ("
                    + bench::human(static_cast<double>(ms.size()) / elapsed) + "/s); p99.9 "
                    + bench::human(bench::percentile(ms, 0.999)) + " ms, max "
                    + bench::human(bench::percentile(ms, 1.0)) + " ms; B's failed replies "
                    + std::to_string(b_failed.load()) + "; process CPU "
                    + bench::human(cpu / static_cast<double>(ms.size()) * 1e6) + " us and "
                    + bench::human(switches / static_cast<double>(ms.size()))
                    + " context switches per round trip");
  bench::deliver(s);
}

// -- analysis: the node alone, without gRPC ------------------------------------------------

/// Sequential node::send from one thread, the same messages as unary: what
/// the node adds to a Messages.Send (analysis only; scripts/bench skips it).
[[noreturn]] void run_node_send(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  api_node an{2};
  const auto& texts = bench::api_texts();
  uint64_t n = 0;
  auto call = [&] {
    message m;
    m.from = agent_name(0);
    m.to = address::agent(agent_name(1));
    m.id = "u-" + std::to_string(n);
    m.content = texts[n % texts.size()];
    ++n;
    if (auto r = an.n->send(as_admin, std::move(m)); !r)
      fail("node::send", to_string(r.error()));
  };
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < bench::warmup_s)
    call();
  const uint64_t first = n;
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs)
    call();
  const double elapsed = bench::seconds_since(t1);
  const double cpu = bench::process_cpu_s() - cpu0;
  const double switches = static_cast<double>(bench::context_switches() - cs0);
  const uint64_t calls = n - first;
  bench::sample s;
  s.value = static_cast<double>(calls) / elapsed;
  s.notes.push_back(std::to_string(calls) + " sequential node::send calls, no gRPC; "
                    + bench::human(elapsed / static_cast<double>(calls) * 1e6)
                    + " us each, process CPU "
                    + bench::human(cpu / static_cast<double>(calls) * 1e6) + " us and "
                    + bench::human(switches / static_cast<double>(calls))
                    + " context switches per call");
  bench::deliver(s);
}

/// node::send_many of the link figure's batches from `--threads` threads
/// (default api_link_clients), each as its own external agent, one batch at
/// a time: the node's share of link_msgs (analysis only).
[[noreturn]] void run_node_batch(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned clients = o.threads != 0 ? o.threads : bench::api_link_clients;
  const size_t batch = o.n != 0 ? o.n : bench::api_batch;
  api_node an{bench::api_recipients};
  const auto& texts = bench::api_texts();
  std::atomic<uint64_t> sent{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (unsigned c = 0; c < clients; ++c) {
    const auto self = agent_name(bench::api_recipients + c);
    introduce_external(an, self);
    threads.emplace_back([&, self] {
      for (uint64_t i = 0; !stop;) {
        std::vector<message> ms(batch);
        for (auto& m : ms) {
          m.from = self;
          m.to = address::agent(agent_name(i % bench::api_recipients));
          m.content = texts[i % texts.size()];
          ++i;
        }
        for (auto& r : an.n->send_many(as_admin, std::move(ms)))
          (r ? sent : failed).fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
  const double cpu0 = bench::process_cpu_s();
  const auto [a, b, elapsed] = bench::measure_window(0, secs, [&] { return sent.load(); });
  const double cpu = bench::process_cpu_s() - cpu0;
  bench::sample s;
  s.value = static_cast<double>(b - a) / elapsed;
  s.notes.push_back(std::to_string(clients) + " threads calling node::send_many with batches of "
                    + std::to_string(batch) + ", no gRPC; failed " + std::to_string(failed.load())
                    + "; process CPU " + bench::human(cpu / elapsed) + " cores, "
                    + bench::human(cpu / static_cast<double>(b - a) * 1e6) + " us per message");
  bench::deliver(s);
}

const bench::figure_def figures[] = {
  {"unary", "unary_sends_per_s", "sends/s", bench::goal::at_least_baseline, 0.8, run_unary},
  {"unary16", "unary_16_sends_per_s", "sends/s", bench::goal::at_least_baseline, 0.8, run_unary_threads},
  {"link", "link_msgs_per_s", "msgs/s", bench::goal::at_least_baseline, 0.8, run_link},
  // The p50 is the sample's value, the p99 its further value (with the
  // second baseline, the raw unary p99).
  {"rtt", "link_rtt_p50_ms", "ms", bench::goal::report_only, 0, run_rtt, "link_rtt_p99_ms"},
  // Analysis only (scripts/bench does not run them).
  {"node_send", "node_send_per_s", "sends/s", bench::goal::report_only, 0, run_node_send},
  {"node_batch", "node_batch_msgs_per_s", "msgs/s", bench::goal::report_only, 0, run_node_batch},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);
  // No gRPC server and no node before the fork: every run starts its own.
  if (bench::run_figure(o, figures))
    return 0;
  std::cerr << "usage: api_bench unary|unary16|link|rtt|node_send|node_batch [--quick] [--json FILE] "
               "[--seconds S] [--repeats R] [--threads LINKS] [--n BATCH] --baseline-name NAME "
               "--baseline-value V --baseline-unit UNIT "
               "[--baseline2-name NAME --baseline2-value V --baseline2-unit UNIT]\n";
  return 2;
}
