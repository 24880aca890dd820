// Raw gRPC baselines of the API figures: what gRPC alone (the sync C++ API
// that parley::api::server uses) does on this machine, with a server that
// only answers. Server and clients share one process, on 127.0.0.1, as in
// api_bench. Each run is one figure in a fresh process (the median of 3, 1
// with --quick); the answer is `name value unit` on stdout (two lines for
// latency) for scripts/bench to hand to api_bench, details go to stderr.
//
//   raw_grpc unary     requests/s: one client thread calling a unary rpc
//                      sequentially (a ~100-byte message with ids, like
//                      parley.v1 Messages.Send)
//   raw_grpc stream    results/s: bidirectional streams (one per client,
//                      each on its own connection) carrying batches of
//                      1,000 such messages, each batch answered by 1,000
//                      small results, one stream message each, with 4
//                      batches in flight per stream (the shape of an agent
//                      link's send_batch)
//   raw_grpc unary16   requests/s of 16 client threads (--threads), each on
//                      its own connection, as api_bench unary16
//   raw_grpc latency   p50 and p99 of the unary call, ms
//   raw_grpc stream_coalesced
//                      analysis only: stream, with the results of a batch
//                      written with buffer_hint (sent together)
//   raw_grpc unary_health
//                      analysis only: unary, with gRPC's default health
//                      service enabled as in parley::api::server

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "bench/raw_echo.grpc.pb.h"
#include "bench_params.hpp"
#include "bench_report.hpp"
#include "grpc_load.hpp"

namespace {

namespace pb = ::parley::bench;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

/// Answers like a node that has delivered the message: its id (a generated
/// one when it has none), status delivered, the time.
class echo_service final : public pb::RawEcho::Service {
public:
  /// coalesce: every result of a batch but the last is written with
  /// buffer_hint, so gRPC may send them together (analysis, see
  /// run_stream_coalesced); otherwise each Write is flushed on its own, as
  /// in the agent link.
  explicit echo_service(bool coalesce = false) : coalesce_(coalesce) {}

  grpc::Status Send(grpc::ServerContext*, const pb::EchoRequest* req,
                    pb::EchoResponse* out) override {
    out->set_id(id_of(req->message()));
    out->set_status(2);
    out->set_sent_at(now_ms());
    return grpc::Status::OK;
  }

  grpc::Status Stream(grpc::ServerContext*,
                      grpc::ServerReaderWriter<pb::RawResult, pb::RawBatch>* stream) override {
    pb::RawBatch batch;
    pb::RawResult r;
    const auto hint = grpc::WriteOptions{}.set_buffer_hint();
    while (stream->Read(&batch)) {
      const int n = batch.messages_size();
      for (int i = 0; i < n; ++i) {
        r.set_id(id_of(batch.messages(i)));
        r.set_status(2);
        r.set_sent_at(now_ms());
        const bool ok = coalesce_ && i + 1 < n ? stream->Write(r, hint) : stream->Write(r);
        if (!ok)
          return grpc::Status::OK;
      }
    }
    return grpc::Status::OK;
  }

private:
  std::string id_of(const pb::RawMessage& m) {
    if (!m.id().empty())
      return m.id();
    return "api-" + std::to_string(next_id_.fetch_add(1, std::memory_order_relaxed));
  }

