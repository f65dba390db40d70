"""ControlClient against a real broker: late join, expiry to safe, reports, reconnects."""

from __future__ import annotations

import subprocess
import sys
import time

from runtime.bus import Broker, BusPublisher, BusSubscriber
from runtime.client import Control, ControlClient
from tests.conftest import free_tcp_port


def _control(intensity: float, ttl_s: float = 5.0, **kw) -> dict:
    now = time.time()
    c = Control(
        intensity=intensity,
        gentle=False,
        rule="test",
        ttl_s=ttl_s,
        issued_at=now,
        expires_at=now + ttl_s,
        safe=False,
        **kw,
    )
    return c.to_dict()


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


def test_report_publishes_model_status(broker):
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    with ControlClient(
        broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
    ) as client:
        got = None
        end = time.monotonic() + 5
        step = 0
        while got is None and time.monotonic() < end:
            client.report({"step": step, "repairs": 3})
            step += 1
            got = subscriber.recv(timeout_s=0.1)
        assert got is not None and got.body["repairs"] == 3
    subscriber.close()


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


def test_client_imports_neither_torch_brainflow_nor_qiskit():
    code = (
        "import sys, runtime.client; "
        "bad = [m for m in ('torch', 'brainflow', 'qiskit') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_report_that_cannot_be_encoded_is_dropped_and_the_client_keeps_working(broker):
    """A NaN in a report (JSON cannot carry it) used to end the client's thread, and with it
    every later report and control. It now costs that one report."""
    subscriber = BusSubscriber(broker.subscribe_endpoint, ("model.status",))
    publisher = BusPublisher(broker.publish_endpoint, "controller")
    with ControlClient(
        broker.subscribe_endpoint, publish_endpoint=broker.publish_endpoint
    ) as client:
        client.report({"step": -1, "margin": float("nan")})
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
        assert got and got[0].body["step"] >= 0 and got[0].seq == 0  # no seq gap
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
