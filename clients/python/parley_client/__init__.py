"""A small Python client for the Parley gRPC API (package parley.v1).

The generated modules (parley/v1/api_pb2.py, api_pb2_grpc.py) are made at
build time by protoc and grpc_python_plugin into the build directory
(`build/examples/python/gen` by default). load_stubs() finds them from an
argument, the PARLEY_PY_STUBS environment variable, or that default.

    from parley_client import connect
    node = connect("127.0.0.1:7700", stubs="build/examples/python/gen",
                   token_file="bot.token", agent="bot")
    node.ensure_external_agent()          # introduces "bot" unless it exists
    node.messages.Send(node.pb.SendRequest(...))

Every call carries `authorization: Bearer <token>` when there is a token:
token= (the token), token_file= (a file's first line), else $PARLEY_TOKEN,
else the file named by $PARLEY_TOKEN_FILE (auth.py). `parley token issue
--agent bot --key-file KEY` makes one; a development node (no token key)
needs none. The token alone tells the node who calls: `agent` only fills
request fields (join, open_link, ...).

Needs Debian's python3-grpcio and python3-protobuf (run with /usr/bin/python3).
"""

from .auth import (AUTH_CODES, ENV_TOKEN, ENV_TOKEN_FILE, TokenError, auth_hint,
                   bearer_metadata, read_token_file, resolve_token)
from .node import Node, connect, load_stubs, rpc_code
from .link import Link, LinkClosed
from .wellknown import file_containing_symbol, health_check, list_services

__all__ = [
    "Node", "connect", "load_stubs", "rpc_code", "Link", "LinkClosed",
    "health_check", "list_services", "file_containing_symbol",
    "TokenError", "resolve_token", "read_token_file", "bearer_metadata", "auth_hint",
    "AUTH_CODES", "ENV_TOKEN", "ENV_TOKEN_FILE",
]
