"""FastPacket produces and parses exactly what python-socketio's Packet does.

Every check runs the same input through both classes and compares the outcome: the encoded
packet (text and attachments), the decoded fields, or the exception (type, message and whether it
was raised at construction or at ``encode()``).
"""

from __future__ import annotations

import collections
import json
import math
import random
import threading
from typing import Any

import pytest
import socketio
from socketio import packet as sio_packet
from socketio.packet import Packet

from flask_socketio.packet import FastPacket

_Pair = collections.namedtuple("_Pair", "a b")
_SHARED = b"shared"


class _ListSub(list):
    pass


class _DictSub(dict):
    pass


PACKET_TYPES = [
    sio_packet.CONNECT,
    sio_packet.DISCONNECT,
    sio_packet.EVENT,
    sio_packet.ACK,
    sio_packet.CONNECT_ERROR,
    sio_packet.BINARY_EVENT,
    sio_packet.BINARY_ACK,
]
NAMESPACES = [None, "/", "/chat", "/a-b", "/ünï"]
IDS = [None, 0, 7, 123456789]


def _stable_id(value: object) -> str:
    """A test id without memory addresses, so every xdist worker collects the same ids."""
    import re

    return re.sub(r" at 0x[0-9a-f]+", "", repr(value))


def _outcome(action) -> tuple:
    try:
        return ("ok", action())
    except Exception as exc:  # the exact failure is part of the contract
        return ("error", type(exc), str(exc))


def _encode_outcome(cls: type[Packet], *args: Any, **kwargs: Any) -> tuple:
    try:
        pkt = cls(*args, **kwargs)
    except Exception as exc:
        return ("init-error", type(exc), str(exc))
    return ("type", pkt.packet_type) + _outcome(pkt.encode)


def _decode_fields(pkt: Packet) -> tuple:
    return (pkt.packet_type, pkt.namespace, pkt.id, _comparable(pkt.data), pkt.attachment_count)


def _decode_outcome(cls: type[Packet], encoded: Any, attachments: list | None = None) -> tuple:
    def run():
        pkt = cls(encoded_packet=encoded)
        done = [pkt.add_attachment(a) for a in attachments or []]
        return _decode_fields(pkt), done

    return _outcome(run)


def _comparable(data: Any) -> Any:
    """NaN != NaN; compare its repr instead so equal payloads compare equal."""
    if isinstance(data, float) and math.isnan(data):
        return "NaN"
    if isinstance(data, list):
        return [_comparable(x) for x in data]
    if isinstance(data, dict):
        return {k: _comparable(v) for k, v in data.items()}
    return data


def _random_payload(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "none", "bool", "bytes", "bytearray", "list", "dict"]
    if depth >= 4:
        kinds = kinds[:7]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice([0, -1, 42, 2**70, rng.randint(-(10**9), 10**9)])
    if kind == "float":
        return rng.choice([0.5, -1e300, 3.14159, float("inf"), float("nan")])
    if kind == "str":
        return rng.choice(["", "hello", "a-b,c/d", "ünïcödé ✓", '"quoted"\n', "_placeholder"])
    if kind == "none":
        return None
    if kind == "bool":
        return rng.choice([True, False])
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(5)))
    if kind == "bytearray":
        return bytearray(b"\x00\xff")
    if kind == "list":
        return [_random_payload(rng, depth + 1) for _ in range(rng.randrange(5))]
    keys = ["a", "b", "num", "_placeholder", "data", 1]
    return {rng.choice(keys): _random_payload(rng, depth + 1) for _ in range(rng.randrange(5))}


