#!/usr/bin/python3
"""The clients in other languages (examples/python, examples/js) against a
real parleyd on 127.0.0.1: each case starts its own daemon (port 0, a
temporary data directory, no demo), drives it through the Python client
module, and checks what the examples did from the node's side.

    clients_test.py --parleyd build/nodes/parleyd --stubs build/examples/python/gen CASE

The cases named *Token* start the daemon with a token key (--token-key-file,
a random 48-byte key in a temporary file) and issue the bearer tokens with
the real CLI (`parley token issue`, --parley; default: tools/parley next to
parleyd's nodes/ directory in the build tree). The others run against a
development node (no key: no token needed, every caller is the admin).

Run by ctest (tests/clients/CMakeLists.txt), one case per ctest test. Exits
77 (ctest's skip code here) when python3-grpcio or python3-protobuf cannot be
imported, or, for the JavaScript case, when node/npm are missing or the npm
registry cannot be reached.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path
from unittest import mock

SKIP = 77
REPO = Path(__file__).resolve().parents[2]

# An idle gRPC-core channel (Python's) reads what the server sends only when
# its backup poller runs, every 5 s by default: a node stopping would wait
# that long for it to take the GOAWAY. Poll faster here and in the examples
# started from here (read when grpc is imported).
os.environ.setdefault("GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS", "100")

# Credentials from the caller's shell must not leak in: parleyd would read a
# token key from them (no development node then), the clients a token (which
# a development node refuses). The cases set what they need explicitly.
for _var in ("PARLEY_TOKEN", "PARLEY_TOKEN_FILE", "PARLEY_TOKEN_KEY", "PARLEY_TOKEN_KEY_FILE"):
    os.environ.pop(_var, None)

try:
    import grpc
    import google.protobuf  # noqa: F401
except ImportError as e:
    print("SKIP: python3-grpcio and python3-protobuf are needed (%s); scripts/setup installs them"
          % e)
    sys.exit(SKIP)

sys.path.insert(0, str(REPO / "clients" / "python"))
import parley_client  # noqa: E402

ARGS = argparse.Namespace()


class SkipCase(Exception):
    pass


# -- processes ----------------------------------------------------------------

class Process:
    """A child process whose stdout and stderr are collected line by line."""

    def __init__(self, argv, name, env=None, cwd=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.lines = []
        self._cv = threading.Condition()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd, text=True,
                                     bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        with self.proc.stdout:
            for line in self.proc.stdout:
                if os.environ.get("PARLEY_TEST_TRACE"):
                    print("%.3f %s| %s" % (time.monotonic(), self.name, line.rstrip()),
                          file=sys.stderr)
                with self._cv:
                    self.lines.append(line.rstrip("\n"))
                    self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def output(self) -> str:
        with self._cv:
            return "\n".join(self.lines)

    def wait_for_line(self, pattern, timeout, start=0):
        """The first match of regex `pattern` in a line from index `start` on;
        fails the test after `timeout` seconds."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cv:
            i = start
            while True:
                while i < len(self.lines):
                    m = rx.search(self.lines[i])
                    if m:
                        return m
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError("%s: no line matching %r within %.0fs; output:\n%s" % (
                        self.name, pattern, timeout, "\n".join(self.lines[-60:])))
                self._cv.wait(min(left, 0.2))

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("%s did not exit within %.0fs; output:\n%s" % (
                self.name, timeout, self.output()[-4000:]))
        self._reader.join(5)
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(5)


class Daemon(Process):
    """parleyd without the demo, with a store in `data_dir` (History and
    Inbox need one) on `port` (0: any free port); `extra` are more flags
    (--token-key-file KEY)."""

    def __init__(self, data_dir, port=0, extra=()):
        super().__init__([ARGS.parleyd, "--listen", "127.0.0.1:%d" % port, "--no-demo",
                          "--data-dir", data_dir, *extra], "parleyd")
        m = self.wait_for_line(r"gRPC API listening on 127\.0\.0\.1:(\d+)", 30)
        self.port = int(m.group(1))
        self.target = "127.0.0.1:%d" % self.port

    def stop(self):
        self.signal(signal.SIGTERM)
        code = self.wait_exit(30)
        assert code == 0, "parleyd exited with %d:\n%s" % (code, self.output()[-4000:])


