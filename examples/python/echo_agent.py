#!/usr/bin/python3
"""An external Parley agent in Python: links to a node as one agent, joins
rooms, and answers what it receives, asking for the turn in moderated rooms.

    /usr/bin/python3 examples/python/echo_agent.py --target 127.0.0.1:7700 \
        --agent echo-py --room lounge-0 [--token-file echo-py.token]

What it does:
- introduces itself (Behavior KIND_EXTERNAL) unless the agent exists, joins
  the rooms named by --room, and opens AgentLink.Link;
- for each delivery, asks its Responder for a reply: direct messages are
  answered at once; room replies wait for the turn (request_turn, then
  send_batch when `granted` arrives, then yield_turn);
- acknowledges a delivery once its reply is sent (or once it decided not to
  reply), and gives the credit back, so the node hands out the next ones;
- joins rooms it is invited to;
- on a lost link (node restart, drain) links again: the node hands out again
  what was not acknowledged, and replies carry ids derived from what they
  answer, so a reply sent twice is delivered once (the node's idempotency key
  is (from, id)).

Credentials: a node started with a token key (parleyd --token-key-file)
wants a bearer token on every call, one that names this agent:

    parley token issue --agent echo-py --ttl 7d --key-file KEYFILE > echo-py.token

passed with --token-file, or in $PARLEY_TOKEN (the token itself), else
$PARLEY_TOKEN_FILE (a path). The agent's own token lets it introduce itself,
join rooms, link, send and take turns as itself; nothing else. A development
node (no token key) needs none, and refuses one. When the node refuses the
credentials (UNAUTHENTICATED, PERMISSION_DENIED) it prints a hint and exits
5, as `parley` does; an unreadable token file exits 2.

The reply text comes from a Responder. EchoResponder is deterministic (tests
check its text); an LLM-backed one is a class with the same respond() method.
Needs Debian's python3-grpcio and python3-protobuf, and the generated
modules (--stubs or $PARLEY_PY_STUBS; default build/examples/python/gen).
"""

import argparse
import collections
import hashlib
import json
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Deque, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "clients" / "python"))

import grpc  # noqa: E402

import parley_client  # noqa: E402

FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]


# -- what the agent says ------------------------------------------------------

@dataclass
class Incoming:
    """A delivery, as the Responder sees it."""
    sender: str
    content: str
    room: str  # empty for a direct message
    message_id: str
    content_type: str


class Responder:
    """Decides the reply to one incoming message; None = stay silent.

    Called on the agent's main thread, one message at a time: a slow call
    (an LLM) only delays the replies, and deliveries beyond the credit window
    wait in the agent's durable inbox on the node meanwhile."""

    def respond(self, me: str, msg: Incoming) -> Optional[str]:
        raise NotImplementedError


class EchoResponder(Responder):
    """Deterministic: "<me> heard <sender>: <content>"."""

    def __init__(self, mentions_only: bool = False):
        self.mentions_only = mentions_only

    def respond(self, me: str, msg: Incoming) -> Optional[str]:
        if msg.room and self.mentions_only and ("@" + me) not in msg.content:
            return None
        return "%s heard %s: %s" % (me, msg.sender, msg.content)


# An LLM would slot in like this (not used here: no model in this repo):
#
# class LlmResponder(Responder):
#     def respond(self, me, msg):
#         return my_llm.complete(system=f"You are {me}.", user=msg.content)


def reply_id(msg) -> str:
    """A reply's id, derived from what it answers: sending it again after a
    relink is then a retry that the node delivers once."""
    rid = "re:%s:%s" % (getattr(msg, "from"), msg.id)
    if len(rid) > 128:
        rid = "re:" + hashlib.sha256(rid.encode()).hexdigest()
    return rid


# -- the agent ----------------------------------------------------------------

@dataclass
class Pending:
    delivery: int
    reply: object  # parley.v1.Message
    tries: int = 0


class Stop(Exception):
    pass