  const bool coalesce_;
  std::atomic<uint64_t> next_id_{1'000'000};
};

struct raw_server {
  echo_service service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  /// health: also serve grpc.health.v1 with gRPC's default health service,
  /// as parley::api::server does (src/api/server.cpp), for analysis.
  explicit raw_server(bool coalesce = false, bool health = false) : service(coalesce) {
    grpc::EnableDefaultHealthCheckService(health);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    b.RegisterService(&service);
    server = b.BuildAndStart();
    if (!server || port == 0) {
      std::cerr << "raw_grpc: cannot listen on 127.0.0.1:0\n";
      bench::fast_exit(1);
    }
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

/// Agent names as api_bench's (bench/population.hpp agent_name).
std::string agent_name(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "agent-%07llu", static_cast<unsigned long long>(i));
  return buf;
}

// -- unary: requests/s and latency ------------------------------------------------------

/// One client thread calling Send sequentially: warm-up, then the window.
/// Returns (calls in the window, seconds, latencies in ms if asked).
struct unary_result {
  uint64_t calls = 0;
  double secs = 0;
  double cpu_s = 0;
  long switches = 0;
  std::vector<double> ms;
};

unary_result call_unary(const bench::options& o, bool timed, bool health = false) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  raw_server srv{false, health};
  auto stub = pb::RawEcho::NewStub(bench::own_channel(srv.address()));
  const auto& contents = bench::api_texts();
  // As api_bench unary: agent 0 to agent 1, a fresh id per call.
  pb::EchoRequest req;
  req.mutable_message()->set_from(agent_name(0));
  req.mutable_message()->set_to(agent_name(1));
  pb::EchoResponse resp;
  uint64_t n = 0;
  auto call = [&] {
    grpc::ClientContext ctx;
    req.mutable_message()->set_id("u-" + std::to_string(n));
    req.mutable_message()->set_content(contents[n % contents.size()]);
    ++n;
    auto s = stub->Send(&ctx, req, &resp);
    if (!s.ok()) {
      std::cerr << "raw_grpc: Send failed: " << s.error_message() << "\n";
      bench::fast_exit(1);
    }
  };
  auto t0 = bench::clock_type::now();
  while (bench::seconds_since(t0) < bench::warmup_s)
    call();
  unary_result r;
  const uint64_t first = n;
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  auto t1 = bench::clock_type::now();
  while (bench::seconds_since(t1) < secs) {
    if (timed) {
      auto c0 = bench::clock_type::now();
      call();
      r.ms.push_back(bench::seconds_since(c0) * 1e3);
    } else {
      call();
    }
  }
  r.secs = bench::seconds_since(t1);
  r.cpu_s = bench::process_cpu_s() - cpu0;
  r.switches = bench::context_switches() - cs0;
  r.calls = n - first;
  return r;
}

[[noreturn]] void unary_rate(const bench::options& o, bool health, const char* name) {
  auto r = call_unary(o, false, health);
  const double rate = static_cast<double>(r.calls) / r.secs;
  std::cerr << "raw_grpc " << name << ": " << r.calls << " sequential calls in " << r.secs << " s, "
            << rate << " requests/s, process CPU " << r.cpu_s / r.secs << " cores, "
            << r.cpu_s / static_cast<double>(r.calls) * 1e6 << " us and "
            << static_cast<double>(r.switches) / static_cast<double>(r.calls)
            << " context switches per call\n";
  bench::deliver({rate, {}});
}

[[noreturn]] void run_unary(const bench::options& o) {
  unary_rate(o, false, "unary");
}
/// Unary with api_unary_clients (or --threads) client threads, each on its
/// own connection, as api_bench unary16.
[[noreturn]] void run_unary_threads(const bench::options& o) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned threads = o.threads != 0 ? o.threads : bench::api_unary_clients;
  raw_server srv{false, false};
  const auto& contents = bench::api_texts();
  auto r = bench::run_unary_threads(threads, bench::warmup_s, secs, [&](unsigned t) {
    auto stub = std::shared_ptr<pb::RawEcho::Stub>(pb::RawEcho::NewStub(bench::own_channel(srv.address())));
    return [stub, t, &contents, n = uint64_t{0}]() mutable {
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true); // a connect that fails once is retried, not fatal
      pb::EchoRequest req;
      req.mutable_message()->set_from(agent_name(2 * t));
      req.mutable_message()->set_to(agent_name(2 * t + 1));
      req.mutable_message()->set_id("u-" + std::to_string(t) + "-" + std::to_string(n));
      req.mutable_message()->set_content(contents[n++ % contents.size()]);
      pb::EchoResponse resp;
      if (auto s = stub->Send(&ctx, req, &resp); !s.ok()) {
        std::cerr << "raw_grpc: Send failed: " << s.error_message() << "\n";
        bench::fast_exit(1);
      }
    };
  });
  const double rate = static_cast<double>(r.calls) / r.secs;
  std::cerr << "raw_grpc unary16: " << threads << " client threads, " << r.calls << " calls in "
            << r.secs << " s, " << rate << " requests/s, process CPU " << r.cpu_s / r.secs
            << " cores, " << r.cpu_s / static_cast<double>(r.calls) * 1e6 << " us per call\n";
  bench::deliver({rate, {}});
}

/// Analysis only: unary with gRPC's default health service enabled, as in
/// parley::api::server (gRPC 1.51 then runs callback-queue threads,
/// "nexting_thread", that poll beside the sync server's).
[[noreturn]] void run_unary_health(const bench::options& o) {
  unary_rate(o, true, "unary_health");
}