def eventually(check, timeout, what):
    """Polls `check` until it returns something truthy (returned) or fails
    the test after `timeout` seconds, showing the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.0fs waiting for %s (last: %r)" % (
                timeout, what, last))
        time.sleep(0.05)


def sender(m) -> str:
    return getattr(m, "from")


class DaemonCase(unittest.TestCase):
    """Starts a daemon per test; on failure prints the daemon's log."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="parley-clients-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.node = None
        # A cleanup, not tearDown: it runs when setUp fails too.
        self.addCleanup(self._clean_up)
        self.prepare()
        self.daemon = self.start_daemon()
        self.node = self.connect_main()
        self.pb = self.node.pb
        self.node.wait_ready(timeout=10)

    def prepare(self):
        """Runs before the daemon starts (TokenCase writes its key)."""

    def daemon_flags(self):
        return []

    def connect_main(self):
        """self.node: the channel the helpers below call through."""
        return parley_client.connect(self.daemon.target, stubs=ARGS.stubs)

    def start_daemon(self, port=0):
        d = Daemon(self.data_dir, port, self.daemon_flags())
        self.children.append(d)
        return d

    def stop_daemon(self):
        # This test's channel goes first: the node's shutdown waits for idle
        # connections to close (see GRPC_CLIENT_CHANNEL_BACKUP_POLL_INTERVAL_MS).
        self.node.close()
        self.daemon.stop()

    def restart_daemon(self):
        """Stops the daemon and starts it again on the same port and store."""
        port = self.daemon.port
        self.stop_daemon()
        self.daemon = self.start_daemon(port)
        self.node = self.connect_main()
        self.node.wait_ready(timeout=10)

    def start(self, argv, name, **kw):
        p = Process(argv, name, **kw)
        self.children.append(p)
        return p

    def _clean_up(self):
        if self.node:
            self.node.close()
        for p in reversed(self.children):
            p.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run(self, result=None):
        result = result or self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        self.children = []
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            for p in self.children:
                print("---- output of %s (%s)\n%s" % (p.name, " ".join(p.argv), p.output()[-6000:]),
                      file=sys.stderr)
        return result

    # -- unary helpers ---------------------------------------------------------

    def introduce_external(self, agent):
        self.node.ensure_external_agent(agent)

    def send(self, frm, content, msg_id, room="", to=""):
        m = self.pb.Message(id=msg_id, content=content, **{"from": frm})
        if room:
            m.to_room = room
        else:
            m.to_agent = to
        return self.node.messages.Send(self.pb.SendRequest(message=m), timeout=10)

    def inbox(self, agent):
        return list(self.node.messages.Inbox(self.pb.InboxRequest(agent=agent), timeout=10).messages)

    def room_history(self, room):
        return list(self.node.rooms.History(
            self.pb.HistoryRequest(room=room, oldest_first=True), timeout=10).messages)

    def pair_history(self, a, b):
        return list(self.node.rooms.History(self.pb.HistoryRequest(
            pair=self.pb.AgentPair(a=a, b=b), oldest_first=True), timeout=10).messages)

    def members(self, room):
        return {m.agent for m in self.node.rooms.GetRoom(self.pb.GetRoomRequest(room=room),
                                                         timeout=10).members}

    def start_echo_agent(self, agent, *extra):
        return self.start([ARGS.python, REPO / "examples" / "python" / "echo_agent.py",
                           "--target", self.daemon.target, "--stubs", ARGS.stubs, "--agent", agent,
                           "--json", *extra], "echo_agent.py")


def agent_events(p: Process, kind=None):
    """The agent's JSON log lines (optionally of one kind)."""
    out = []
    for line in p.output().splitlines():
        if line.startswith("{"):
            e = json.loads(line)
            if kind is None or e["event"] == kind:
                out.append(e)
    return out


# -- the cases ----------------------------------------------------------------

class PythonHealthAndReflection(DaemonCase):
    # Verifies grpc.health.v1 answers SERVING and reflection lists and describes the parley.v1 services.
    def test_health_and_reflection(self):
        ch = self.node.channel
        self.assertEqual(parley_client.health_check(ch), "SERVING")
        services = parley_client.list_services(ch)
        for s in ("Agents", "Rooms", "Turns", "Messages", "Events", "AgentLink", "Admin"):
            self.assertIn("parley.v1." + s, services)
        self.assertIn("grpc.health.v1.Health", services)
        files = parley_client.file_containing_symbol(ch, "parley.v1.AgentLink")
        self.assertTrue(files, "no descriptor for parley.v1.AgentLink")
        self.assertEqual(files[0].package, "parley.v1")
        link = {s.name: s for s in files[0].service}["AgentLink"]
        method = {m.name: m for m in link.method}["Link"]
        self.assertTrue(method.client_streaming and method.server_streaming)
        self.assertEqual(method.input_type, ".parley.v1.LinkClient")
        # The descriptor the node serves is the one the stubs were made from.
        self.assertEqual(files[0].SerializeToString(),
                         self.pb.DESCRIPTOR.serialized_pb)

        # Draining flips health to NOT_SERVING (what a load balancer watches).
        self.node.admin.Drain(self.pb.DrainRequest(), timeout=10)
        self.assertEqual(parley_client.health_check(ch), "NOT_SERVING")
        with self.assertRaises(grpc.RpcError) as e:
            self.node.agents.ListAgents(self.pb.ListAgentsRequest(), timeout=10)
        self.assertEqual(e.exception.code(), grpc.StatusCode.UNAVAILABLE)