class Agent:
    def __init__(self, node, agent: str, responder: Responder, args, log):
        self.node = node
        self.pb = node.pb
        self.me = agent
        self.responder = responder
        self.args = args
        self.log = log
        self.stopping = False

    # One link's state; a new link starts from scratch (the node resends).
    def _reset(self):
        self.waiting: Dict[str, Deque[Pending]] = collections.defaultdict(collections.deque)
        self.asked: Dict[str, bool] = {}
        self.turn_failures: Dict[str, int] = collections.defaultdict(int)
        self.limits: Dict[str, int] = {}
        # Reply id -> the pending reply, for the SendResult in order.
        self.inflight: Dict[str, Pending] = {}
        self.inflight_room: Dict[str, str] = {}

    def run(self) -> int:
        self.node.ensure_external_agent(self.me, display_name=self.args.display_name,
                                        bio="An example external agent (Python).",
                                        skills=["echo"])
        for room in self.args.room:
            joined = self.node.join(room, self.me)
            self.log("joined", room=room, already_member=not joined)
        backoff, failures = 0.2, 0
        while not self.stopping:
            self.linked = False
            try:
                self._serve_link()
                return 0
            except parley_client.LinkClosed as e:
                if e.code in parley_client.AUTH_CODES:
                    raise  # retrying with the same token cannot help
                code, details = e.code, e.details
            except TimeoutError as e:
                code, details = grpc.StatusCode.DEADLINE_EXCEEDED, str(e)
            if self.stopping:
                return 0
            if self.linked:
                backoff, failures = 0.2, 0
            failures += 1
            # UNAVAILABLE: the node drains or restarts. FAILED_PRECONDITION:
            # the previous link of this agent is still being torn down (or
            # the agent is not external: hence the bound).
            retry = {grpc.StatusCode.UNAVAILABLE: 30, grpc.StatusCode.DEADLINE_EXCEEDED: 30,
                     grpc.StatusCode.OK: 30, grpc.StatusCode.FAILED_PRECONDITION: 5}
            if failures > retry.get(code, 0):
                self.log("link_failed", code=code.name, details=details)
                return 1
            self.log("relinking", code=code.name, details=details, after_ms=int(backoff * 1000))
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
        return 0

    def _serve_link(self):
        self._reset()
        link = self.node.open_link(self.me, credit=self.args.credit)
        self.link = link
        try:
            ready = link.ready(timeout=10)
            self.linked = True
            self.log("linked", agent=ready.agent, pending=ready.pending)
            self._release_stale_turns()
            while not self.stopping:
                item = link.recv(timeout=0.2)
                if item is None:
                    continue
                kind = item.WhichOneof("msg")
                if kind == "delivery":
                    self._on_delivery(item.delivery)
                elif kind == "granted":
                    self._on_granted(item.granted)
                elif kind == "invited":
                    self._on_invited(item.invited)
                elif kind == "sent":
                    self._on_sent(item.sent)
        finally:
            if self.stopping:
                link.close()
            else:
                link.cancel()

    def _release_stale_turns(self):
        """A turn held when the last link dropped (the node kept running)
        would block its room: this link starts with no replies to send, so
        give such turns back. Asking again would not do: asking while
        holding the turn succeeds without a new grant."""
        pb = self.pb
        try:
            rooms = self.node.rooms.ListRooms(pb.ListRoomsRequest(member=self.me, page_size=1000),
                                              timeout=10).rooms
            for r in rooms:
                if r.rules.policy in (pb.SPEAKER_POLICY_UNSPECIFIED, pb.SPEAKER_POLICY_NONE):
                    continue
                t = self.node.turns.GetTurns(pb.GetTurnsRequest(room=r.id), timeout=10)
                if t.HasField("current") and t.current.speaker == self.me:
                    self.link.yield_turn(r.id)
                    self.log("released_turn", room=r.id, turn=t.current.turn)
        except grpc.RpcError as e:
            self.log("turn_check_failed", code=e.code().name, details=e.details())

    def _done(self, deliveries: List[int]):
        """Handled: acknowledge and give the credit back."""
        self.link.ack(deliveries)
        self.link.credit(len(deliveries))
        self.log("acked", deliveries=deliveries)

    def _on_delivery(self, m):
        sender = getattr(m, "from")
        room = m.to_room if m.WhichOneof("to") == "to_room" else ""
        self.log("delivery", delivery=m.delivery, sender=sender, room=room, id=m.id,
                 content=m.content)
        text = None
        if sender != self.me:
            text = self.responder.respond(self.me, Incoming(sender, m.content, room, m.id,
                                                            m.content_type or "text"))
        if text is None:
            self._done([m.delivery])
            return
        reply = self.pb.Message(id=reply_id(m), content=text, reply_to=m.id)
        if room:
            reply.to_room = room
            q = self.waiting[room]
            q.append(Pending(m.delivery, reply))
            # A busy room: drop the oldest rather than fall ever further behind.
            while len(q) > self.args.max_backlog:
                dropped = q.popleft()
                self.log("dropped", room=room, delivery=dropped.delivery)
                self._done([dropped.delivery])
            self._ask_turn(room)
        else:
            reply.to_agent = sender
            p = Pending(m.delivery, reply)
            self.inflight[reply.id] = p
            self.link.send(reply)

    def _ask_turn(self, room: str):
        if not self.asked.get(room):
            self.asked[room] = True
            self.link.request_turn(room)
            self.log("request_turn", room=room)

    def _turn_limit(self, room: str) -> int:
        """The room's max_messages_per_turn (0 = unlimited), asked once."""
        if room not in self.limits:
            try:
                r = self.node.rooms.GetRoom(self.pb.GetRoomRequest(room=room), timeout=10)
                self.limits[room] = r.rules.max_messages_per_turn
            except grpc.RpcError:
                return 0
        return self.limits[room]

    def _on_granted(self, g):
        self.log("granted", room=g.room, turn=g.turn)
        self.asked[g.room] = False
        self.turn_failures[g.room] = 0
        q = self.waiting.get(g.room)
        n, limit = 0, self._turn_limit(g.room)
        if q:
            n = min(len(q), self.args.max_per_turn, limit or len(q))
            batch = [q.popleft() for _ in range(n)]
            for p in batch:
                self.inflight[p.reply.id] = p
                self.inflight_room[p.reply.id] = g.room
            self.link.send_batch([p.reply for p in batch])
        # Give the turn back, unless the last reply used it up (the room's
        # max messages per turn): then it has ended by itself.
        if not limit or n < limit:
            self.link.yield_turn(g.room)
        if q:
            self._ask_turn(g.room)

    def _on_invited(self, inv):
        self.log("invited", room=inv.room, by=getattr(inv, "by"))
        if self.args.accept_invitations:
            try:
                self.node.join(inv.room, self.me)
                self.log("joined", room=inv.room, already_member=False)
            except grpc.RpcError as e:
                self.log("join_failed", room=inv.room, code=e.code().name, details=e.details())

    def _on_sent(self, r):
        if r.id.startswith("turn:"):
            room = r.id[len("turn:"):]
            self.log("turn_refused", room=room, code=r.error_code, error=r.error_message)
            self.asked[room] = False
            self.turn_failures[room] += 1
            if self.waiting.get(room):
                if self.turn_failures[room] > 3:
                    # Not a member any more, room closed...: give up on it.
                    gone = [p.delivery for p in self.waiting.pop(room)]
                    self.log("gave_up", room=room, deliveries=gone)
                    self._done(gone)
                else:
                    self._ask_turn(room)
            return
        p = self.inflight.pop(r.id, None)
        room = self.inflight_room.pop(r.id, "")
        if r.error_code == 0:
            self.log("sent", id=r.id, status=self.pb.MessageStatus.Name(r.status),
                     room=room)
            if p:
                self._done([p.delivery])
            return
        self.log("send_failed", id=r.id, code=r.error_code, error=r.error_message, room=room)
        if p is None:
            return
        if room and r.error_code == FAILED_PRECONDITION and p.tries < 3:
            # The turn ended before the reply got through (time slot): ask again.
            p.tries += 1
            self.waiting[room].appendleft(p)
            self._ask_turn(room)
            return
        self._done([p.delivery])


