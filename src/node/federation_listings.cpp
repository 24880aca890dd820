// Listings across a network: every node lists its own agents or rooms (the
// pages are merged by id), so a page costs one request per node, not per
// shard.

#include <algorithm>

#include "node/node_impl.hpp"

namespace parley {

task<expected<federation::remote_reply>> node::impl::ask_node(std::string peer, federation::remote_request req) {
  if (stopping)
    co_return stopped();
  auto send = [&](const std::shared_ptr<reply_sink<federation::remote_reply>>& sink) {
    cfg.peers->call(peer, req, [sink](expected<federation::remote_reply> r) {
      // Rebuilt, not moved: g++ 12 warns (wrongly, -Wmaybe-uninitialized)
      // on the move of this expected.
      if (r)
        sink->deliver(0, std::move(*r));
      else
        sink->deliver(0, unexpected{std::move(r.error())});
    });
  };
  auto rs = co_await call_direct<federation::remote_reply>(1, send);
  co_return std::move(rs.front());
}

namespace {

// The first `page_size` of the union of every node's page, by id. Each node
// answered up to `page_size` of its own after the token, and said whether it
// has more; there is a next page when any has more or the union is larger.
template <class T, class Id>
void merge_pages(std::vector<T>& all, bool more, size_t page_size, Id id_of, std::vector<T>& out, std::string& next) {
  std::sort(all.begin(), all.end(), [&](const T& a, const T& b) { return id_of(a) < id_of(b); });
  if (all.size() > page_size) {
    all.resize(page_size);
    more = true;
  }
  out = std::move(all);
  if (more && !out.empty())
    next = id_of(out.back());
}

// Asks every other node of the network `req` (a listing), handing each
// answer to `take`. A node that cannot answer fails the listing
// (UNAVAILABLE): a page with one node's entries missing would look whole.
template <class Take>
expected<void> ask_every_node(node::impl& im, const federation::remote_request& req, const char* what, Take take) {
  for (auto& m : im.rt.cluster->members()) {
    if (m.node == im.cfg.node_id)
      continue;
    auto got = wait(im.ask_node(m.node, req));
    if (!got)
      return unexpected{got.error().code, std::string{"listing the "} + what + " of node '" + m.node + "': "
                                            + got.error().message};
    take(*got);
  }
  return {};
}

} // namespace

expected<agent_page> node::impl::agents_everywhere(node& n, const principal& p, const agent_filter& f,
                                                   size_t page_size, const std::string& after) {
  auto here = agents_here(n, p, f, page_size, after);
  if (!here)
    return here;
  std::vector<manifest> all = std::move(here->agents);
  bool more = !here->next.empty();
  federation::remote_request req;
  req.what = federation::remote_request::kind::list_agents;
  req.caller = p;
  req.status = f.status;
  req.skill = f.skill;
  req.limit = static_cast<uint32_t>(page_size);
  req.after = after;
  auto asked = ask_every_node(*this, req, "agents", [&](federation::remote_reply& got) {
    more = more || !got.next_cursor.empty();
    std::move(got.manifests.begin(), got.manifests.end(), std::back_inserter(all));
  });
  if (!asked)
    return unexpected{asked.error()};
  agent_page page;
  merge_pages(all, more, page_size, [](const manifest& m) -> const std::string& { return m.id; }, page.agents,
              page.next);
  return page;
}

expected<room_page> node::impl::rooms_everywhere(node& n, const principal& p, size_t page_size,
                                                 const std::string& after) {
  auto here = rooms_here(n, p, page_size, after);
  if (!here)
    return here;
  std::vector<room> all = std::move(here->rooms);
  bool more = !here->next.empty();
  federation::remote_request req;
  req.what = federation::remote_request::kind::list_rooms;
  req.caller = p;
  req.limit = static_cast<uint32_t>(page_size);
  req.after = after;
  auto asked = ask_every_node(*this, req, "rooms", [&](federation::remote_reply& got) {
    more = more || !got.next_cursor.empty();
    std::move(got.rooms.begin(), got.rooms.end(), std::back_inserter(all));
  });
  if (!asked)
    return unexpected{asked.error()};
  room_page page;
  merge_pages(all, more, page_size, [](const room& r) -> const std::string& { return r.id; }, page.rooms, page.next);
  return page;
}

} // namespace parley