class PythonAgentConversation(DaemonCase):
    # Verifies the example agent answers in a moderated room, in direct messages and in rooms it is invited to, and acknowledges all it got.
    def test_conversation(self):
        pb = self.pb
        self.introduce_external("alice")  # driven here through the unary API only
        self.node.rooms.CreateGroup(pb.CreateGroupRequest(
            creator="alice", id="standup", topic="daily",
            rules=pb.SpeakerRules(policy=pb.SPEAKER_POLICY_FIFO)), timeout=10)

        bot = self.start_echo_agent("bot", "--room", "standup")
        bot.wait_for_line(r'"event": "linked"', 30)
        self.assertEqual(self.members("standup"), {"alice", "bot"})
        self.assertEqual(self.node.agents.GetManifest(pb.GetManifestRequest(agent="bot"),
                                                      timeout=10).id, "bot")

        # Alice holds the turn for three messages: the agent must wait for it.
        state = self.node.turns.RequestTurn(pb.TurnRequest(room="standup", agent="alice"),
                                            timeout=10)
        self.assertEqual(state.current.speaker, "alice")
        lines = ["good morning", "the build is green", "who takes the release?"]
        for i, text in enumerate(lines):
            r = self.send("alice", text, "a%d" % i, room="standup")
            self.assertEqual(r.status, pb.MESSAGE_STATUS_DELIVERED)
        # The agent asks for the turn but cannot speak while alice holds it.
        eventually(lambda: "bot" in self.node.turns.GetTurns(
            pb.GetTurnsRequest(room="standup"), timeout=10).waiting, 20, "bot waiting for the turn")
        self.assertEqual([sender(m) for m in self.room_history("standup")], ["alice"] * 3)
        self.node.turns.YieldTurn(pb.TurnRequest(room="standup", agent="alice"), timeout=10)

        expected = [("re:alice:a%d" % i, "a%d" % i, "bot heard alice: " + t)
                    for i, t in enumerate(lines)]

        def replies():
            h = self.room_history("standup")
            got = [(m.id, m.reply_to, m.content) for m in h if sender(m) == "bot"]
            return got if len(got) >= 3 else None
        self.assertEqual(eventually(replies, 20, "three replies in the history"), expected)
        history = self.room_history("standup")
        self.assertEqual([sender(m) for m in history], ["alice"] * 3 + ["bot"] * 3)
        self.assertTrue(all(m.to_room == "standup" for m in history))

        # What the agent saw on its link: three deliveries, a grant of the
        # room after alice's turn, three SendResults DELIVERED.
        bot.wait_for_line(r'"event": "acked"', 10)
        granted = agent_events(bot, "granted")
        self.assertTrue(granted and all(g["room"] == "standup" for g in granted), granted)
        self.assertGreater(granted[0]["turn"], state.current.turn)
        # (The agent prints each SendResult as it comes: wait for the third.)
        sent = eventually(lambda: (lambda s: s if len(s) >= 3 else None)(
            [e for e in agent_events(bot, "sent") if e["room"] == "standup"]), 10, "three SendResults")
        self.assertEqual([(e["id"], e["status"]) for e in sent],
                         [(i, "MESSAGE_STATUS_DELIVERED") for i, _, _ in expected])
        deliveries = [e["delivery"] for e in agent_events(bot, "delivery")]
        self.assertEqual(len(deliveries), 3)

        # Acknowledged: nothing waits in the agent's inbox; the turn was given
        # back; alice (no link) holds the replies in hers.
        eventually(lambda: not self.inbox("bot"), 10, "bot's inbox to empty")
        eventually(lambda: sorted(sum((e["deliveries"] for e in agent_events(bot, "acked")), []))
                   == sorted(deliveries), 10, "every delivery acknowledged")
        turns = eventually(lambda: (lambda t: t if not t.HasField("current") else None)(
            self.node.turns.GetTurns(pb.GetTurnsRequest(room="standup"), timeout=10)),
            10, "the turn given back")
        self.assertGreaterEqual(turns.turns_granted, 2)
        self.assertEqual([(m.reply_to, m.content) for m in self.inbox("alice")],
                         [(r, c) for _, r, c in expected])

        # A direct message is answered at once, without a turn.
        self.send("alice", "ping", "d1", to="bot")
        direct = eventually(lambda: [m for m in self.pair_history("alice", "bot")
                                     if sender(m) == "bot"], 20, "a direct reply")
        self.assertEqual([(m.to_agent, m.reply_to, m.content) for m in direct],
                         [("alice", "d1", "bot heard alice: ping")])

        # Invited into an invite-only room, the agent joins it.
        self.node.rooms.CreateGroup(pb.CreateGroupRequest(
            creator="alice", id="private", invite_only=True,
            rules=pb.SpeakerRules(policy=pb.SPEAKER_POLICY_ROUND_ROBIN)), timeout=10)
        self.node.rooms.Invite(pb.InviteRequest(room="private", by="alice", agent="bot"),
                               timeout=10)
        eventually(lambda: "bot" in self.members("private"), 20, "bot to join 'private'")
        self.assertTrue(any(e["room"] == "private" and e["by"] == "alice"
                            for e in agent_events(bot, "invited")))

        # The driver example talks with the agent in a room of its own.
        drive = self.start([ARGS.python, REPO / "examples" / "python" / "drive_conversation.py",
                            "--target", self.daemon.target, "--stubs", ARGS.stubs, "--as", "dave",
                            "--with", "bot", "--room", "chat", "--timeout", "20"],
                           "drive_conversation.py")
        self.assertEqual(drive.wait_exit(90), 0, drive.output())
        self.assertIn("bot: bot heard dave: Thanks, bye.", drive.output())
        self.assertIn("-- history of chat (6 messages)", drive.output())
        eventually(lambda: not self.inbox("bot"), 10, "bot's inbox to empty")

        # SIGTERM: the agent closes its link and exits 0.
        bot.signal(signal.SIGTERM)
        self.assertEqual(bot.wait_exit(15), 0)
        self.assertEqual(agent_events(bot)[-1], {"event": "stopped", "code": 0})
        self.stop_daemon()


