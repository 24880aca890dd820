"""grpc.health.v1 and gRPC server reflection, called generically with
hand-encoded messages (see wire.py for why)."""

from typing import List

import grpc

from . import wire

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
# gRPC C++ 1.51 serves v1alpha; newer servers serve v1 too.
REFLECTION_METHODS = (
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
)

SERVING_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


def health_check(channel: grpc.Channel, service: str = "", timeout: float = 5.0) -> str:
    """The serving status of `service` ("" = the whole server) as its enum
    name, e.g. "SERVING". Raises grpc.RpcError (NOT_FOUND for a service the
    server does not know)."""
    check = channel.unary_unary(HEALTH_CHECK)  # bytes in, bytes out
    # HealthCheckRequest { string service = 1; }
    request = wire.encode_string(1, service) if service else b""
    response = wire.decode(check(request, timeout=timeout))
    # HealthCheckResponse { ServingStatus status = 1; }
    status = response.get(1, [0])[0]
    return SERVING_STATUS.get(status, str(status))


class ReflectionError(Exception):
    pass


def _reflect(channel: grpc.Channel, request: bytes, timeout: float) -> dict:
    last_error = None
    for method in REFLECTION_METHODS:
        info = channel.stream_stream(method)
        try:
            for raw in info(iter([request]), timeout=timeout):
                response = wire.decode(raw)
                if 7 in response:  # error_response { int32 error_code = 1; string error_message = 2; }
                    err = wire.decode(response[7][0])
                    raise ReflectionError("reflection error %s: %s" % (
                        err.get(1, [0])[0], err.get(2, [b""])[0].decode()))
                return response
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.UNIMPLEMENTED:
                raise
            last_error = e
    raise ReflectionError("the server has no reflection service: %s" % last_error)


def list_services(channel: grpc.Channel, timeout: float = 5.0) -> List[str]:
    """The fully qualified names of the services the server offers."""
    # ServerReflectionRequest { string list_services = 7; }
    response = _reflect(channel, wire.encode_string(7, ""), timeout)
    # all_services_response = 6: ListServiceResponse { repeated ServiceResponse service = 1; }
    # ServiceResponse { string name = 1; }
    listing = wire.decode(response.get(6, [b""])[0])
    return sorted(wire.decode(s).get(1, [b""])[0].decode() for s in listing.get(1, []))


def file_containing_symbol(channel: grpc.Channel, symbol: str, timeout: float = 5.0):
    """The FileDescriptorProtos (google.protobuf.descriptor_pb2) the server
    returns for `symbol`: the file that defines it first, then its imports."""
    from google.protobuf import descriptor_pb2

    # ServerReflectionRequest { string file_containing_symbol = 4; }
    response = _reflect(channel, wire.encode_string(4, symbol), timeout)
    # file_descriptor_response = 4: { repeated bytes file_descriptor_proto = 1; }
    files = wire.decode(response.get(4, [b""])[0]).get(1, [])
    out = []
    for raw in files:
        fd = descriptor_pb2.FileDescriptorProto()
        fd.ParseFromString(raw)
        out.append(fd)
    return out
