// Messages: sends (one, many, fire-and-forget), receipts, history and
// inbox reads (from the store, on the caller's thread), and MarkRead.

#include <algorithm>
#include <tuple>

#include <spdlog/spdlog.h>

#include "node/node_impl.hpp"
#include "node/pair_history.hpp"
#include "parley/storage/message_log.hpp"

namespace parley {

namespace {

// Fills in what the node owns (id, time, status) and checks the rest.
expected<void> prepare(node::impl& im, message& m) {
  if (m.id.empty())
    m.id = im.rt.generated_id("api-", im.next_message++);
  else if (is_generated_message_id(m.id))
    return unexpected{errc::invalid_argument,
                      "message id '" + m.id + "' has the form of the ids the node generates "
                      "(m<n>, api-<n>); leave it empty to get one, or choose another"};
  m.sent_at = im.rt.now();
  m.status = message_status::sent;
  m.delivery = 0;
  m.hops = 0;
  m.erased = false;
  return validate(m);
}

expected<caf::actor> sender(node::impl& im, const message& m) {
  auto a = im.agent(m.from);
  if (!a && a.error().code == errc::not_found)
    return unexpected{errc::not_found, "sender agent '" + m.from + "' does not exist"};
  return a;
}

// The sender lives on another node: its owner prepares and sends (its ids
// and its idempotency keys are the sender's node's).
bool sent_elsewhere(const node::impl& im, const message& m) {
  return im.rt.cluster && im.rt.place(m.from).elsewhere();
}

federation::remote_request send_request(principal p, message m) {
  federation::remote_request req;
  req.what = federation::remote_request::kind::send_as;
  req.caller = std::move(p);
  req.msg = std::move(m);
  return req;
}

} // namespace

task<expected<message>> node::send_async(principal p, message m) {
  if (sent_elsewhere(*impl_, m)) {
    auto from = m.from;
    auto r = co_await impl_->forward(send_request(std::move(p), std::move(m)), std::move(from));
    if (!r)
      co_return unexpected{r.error()};
    co_return std::move(r->msg);
  }
  if (auto ok = prepare(*impl_, m); !ok)
    co_return unexpected{ok.error()};
  auto a = sender(*impl_, m);
  if (!a)
    co_return unexpected{a.error()};
  // Answered by the agent straight to this coroutine (no relay).
  auto send = [&](const std::shared_ptr<reply_sink<send_receipt>>& sink) {
    caf::anon_send(*a, atoms::send_as::value, p, m, receipt_reply{sink, 0});
  };
  auto rs = co_await impl_->call_direct<send_receipt>(1, send);
  auto& r = rs.front();
  if (!r)
    co_return unexpected{r.error()};
  m.status = r->status;
  m.sent_at = r->sent_at;
  co_return m;
}

expected<message> node::send(const principal& p, message m) {
  return wait(send_async(p, std::move(m)));
}

expected<void> node::post(const principal& p, message m) {
  if (sent_elsewhere(*impl_, m)) {
    auto to = m.to.id;
    parley::start(send_async(p, std::move(m)), [to](expected<message> r) {
      if (!r)
        spdlog::warn("a post to '{}' through another node was refused: {}", to, to_string(r.error()));
    });
    return {};
  }
  if (auto ok = prepare(*impl_, m); !ok)
    return ok;
  auto a = sender(*impl_, m);
  if (!a)
    return unexpected{a.error()};
  // The reply (status or error) goes to no one: failures are counted and
  // published by the agent.
  caf::anon_send(*a, atoms::send_as::value, p, std::move(m));
  return {};
}

task<std::vector<expected<message>>> node::send_many_async(principal p, std::vector<message> ms) {
  std::vector<expected<message>> out(ms.size(), unexpected{errc::internal, "not sent"});
  // Every request first, then every answer: one round trip for the batch.
  // Sent in order from this thread, so one sender's messages stay in order;
  // each agent answers its own straight to this coroutine (no relay).
  std::vector<size_t> asked;
  std::vector<caf::actor> asks;
  asked.reserve(ms.size());
  asks.reserve(ms.size());
  for (size_t i = 0; i < ms.size(); ++i) {
    auto& m = ms[i];
    if (sent_elsewhere(*impl_, m)) {
      // One at a time, in order (a sender's order holds across nodes).
      out[i] = co_await send_async(p, std::move(m));
      continue;
    }
    if (auto ok = prepare(*impl_, m); !ok) {
      out[i] = unexpected{ok.error()};
      continue;
    }
    auto a = sender(*impl_, m);
    if (!a) {
      out[i] = unexpected{a.error()};
      continue;
    }
    asked.push_back(i);
    asks.push_back(std::move(*a));
  }
  if (asks.empty())
    co_return out;
  auto send = [&](const std::shared_ptr<reply_sink<send_receipt>>& sink) {
    for (size_t k = 0; k < asks.size(); ++k)
      caf::anon_send(asks[k], atoms::send_as::value, p, ms[asked[k]],
                     receipt_reply{sink, static_cast<uint32_t>(k)});
  };
  auto receipts = co_await impl_->call_direct<send_receipt>(asks.size(), send);
  for (size_t k = 0; k < asked.size(); ++k) {
    const auto i = asked[k];
    if (!receipts[k]) {
      out[i] = unexpected{receipts[k].error()};
      continue;
    }
    ms[i].status = receipts[k]->status;
    ms[i].sent_at = receipts[k]->sent_at;
    out[i] = std::move(ms[i]);
  }
  co_return out;
}

std::vector<expected<message>> node::send_many(const principal& p, std::vector<message> ms) {
  const auto n = ms.size();
  return wait(send_many_async(p, std::move(ms)), [n](const std::exception& e) {
    return std::vector<expected<message>>(n, internal_failure<message>(e));
  });
}

task<expected<message_status>> node::status_async(principal p, agent_id from, message_id id) {
  auto a = impl_->agent(from);
  if (!a)
    co_return unexpected{a.error()};
  co_return co_await impl_->ask_async<message_status>(*a, atoms::message_status_of::value, p, id);
}

expected<message_status> node::status(const principal& p, const agent_id& from, const message_id& id) {
  return wait(status_async(p, from, id));
}

namespace {

// A history page read by the node that keeps it (a blocking read, like the
// local one: the API calls it on its own thread).
expected<history_page> history_from(node::impl& im, federation::remote_request req, std::string target) {
  req.what = federation::remote_request::kind::read_history;
  auto r = wait(im.forward(std::move(req), std::move(target)));
  if (!r)
    return unexpected{r.error()};
  return history_page{std::move(r->messages), std::move(r->next_cursor)};
}

// What the node of `mine` keeps of its pair with `other` (flag: that half only).
expected<history_page> kept_half_elsewhere(node::impl& im, const principal& p, const agent_id& mine,
                                           const agent_id& other, const history_query& q) {
  federation::remote_request req;
  req.caller = p;
  req.agents = {mine, other};
  req.query = q;
  req.flag = true;
  return history_from(im, std::move(req), mine);
}

// A pair split over two nodes: each keeps what its agent received. Both
// halves are read from the same cursor (a position in the dialogue, valid
// in either store) and merged; the page ends at the `limit`-th message, and
// the next cursor is that message's position, so nothing is skipped or
// repeated whichever half it came from.
expected<history_page> split_pair_history(node::impl& im, const principal& p, const agent_id& a,
                                          const agent_id& b, const history_query& q) {
  std::vector<message> merged;
  bool more = false;
  std::string fallback; // a half's cursor, for a page of stale entries only
  for (auto [mine, other] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    auto half = im.rt.place(*mine).at == placement::where::here ? kept_pair_history(im, *mine, *other, q)
                                                                 : kept_half_elsewhere(im, p, *mine, *other, q);
    if (!half)
      return unexpected{half.error()};
    more = more || !half->next_cursor.empty();
    if (fallback.empty())
      fallback = half->next_cursor;
    for (auto& m : half->messages)
      merged.push_back(std::move(m));
  }
  const bool newest_first = q.direction == history_query::order::newest_first;
  auto key = [](const message& m) { return std::tie(m.sent_at, m.from, m.id); };
  std::sort(merged.begin(), merged.end(), [&](const message& x, const message& y) {
    return newest_first ? key(y) < key(x) : key(x) < key(y);
  });
  // A message both stores hold (an agent that moved) counts once.
  merged.erase(std::unique(merged.begin(), merged.end(),
                           [&](const message& x, const message& y) { return key(x) == key(y); }),
               merged.end());
  history_page page;
  if (merged.size() > q.limit) {
    merged.resize(q.limit);
    more = true;
  }
  if (more)
    page.next_cursor = merged.empty() ? fallback : storage::direct_history_cursor(a, b, merged.back());
  page.messages = std::move(merged);
  return page;
}

} // namespace

expected<history_page> node::room_history(const principal& p, const room_id& r, const history_query& q) {
  // A room's posts are kept by the node of its shard.
  if (impl_->rt.place(r).elsewhere()) {
    federation::remote_request req;
    req.caller = p;
    req.room = r;
    req.query = q;
    return history_from(*impl_, std::move(req), r);
  }
  // Who may read is decided with the room's members as its moderator has them.
  auto facts = impl_->room_facts(r);
  if (!facts)
    return unexpected{facts.error()};
  if (auto ok = authorize(p, action::read_history, {{}, {}, &*facts}); !ok)
    return unexpected{ok.error()};
  if (auto ok = impl_->need_store("room history"); !ok)
    return unexpected{ok.error()};
  return storage::read_room_history(*impl_->store, r, q);
}

expected<history_page> node::direct_history(const principal& p, const agent_id& a, const agent_id& b,
                                            const history_query& q) {
  if (auto ok = authorize(p, action::read_history, {a, b}); !ok)
    return unexpected{ok.error()};
  // A direct message is kept by its recipient's node: the pair's messages
  // are on one node only when both agents are.
  const auto at_a = impl_->rt.place(a);
  const auto at_b = impl_->rt.place(b);
  if (at_a.elsewhere() && at_b.elsewhere() && at_a.node == at_b.node) {
    federation::remote_request req;
    req.caller = p;
    req.agents = {a, b};
    req.query = q;
    return history_from(*impl_, std::move(req), a);
  }
  if (at_a.at != at_b.at || at_a.node != at_b.node)
    return split_pair_history(*impl_, p, a, b, q);
  for (auto* id : {&a, &b})
    if (auto ok = impl_->known_agent(*id); !ok)
      return unexpected{ok.error()};
  if (auto ok = impl_->need_store("direct history"); !ok)
    return unexpected{ok.error()};
  return storage::read_direct_history(*impl_->store, a, b, q);
}

expected<std::vector<message>> node::inbox(const principal& p, const agent_id& id, size_t limit) {
  if (auto ok = authorize(p, action::read_inbox, {id}); !ok)
    return unexpected{ok.error()};
  if (impl_->rt.place(id).elsewhere()) {
    // A blocking read, like the local one: the API calls it on its own thread.
    auto r = wait(impl_->forward(federation::remote_request::kind::read_inbox, p, id,
                                 static_cast<uint32_t>(std::min<size_t>(limit, UINT32_MAX))));
    if (!r)
      return unexpected{r.error()};
    return std::move(r->messages);
  }
  if (auto ok = impl_->known_agent(id); !ok)
    return unexpected{ok.error()};
  if (auto ok = impl_->need_store("the durable inbox"); !ok)
    return unexpected{ok.error()};
  return storage::read_inbox(*impl_->store, id, limit);
}

task<expected<void>> node::mark_read_async(principal p, agent_id id, std::vector<uint64_t> deliveries) {
  if (auto ok = authorize(p, action::mark_read, {id}); !ok)
    co_return ok;
  // The agent's link (and its deliveries) is where the agent lives.
  if (impl_->rt.place(id).elsewhere()) {
    federation::remote_request req;
    req.what = federation::remote_request::kind::mark_read;
    req.caller = std::move(p);
    req.id = id;
    req.deliveries = std::move(deliveries);
    auto r = co_await impl_->forward(std::move(req), std::move(id));
    if (!r)
      co_return unexpected{r.error()};
    co_return expected<void>{};
  }
  auto ext = impl_->external(id);
  if (!ext)
    co_return unexpected{ext.error()};
  std::vector<uint64_t> unknown;
  auto acked = (*ext)->acknowledge(deliveries, &unknown);
  auto a = impl_->rt.routes.agent(id);
  if (!a)
    co_return no_agent(id);
  if (!acked.empty())
    caf::anon_send(a, atoms::link_acked::value, std::move(acked));
  // Not handed to the link yet (still in the agent's queue or backlog, or
  // unknown): the agent removes them from the store before it answers, and
  // drops them when it reaches them.
  if (!unknown.empty())
    co_return co_await impl_->ask_async<caf::ok_atom>(a, atoms::link_read_ahead::value, std::move(unknown));
  co_return expected<void>{};
}

expected<void> node::mark_read(const principal& p, const agent_id& id,
                               const std::vector<uint64_t>& deliveries) {
  return wait(mark_read_async(p, id, deliveries));
}

expected<history_page> kept_pair_history(node::impl& im, const agent_id& a, const agent_id& b,
                                         const history_query& q) {
  if (auto ok = im.known_agent(a); !ok)
    return unexpected{ok.error()};
  if (auto ok = im.need_store("direct history"); !ok)
    return unexpected{ok.error()};
  return storage::read_direct_history(*im.store, a, b, q);
}

} // namespace parley