class PythonLinkResumes(DaemonCase):
    # Verifies unacknowledged deliveries come again to the next link, and the agent relinks after a node restart without answering twice.
    def test_link_resumes(self):
        pb = self.pb
        self.introduce_external("alice")
        self.introduce_external("bot")
        for i in range(2):
            self.send("alice", "before %d" % i, "b%d" % i, to="bot")
        self.assertEqual([m.content for m in self.inbox("bot")], ["before 0", "before 1"])

        self.node.rooms.CreateGroup(pb.CreateGroupRequest(
            creator="alice", id="hall", rules=pb.SpeakerRules(policy=pb.SPEAKER_POLICY_FIFO)),
            timeout=10)
        self.node.join("hall", "bot")

        # A link that takes both, gets the turn in 'hall' and dies without
        # acknowledging or yielding.
        link = self.node.open_link("bot", credit=8)
        link.ready(timeout=10)
        link.request_turn("hall")
        taken, granted = [], []
        while len(taken) < 2 or not granted:
            item = link.recv(timeout=10)
            self.assertIsNotNone(item, "deliveries or the grant did not arrive")
            kind = item.WhichOneof("msg")
            if kind == "delivery":
                taken.append(item.delivery)
            elif kind == "granted":
                granted.append(item.granted)
        self.assertEqual([m.content for m in taken], ["before 0", "before 1"])
        self.assertTrue(all(m.delivery for m in taken))
        self.assertEqual((granted[0].room, granted[0].speaker), ("hall", "bot"))
        link.cancel()
        self.assertEqual(self.node.turns.GetTurns(pb.GetTurnsRequest(room="hall"),
                                                  timeout=10).current.speaker, "bot")

        # The example agent (a window of one delivery) gets them again first.
        bot = self.start_echo_agent("bot", "--credit", "1")
        m = bot.wait_for_line(r'"event": "linked".*"pending": (\d+)', 30)
        self.assertEqual(int(m.group(1)), 2)
        # It gives back the turn the dead link held.
        eventually(lambda: not self.node.turns.GetTurns(
            pb.GetTurnsRequest(room="hall"), timeout=10).HasField("current"), 10,
            "the stale turn in 'hall' given back")
        self.assertEqual([e["room"] for e in agent_events(bot, "released_turn")], ["hall"])
        for i in range(2, 5):
            self.send("alice", "more %d" % i, "b%d" % i, to="bot")

        def replies(n):
            def check():
                got = [(m.reply_to, m.content) for m in self.pair_history("alice", "bot")
                       if sender(m) == "bot"]
                return got if len(got) >= n else None
            return check
        contents = ["before 0", "before 1", "more 2", "more 3", "more 4"]
        self.assertEqual(eventually(replies(5), 20, "five replies"),
                         [("b%d" % i, "bot heard alice: " + c) for i, c in enumerate(contents)])
        delivered = [e["delivery"] for e in agent_events(bot, "delivery")]
        self.assertEqual(delivered[:2], [m.delivery for m in taken])
        eventually(lambda: not self.inbox("bot"), 10, "bot's inbox to empty")

        # The node restarts on the same port: the agent links again.
        self.restart_daemon()
        bot.wait_for_line(r'"event": "relinking"', 20)
        eventually(lambda: len(agent_events(bot, "linked")) == 2, 30, "a second link")
        self.send("alice", "after restart", "b5", to="bot")
        got = eventually(replies(6), 20, "the reply after the restart")
        self.assertEqual(got[-1], ("b5", "bot heard alice: after restart"))
        # Each message answered once, even though two were handed out twice.
        self.assertEqual(len({r for r, _ in got}), len(got))
        eventually(lambda: not self.inbox("bot"), 10, "bot's inbox to empty")
        bot.signal(signal.SIGTERM)
        self.assertEqual(bot.wait_exit(15), 0)
        self.stop_daemon()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PythonNetworkLinkRedirect(DaemonCase):
    """Two parleyd nodes in a network, coordinated by a throwaway etcd; the
    test's channel goes to node-a."""

    def start_daemon(self, port=0):
        cport, pport = free_port(), free_port()
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        etcd_dir = tempfile.mkdtemp(prefix="parley-clients-etcd-", dir=shm)
        self.addCleanup(shutil.rmtree, etcd_dir, True)
        peer = "http://127.0.0.1:%d" % pport
        client = "http://127.0.0.1:%d" % cport
        etcd = self.start([shutil.which("etcd"), "--name", "t", "--data-dir", etcd_dir,
                           "--listen-client-urls", client, "--advertise-client-urls", client,
                           "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                           "--initial-cluster", "t=" + peer], "etcd")
        etcd.wait_for_line("ready to serve client requests", 30)
        nodes = []
        for name in ("node-a", "node-b"):
            d = Daemon(os.path.join(self.tmp, name), 0,
                       ["--etcd", "127.0.0.1:%d" % cport, "--min-members", "2", "--node-id", name])
            self.children.append(d)
            nodes.append(d)
        for d in nodes:
            d.wait_for_line("is a member of the network", 30)
        self.node_b = nodes[1]
        return nodes[0]

    # Verifies Node.open_link follows the redirect of a node that does not serve the agent (UNAVAILABLE with the parley-node-address trailer): every link opened through node-a gets ready, those of node-b's agents at node-b's address, and a message sent through node-a reaches such a link.
    def test_open_link_follows_the_redirect(self):
        pb = self.pb
        agents = ["py-%d" % i for i in range(12)]

        def introduced(a):
            try:
                self.introduce_external(a)
                return True
            except grpc.RpcError as e:  # UNAVAILABLE until its shard is given out
                return None if e.code() == grpc.StatusCode.UNAVAILABLE else e

        for a in agents:
            self.assertIs(eventually(lambda: introduced(a), 30, "the shard of %s to be given out" % a),
                          True)
        links = {a: self.node.open_link(a, credit=4) for a in agents}
        try:
            for a, link in links.items():
                self.assertEqual(link.ready(timeout=10).agent, a)
            served = {a: link.target for a, link in links.items()}
            self.assertLessEqual(set(served.values()), {self.daemon.target, self.node_b.target})
            elsewhere = [a for a, t in served.items() if t == self.node_b.target]
            self.assertTrue(elsewhere, "no agent of node-b among %d (2^-12 by chance)" % len(agents))
            sender = next((a for a, t in served.items() if t == self.daemon.target), agents[0])
            target = elsewhere[0]
            self.send(sender, "across", "redirected-1", to=target)
            item = eventually(lambda: links[target].recv(timeout=0.2), 10, "the delivery")
            self.assertEqual(item.WhichOneof("msg"), "delivery")
            self.assertEqual(item.delivery.id, "redirected-1")
            # Without redirects the link ends with the address to go to.
            direct = self.node.open_link(target, credit=1, redirects=0)
            with self.assertRaises(parley_client.LinkClosed) as closed:
                direct.ready(timeout=10)
            self.assertEqual(closed.exception.code, grpc.StatusCode.UNAVAILABLE)
            self.assertEqual(closed.exception.redirect, self.node_b.target)
            self.assertIn("node-b", closed.exception.details)
            direct.close()
        finally:
            for link in links.values():
                link.close()


class PythonInboxAccounting(DaemonCase):
    """An external agent's inbox as seen from a link and from MarkRead."""

    # Verifies LinkReady.pending counts the deliveries waiting in the inbox when a first link opens.
    def test_link_ready_counts_waiting_deliveries(self):
        self.introduce_external("alice")
        self.introduce_external("bot")
        for i in range(2):
            self.send("alice", "waiting %d" % i, "w%d" % i, to="bot")
        self.assertEqual(len(self.inbox("bot")), 2)
        link = self.node.open_link("bot", credit=8)
        try:
            self.assertEqual(link.ready(timeout=10).pending, 2)
        finally:
            link.close()

    # Verifies Messages.MarkRead takes deliveries out of the inbox of an external agent that has no link.
    def test_mark_read_empties_inbox_without_link(self):
        self.introduce_external("alice")
        self.introduce_external("carol")
        self.send("alice", "hello", "h1", to="carol")
        waiting = self.inbox("carol")
        self.assertEqual(len(waiting), 1)
        self.node.messages.MarkRead(self.pb.MarkReadRequest(
            agent="carol", deliveries=[m.delivery for m in waiting]), timeout=10)
        self.assertEqual(self.inbox("carol"), [])
        # And the link never hands it out.
        self.send("alice", "after", "h2", to="carol")
        link = self.node.open_link("carol", credit=8)
        try:
            self.assertEqual(link.ready(timeout=10).pending, 1)
            item = link.recv(timeout=10)
            self.assertIsNotNone(item)
            self.assertEqual(item.delivery.content, "after")
        finally:
            link.close()


class JsEventsResume(DaemonCase):
    # Verifies the JavaScript follower prints every event once, in offset order, across a node restart.
    def setUp(self):
        self.js = prepare_js()
        super().setUp()

    def test_follow_across_restart(self):
        for a in ("a1", "a2"):
            self.introduce_external(a)
        env = dict(os.environ, NODE_PATH=str(self.js))
        follower = self.start([ARGS.node, REPO / "examples" / "js" / "follow_events.js",
                               "--target", self.daemon.target, "--from", "1", "--json"],
                              "follow_events.js", env=env)
        follower.wait_for_line(r'"kind":"agent_introduced".*"agent":"a2"', 30)

        self.restart_daemon()
        follower.wait_for_line(r"resubscribing after 1\|[a-z0-9-]+=\d+", 20)
        for a in ("a3", "a4"):
            self.introduce_external(a)
        follower.wait_for_line(r'"kind":"agent_introduced".*"agent":"a4"', 30)
        follower.signal(signal.SIGTERM)
        self.assertEqual(follower.wait_exit(10), 0)

        events = [json.loads(line) for line in follower.output().splitlines()
                  if line.startswith("{")]
        offsets = [int(e["offset"]) for e in events]
        # All events, each once, in order, with no gap across the restart.
        self.assertEqual(offsets, list(range(1, len(offsets) + 1)), events)
        introduced = [e["agent"] for e in events if e["kind"] == "agent_introduced"]
        self.assertEqual(introduced, ["a1", "a2", "a3", "a4"])
        # It resumed with the resume token of an event it had printed.
        m = re.search(r"resubscribing after 1\|[a-z0-9-]+=(\d+)", follower.output())
        self.assertLessEqual(int(m.group(1)), offsets[-1] + 1)
        self.stop_daemon()


# -- a node that wants bearer tokens ------------------------------------------

class TokenCase(DaemonCase):
    """A daemon with a token key (--token-key-file); tokens come from the
    real `parley token issue`. self.node calls with an operator's token."""

    def prepare(self):
        self.key_file = os.path.join(self.tmp, "token.key")
        with open(self.key_file, "wb") as f:
            f.write(os.urandom(48))
        os.chmod(self.key_file, 0o600)
        self.operator_token = self.issue("--role", "operator")

    def daemon_flags(self):
        return ["--token-key-file", self.key_file]

    def connect_main(self):
        return parley_client.connect(self.daemon.target, stubs=ARGS.stubs,
                                     token=self.operator_token)

    def issue(self, *principal, ttl="10m"):
        """A token from `parley token issue PRINCIPAL --ttl TTL --key-file KEY`."""
        r = subprocess.run([ARGS.parley, "token", "issue", *principal, "--ttl", ttl,
                            "--key-file", self.key_file], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, "parley token issue %s: %s" % (
            " ".join(principal), r.stderr))
        token = r.stdout.strip()
        self.assertEqual(token.count("."), 2, "not a JWT: %r" % r.stdout)
        return token

    def token_file(self, name, token, newline="\n"):
        """Writes `token` (and a newline, as `parley token issue > FILE` does)
        into a file of the test's directory; returns its path."""
        path = os.path.join(self.tmp, name + ".token")
        with open(path, "w") as f:
            f.write(token + newline)
        os.chmod(path, 0o600)
        return path

    def connect_as(self, **kw):
        """Another channel (token=, token_file=, or the environment)."""
        node = parley_client.connect(self.daemon.target, stubs=ARGS.stubs, **kw)
        self.addCleanup(node.close)
        return node

    def inbox_as(self, agent):
        """`agent`'s inbox, read with its own token (only the agent itself or
        an admin may: not the operator of self.node)."""
        node = self.connect_as(token=self.issue("--agent", agent))
        return list(node.messages.Inbox(self.pb.InboxRequest(agent=agent), timeout=10).messages)

    def assert_refused(self, call, code):
        with self.assertRaises(grpc.RpcError) as e:
            call()
        self.assertEqual(e.exception.code(), code, e.exception.details())
        return e.exception.details()

    def run_example(self, argv, name, env=None, timeout=30):
        """Runs an example to its end; returns (exit code, output)."""
        p = self.start(argv, name, env=env)
        return p.wait_exit(timeout), p.output()


class PythonTokenAuthenticates(TokenCase):
    # Verifies a node with a token key refuses calls without a valid token (UNAUTHENTICATED) and that an agent token from `parley token issue`, given as token=, token_file= or through PARLEY_TOKEN / PARLEY_TOKEN_FILE, authenticates as that agent (NodeInfo.caller).
    def test_token_authenticates(self):
        pb = self.pb
        anonymous = self.connect_as(token="")
        self.assertIsNone(anonymous.token)
        self.assertEqual(anonymous.metadata, [])
        details = self.assert_refused(
            lambda: anonymous.admin.NodeInfo(pb.NodeInfoRequest(), timeout=10),
            grpc.StatusCode.UNAUTHENTICATED)
        self.assertIn("authorization", details)
        self.assert_refused(lambda: anonymous.agents.ListAgents(pb.ListAgentsRequest(), timeout=10),
                            grpc.StatusCode.UNAUTHENTICATED)
        # Health needs no token.
        self.assertEqual(parley_client.health_check(anonymous.channel), "SERVING")

        token = self.issue("--agent", "echo-py")
        by_value = self.connect_as(token=token)
        self.assertEqual(by_value.metadata, [("authorization", "Bearer " + token)])
        self.assertEqual(by_value.caller(), "agent:echo-py")
        # A token file as `parley token issue > FILE` writes it (trailing
        # newline, here with CRLF and blanks around it): trimmed.
        path = self.token_file("echo-py", "  " + token, newline=" \r\n")
        self.assertEqual(self.connect_as(token_file=path).caller(), "agent:echo-py")
        with mock.patch.dict(os.environ, {"PARLEY_TOKEN_FILE": path}):
            self.assertEqual(self.connect_as().caller(), "agent:echo-py")
        with mock.patch.dict(os.environ, {"PARLEY_TOKEN": token + "\n"}):
            self.assertEqual(self.connect_as().caller(), "agent:echo-py")
        # PARLEY_TOKEN comes before PARLEY_TOKEN_FILE; an explicit token or
        # token file before both.
        other = self.token_file("observer", self.issue("--role", "observer"))
        with mock.patch.dict(os.environ, {"PARLEY_TOKEN": token, "PARLEY_TOKEN_FILE": other}):
            self.assertEqual(self.connect_as().caller(), "agent:echo-py")
            self.assertEqual(self.connect_as(token_file=other).caller(), "observer")
        self.assertEqual(self.node.caller(), "operator")

        # A token signed with another key, or mangled: refused.
        self.assert_refused(lambda: self.connect_as(token=token[:-2] + "xx").caller(),
                            grpc.StatusCode.UNAUTHENTICATED)
        # A named token file that cannot be read: a readable error, no call.
        missing = os.path.join(self.tmp, "missing.token")
        for kw, env in (({"token_file": missing}, {}), ({}, {"PARLEY_TOKEN_FILE": missing})):
            with mock.patch.dict(os.environ, env), \
                    self.assertRaises(parley_client.TokenError) as e:
                self.connect_as(**kw)
            self.assertIn("cannot read the token file", str(e.exception))
            self.assertIn(missing, str(e.exception))
        empty = self.token_file("empty", "")
        with self.assertRaises(parley_client.TokenError) as e:
            self.connect_as(token_file=empty)
        self.assertIn("holds no token", str(e.exception))
        self.stop_daemon()


class PythonTokenConversation(TokenCase):
    # Verifies the echo agent example, linked with its own agent token (--token-file), answers a driver calling with another agent's token (directly and as drive_conversation.py with PARLEY_TOKEN_FILE), after an operator introduced both and created the room.
    def test_conversation_with_tokens(self):
        pb = self.pb
        op = self.node  # the operator: lifecycle on behalf of the agents
        for agent in ("echo-py", "driver-py"):
            op.ensure_external_agent(agent)
        op.rooms.CreateGroup(pb.CreateGroupRequest(
            creator="driver-py", id="standup", topic="with tokens",
            rules=pb.SpeakerRules(policy=pb.SPEAKER_POLICY_FIFO)), timeout=10)

        echo_file = self.token_file("echo-py", self.issue("--agent", "echo-py"))
        driver_file = self.token_file("driver-py", self.issue("--agent", "driver-py"))
        echo = self.start_echo_agent("echo-py", "--room", "standup", "--token-file", echo_file)
        echo.wait_for_line(r'"event": "linked"', 30)
        self.assertEqual(self.members("standup"), {"driver-py", "echo-py"})

        driver = self.connect_as(token_file=driver_file, agent="driver-py")
        self.assertEqual(driver.caller(), "agent:driver-py")
        state = driver.turns.RequestTurn(pb.TurnRequest(room="standup", agent="driver-py"),
                                         timeout=10)
        self.assertEqual(state.current.speaker, "driver-py")
        sent = driver.messages.Send(pb.SendRequest(message=pb.Message(
            id="q1", to_room="standup", content="anyone there?", **{"from": "driver-py"})),
            timeout=10)
        self.assertEqual(sent.status, pb.MESSAGE_STATUS_DELIVERED)
        driver.turns.YieldTurn(pb.TurnRequest(room="standup", agent="driver-py"), timeout=10)

        def answer():
            return [m for m in driver.messages.Inbox(pb.InboxRequest(agent="driver-py"),
                                                     timeout=10).messages if m.reply_to == "q1"]
        got = eventually(answer, 20, "echo-py's answer in driver-py's inbox")
        self.assertEqual([(sender(m), m.to_room, m.content) for m in got],
                         [("echo-py", "standup", "echo-py heard driver-py: anyone there?")])
        driver.messages.MarkRead(pb.MarkReadRequest(agent="driver-py",
                                                    deliveries=[m.delivery for m in got]),
                                 timeout=10)
        # A direct message, answered at once.
        driver.messages.Send(pb.SendRequest(message=pb.Message(
            id="d1", to_agent="echo-py", content="ping", **{"from": "driver-py"})), timeout=10)
        direct = eventually(lambda: [m for m in driver.rooms.History(pb.HistoryRequest(
            pair=pb.AgentPair(a="driver-py", b="echo-py"), oldest_first=True),
            timeout=10).messages if sender(m) == "echo-py"], 20, "a direct reply")
        self.assertEqual([m.content for m in direct], ["echo-py heard driver-py: ping"])

        # The driver example, its token from PARLEY_TOKEN_FILE: it creates an
        # invite-only room as itself, the agent joins on the invitation.
        env = dict(os.environ, PARLEY_TOKEN_FILE=driver_file)
        code, out = self.run_example(
            [ARGS.python, REPO / "examples" / "python" / "drive_conversation.py",
             "--target", self.daemon.target, "--stubs", ARGS.stubs, "--as", "driver-py",
             "--with", "echo-py", "--room", "chat", "--timeout", "20"],
            "drive_conversation.py", env=env, timeout=90)
        self.assertEqual(code, 0, out)
        self.assertIn("echo-py: echo-py heard driver-py: Thanks, bye.", out)
        self.assertIn("-- history of chat (6 messages)", out)

        eventually(lambda: not self.inbox_as("echo-py"), 10, "echo-py's inbox to empty")
        echo.signal(signal.SIGTERM)
        self.assertEqual(echo.wait_exit(15), 0)
        self.assertEqual(agent_events(echo)[-1], {"event": "stopped", "code": 0})
        self.stop_daemon()


class PythonTokenImpersonationDenied(TokenCase):
    # Verifies a token of agent mallory cannot act as echo-py (send, inbox, link: PERMISSION_DENIED), and that the examples refused their credentials exit 5 with a one-line hint, no traceback.
    def test_impersonation_denied(self):
        pb = self.pb
        for agent in ("echo-py", "mallory"):
            self.node.ensure_external_agent(agent)
        mallory_token = self.issue("--agent", "mallory")
        mallory = self.connect_as(token=mallory_token)
        self.assertEqual(mallory.caller(), "agent:mallory")

        def send_as(frm, msg_id):
            return mallory.messages.Send(pb.SendRequest(message=pb.Message(
                id=msg_id, to_agent="mallory" if frm == "echo-py" else "echo-py",
                content="hello", **{"from": frm})), timeout=10)
        details = self.assert_refused(lambda: send_as("echo-py", "imp-1"),
                                      grpc.StatusCode.PERMISSION_DENIED)
        self.assertIn("mallory", details)
        self.assert_refused(lambda: mallory.messages.Inbox(pb.InboxRequest(agent="echo-py"),
                                                           timeout=10),
                            grpc.StatusCode.PERMISSION_DENIED)
        link = mallory.open_link("echo-py")
        with self.assertRaises(parley_client.LinkClosed) as e:
            link.ready(timeout=10)
        self.assertEqual(e.exception.code, grpc.StatusCode.PERMISSION_DENIED)
        # Nothing was sent as echo-py; as itself mallory may send.
        self.assertEqual(list(mallory.messages.Inbox(pb.InboxRequest(agent="mallory"),
                                                     timeout=10).messages), [])
        send_as("mallory", "own-1")
        self.assertEqual([(sender(m), m.content) for m in self.inbox_as("echo-py")],
                         [("mallory", "hello")])

        echo_agent = [ARGS.python, REPO / "examples" / "python" / "echo_agent.py",
                      "--target", self.daemon.target, "--stubs", ARGS.stubs,
                      "--agent", "echo-py"]
        # The echo agent with mallory's token (through PARLEY_TOKEN).
        code, out = self.run_example(echo_agent, "echo_agent.py (mallory's token)",
                                     env=dict(os.environ, PARLEY_TOKEN=mallory_token))
        self.assertEqual(code, 5, out)
        self.assertRegex(out, r"(?m)^echo_agent: PERMISSION_DENIED: agent 'mallory' may not")
        self.assertRegex(out, r"(?m)^hint: .*parley token issue --agent echo-py")
        self.assertNotIn("Traceback", out)
        # Without a token.
        code, out = self.run_example(echo_agent, "echo_agent.py (no token)")
        self.assertEqual(code, 5, out)
        self.assertRegex(out, r"(?m)^echo_agent: UNAUTHENTICATED: ")
        self.assertRegex(out, r"(?m)^hint: the node wants a token: `parley token issue "
                              r"--agent echo-py")
        self.assertNotIn("Traceback", out)
        # A token file that cannot be read.
        missing = os.path.join(self.tmp, "missing.token")
        code, out = self.run_example(echo_agent + ["--token-file", missing],
                                     "echo_agent.py (missing token file)")
        self.assertEqual(code, 2, out)
        self.assertIn("echo_agent: cannot read the token file '%s'" % missing, out)
        self.assertNotIn("Traceback", out)
        # The driver example acting as echo-py with mallory's token.
        code, out = self.run_example(
            [ARGS.python, REPO / "examples" / "python" / "drive_conversation.py",
             "--target", self.daemon.target, "--stubs", ARGS.stubs, "--as", "echo-py",
             "--with", "mallory", "--timeout", "10",
             "--token-file", self.token_file("mallory", mallory_token)],
            "drive_conversation.py (mallory's token)")
        self.assertEqual(code, 5, out)
        self.assertRegex(out, r"(?m)^drive_conversation: PERMISSION_DENIED ")
        self.assertRegex(out, r"(?m)^hint: .*parley token issue --agent echo-py")
        self.assertNotIn("Traceback", out)
        self.stop_daemon()


class JsEventsToken(TokenCase):
    # Verifies the JavaScript follower receives events with an observer token (--token-file or PARLEY_TOKEN), and that without a token (or with an agent's, for all events) it stops at once with exit 5 and a hint.
    def setUp(self):
        self.js = prepare_js()
        super().setUp()

    def follow(self, name, *extra, env=None):
        env = dict(os.environ, NODE_PATH=str(self.js), **(env or {}))
        return self.start([ARGS.node, REPO / "examples" / "js" / "follow_events.js",
                           "--target", self.daemon.target, "--from", "1", "--json",
                           "--give-up-after", "10", *extra], name, env=env)

    def test_follow_with_token(self):
        for a in ("a1", "a2"):
            self.introduce_external(a)
        observer = self.issue("--role", "observer")
        follower = self.follow("follow_events.js (observer)", "--token-file",
                               self.token_file("observer", observer))
        follower.wait_for_line(r'"kind":"agent_introduced".*"agent":"a2"', 30)
        self.introduce_external("a3")
        follower.wait_for_line(r'"kind":"agent_introduced".*"agent":"a3"', 30)
        follower.signal(signal.SIGTERM)
        self.assertEqual(follower.wait_exit(10), 0, follower.output())
        events = [json.loads(line) for line in follower.output().splitlines()
                  if line.startswith("{")]
        self.assertEqual([e["agent"] for e in events if e["kind"] == "agent_introduced"],
                         ["a1", "a2", "a3"])

        # The token from the environment.
        by_env = self.follow("follow_events.js (PARLEY_TOKEN)", "--max-events", "3",
                             env={"PARLEY_TOKEN": observer})
        self.assertEqual(by_env.wait_exit(20), 0, by_env.output())
        self.assertEqual(len([line for line in by_env.output().splitlines()
                              if line.startswith("{")]), 3)

        # No token: UNAUTHENTICATED, no event, exit 5 with a hint.
        anonymous = self.follow("follow_events.js (no token)")
        code = anonymous.wait_exit(20)
        out = anonymous.output()
        self.assertEqual(code, 5, out)
        self.assertIn("follow_events: stopping: UNAUTHENTICATED", out)
        self.assertRegex(out, r"(?m)^hint: the node wants a token")
        self.assertFalse([line for line in out.splitlines() if line.startswith("{")], out)
        self.assertNotIn("resubscribing", out)

        # An agent's token may follow its own events, not all of them.
        agent = self.follow("follow_events.js (agent a1)", "--token-file",
                            self.token_file("a1", self.issue("--agent", "a1")))
        code = agent.wait_exit(20)
        self.assertEqual(code, 5, agent.output())
        self.assertIn("follow_events: stopping: PERMISSION_DENIED", agent.output())
        self.stop_daemon()


def prepare_js() -> Path:
    """Installs the JavaScript example's locked dependencies (npm ci) into
    the build directory, once per lockfile; returns its node_modules."""
    if not ARGS.node or not shutil.which(ARGS.node) or not ARGS.npm or not shutil.which(ARGS.npm):
        raise SkipCase("node and npm are needed for the JavaScript example")
    src = REPO / "examples" / "js"
    dest = Path(ARGS.js_prefix)
    dest.mkdir(parents=True, exist_ok=True)
    lock = (src / "package-lock.json").read_bytes()
    stamp = dest / "node_modules" / ".parley-lock.sha256"
    digest = hashlib.sha256(lock + (src / "package.json").read_bytes()).hexdigest()
    if stamp.is_file() and stamp.read_text() == digest:
        return dest / "node_modules"
    for f in ("package.json", "package-lock.json", ".npmrc"):
        shutil.copyfile(src / f, dest / f)
    t0 = time.monotonic()
    try:
        r = subprocess.run([ARGS.npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                           cwd=dest, capture_output=True, text=True, timeout=120,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SkipCase("npm ci did not finish within 120s (registry unreachable?)")
    if r.returncode != 0:
        out = r.stdout + r.stderr
        if re.search(r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|network", out):
            raise SkipCase("npm ci cannot reach the registry:\n" + out[-2000:])
        raise AssertionError("npm ci failed (%d):\n%s" % (r.returncode, out[-4000:]))
    stamp.write_text(digest)
    print("npm ci in %s took %.1fs" % (dest, time.monotonic() - t0))
    return dest / "node_modules"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--parleyd", required=True)
    p.add_argument("--stubs", required=True, help="directory of the generated parley/v1 modules")
    p.add_argument("--parley", default="",
                   help="the CLI, for `parley token issue` (default: tools/parley beside "
                        "parleyd's nodes/ in the build tree)")
    p.add_argument("--python", default=sys.executable, help="interpreter for the examples")
    p.add_argument("--node", default=shutil.which("node") or "")
    p.add_argument("--npm", default=shutil.which("npm") or "")
    p.add_argument("--js-prefix", default=str(Path(tempfile.gettempdir()) / "parley-js"),
                   help="where npm ci installs the JavaScript example's dependencies")
    p.add_argument("case", help="a TestCase class of this file")
    args = p.parse_args()
    ARGS.__dict__.update(vars(args))
    try:
        parley_client.load_stubs(args.stubs)
    except FileNotFoundError as e:
        print("FAIL: %s" % e)
        return 1
    if not Path(args.parleyd).is_file():
        print("FAIL: no parleyd at %s" % args.parleyd)
        return 1
    if not args.parley:
        ARGS.parley = str(Path(args.parleyd).resolve().parents[1] / "tools" / "parley")
    if "Token" in args.case and not Path(ARGS.parley).is_file():
        print("FAIL: no parley CLI at %s (pass --parley)" % ARGS.parley)
        return 1
    if "Network" in args.case and not shutil.which("etcd"):
        print("SKIP: etcd is not installed (scripts/setup installs etcd-server)")
        return SKIP
    if args.case.startswith("Js"):
        try:
            prepare_js()
        except SkipCase as e:
            print("SKIP: %s" % e)
            return SKIP
    result = unittest.main(argv=[sys.argv[0], "-v", args.case], exit=False).result
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