@pytest.mark.parametrize("seed", range(40))
def test_random_payloads_encode_and_decode_identically(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(50):
        data = _random_payload(rng)
        packet_type = rng.choice(PACKET_TYPES)
        namespace = rng.choice(NAMESPACES)
        ack_id = rng.choice(IDS)
        binary = rng.choice([None, None, None, True, False])
        args = (packet_type, data, namespace, ack_id, binary)
        expected = _encode_outcome(Packet, *args)
        assert _encode_outcome(FastPacket, *args) == expected, args
        if expected[2] != "ok":
            continue
        encoded = expected[3]
        if isinstance(encoded, list):
            text, attachments = encoded[0], encoded[1:]
        else:
            text, attachments = encoded, []
        # each class decodes the other's output to the same fields
        assert _decode_outcome(FastPacket, text, attachments) == _decode_outcome(
            Packet, text, attachments
        )


@pytest.mark.parametrize("namespace", NAMESPACES)
@pytest.mark.parametrize("ack_id", IDS)
def test_event_with_nested_bytes(namespace: str | None, ack_id: int | None) -> None:
    data = ["update", {"id": 1, "blob": b"\x00\x01", "parts": [bytearray(b"x"), {"deep": b""}]}]
    fast = FastPacket(sio_packet.EVENT, data, namespace=namespace, id=ack_id)
    base = Packet(sio_packet.EVENT, data, namespace=namespace, id=ack_id)
    assert fast.packet_type == base.packet_type == sio_packet.BINARY_EVENT
    encoded = fast.encode()
    assert encoded == base.encode()
    assert len(encoded) == 4  # the text and three attachments, in order
    decoded = FastPacket(encoded_packet=encoded[0])
    assert decoded.attachment_count == 3
    assert [decoded.add_attachment(a) for a in encoded[1:]] == [False, False, True]
    assert decoded.data == data
    assert decoded.namespace == (None if namespace in (None, "/") else namespace)
    assert decoded.id == ack_id


ENCODED_SAMPLES = [
    "0",
    "0/chat",
    "0/chat,",
    '0/chat?x=1,{"token":1}',
    "0/chat?x=1",
    '0{"token":"abc"}',
    "1",
    "1/chat,",
    '2["a"]',
    '21["a"]',
    '2/chat,12["a",1]',
    "3/chat,12[]",
    '4{"message":"nope","data":{"x":1}}',
    '4"Unable to connect"',
    '51-["a",{"_placeholder":true,"num":0}]',
    '61-/n,7[{"_placeholder":true,"num":0}]',
    '52-[{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]',
    '2["a-b"]',
    '2/a-b,["x"]',
    '2/chat["x"]',
    "2-5",
    '212345678901-["x"]',
    '51234567890-[{"_placeholder":true,"num":0}]',
    '512345678901-["x"]',
    "2" + "1" * 100 + '["x"]',
    "2" + "1" * 101 + '["x"]',
    "2/chat," + "1" * 101 + '["x"]',
    '2٣["x"]',
    '٣["x"]',
    '2²["x"]',
    '2٣-["x"]',
    '2/chat,٣["x"]',
    "",
    "x",
    " 2",
    '2 ["x"]',
    '2\ufeff["x"]',
    "2/chat,\ufeff[1]",
    '7["x"]',
    '2["x"',
    "2[" + "1" * 101 + "]",
    "2[" + "1" * 100 + "]",
    # the integer guard past the first 100 characters (the fast decoder parses ints in C)
    '2["' + "x" * 120 + '",' + "7" * 101 + "]",
    '2["' + "x" * 120 + '",-' + "7" * 100 + "]",
    '2["' + "9" * 150 + '",1]',
    '2["' + "x" * 120 + '",' + "1" * 101 + ".5," + "2" * 101 + "e3]",
    "2[" + ",".join(["12345678901234567890"] * 10) + "]",
    '2/,["x"]',
    "2/chat,/x",
    "2//,[]",
    "5-[]",
    "50-[]",
    '2[NaN,Infinity,-1e999,1.5e3,"\\u00e9"]',
    '2/chat,5{"a":[1,{"b":null}]}',
    '5/chat,1-9[{"_placeholder":true,"num":0}]',
    '2/chat?,1["x"]',
    "2/chat,1",
    "2/chat,1-",
    '21-["x"]',
    '51-[{"_placeholder":true,"num":0,"x":{"_placeholder":true,"num":5}}]',
    '51-[{"_placeholder":true,"num":true}]',
    '52-[{"_placeholder":true,"num":-1},{"_placeholder":1,"num":0}]',
    '51-[{"_placeholder":false,"num":0},{"_placeholder":true}]',
    '51-[{"_placeholder":true,"num":0.0}]',
    '51-[{"_placeholder":true,"num":"0"}]',
    '51-{"_placeholder":true,"num":0}',
    '51-[[[{"a":[{"_placeholder":true,"num":0}]}]]]',
]


@pytest.mark.parametrize("encoded", ENCODED_SAMPLES)
def test_decode_matches_base_class(encoded: str) -> None:
    # fresh instances, then decode() directly so even the empty string is parsed
    def run(cls):
        def action():
            pkt = cls()
            count = pkt.decode(encoded)
            return count, _decode_fields(pkt)

        return _outcome(action)

    assert run(FastPacket) == run(Packet)
    attachments = [b"zero", b"one"]
    for n in range(3):
        assert _decode_outcome(FastPacket, encoded, attachments[:n]) == _decode_outcome(
            Packet, encoded, attachments[:n]
        )


@pytest.mark.parametrize(
    "data",
    [
        ["x", (b"in a tuple", 1)],  # tuples are not scanned: json raises, as in the base
        ["x", {b"key": 1}],
        ["x", {1, 2}],
        ["x", object()],
        ["x", {"a": b"1", "when": object()}],  # binary and unencodable: fails at encode()
        ["x", ("a", 1)],
        ["x", {1: "int key", None: "none key"}],
        ["x", memoryview(b"ab")],
        ["x", {"t": (1, b"in a tuple")}, b"elsewhere"],  # binary, but json fails at encode()
        ["x", _Pair(b"a", b"b")],  # a namedtuple is a tuple: not scanned
        ["x", _SHARED, [_SHARED, {"again": _SHARED}]],  # one bytes object three times
        ["x", _ListSub([b"a", _DictSub(k=b"b")])],  # subclasses are scanned like their bases
        ["x", [[[[[[[[b"deep"]]]]]]]]],
        ["x", [b"%d" % n for n in range(40)]],  # more attachments than cached placeholders
    ],
    ids=_stable_id,
)
def test_unusual_payloads_fail_or_succeed_alike(data: list) -> None:
    for packet_type in (sio_packet.EVENT, sio_packet.CONNECT):
        assert _encode_outcome(FastPacket, packet_type, data) == _encode_outcome(
            Packet, packet_type, data
        )


def test_replacing_data_after_construction_is_honoured() -> None:
    fast = FastPacket(sio_packet.EVENT, ["a", 1])
    base = Packet(sio_packet.EVENT, ["a", 1])
    fast.data = base.data = ["b", 2]
    assert fast.encode() == base.encode()


def test_helpers_match_base_class() -> None:
    rng = random.Random(7)
    for _ in range(300):
        data = _random_payload(rng)
        assert FastPacket.data_is_binary(data) == Packet.data_is_binary(data)
        fast_data, fast_att = FastPacket.deconstruct_binary(data)
        base_data, base_att = Packet.deconstruct_binary(data)
        assert json.dumps(fast_data) == json.dumps(base_data)
        assert fast_att == base_att
        fast = _outcome(lambda d=fast_data, a=fast_att: FastPacket.reconstruct_binary(d, a))
        base = _outcome(lambda d=base_data, a=base_att: Packet.reconstruct_binary(d, a))
        assert _comparable(fast) == _comparable(base)


class _SortedJson:
    """A custom json module, as ``Server(json=...)`` installs one."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, sort_keys=True, ensure_ascii=False, **kwargs)

    @staticmethod
    def loads(text: str, **kwargs: Any) -> Any:
        return json.loads(text, **kwargs)


def test_custom_json_module_is_used() -> None:
    class CustomBase(Packet):
        json = _SortedJson

    class CustomFast(FastPacket):
        json = _SortedJson

    rng = random.Random(3)
    for _ in range(200):
        data = ["ev", _random_payload(rng), {"z": "é", "a": b"1"}]
        assert _encode_outcome(CustomFast, sio_packet.EVENT, data) == _encode_outcome(
            CustomBase, sio_packet.EVENT, data
        )
    encoded = CustomBase(sio_packet.EVENT, ["ev", {"z": "é", "a": 1}]).encode()
    assert encoded == '2["ev",{"a":1,"z":"é"}]'
    assert _decode_outcome(CustomFast, encoded) == _decode_outcome(CustomBase, encoded)


def test_works_as_python_socketio_serializer() -> None:
    """A real python-socketio server and client, both using FastPacket, through the WSGI app."""
    server = socketio.Server(serializer=FastPacket, async_mode="threading")
    assert server.packet_class is FastPacket
    client = socketio.Client(serializer=FastPacket)
    assert client.packet_class is FastPacket


class _SneakyDict(dict):
    """A dict subclass whose items() encodes a packet itself (re-entering the encoder)."""

    def items(self):  # type: ignore[override]
        FastPacket(sio_packet.EVENT, ["inner", {"raw": b"inner"}]).encode()
        return super().items()


def test_reentrant_encoding_and_a_failed_encode_leave_no_state_behind() -> None:
    data = ["x", _SneakyDict(a=b"1", b=[b"2"]), b"3"]
    assert _encode_outcome(FastPacket, sio_packet.EVENT, data) == _encode_outcome(
        Packet, sio_packet.EVENT, data
    )
    circular: list = []
    circular.append(circular)
    fast = _encode_outcome(FastPacket, sio_packet.EVENT, ["x", circular, b"1"])
    base = _encode_outcome(Packet, sio_packet.EVENT, ["x", circular, b"1"])
    assert fast[:2] == base[:2] == ("init-error", RecursionError)
    # the next packets encode normally (no stale circular-reference markers)
    for data in (["x", {"raw": b"1"}], ["y", [b"2", {"z": b"3"}]]):
        expected = Packet(sio_packet.EVENT, data).encode()
        assert FastPacket(sio_packet.EVENT, data).encode() == expected


def test_threads_encode_and_decode_concurrently() -> None:
    errors: list = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):
                data = ["ev", _random_payload(rng), {"raw": b"%d" % seed}]
                expected = Packet(sio_packet.EVENT, data).encode()
                assert FastPacket(sio_packet.EVENT, data).encode() == expected
                text, attachments = expected[0], expected[1:]
                assert _decode_outcome(FastPacket, text, attachments) == _decode_outcome(
                    Packet, text, attachments
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
