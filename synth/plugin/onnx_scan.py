"""Find the external-data files an ONNX model refers to, without the onnx package.

An ONNX file may keep tensors in side files (``TensorProto.external_data`` with a
``location`` key). onnxruntime opens whatever path it finds there, so a model from the
internet could make the host read any file it can reach. The loader lists the
locations first and refuses any outside the model's folder (see :mod:`synth.plugin.model`).

This walks protobuf's wire format for the few fields that can hold tensors: graph
initializers, sparse initializers, node attributes (tensors and subgraphs, at any depth)
and functions' nodes. Everything else, raw tensor bytes included, is skipped unread.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5

# (message kind, field number) -> kind of the embedded message to descend into
_CHILDREN = {
    ("model", 7): "graph", ("model", 25): "function",
    ("function", 7): "node",
    ("graph", 1): "node", ("graph", 5): "tensor", ("graph", 15): "sparse",
    ("node", 5): "attribute",
    ("attribute", 5): "tensor", ("attribute", 6): "graph", ("attribute", 10): "tensor",
    ("attribute", 11): "graph", ("attribute", 22): "sparse", ("attribute", 23): "sparse",
    ("sparse", 1): "tensor", ("sparse", 2): "tensor",
}
_TENSOR_EXTERNAL_DATA = 13  # repeated StringStringEntryProto {key = 1, value = 2}
MAX_DEPTH = 64  # subgraphs nest (If, Loop); a deeper file is malformed or hostile


class ScanError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(buf: memoryview, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ScanError("truncated or overlong varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: memoryview) -> Iterator[tuple[int, int, memoryview | int]]:
    """(field number, wire type, value): LEN fields as views, others as ints (or skipped)."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        field, wire = key >> 3, key & 7
        if wire == VARINT:
            value, pos = _varint(buf, pos)
            yield field, wire, value
        elif wire == LENGTH:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ScanError("a field runs past the end of the file")
            yield field, wire, buf[pos:pos + size]
            pos += size
        elif wire == FIXED64:
            pos += 8
        elif wire == FIXED32:
            pos += 4
        else:
            raise ScanError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ScanError("a field runs past the end of the file")


def external_data_locations(data: bytes | memoryview) -> list[str]:
    """Every ``location`` named by an external-data tensor anywhere in the model."""
    found: list[str] = []
    stack = [("model", memoryview(data), 0)]
    while stack:
        kind, buf, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ScanError(f"graphs nested deeper than {MAX_DEPTH}")
        for field, wire, value in _fields(buf):
            if wire != LENGTH:
                continue
            if kind == "tensor" and field == _TENSOR_EXTERNAL_DATA:
                entry = {f: bytes(v).decode("utf-8", "replace") for f, w, v in _fields(value) if w == LENGTH}
                if entry.get(1) == "location" and 2 in entry:
                    found.append(entry[2])
            child = _CHILDREN.get((kind, field))
            if child is not None:
                stack.append((child, value, depth + 1))
    return found
