"""A channel to a node with the parley.v1 stubs and the caller's bearer token."""

import collections
import importlib
import os
import sys
from pathlib import Path
from typing import Optional

import grpc

from .auth import bearer_metadata, resolve_token

ENV_STUBS = "PARLEY_PY_STUBS"
# Where the build puts the generated modules, relative to the repository.
DEFAULT_STUBS = Path(__file__).resolve().parents[3] / "build" / "examples" / "python" / "gen"


def load_stubs(stubs: Optional[str] = None):
    """Imports the generated parley.v1 modules; returns (api_pb2, api_pb2_grpc).

    `stubs` (else $PARLEY_PY_STUBS, else build/examples/python/gen) is the
    directory that holds parley/v1/api_pb2.py."""
    where = Path(stubs or os.environ.get(ENV_STUBS) or DEFAULT_STUBS).resolve()
    if not (where / "parley" / "v1" / "api_pb2.py").is_file():
        raise FileNotFoundError(
            "no generated parley.v1 modules in '%s': build them (cmake --build build "
            "--target parley_python_stubs) or point %s at them" % (where, ENV_STUBS))
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    return (importlib.import_module("parley.v1.api_pb2"),
            importlib.import_module("parley.v1.api_pb2_grpc"))


def rpc_code(error: grpc.RpcError) -> grpc.StatusCode:
    return error.code()  # type: ignore[attr-defined]


class _CallDetails(collections.namedtuple(
        "_CallDetails", ("method", "timeout", "metadata", "credentials", "wait_for_ready",
                         "compression")), grpc.ClientCallDetails):
    pass


