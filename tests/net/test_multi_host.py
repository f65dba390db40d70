"""Sensor hosts and a hub in separate network namespaces, over CURVE (issue 21, points 2
and 5): both persons' raw chunks reach the hub; clients without an authorized key get
nothing and publish nothing; a killed sensor rejoins; a 1-second cut loses no chunk.

These test the transport, reading raw chunks at the hub; test_group_across_hosts.py drives
the hub's controller with two people.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from runtime.bus import make_keys
from tests.net._netns import HUB_PUBLISH_PORT, HUB_SUBSCRIBE_PORT
from tests.net.conftest import start_hub, start_sensor

# ≈ 33 s of namespaces and real daemons: run by CI's second step (make test-slow-ci), kept
# out of the default suite's 10 minutes.
pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
HUB_CONFIG = REPO / "configs" / "hub.toml"


def _wait_for(condition, timeout_s: float, what: str) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def _gaps(chunks: list[dict]) -> list[tuple[int, int]]:
    """(expected first_index, got) wherever one publisher's chunks are not contiguous."""
    gaps = []
    for previous, chunk in zip(chunks, chunks[1:], strict=False):
        expected = previous["first_index"] + previous["n"]
        if chunk["first_index"] != expected:
            gaps.append((expected, chunk["first_index"]))
    return gaps


def test_two_sensor_hosts_reach_one_hub_each_with_its_person(netlab, hub_keys):
    netlab.add_sensor_host(1)
    netlab.add_sensor_host(2)
    hub, observed = start_hub(netlab, hub_keys, HUB_CONFIG)
    sensors = [start_sensor(netlab, 1, hub_keys, "P01"), start_sensor(netlab, 2, hub_keys, "P02")]
    for sensor in sensors:
        sensor.wait_stdout("role=sensor person=")
    _wait_for(
        lambda: len(observed.chunks("P01")) >= 40 and len(observed.chunks("P02")) >= 40,
        30, "40 raw.eeg chunks of each person at the hub",
    )
    for person in ("P01", "P02"):
        chunks = observed.chunks(person)
        assert len({c["publisher"] for c in chunks}) == 1  # one driver per person
        assert _gaps(chunks) == []
        assert all(c["n"] > 0 for c in chunks)
    assert {c["person"] for c in observed.chunks()} == {"P01", "P02"}
    assert hub.proc.poll() is None


def test_clients_without_an_authorized_key_get_nothing_and_publish_nothing(
    netlab, hub_keys, tmp_path
):
    netlab.add_sensor_host(1)
    intruder_ns = netlab.add_sensor_host(3)
    hub, observed = start_hub(netlab, hub_keys, HUB_CONFIG)
    sensor = start_sensor(netlab, 1, hub_keys, "P01")
    # An unknown key: its own certificate, with the hub's public key (it knows whom to call).
    stranger = tmp_path / "stranger"
    make_keys(stranger, ("intruder",))
    shutil.copyfile(hub_keys / "server.key", stranger / "server.key")
    hub_at = netlab.hub_address(3)
    endpoints = [f"tcp://{hub_at}:{HUB_PUBLISH_PORT}", f"tcp://{hub_at}:{HUB_SUBSCRIBE_PORT}"]
    no_keys = netlab.run(intruder_ns, ["-m", "tests.net._intruder", *endpoints, "4"], "nokeys")
    unknown = netlab.run(
        intruder_ns,
        ["-m", "tests.net._intruder", *endpoints, "4", str(stranger), "intruder"],
        "unknown",
    )
    for client in (no_keys, unknown):
        client.proc.wait(timeout=30)
        result = json.loads(client.stdout().strip().splitlines()[-1])
        assert result["published"] > 50 and result["received"] == 0, result
    # The authorized sensor, meanwhile, got through: the hub was serving all along.
    _wait_for(lambda: len(observed.chunks("P01")) >= 20, 20, "the sensor's chunks")
    assert observed.chunks("X99") == []
    assert sensor.proc.poll() is None and hub.proc.poll() is None