def make_logger(as_json: bool):
    def log(event: str, **fields):
        if as_json:
            print(json.dumps({"event": event, **fields}, sort_keys=True), flush=True)
        else:
            rest = " ".join("%s=%s" % (k, json.dumps(v) if isinstance(v, str) else v)
                            for k, v in fields.items())
            print("%-12s %s" % (event, rest), flush=True)
    return log


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=(
        "Credentials: a node started with a token key wants a bearer token naming the --agent "
        "agent: `parley token issue --agent ID --key-file KEYFILE > TOKENFILE`, then "
        "--token-file TOKENFILE (or set $PARLEY_TOKEN to the token, or $PARLEY_TOKEN_FILE to "
        "the file). A development node needs none. Exit codes: 2 unreadable token file, 5 the "
        "node refused the credentials (UNAUTHENTICATED or PERMISSION_DENIED; a hint says "
        "which token to issue), 1 other failures."))
    p.add_argument("--target", default="127.0.0.1:7700", help="the node's gRPC address")
    p.add_argument("--agent", default="echo-py", help="the agent id to act as")
    p.add_argument("--display-name", default="Echo (Python)")
    p.add_argument("--room", action="append", default=[], help="a room to join (repeatable)")
    p.add_argument("--stubs", help="directory of the generated parley/v1 modules "
                                    "(default: $PARLEY_PY_STUBS, else build/examples/python/gen)")
    p.add_argument("--token-file", metavar="FILE",
                   help="file whose first line is the bearer token (parley token "
                        "issue --agent ID); default: the token in $PARLEY_TOKEN, "
                        "else the file named by $PARLEY_TOKEN_FILE; none for a "
                        "development node")
    p.add_argument("--credit", type=int, default=16, help="deliveries in flight")
    p.add_argument("--max-per-turn", type=int, default=8, help="replies sent per turn")
    p.add_argument("--max-backlog", type=int, default=32,
                   help="replies waiting per room before the oldest are dropped")
    p.add_argument("--mentions-only", action="store_true",
                   help="in rooms, answer only messages that contain @<agent>")
    p.add_argument("--no-invitations", dest="accept_invitations", action="store_false",
                   help="do not join rooms the agent is invited to")
    p.add_argument("--json", action="store_true", help="log JSON lines")
    args = p.parse_args(argv)

    log = make_logger(args.json)
    try:
        node = parley_client.connect(args.target, stubs=args.stubs, token_file=args.token_file,
                                     agent=args.agent)
    except parley_client.TokenError as e:
        print("echo_agent: %s" % e, file=sys.stderr)
        return 2
    agent = Agent(node, args.agent, EchoResponder(args.mentions_only), args, log)

    def stop(signum, _frame):
        agent.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        node.wait_ready(timeout=10)
        code = agent.run()
    except (grpc.RpcError, parley_client.LinkClosed) as e:
        status, details = ((e.code, e.details) if isinstance(e, parley_client.LinkClosed)
                           else (e.code(), e.details()))
        log("error", code=status.name, details=details)
        code = 1
        hint = parley_client.auth_hint(status, details, agent=args.agent,
                                       has_token=node.token is not None)
        if hint:
            print("echo_agent: %s: %s\nhint: %s" % (status.name, details, hint), file=sys.stderr)
            code = 5
    except grpc.FutureTimeoutError:
        log("error", code="UNAVAILABLE", details="cannot reach " + args.target)
        code = 1
    log("stopped", code=code)
    node.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
