"""ControlClient against a real broker: late join, expiry to safe, reports, reconnects."""

from __future__ import annotations

import logging
import time

from runtime.bus import Broker, BusPublisher, BusSubscriber
from runtime.client import Control, ControlClient
from runtime.messages import AppliedControl, ModelStatus, RepairCounts
from tests.conftest import free_tcp_port


def _control(intensity: float, ttl_s: float = 5.0, **kw) -> Control:
    now = time.time()
    return Control(
        intensity=intensity,
        gentle=False,
        rule="test",
        ttl_s=ttl_s,
        issued_at=now,
        expires_at=now + ttl_s,
        safe=False,
        **kw,
    )


def _wait_for(predicate, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_current_is_safe_before_any_control_and_never_blocks():
    # Nothing listens on this endpoint at all.
    with ControlClient(f"tcp://127.0.0.1:{free_tcp_port()}", publish_endpoint=None) as client:
        control = client.current()
        assert control.safe and control.gentle and control.intensity == 1.0
        assert control.rule == "safe:no-control-yet"
        assert not client.is_live()


def test_control_published_before_the_client_started_arrives_at_once(broker):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    probe = BusSubscriber(broker.subscribe_endpoint, ("control",))
    try:
        assert _wait_for(lambda: publisher.publish("control", _control(1.4)) is not None
                         and probe.recv(timeout_s=0.05) is not None)
        with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
            assert _wait_for(lambda: client.current().intensity == 1.4, 3.0)
            assert client.is_live()
    finally:
        publisher.close()
        probe.close()


def test_expired_control_falls_back_to_the_safe_state_by_itself(broker):
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
        assert _wait_for(
            lambda: publisher.publish("control", _control(2.0, ttl_s=0.5)) is not None
            and client.current().intensity == 2.0
        )
        time.sleep(0.6)
        control = client.current()
        assert control.safe and control.gentle and control.intensity == 1.0
        assert control.rule == "safe:control-expired"
    publisher.close()


def _report_until_received(client, subscriber, report_of, timeout_s: float = 5.0):
    """Report ``report_of(step)`` for step 0, 1, ... until a model.status arrives."""
    end = time.monotonic() + timeout_s
    step = 0
    while time.monotonic() < end:
        client.report(report_of(step))
        step += 1
        got = subscriber.recv(timeout_s=0.1)
        if got is not None:
            return got
    return None


def test_a_control_with_a_field_this_version_does_not_know_reaches_current(broker):
    """A newer controller adds a field: the client still takes the control, with every
    known field as sent, and keeps the new one in ``extra`` (never interpreted)."""
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    now = time.time()
    sent = Control(
        intensity=1.35,
        gentle=True,
        rule="intensify:test",
        ttl_s=5.0,
        issued_at=now,
        expires_at=now + 5.0,
        safe=False,
        seq=41,
        source_time=812.25,
        sample_time=now - 0.1,
        mode="intensify",
        trigger="feature",
        extra={"priority_hint": "high"},
    )
    try:
        with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
            assert _publish_until(publisher, lambda: sent, lambda: client.current().seq == 41)
            got = client.current()
            assert got == sent  # every known field (extra is not compared)
            assert got.extra == {"priority_hint": "high"}
            assert client.is_live() and not got.safe and got.expires_at == sent.expires_at
    finally:
        publisher.close()


def test_report_publishes_model_status(broker):
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    applied = AppliedControl(seq=7, intensity=1.5, gentle=False, safe=False, rule="intensify:x")
    with ControlClient(
        broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
    ) as client:
        got = _report_until_received(
            client,
            subscriber,
            lambda step: ModelStatus(
                step=step, control=applied, applied_at=12.5, repairs=RepairCounts(total=3)
            ),
        )
        assert got is not None
        status = got.data
        assert isinstance(status, ModelStatus)
        assert status.repairs == RepairCounts(total=3)
        assert status.control == applied and status.applied_at == 12.5
        assert status.rank == 0 and status.world_size == 1 and status.guard is None
        assert client.reports_rejected == 0
    subscriber.close()


def test_a_report_mapping_is_published_as_a_model_status(broker):
    """Code written before the typed messages reports a dict; it is sent as a ModelStatus,
    with the fields a job adds of its own (a loss) kept as extra fields."""
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    with ControlClient(
        broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
    ) as client:
        got = _report_until_received(
            client,
            subscriber,
            lambda step: {"step": step, "repairs": {"total": 3, "nonfinite": 3}, "loss": 0.25},
        )
        assert got is not None and isinstance(got.data, ModelStatus)
        assert got.data.repairs == RepairCounts(total=3, nonfinite=3)
        assert got.data.extra == {"loss": 0.25}
        assert client.reports_rejected == 0
    subscriber.close()


def test_a_report_mapping_with_a_bad_field_is_rejected_and_the_next_one_published(
    broker, caplog
):
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    with (
        caplog.at_level(logging.WARNING, logger="runtime.client"),
        ControlClient(broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint)
        as client,
    ):
        client.report({"step": -1, "repairs": {"total": 1}})
        assert _wait_for(lambda: client.reports_rejected == 1)
        assert "'step'" in caplog.text and "-1" in caplog.text  # the field and its value
        got = _report_until_received(client, subscriber, lambda step: {"step": 5 + step})
        assert got is not None and isinstance(got.data, ModelStatus)
        assert got.data.step >= 5 and got.seq == 0  # the bad one never reached the bus
        assert client.reports_rejected == 1
        assert client.health()["reports_rejected"] == 1
    subscriber.close()


def test_report_never_raises_whatever_it_is_given():
    client = ControlClient("tcp://127.0.0.1:1", publish_endpoint=None, start=False)
    client.report(None)  # type: ignore[arg-type]
    client.report({"step": "three"})
    client.report(ModelStatus(step=1))
    assert len(client._reports) == 3  # rejected on the client's thread, not here


def test_report_never_blocks_and_drops_the_oldest_when_nothing_drains():
    client = ControlClient("tcp://127.0.0.1:1", publish_endpoint=None, start=False,
                           report_queue=4)
    for step in range(10):
        client.report({"step": step})
    assert client.reports_dropped == 6
    assert [r["step"] for r in client._reports] == [6, 7, 8, 9]


def test_client_reconnects_when_the_broker_restarts():
    pub_port, sub_port = free_tcp_port(), free_tcp_port()
    endpoints = (f"tcp://127.0.0.1:{pub_port}", f"tcp://127.0.0.1:{sub_port}")
    broker = Broker(*endpoints)
    broker.start()
    with ControlClient(endpoints[1], publish_endpoint=None) as client:
        publisher = BusPublisher(endpoints[0], "controller")
        assert _wait_for(
            lambda: publisher.publish("control", _control(1.2)) is not None
            and client.current().intensity == 1.2
        )
        broker.stop()
        broker = Broker(*endpoints)
        broker.start()
        try:
            assert _wait_for(
                lambda: publisher.publish("control", _control(1.7)) is not None
                and client.current().intensity == 1.7,
                timeout_s=10,
            ), "client did not get control after the broker restarted"
        finally:
            publisher.close()
            broker.stop()


def test_a_report_that_cannot_be_encoded_is_dropped_and_the_client_keeps_working(broker):
    """A NaN in a report (JSON cannot carry it) used to end the client's thread, and with it
    every later report and control. It now costs that one report."""
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    with ControlClient(
        broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
    ) as client:
        client.report({"step": 0, "margin": float("nan")})  # valid, but JSON cannot carry it
        assert _wait_for(lambda: client.reports_rejected == 1)
        got = []
        step = 0
        end = time.monotonic() + 5
        while not got and time.monotonic() < end:
            client.report({"step": step})
            step += 1
            message = subscriber.recv(timeout_s=0.1)
            if message is not None:
                got.append(message)
        assert got and isinstance(got[0].data, ModelStatus)
        assert got[0].data.step >= 0 and got[0].seq == 0  # no seq gap
        assert _wait_for(
            lambda: publisher.publish("control", _control(1.7)) is not None
            and client.current().intensity == 1.7
        )  # the thread still receives control
    subscriber.close()
    publisher.close()


def _publish_until(publisher: BusPublisher, body_of, predicate, timeout_s: float = 5.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        publisher.publish("control", body_of())
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_a_failing_receive_thread_is_restarted_counted_and_receives_again(broker, monkeypatch):
    """A fault inside the thread's loop (injected into its message handling) is counted in
    health(), the loop starts again with new sockets, and control flows again."""
    original = ControlClient._accept
    calls = {"n": 0}

    def fail_once(self, body):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("injected receive failure")
        original(self, body)

    monkeypatch.setattr(ControlClient, "_accept", fail_once)
    monkeypatch.delenv("KINTSUGI_RAISE_THREAD_ERRORS", raising=False)
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    try:
        with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
            assert _publish_until(publisher, lambda: _control(1.3),
                                  lambda: client.health()["thread_errors"] == 1)
            health = client.health()
            assert health["last_thread_error"] == "RuntimeError: injected receive failure"
            assert _publish_until(publisher, lambda: _control(1.3),
                                  lambda: client.current().intensity == 1.3)
            health = client.health()
            assert health["alive"] and health["live"] and health["thread_errors"] == 1
            assert health["received"] >= 1
    finally:
        publisher.close()


def test_with_raise_thread_errors_set_a_thread_failure_reaches_the_test(broker, monkeypatch):
    """Under KINTSUGI_RAISE_THREAD_ERRORS=1 the failure is re-raised in the thread (which
    ends) rather than restarted, so a test cannot pass over it."""
    seen = []
    monkeypatch.setattr("threading.excepthook", lambda args: seen.append(args.exc_value))
    monkeypatch.setenv("KINTSUGI_RAISE_THREAD_ERRORS", "1")

    def fail(self, body):
        raise RuntimeError("injected receive failure")

    monkeypatch.setattr(ControlClient, "_accept", fail)
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    try:
        with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
            assert _publish_until(publisher, lambda: _control(1.3), lambda: bool(seen))
            assert isinstance(seen[0], RuntimeError)
            assert _wait_for(lambda: not client.health()["alive"], 2.0)
            assert client.health()["thread_errors"] == 1
            assert client.current().safe  # nothing was accepted
    finally:
        publisher.close()


def test_the_client_remembers_when_it_received_each_control(broker):
    """received_time(seq) is the wall clock at receipt, between the publish and the read;
    a seq never received is None, and only the newest 64 are kept."""
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    try:
        with ControlClient(broker.subscribe_endpoint, publish_endpoint=None) as client:
            assert client.received_time(0) is None
            # The first control is repeated until it arrives: a subscription that has not
            # reached the broker yet drops what is published before it (ZeroMQ's slow joiner).
            assert _publish_until(
                publisher, lambda: _control(1.0, seq=0), lambda: client.current().seq == 0
            )
            sent = {}
            for seq in range(1, 70):
                before = time.time()
                publisher.publish("control", _control(1.0 + seq / 100, seq=seq))
                assert _wait_for(lambda s=seq: client.current().seq == s, 3.0)
                sent[seq] = (before, time.time())
            for seq in (6, 40, 69):
                before, after = sent[seq]
                assert before <= client.received_time(seq) <= after
            assert client.received_time(5) is None  # the oldest are forgotten
            assert client.received_time(70) is None
    finally:
        publisher.close()