class _BearerToken(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                   grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call of a channel."""

    def __init__(self, token: str):
        self._md = tuple(bearer_metadata(token))

    def _details(self, d):
        md = [kv for kv in (d.metadata or ()) if kv[0].lower() != "authorization"]
        return _CallDetails(d.method, d.timeout, md + list(self._md),
                            getattr(d, "credentials", None), getattr(d, "wait_for_ready", None),
                            getattr(d, "compression", None))

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, requests):
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation, details, requests):
        return continuation(self._details(details), requests)


class Node:
    """One channel to a node and a stub per service. Thread-safe (gRPC
    channels and stubs are).

    Every call on `channel` (the stubs', health and reflection too) carries
    the bearer token, if there is one: `token` (the token itself), else
    `token_file` (its first line), else $PARLEY_TOKEN, else the file named by
    $PARLEY_TOKEN_FILE (auth.resolve_token; token="" sends none). A token
    file that cannot be read raises TokenError. A development node (started
    without a token key) needs no token and refuses one.

    `agent` is the agent this client acts as by default, for the request
    fields that name it (join, open_link, ensure_external_agent); the node
    knows the caller from the token alone."""

    def __init__(self, target: str, stubs: Optional[str] = None,
                 token: Optional[str] = None, token_file: Optional[str] = None,
                 agent: Optional[str] = None, channel: Optional[grpc.Channel] = None):
        self.pb, self.pb_grpc = load_stubs(stubs)
        self._stubs = stubs
        self.target = target
        self.agent = agent
        self.token = resolve_token(token, token_file)
        # Reconnect within 2 s of a node coming back (gRPC's default backoff
        # grows to 2 minutes).
        self._plain = channel or grpc.insecure_channel(target, options=[
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ])
        self.channel = (grpc.intercept_channel(self._plain, _BearerToken(self.token))
                        if self.token else self._plain)
        g = self.pb_grpc
        self.agents = g.AgentsStub(self.channel)
        self.rooms = g.RoomsStub(self.channel)
        self.turns = g.TurnsStub(self.channel)
        self.messages = g.MessagesStub(self.channel)
        self.events = g.EventsStub(self.channel)
        self.admin = g.AdminStub(self.channel)
        self.link = g.AgentLinkStub(self.channel)

    @property
    def metadata(self):
        """The call metadata the channel adds: [("authorization", "Bearer
        ...")], or [] without a token (for calls on another channel)."""
        return bearer_metadata(self.token)

    def _who(self, agent: Optional[str]) -> str:
        who = agent or self.agent
        if not who:
            raise ValueError("no agent named: pass one, or connect(..., agent=ID)")
        return who

    def caller(self, timeout: float = 10.0) -> str:
        """The principal the node authenticated this client as (NodeInfo's
        `caller`), e.g. "agent:echo-py"; "admin:local" on a development node."""
        return self.admin.NodeInfo(self.pb.NodeInfoRequest(), timeout=timeout).caller

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Waits until the channel is connected; grpc.FutureTimeoutError after `timeout`."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def ensure_external_agent(self, agent: Optional[str] = None, display_name: str = "",
                              bio: str = "", skills=(), timeout: float = 10.0):
        """Introduces `agent` (default: this client's) with Behavior
        KIND_EXTERNAL unless it exists; returns its manifest. The token must
        allow it: the agent's own, an operator's or an admin's."""
        pb = self.pb
        agent = self._who(agent)
        try:
            return self.agents.GetManifest(pb.GetManifestRequest(agent=agent), timeout=timeout)
        except grpc.RpcError as e:
            if rpc_code(e) != grpc.StatusCode.NOT_FOUND:
                raise
        manifest = pb.Manifest(id=agent, display_name=display_name or agent, bio=bio,
                               skills=[pb.Skill(id=s, name=s) for s in skills])
        request = pb.IntroduceRequest(manifest=manifest,
                                      behavior=pb.Behavior(kind=pb.Behavior.KIND_EXTERNAL))
        try:
            return self.agents.Introduce(request, timeout=timeout)
        except grpc.RpcError as e:
            if rpc_code(e) != grpc.StatusCode.ALREADY_EXISTS:  # introduced meanwhile
                raise
            return self.agents.GetManifest(pb.GetManifestRequest(agent=agent), timeout=timeout)

    def join(self, room: str, agent: Optional[str] = None, timeout: float = 10.0) -> bool:
        """Joins `room` as `agent` (default: this client's); False if it
        already was a member."""
        try:
            self.rooms.Join(self.pb.JoinRequest(room=room, agent=self._who(agent)),
                            timeout=timeout)
            return True
        except grpc.RpcError as e:
            if rpc_code(e) == grpc.StatusCode.ALREADY_EXISTS:
                return False
            raise

    def open_link(self, agent: Optional[str] = None, credit: int = 16,
                  redirects: int = 2, timeout: float = 10.0) -> "Link":
        """Opens AgentLink.Link as `agent` (default: this client's): the token
        must be that agent's own (or an admin's).

        In a network the link is served by the agent's node: a node that
        does not serve it ends the link with UNAVAILABLE and that node's
        address (docs/api.md), and this opens it there instead, up to
        `redirects` times. So it waits (up to `timeout`) for the node's
        first answer; ready() then returns it. `link.target` is the node
        that serves the link."""
        from .link import Link, LinkClosed
        who = self._who(agent)
        node = self
        for hop in range(redirects + 1):
            link = Link(node, who, credit)
            link._owned_node = node if node is not self else None
            try:
                first = link.recv(timeout)
            except LinkClosed as closed:
                if closed.redirect and hop < redirects:
                    link.close()
                    node = node.at(closed.redirect)
                    continue
                return link  # recv() and ready() raise `closed` again
            if first is not None:
                link._unrecv(first)
            return link
        return link

    def at(self, target: str) -> "Node":
        """A Node for another node of the network, with this one's stubs,
        token and agent."""
        return Node(target, stubs=self._stubs, token=self.token or "", agent=self.agent)

    def close(self) -> None:
        self.channel.close()


def connect(target: str, stubs: Optional[str] = None, token: Optional[str] = None,
            token_file: Optional[str] = None, agent: Optional[str] = None) -> Node:
    """A Node for `target`; see Node for where the token comes from."""
    return Node(target, stubs=stubs, token=token, token_file=token_file, agent=agent)
