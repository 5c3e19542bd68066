"""Unit checks of the Locust delivery book and SLO maths (issue 7).

Not collected by the normal run: importing Locust monkey-patches gevent, so
tests/test_load_harness.py runs this file in a child pytest process.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask_socketio_testing.locust import (
    DeliveryBook,
    diff_snapshots,
    evaluate_slo,
    stats_snapshot,
)
from flask_socketio_testing.stamp import stamp_payload
from locust.env import Environment


@pytest.fixture
def env() -> Environment:
    return Environment()


@pytest.fixture
def fired(env: Environment) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    env.events.request.add_listener(lambda **kw: events.append(kw))
    return events


def _send(book: DeliveryBook, room: str, n: int, sent: float | None = None) -> dict[str, Any]:
    payload = stamp_payload({"room": room}, msg_id=f"s:{n}", sender="s", seq=n)
    if sent is not None:
        payload["_ledger"]["sent"] = sent
    book.expect(payload["_ledger"], "chat", room)
    return payload


def _close_all(book: DeliveryBook) -> None:
    book.finalize(time.time() + 10)


def _errors(fired: list[dict[str, Any]]) -> list[str]:
    return [type(e["exception"]).__name__ for e in fired if e["exception"] is not None]


def test_all_members_received(env: Environment, fired: list[dict[str, Any]]) -> None:
    book = DeliveryBook(env, grace=1)
    for uid in ("a", "b", "c"):
        book.joined(uid, "r")
    p = _send(book, "r", 1)
    for uid in ("a", "b", "c"):
        assert book.received(uid, p["_ledger"], "r", time.time()) == "tracked"
    _close_all(book)
    assert _errors(fired) == []
    assert book.counts["expected"] == book.counts["delivered"] == 3
    assert not book.ledgers and not book.messages  # verified ledgers are dropped


def test_missing_member_is_lost(env: Environment, fired: list[dict[str, Any]]) -> None:
    book = DeliveryBook(env, grace=1)
    book.joined("a", "r")
    book.joined("b", "r")
    p = _send(book, "r", 1)
    book.received("a", p["_ledger"], "r", time.time())
    _close_all(book)
    assert _errors(fired) == ["LostDelivery"]
    assert book.counts["lost"] == 1


def test_member_leaving_in_flight_is_excused(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    book.joined("a", "r")
    p = _send(book, "r", 1)
    book.gone("a", ["r"])
    _close_all(book)
    assert _errors(fired) == []
    assert book.counts["excused"] == 1
    assert p


def test_non_member_receipt_is_misdelivered(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    book.joined("a", "r")
    book.joined("x", "other")
    p = _send(book, "r", 1)
    book.received("a", p["_ledger"], "r", time.time())
    book.received("x", p["_ledger"], "r", time.time())
    _close_all(book)
    assert _errors(fired) == ["Misdelivered"]


def test_foreign_message_to_non_member_is_misdelivered_at_once(env: Environment) -> None:
    book = DeliveryBook(env, grace=1)
    stamp = stamp_payload({}, msg_id="other-process:1", sender="o", seq=1)["_ledger"]
    assert book.received("x", stamp, "r", time.time()) == "misdelivered"
    book.joined("x", "r")
    assert book.received("x", stamp, "r", time.time()) == "foreign"


def test_join_race_is_tolerated(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    book.joined("a", "r")
    p = _send(book, "r", 1)
    book.join_started("late", "r")  # joining while the message is in flight
    book.received("late", p["_ledger"], "r", time.time())
    book.received("a", p["_ledger"], "r", time.time())
    _close_all(book)
    assert _errors(fired) == []
    assert book.counts["tolerated"] == 1


def test_duplicate_delivery(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    book.joined("a", "r")
    p = _send(book, "r", 1)
    book.received("a", p["_ledger"], "r", time.time())
    book.received("a", p["_ledger"], "r", time.time())
    _close_all(book)
    assert _errors(fired) == ["DuplicateDelivery"]


def test_young_messages_wait_for_the_grace_period(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=5)
    book.joined("a", "r")
    _send(book, "r", 1)
    book.finalize(time.time() - book.grace)
    assert book.ledgers  # not verified yet: the recipient still has time
    book.flush()
    assert _errors(fired) == [] and not book.ledgers


def test_evaluate_slo() -> None:
    hist = {10: 980, 300: 20}
    ok = evaluate_slo(hist, 1000, 0, 0, 0, slo_p99_ms=250, slo_delivered=0.999)
    assert ok.p99_ms == 300 and not ok.ok
    fine = evaluate_slo({10: 1000}, 1000, 1, 0, 0, 250, 0.999)
    assert fine.ok and fine.delivered_ratio == pytest.approx(1000 / 1001)
    lossy = evaluate_slo({10: 1000}, 1000, 2, 0, 0, 250, 0.999)
    assert not lossy.ok and "delivered" in lossy.problems[0]
    wrong = evaluate_slo({10: 1000}, 1000, 0, 1, 0, 250, 0.999)
    assert wrong.problems == ["1 misdelivered message(s)"]


def test_stats_snapshots_diff(env: Environment, fired: list) -> None:
    env.create_local_runner()  # its listener logs request events into env.stats
    book = DeliveryBook(env, grace=1)
    a = stats_snapshot(env.stats)
    env.events.request.fire(
        request_type="recv",
        name="chat",
        response_time=12.0,
        response_length=0,
        exception=None,
        context={},
    )
    env.events.request.fire(
        request_type="send",  # a stamped message, whatever event it comes back as
        name="say",
        response_time=3.0,
        response_length=0,
        exception=None,
        context={},
    )
    book.joined("a", "r")
    _send(book, "r", 1)
    _close_all(book)
    d = diff_snapshots(a, stats_snapshot(env.stats))
    assert d["received"] == 1 and d["lost"] == 1 and d["sends"] == 1
    assert d["hist"] == {12: 1}


def test_find_stamp_nested_in_dicts_and_lists() -> None:
    from flask_socketio_testing.stamp import find_stamp

    stamp = stamp_payload({"text": "x"}, msg_id="m:1", sender="s", seq=1)
    assert find_stamp(stamp) == stamp["_ledger"]
    wrapped = {"by": "ann", "body": stamp}
    assert find_stamp(wrapped) == stamp["_ledger"]
    assert find_stamp([{"meta": 1}, {"items": [wrapped]}]) == stamp["_ledger"]
    assert find_stamp({"a": {"b": {"c": stamp}}}, max_depth=2) is None  # bounded depth
    assert find_stamp({"_ledger": {"id": "no send time"}}) is None
    assert find_stamp("plain") is None and find_stamp(None) is None


def test_options_are_in_the_web_ui_form() -> None:
    from flask_socketio_testing.locust import CapacityShape  # registers the capacity options
    from locust.argument_parser import ui_extra_args_dict

    assert CapacityShape
    shown = ui_extra_args_dict([])
    for name in ("sio_hosts", "sio_server_file", "slo_p99_ms", "delivery_grace", "step_users"):
        assert name in shown, name
    assert shown["slo_p99_ms"]["default_value"] == 250.0
    assert "p99" in shown["slo_p99_ms"]["help_text"]


def _summary(server_cpu: float | None) -> dict[str, Any]:
    def step(i: int, held: bool) -> dict[str, Any]:
        return {
            "step": i,
            "users": 10 * (i + 1),
            "p50_ms": None if i == 2 else 5.0 + i,
            "p99_ms": None if i == 2 else 20.0 + i,
            "delivered_ratio": None if i == 2 else 1.0,
            "deliveries_per_s": 100.0 * (i + 1),
            "sends_per_s": 10.0,
            "server_cpu_pct": server_cpu,
            "loadgen_cpu_pct": 30.0,
            "held": held,
        }

    steps = [step(0, True), step(1, True), step(2, False)]
    return {
        "label": "",
        "scenario": ["ForumUser"],
        "host": "http://127.0.0.1:1",
        "versions": {"server": {}},
        "server": {},
        "slo": {"p99_ms": 250.0, "delivered": 0.999},
        "held_users": 20,
        "held_step": steps[1],
        "breaking_step": steps[2],
        "steps": steps,
    }


def test_plot_draws_only_measured_curves(tmp_path: Any) -> None:
    from flask_socketio_testing.locust.report import plot

    curves = plot(_summary(None), str(tmp_path / "a.png"))
    assert "server CPU %" not in curves  # not sampled: no flat 0 % line
    assert {"p50", "p99", "delivered", "deliveries/s", "sends/s", "Locust CPU %"} <= set(curves)
    assert "server CPU %" in plot(_summary(40.0), str(tmp_path / "b.png"))
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_title_names_what_is_known() -> None:
    from flask_socketio_testing.locust.report import _title

    summary = _summary(None)
    assert "?" not in _title(summary) and "127.0.0.1:1" in _title(summary)
    summary["versions"]["server"] = {"flask_socketio": "6.0", "app": "/x/app.py:make(a=1)"}
    summary["server"] = {"nodes": 2}
    assert _title(summary).endswith("Flask-SocketIO 6.0, app.py:make, 2 node(s)")


def test_step_line_says_the_verdict() -> None:
    from flask_socketio_testing.locust.report import step_line

    step = {
        **_summary(1.0)["steps"][0],
        "received": 99,
        "expected": 100,
        "delivered_ratio": 0.99,
        "problems": ["delivered 0.99000 < 0.999 (1 lost of 100)"],
        "held": False,
    }
    line = step_line(step)
    assert line.startswith("capacity step 0: 10 users BROKE (delivered 0.99000")
    assert "delivered 99/100 = 0.99000" in line and "p99 20 ms" in line


def _stamp(n: int, room: str, sent: float | None = None) -> dict[str, Any]:
    stamp = stamp_payload({"room": room}, msg_id=f"other:{n}", sender="other", seq=n)["_ledger"]
    stamp["room"] = room
    if sent is not None:
        stamp["sent"] = sent
    return stamp


def test_worker_expects_announced_messages_at_its_members(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    sent: list[dict[str, Any]] = []
    book.announce = sent.append  # as on a worker
    for uid in ("a", "b"):
        book.joined(uid, "r")
    early = _stamp(1, "r")
    assert book.received("a", early, "r", time.time()) == "pending"  # before its announcement
    book.announced(early, "chat")
    book.announced(_stamp(2, "r"), "chat")  # nobody here receives this one
    own = _send(book, "r", 3)
    assert sent == [{"stamp": own["_ledger"], "event": "chat"}]
    for uid in ("a", "b"):
        book.received(uid, own["_ledger"], "r", time.time())
    _close_all(book)
    assert book.counts["delivered"] == 3  # a got 1; a and b got 3
    assert book.counts["lost"] == 3  # b missed 1; a and b missed 2
    assert _errors(fired) == ["LostDelivery"] * 3


def test_late_announcement_and_unannounced_receipt(env: Environment, fired: list) -> None:
    book = DeliveryBook(env, grace=1)
    book.announce = lambda _item: None
    book.joined("a", "r")
    book.finalize(time.time() - 1)
    old = _stamp(1, "r", sent=time.time() - 30)
    book.announced(old, "chat")  # its epoch is verified already: not expected any more
    assert book.counts["late_announcements"] == 1 and not book.messages
    stray = _stamp(2, "other-room")
    assert book.received("a", stray, "other-room", time.time()) == "pending"
    _close_all(book)  # never announced: checked as a foreign message
    assert not book.pending and _errors(fired) == ["Misdelivered"]