[[noreturn]] void run_latency(const bench::options& o) {
  auto r = call_unary(o, true);
  const double p50 = bench::percentile(r.ms, 0.50), p99 = bench::percentile(r.ms, 0.99);
  std::cerr << "raw_grpc latency: " << r.ms.size() << " sequential calls, p50 " << p50
            << " ms, p99 " << p99 << " ms, max " << bench::percentile(r.ms, 1.0) << " ms\n";
  bench::sample s;
  s.value = p50;
  s.more = {p99};
  bench::deliver(s);
}

// -- stream: results/s of batches ------------------------------------------------------------

[[noreturn]] void stream_batches(const bench::options& o, bool coalesce, const char* name) {
  const double secs = o.duration(bench::seconds_full, bench::seconds_quick);
  const unsigned clients = o.threads != 0 ? o.threads : bench::api_link_clients;
  const size_t batch = o.n != 0 ? o.n : bench::api_batch;
  raw_server srv{coalesce};
  using pump = bench::batch_pump<pb::RawBatch, pb::RawResult>;
  std::vector<std::unique_ptr<pump>> pumps;
  for (unsigned c = 0; c < clients; ++c) {
    // The same batches as api_bench's: empty ids (the node picks them),
    // ~100 bytes of text to one of api_recipients agents.
    std::vector<pb::RawBatch> batches(bench::api_prebuilt_batches);
    uint64_t i = 0;
    for (auto& b : batches)
      for (size_t k = 0; k < batch; ++k, ++i) {
        auto* m = b.add_messages();
        m->set_to(agent_name(i % bench::api_recipients));
        m->set_content(bench::message_content(i % bench::api_contents));
      }
    auto ctx = std::make_unique<grpc::ClientContext>();
    auto stub = pb::RawEcho::NewStub(bench::own_channel(srv.address()));
    auto stream = stub->Stream(ctx.get());
    pumps.push_back(std::make_unique<pump>(
      std::move(ctx), std::move(stream), std::move(batches), batch, bench::api_batches_in_flight,
      [](const pb::RawResult& r, std::string&) {
        return r.status() == 2 ? bench::answer::ok : bench::answer::failed;
      }));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(bench::warmup_s));
  const double cpu0 = bench::process_cpu_s();
  const long cs0 = bench::context_switches();
  const auto [a, b, elapsed] =
    bench::measure_window(0, secs, [&] { return bench::acknowledged(pumps); });
  const double cpu = bench::process_cpu_s() - cpu0;
  const double switches = static_cast<double>(bench::context_switches() - cs0);
  const double rate = static_cast<double>(b - a) / elapsed;
  bool broken = false;
  for (auto& p : pumps)
    broken = broken || p->broken();
  std::cerr << "raw_grpc " << name << ": " << clients << " streams x "
            << bench::api_batches_in_flight
            << " batches of " << batch << " in flight, " << b - a << " results in " << elapsed
            << " s, " << rate << " results/s, process CPU " << cpu / elapsed << " cores, "
            << cpu / static_cast<double>(b - a) * 1e6 << " us and "
            << switches / static_cast<double>(b - a) << " context switches per result"
            << (broken ? ", A STREAM BROKE" : "") << "\n";
  if (broken)
    bench::fast_exit(1);
  bench::deliver({rate, {}});
}

[[noreturn]] void run_stream(const bench::options& o) {
  stream_batches(o, false, "stream");
}
/// Analysis only (scripts/bench does not run it): the same with the
/// results of a batch coalesced by buffer_hint, what the agent link could
/// gain from it.
[[noreturn]] void run_stream_coalesced(const bench::options& o) {
  stream_batches(o, true, "stream_coalesced");
}

const bench::baseline_def baselines[] = {
  {"unary", "raw_grpc.unary", "requests/s", run_unary},
  {"unary16", "raw_grpc.unary_16", "requests/s", run_unary_threads},
  {"stream", "raw_grpc.stream_batches", "results/s", run_stream},
  {"stream_coalesced", "raw_grpc.stream_coalesced", "results/s", run_stream_coalesced},
  {"unary_health", "raw_grpc.unary_health", "requests/s", run_unary_health},
  {"latency", "raw_grpc.unary_p50", "ms", run_latency, "raw_grpc.unary_p99"},
};

} // namespace

int main(int argc, char** argv) {
  auto o = bench::options::parse(argc, argv);
  // No gRPC before the fork: every run starts its own.
  if (bench::run_baseline(o, baselines))
    return 0;
  std::cerr << "usage: raw_grpc unary|unary16|stream|latency|stream_coalesced|unary_health [--quick] "
               "[--seconds S] [--repeats R] "
               "[--threads CLIENTS] [--n BATCH]\n";
  return 2;
}
