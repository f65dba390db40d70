"""`kintsugi watch` and `kintsugi status` show whose features and controls they print
(issue 21.1/21.4): a [P01] prefix, a person= field; nothing for a single-person session."""

from __future__ import annotations

import threading
import time

from runtime.bus import BusPublisher
from runtime.cli import main
from runtime.messages import AttentionFeature, Control, DaemonStatus, StressFeature

GENTLE = Control(intensity=1.0, gentle=True, rule="gentle: stress 0.85 (P02) > 0.7",
                 safe=False, mode="gentle", seq=3, ttl_s=60.0, issued_at=time.time(),
                 expires_at=time.time() + 60.0, trigger_person="P02")


def _publish_until_forwarded(broker, publisher: BusPublisher, bodies) -> None:
    end = time.monotonic() + 3
    while broker.stats.forwarded < len(bodies) and time.monotonic() < end:
        for topic, body in bodies:
            publisher.publish(topic, body)
        time.sleep(0.05)


def test_watch_prefixes_features_and_controls_with_their_person(broker, capsys):
    publisher = BusPublisher(broker.publish_endpoint, "test")
    attention = AttentionFeature(
        sample_index=1000, time_s=4.0, window_s=2.0, hop_s=0.25, valid=True, calibrated=True,
        reason="", quality=1.0, attention=0.62, person="P01")
    single = StressFeature(
        sample_index=1000, time_s=4.0, window_s=20.0, hop_s=0.25, valid=False,
        calibrated=False, reason="calibrating", quality=0.0)
    try:
        _publish_until_forwarded(broker, publisher, [("control", GENTLE)])
        code = main(["watch", "", "--count", "1", "--timeout", "5",
                     "--endpoint", broker.subscribe_endpoint])
        assert code == 0
        out = capsys.readouterr().out
        assert "[P02] intensity=1.000 gentle=True mode=gentle rule=" in out
        def publish_later():
            time.sleep(0.5)
            for _ in range(20):
                publisher.publish("features.attention", attention)
                publisher.publish("features.stress", single)
                time.sleep(0.05)

        thread = threading.Thread(target=publish_later)
        thread.start()
        code = main(["watch", "features", "--count", "2", "--timeout", "5",
                     "--endpoint", broker.subscribe_endpoint])
        thread.join()
    finally:
        publisher.close()
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    named = next(line for line in lines if line.startswith("features.attention"))
    unnamed = next(line for line in lines if line.startswith("features.stress"))
    assert named.endswith("[P01] attention=0.620 valid=True time_s=4.000")
    # a single-person feature: no prefix
    assert unnamed.endswith(" stress=n/a valid=False time_s=4.000 reason='calibrating'")
    assert "[" not in unnamed


def test_status_shows_the_newest_control_and_who_triggered_it(broker, capsys):
    publisher = BusPublisher(broker.publish_endpoint, "daemon")
    daemon = DaemonStatus(component="daemon", state="running",
                          publish_endpoint=broker.publish_endpoint,
                          subscribe_endpoint=broker.subscribe_endpoint)
    try:
        _publish_until_forwarded(broker, publisher, [("status.daemon", daemon),
                                                     ("control", GENTLE)])
        code = main(["status", "--timeout", "3", "--endpoint", broker.subscribe_endpoint])
        assert code == 0
        out = capsys.readouterr().out
        assert ("control            mode=gentle intensity=1.000 gentle=True person=P02 "
                "rule='gentle: stress 0.85 (P02) > 0.7'") in out
        unnamed = Control(intensity=1.5, gentle=False, rule="intensify", safe=False,
                          mode="intensify", seq=4, ttl_s=60.0, issued_at=time.time(),
                          expires_at=time.time() + 60.0)
        publisher.publish("control", unnamed)
        time.sleep(0.3)
        code = main(["status", "--json", "--timeout", "3",
                     "--endpoint", broker.subscribe_endpoint])
    finally:
        publisher.close()
    assert code == 0
    out = capsys.readouterr().out
    assert '"mode": "intensify"' in out and "trigger_person" not in out


def test_status_shows_each_sensor_hosts_clock_under_the_hub_clock_component():
    from runtime.cli._status import clock_lines
    from runtime.messages import ClockStatus, DriverStatus, SensorClock

    status = ClockStatus(component="clock", state="running", sensors={
        "P02": SensorClock(offset_ms=-3.25, drift_ppm=12.0, uncertainty_ms=0.4, samples=40,
                           last_rtt_ms=0.9, at_time=100.0),
        "P01": SensorClock(offset_ms=250.125, drift_ppm=50.0, uncertainty_ms=0.321,
                           samples=80, last_rtt_ms=0.55, at_time=100.0),
    })
    assert clock_lines(status) == [
        "    P01        offset +250.125 ms ± 0.321  drift +50.0 ppm  rtt 0.55 ms  n=80",
        "    P02        offset -3.250 ms ± 0.400  drift +12.0 ppm  rtt 0.90 ms  n=40",
    ]
    assert clock_lines(DriverStatus(component="driver", state="streaming")) == []


def test_status_and_watch_show_each_persons_driver_apart(broker, capsys):
    """Two sources' driver statuses (status.driver-P01, -P02): `status` lists each with
    its person and board, `watch status.driver` prefixes each with its person."""
    from runtime.messages import DriverStatus

    publisher = BusPublisher(broker.publish_endpoint, "daemon")
    daemon = DaemonStatus(component="daemon", state="running",
                          publish_endpoint=broker.publish_endpoint,
                          subscribe_endpoint=broker.subscribe_endpoint)
    drivers = [(f"status.driver-{person}", DriverStatus(
        component=f"driver-{person}", state=state, board="synthetic", person=person))
        for person, state in (("P01", "streaming"), ("P02", "lost"))]
    try:
        _publish_until_forwarded(broker, publisher, [("status.daemon", daemon), *drivers])
        code = main(["status", "--timeout", "3", "--endpoint", broker.subscribe_endpoint])
        assert code == 0
        out = capsys.readouterr().out
        assert "  driver-P01   streaming    person=P01 board=synthetic" in out
        assert "  driver-P02   lost         person=P02 board=synthetic" in out
        code = main(["watch", "status.driver", "--count", "2", "--timeout", "5",
                     "--endpoint", broker.subscribe_endpoint])
    finally:
        publisher.close()
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    p01 = next(line for line in lines if line.startswith("status.driver-P01"))
    p02 = next(line for line in lines if line.startswith("status.driver-P02"))
    assert '[P01] {"component": "driver-P01", "state": "streaming"' in p01
    assert '[P02] {"component": "driver-P02", "state": "lost"' in p02
