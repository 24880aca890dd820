// Listings across a network: every node lists its own agents (the pages
// are merged by id), so a page costs one request per node, not per shard.

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

// Each node answers up to `page_size` of its agents after `after`, and says
// whether it has more; the first `page_size` of their union, by id, are the
// page. A node that cannot answer fails the listing (UNAVAILABLE): a page
// with one node's agents missing would look whole.
expected<agent_page> node::impl::agents_everywhere(node& n, const principal& p, const agent_filter& f,
                                                   size_t page_size, const std::string& after) {
  auto here = agents_here(n, p, f, page_size, after);
  if (!here)
    return here;
  std::vector<manifest> all = std::move(here->agents);
  bool more = !here->next.empty();
  for (auto& m : rt.cluster->members()) {
    if (m.node == cfg.node_id)
      continue;
    federation::remote_request req;
    req.what = federation::remote_request::kind::list_agents;
    req.caller = p;
    req.status = f.status;
    req.skill = f.skill;
    req.limit = static_cast<uint32_t>(page_size);
    req.after = after;
    auto got = wait(ask_node(m.node, std::move(req)));
    if (!got)
      return unexpected{got.error().code, "listing the agents of node '" + m.node + "': " + got.error().message};
    more = more || !got->next_cursor.empty();
    std::move(got->manifests.begin(), got->manifests.end(), std::back_inserter(all));
  }
  std::sort(all.begin(), all.end(), [](const manifest& a, const manifest& b) { return a.id < b.id; });
  agent_page page;
  if (all.size() > page_size) {
    all.resize(page_size);
    more = true;
  }
  page.agents = std::move(all);
  if (more && !page.agents.empty())
    page.next = page.agents.back().id;
  return page;
}

} // namespace parley
