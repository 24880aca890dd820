"""A small Python client for the Parley gRPC API (package parley.v1).

The generated modules (parley/v1/api_pb2.py, api_pb2_grpc.py) are made at
build time by protoc and grpc_python_plugin into the build directory
(`build/examples/python/gen` by default). load_stubs() finds them from an
argument, the PARLEY_PY_STUBS environment variable, or that default.

    from parley_client import connect
    node = connect("127.0.0.1:7700", stubs="build/examples/python/gen")
    node.agents.Introduce(node.pb.IntroduceRequest(...), metadata=node.as_agent("bot"))

Needs Debian's python3-grpcio and python3-protobuf (run with /usr/bin/python3).
"""

from .node import Node, connect, load_stubs, rpc_code
from .link import Link, LinkClosed
from .wellknown import file_containing_symbol, health_check, list_services

__all__ = [
    "Node", "connect", "load_stubs", "rpc_code", "Link", "LinkClosed",
    "health_check", "list_services", "file_containing_symbol",
]
