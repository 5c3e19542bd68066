"""DeliveryLedger and stamps without any network: the bookkeeping itself."""

from __future__ import annotations

import threading
import time

import pytest
from flask_socketio_testing.ledger import DeliveryLedger, DeliveryReport
from flask_socketio_testing.stamp import read_stamp, stamp_payload, unwrap_payload


def test_stamp_dict_payload_is_copied_and_readable() -> None:
    original = {"text": "hi"}
    stamped = stamp_payload(original, msg_id="m1", sender="alice", seq=3)
    assert "_ledger" not in original
    stamp = read_stamp(stamped)
    assert stamp is not None
    assert stamp["id"] == "m1" and stamp["sender"] == "alice" and stamp["seq"] == 3
    assert abs(stamp["sent"] - time.time()) < 1
    assert unwrap_payload(stamped) == {"text": "hi"}


def test_stamp_wraps_other_payloads() -> None:
    stamped = stamp_payload([1, 2], msg_id="m2", sender=None, seq=0)
    assert stamped["data"] == [1, 2]
    assert read_stamp(stamped)["sender"] is None
    assert unwrap_payload(stamped) == [1, 2]
    # several event arguments: the first stamped one counts
    assert read_stamp(["x", stamped])["id"] == "m2"
    assert read_stamp({"no": "stamp"}) is None
    assert read_stamp("text") is None


def test_all_delivered_once_is_ok() -> None:
    ledger = DeliveryLedger()
    payload = ledger.stamp({"n": 1}, recipients=["a", "b", "c"])
    for cid in "abc":
        ledger.record_arrival(cid, payload)
    report = ledger.verify(timeout=1, settle=0)
    assert report.ok
    assert (report.messages, report.expected, report.delivered) == (1, 3, 3)
    assert report.p50 is not None and 0 <= report.p50 < 1
    assert "OK" in str(report)


def test_missing_duplicated_misdelivered_are_reported() -> None:
    ledger = DeliveryLedger()
    ledger.expect_room("room", ["a", "b"])
    p = ledger.stamp({"n": 1}, recipients="room")
    ledger.record_arrival("a", p)
    ledger.record_arrival("a", p)
    ledger.record_arrival("z", p)
    report = ledger.verify(timeout=0.1, settle=0)
    assert not report.ok
    msg_id = read_stamp(p)["id"]
    assert report.missing == [("b", msg_id)]
    assert report.duplicated == [("a", msg_id, 2)]
    assert report.misdelivered == [("z", msg_id)]
    text = str(report)
    assert "FAILED" in text and "missing" in text and "b/" in text
    counts = report.as_dict()
    assert counts["missing"] == 1 and counts["duplicated"] == 1 and counts["misdelivered"] == 1


def test_out_of_order_per_sender() -> None:
    ledger = DeliveryLedger()
    first = ledger.stamp({"n": 1}, sender="s", recipients=["a"])
    second = ledger.stamp({"n": 2}, sender="s", recipients=["a"])
    other = ledger.stamp({"n": 3}, sender="t", recipients=["a"])
    ledger.record_arrival("a", other)
    ledger.record_arrival("a", second)
    ledger.record_arrival("a", first)  # older than one already seen from "s"
    report = ledger.verify(timeout=0.1, settle=0)
    assert report.out_of_order == [("a", "s", read_stamp(first)["id"])]
    assert not report.ok


def test_verify_is_bounded_by_its_timeout() -> None:
    ledger = DeliveryLedger()
    ledger.stamp({"n": 1}, recipients=["never"])
    t0 = time.monotonic()
    report = ledger.verify(timeout=0.3)
    assert 0.25 < time.monotonic() - t0 < 1.5
    assert len(report.missing) == 1


