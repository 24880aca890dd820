"""A channel to a node with the parley.v1 stubs and the caller metadata."""

import importlib
import os
import sys
from pathlib import Path
from typing import Optional

import grpc

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


class Node:
    """One channel to a node and a stub per service. Thread-safe (gRPC
    channels and stubs are)."""

    def __init__(self, target: str, stubs: Optional[str] = None,
                 admin_token: Optional[str] = None,
                 channel: Optional[grpc.Channel] = None):
        self.pb, self.pb_grpc = load_stubs(stubs)
        self.target = target
        self.admin_token = admin_token
        # Reconnect within 2 s of a node coming back (gRPC's default backoff
        # grows to 2 minutes).
        self.channel = channel or grpc.insecure_channel(target, options=[
            ("grpc.initial_reconnect_backoff_ms", 200),
            ("grpc.max_reconnect_backoff_ms", 2000),
        ])
        g = self.pb_grpc
        self.agents = g.AgentsStub(self.channel)
        self.rooms = g.RoomsStub(self.channel)
        self.turns = g.TurnsStub(self.channel)
        self.messages = g.MessagesStub(self.channel)
        self.events = g.EventsStub(self.channel)
        self.admin = g.AdminStub(self.channel)
        self.link = g.AgentLinkStub(self.channel)

    def as_agent(self, agent: str):
        """Metadata for a call acting for `agent` (plus the admin token if set)."""
        md = [("parley-agent", agent)]
        if self.admin_token:
            md.append(("parley-admin-token", self.admin_token))
        return md

    def as_admin(self):
        return [("parley-admin-token", self.admin_token)] if self.admin_token else []

    def wait_ready(self, timeout: float = 10.0) -> None:
        """Waits until the channel is connected; grpc.FutureTimeoutError after `timeout`."""
        grpc.channel_ready_future(self.channel).result(timeout=timeout)

    def ensure_external_agent(self, agent: str, display_name: str = "", bio: str = "",
                              skills=(), timeout: float = 10.0):
        """Introduces `agent` with Behavior KIND_EXTERNAL unless it exists;
        returns its manifest."""
        pb = self.pb
        md = self.as_agent(agent)
        try:
            return self.agents.GetManifest(pb.GetManifestRequest(agent=agent), metadata=md,
                                           timeout=timeout)
        except grpc.RpcError as e:
            if rpc_code(e) != grpc.StatusCode.NOT_FOUND:
                raise
        manifest = pb.Manifest(id=agent, display_name=display_name or agent, bio=bio,
                               skills=[pb.Skill(id=s, name=s) for s in skills])
        request = pb.IntroduceRequest(manifest=manifest,
                                      behavior=pb.Behavior(kind=pb.Behavior.KIND_EXTERNAL))
        try:
            return self.agents.Introduce(request, metadata=md, timeout=timeout)
        except grpc.RpcError as e:
            if rpc_code(e) != grpc.StatusCode.ALREADY_EXISTS:  # introduced meanwhile
                raise
            return self.agents.GetManifest(pb.GetManifestRequest(agent=agent), metadata=md,
                                           timeout=timeout)

    def join(self, room: str, agent: str, timeout: float = 10.0) -> bool:
        """Joins `room` as `agent`; False if it already was a member."""
        try:
            self.rooms.Join(self.pb.JoinRequest(room=room, agent=agent),
                            metadata=self.as_agent(agent), timeout=timeout)
            return True
        except grpc.RpcError as e:
            if rpc_code(e) == grpc.StatusCode.ALREADY_EXISTS:
                return False
            raise

    def open_link(self, agent: str, credit: int = 16) -> "Link":
        from .link import Link
        return Link(self, agent, credit)

    def close(self) -> None:
        self.channel.close()


def connect(target: str, stubs: Optional[str] = None, admin_token: Optional[str] = None) -> Node:
    return Node(target, stubs=stubs, admin_token=admin_token)
