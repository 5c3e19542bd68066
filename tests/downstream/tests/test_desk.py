"""The helpdesk's own tests, written against the installed harness (pytest plugin + clients)."""

import pytest
from flask_socketio_testing import Client, DeliveryLedger
from helpdesk import DESK, issue_token


def login(user, role="customer"):
    return {"token": issue_token(user, role)}


@pytest.mark.socketio_client(namespace=DESK, auth=login("carl"))
def test_a_customer_is_welcomed(socketio_client):
    assert socketio_client.is_connected(DESK)
    welcome = socketio_client.expect("welcome", namespace=DESK)
    assert welcome == [{"user": "carl", "role": "customer", "sid": socketio_client.get_sid(DESK)}]


def test_a_ticket_from_open_to_answer(socketio_client_factory):
    carl = socketio_client_factory(namespace=DESK, auth=login("carl"))
    ann = socketio_client_factory(namespace=DESK, auth=login("ann", "agent"))
    dora = socketio_client_factory(namespace=DESK, auth=login("dora"))
    for client in (carl, ann, dora):
        client.expect("welcome", namespace=DESK)

    ticket = carl.call("open_ticket", {"subject": "printer on fire"}, namespace=DESK)["ticket"]
    assert ann.expect("ticket_opened", namespace=DESK) == [
        {"ticket": ticket, "subject": "printer on fire"}
    ]
    watched = ann.call("watch", {"ticket": ticket}, namespace=DESK)
    assert watched == {"ticket": ticket, "subject": "printer on fire"}

    assert ann.call("post", {"ticket": ticket, "body": "unplug it"}, namespace=DESK) == {
        "ok": True,
        "posts": 1,
    }
    post = {"by": "ann", "post": {"ticket": ticket, "body": "unplug it"}}
    assert carl.expect("post", namespace=DESK) == [post]
    assert ann.expect("post", namespace=DESK) == [post]
    dora.assert_nothing_received(timeout=0.2, namespace=DESK)


def test_bad_requests_are_answered_not_dropped(socketio_client_factory):
    carl = socketio_client_factory(namespace=DESK, auth=login("carl"))
    assert carl.call("open_ticket", {"subject": "  "}, namespace=DESK) == {
        "error": "a ticket needs a subject"
    }
    assert carl.call("watch", {"ticket": 1}, namespace=DESK) == {
        "error": "only agents watch tickets"
    }
    assert carl.call("post", {"ticket": -1, "body": "hello?"}, namespace=DESK) == {
        "error": "no ticket -1"
    }


@pytest.mark.parametrize(
    ("auth", "refusal"),
    [
        (None, {"message": "authentication required", "data": {"login": "/login"}}),
        ({"token": "forged"}, {"message": "invalid token"}),
        (
            {"token": issue_token("mallory", "agent", secret="guessed")},
            {"message": "invalid token"},
        ),
    ],
    ids=["no-token", "forged", "wrong-key"],
)
def test_connect_is_refused_with_the_reason(socketio_client_factory, auth, refusal):
    client = socketio_client_factory(namespace=DESK, auth=auth)
    assert not client.is_connected(DESK)
    assert client.get_connect_error(DESK) == refusal


@pytest.mark.socketio_server(async_mode="gevent")
def test_served_by_gevent(socketio_live_server):
    assert socketio_live_server.async_mode == "gevent"
    with Client(socketio_live_server.url, namespace=DESK, auth=login("carl")) as carl:
        assert carl.expect("welcome", timeout=5)[0]["user"] == "carl"
        assert "ticket" in carl.call("open_ticket", {"subject": "slow wifi"})


@pytest.mark.socketio_server(async_mode="gevent")
def test_every_agent_hears_every_post_over_a_slow_network(
    socketio_fault_proxy, socketio_swarm_factory
):
    socketio_fault_proxy.latency = 0.01
    socketio_fault_proxy.jitter = 0.01
    agents = socketio_swarm_factory(
        20, socketio_fault_proxy, namespace=DESK, auth=lambda i: login(f"agent{i}", "agent")
    )
    with Client(socketio_fault_proxy.url, namespace=DESK, auth=login("carl"), name="carl") as carl:
        ticket = carl.call("open_ticket", {"subject": "VPN down"})["ticket"]
        for agent in agents:
            assert agent.call("watch", {"ticket": ticket}, namespace=DESK)["ticket"] == ticket

        everyone = [*agents.clients, carl]
        ledger = DeliveryLedger()
        ledger.attach(everyone, "post", namespace=DESK)  # the stamp arrives nested in "post"
        for n in range(10):
            body = {"ticket": ticket, "body": f"still down ({n})"}
            carl.emit("post", ledger.stamp(body, sender=carl, recipients=everyone))
        report = ledger.verify(timeout=15)
        assert report.ok, str(report)
        assert report.delivered == 10 * len(everyone)