def test_verify_wakes_on_arrivals_from_other_threads() -> None:
    ledger = DeliveryLedger()
    payloads = [ledger.stamp({"n": i}, recipients=[f"c{j}" for j in range(20)]) for i in range(5)]

    def deliver(j: int) -> None:
        for p in payloads:
            ledger.record_arrival(f"c{j}", p)

    threads = [threading.Thread(target=deliver, args=(j,)) for j in range(20)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    report = ledger.verify(timeout=5, settle=0)
    for t in threads:
        t.join()
    assert report.ok, str(report)
    assert report.delivered == 100
    assert time.monotonic() - t0 < 2


def test_mark_limits_verify_to_later_messages() -> None:
    ledger = DeliveryLedger()
    ledger.stamp({"lost": True}, recipients=["a"])  # never arrives
    mark = ledger.mark()
    p = ledger.stamp({"n": 2}, recipients=["a"])
    ledger.record_arrival("a", p)
    t0 = time.monotonic()
    report = ledger.verify(timeout=2, since=mark, settle=0)
    assert report.ok and report.messages == 1
    assert time.monotonic() - t0 < 1  # did not wait for the old, missing message
    assert not ledger.report().ok


def test_latency_percentiles_use_receive_minus_send_time() -> None:
    ledger = DeliveryLedger()
    p = ledger.stamp({}, recipients=[f"c{i}" for i in range(101)])
    sent = read_stamp(p)["sent"]
    for i in range(101):
        ledger.record_arrival(f"c{i}", p, receive_time=sent + i / 1000)
    report = ledger.report()
    assert report.p50 == pytest.approx(0.050)
    assert report.p99 == pytest.approx(0.099)
    assert report.max == pytest.approx(0.100)


def test_attach_records_events_of_clients_with_on() -> None:
    class FakeClient:
        def __init__(self, name: str) -> None:
            self.name = name
            self.handlers: dict = {}

        def on(self, event: str, handler, namespace=None) -> None:  # type: ignore[no-untyped-def]
            self.handlers[event] = handler

    clients = [FakeClient("x"), FakeClient("y")]
    ledger = DeliveryLedger()
    ledger.attach(clients, "news")
    p = ledger.stamp({"n": 1})  # default recipients: every attached client
    for c in clients:
        c.handlers["news"](p)
    assert ledger.verify(timeout=1, settle=0).ok
    with pytest.raises(TypeError):
        ledger.attach([object()], "news")


def test_clients_with_the_same_name_get_distinct_ids() -> None:
    class Named:
        name = "websocket-client"

    ledger = DeliveryLedger()
    a, b = Named(), Named()
    assert ledger.client_id(a) != ledger.client_id(b)
    assert ledger.client_id(a) == ledger.client_id(a)


def test_unknown_room_error_says_what_to_do() -> None:
    ledger = DeliveryLedger()
    with pytest.raises(KeyError, match="expect_room"):
        ledger.stamp({}, recipients="nowhere")


def test_expect_records_messages_stamped_elsewhere() -> None:
    ledger = DeliveryLedger()
    payload = stamp_payload({"n": 1}, msg_id="locust-1", sender="u1", seq=0)
    ledger.record_arrival("r1", payload)  # may arrive before the expectation is recorded
    ledger.expect(payload["_ledger"], ["r1", "r2"])
    ledger.record_arrival("r2", payload)
    assert ledger.verify(timeout=1, settle=0).ok


def test_report_as_dict_is_plain_data() -> None:
    import json

    report = DeliveryReport(messages=0, expected=0, delivered=0)
    assert report.ok
    json.dumps(report.as_dict())


def test_find_stamp_looks_inside_wrapping_payloads() -> None:
    from flask_socketio_testing.stamp import find_stamp

    stamped = stamp_payload({"body": "hi"}, msg_id="m9", sender=None, seq=0)
    assert find_stamp({"by": "ann", "body": stamped})["id"] == "m9"
    assert find_stamp(["post", {"list": [1, {"deep": stamped}]}])["id"] == "m9"
    assert find_stamp(({"a": 1}, ("x", stamped)))["id"] == "m9"
    # the shallowest stamp wins; depth is bounded
    other = stamp_payload({"inner": stamped}, msg_id="m8", sender=None, seq=0)
    assert find_stamp({"wrap": other})["id"] == "m8"
    nested: object = stamped
    for _ in range(3):
        nested = {"w": nested}
    assert find_stamp(nested, max_depth=3)["id"] == "m9"
    assert find_stamp(nested, max_depth=2) is None
    assert find_stamp({"_ledger": {"no": "id"}}) is None
    assert find_stamp({"text": "_ledger"}) is None


def test_ledger_counts_stamps_relayed_inside_the_apps_payload() -> None:
    ledger = DeliveryLedger()
    payload = ledger.stamp({"body": "hi"}, recipients=["a", "b"])
    ledger.record_arrival("a", [{"by": "ann", "body": payload}])
    ledger.record_arrival("b", {"envelope": [{"post": payload}]})
    report = ledger.verify(timeout=1, settle=0)
    assert report.ok and report.delivered == 2, str(report)


def test_assert_ok_says_what_went_wrong() -> None:
    ledger = DeliveryLedger()
    good = ledger.stamp({}, recipients=["a"])
    ledger.record_arrival("a", good)
    assert ledger.verify(timeout=0.1, settle=0).assert_ok().delivered == 1

    first = ledger.stamp({}, sender="s", recipients=["a", "b"])
    second = ledger.stamp({}, sender="s", recipients=["a"])
    ledger.record_arrival("a", second)
    ledger.record_arrival("a", first)
    ledger.record_arrival("a", first)
    ledger.record_arrival("z", first)
    report = ledger.verify(timeout=0.1, settle=0)
    with pytest.raises(AssertionError) as info:
        report.assert_ok()
    text = str(info.value)
    first_id = read_stamp(first)["id"]
    assert text.startswith("3 of 4 expected deliveries arrived")
    assert f"1 missing (b/{first_id})" in text
    assert f"1 duplicated (a/{first_id}/2)" in text
    assert f"1 misdelivered (z/{first_id})" in text
    assert f"2 out of order (a/s/{first_id}, a/s/{first_id})" in text  # the copy too
    assert "DeliveryReport: FAILED" in text
