"""The few Protobuf wire-format pieces needed to call gRPC's well-known
services (health, reflection) without their generated modules: Debian ships
neither grpc_health nor grpc_reflection for Python, nor their .proto files.

Only what those messages use: varints, length-delimited fields; fixed-width
fields are skipped when decoding.
"""

from typing import Dict, List, Union

Value = Union[int, bytes]


def encode_varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def encode_bytes(field: int, value: bytes) -> bytes:
    """A length-delimited field (string, bytes, embedded message)."""
    return encode_varint(field << 3 | 2) + encode_varint(len(value)) + value


def encode_string(field: int, value: str) -> bytes:
    return encode_bytes(field, value.encode())


def _varint(buf: bytes, pos: int):
    shift = result = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def decode(buf: bytes) -> Dict[int, List[Value]]:
    """Field number -> values in order (ints for varints, bytes for
    length-delimited fields)."""
    fields: Dict[int, List[Value]] = {}
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, pos = _varint(buf, pos)
        elif wire_type == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise ValueError("truncated field %d" % field)
            value, pos = buf[pos:pos + n], pos + n
        elif wire_type == 1:
            pos += 8
            continue
        elif wire_type == 5:
            pos += 4
            continue
        else:
            raise ValueError("unsupported wire type %d (field %d)" % (wire_type, field))
        fields.setdefault(field, []).append(value)
    return fields