def test_the_hub_refuses_to_listen_beyond_loopback_without_keys(netlab):
    hub = netlab.run(
        netlab.hub, ["-m", "runtime.cli", "run", "-c", str(HUB_CONFIG), "--listen", "0.0.0.0"],
        "hub-nokeys",
    )
    assert hub.proc.wait(timeout=30) == 3
    assert "refusing to listen on 'tcp://0.0.0.0:5591' without authentication" in hub.stderr()


def test_a_killed_sensor_rejoins_without_restarting_the_hub(netlab, hub_keys):
    netlab.add_sensor_host(1)
    hub, observed = start_hub(netlab, hub_keys, HUB_CONFIG)
    first = start_sensor(netlab, 1, hub_keys, "P01")
    _wait_for(lambda: len(observed.chunks("P01")) >= 20, 30, "the first run's chunks")
    first.kill()
    before = observed.chunks("P01")
    second = start_sensor(netlab, 1, hub_keys, "P01")
    _wait_for(
        lambda: len({c["publisher"] for c in observed.chunks("P01")}) == 2
        and len(observed.chunks("P01")) >= len(before) + 20,
        30, "the restarted sensor's chunks",
    )
    runs: dict[str, list[dict]] = {}
    for chunk in observed.chunks("P01"):
        runs.setdefault(chunk["publisher"], []).append(chunk)
    assert len(runs) == 2
    for chunks in runs.values():
        assert _gaps(chunks) == []
    assert hub.proc.poll() is None  # the same hub process throughout
    assert second.proc.poll() is None


def test_a_one_second_link_cut_loses_no_chunk_the_driver_had(netlab, hub_keys):
    netlab.add_sensor_host(1)
    hub, observed = start_hub(netlab, hub_keys, HUB_CONFIG)
    sensor = start_sensor(netlab, 1, hub_keys, "P01")
    _wait_for(lambda: len(observed.chunks("P01")) >= 20, 30, "chunks before the cut")
    netlab.set_uplink(1, up=False)
    cut_at = time.monotonic()
    time.sleep(1.0)
    netlab.set_uplink(1, up=True)
    restored_at = time.monotonic()
    _wait_for(
        lambda: any(c["t"] > restored_at + 2.0 for c in observed.chunks("P01")),
        20, "chunks 2 s after the cut",
    )
    chunks = observed.chunks("P01")
    # The cut reached the hub: nothing arrived for most of that second ...
    arrivals = [c["t"] for c in chunks]
    longest_silence = max(b - a for a, b in zip(arrivals, arrivals[1:], strict=False))
    assert longest_silence > 0.8, longest_silence
    assert any(cut_at - 1 < a < cut_at for a in arrivals)
    # ... and every sample the driver read meanwhile arrived after it, in order.
    assert _gaps(chunks) == []
    assert len({c["publisher"] for c in chunks}) == 1
    assert sensor.proc.poll() is None and hub.proc.poll() is None


def test_a_sensor_started_before_its_hub_waits_and_then_sends_from_the_first_sample(
    netlab, hub_keys
):
    netlab.add_sensor_host(1)
    netlab.set_uplink(1, up=False)  # no route to the hub while the sensor starts
    sensor = start_sensor(netlab, 1, hub_keys, "P01")
    sensor.wait_stdout("role=sensor")
    hub, observed = start_hub(netlab, hub_keys, HUB_CONFIG)  # and its observer, subscribed
    time.sleep(1.0)
    assert sensor.proc.poll() is None and observed.chunks() == []
    netlab.set_uplink(1, up=True)
    _wait_for(lambda: len(observed.chunks("P01")) >= 10, 30, "the waiting sensor's chunks")
    chunks = observed.chunks("P01")
    assert chunks[0]["first_index"] == 0 and _gaps(chunks) == []
    assert "Traceback" not in sensor.stderr()
