"""Host roles: the shipped sensor and hub configs, their config rules, the CLI's refusals,
and a hub and a sensor daemon on loopback (the sensor's raw chunks carry its person)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from runtime.bus import BusSubscriber
from runtime.cli import main
from runtime.config import config_from_mapping, load_config, with_overrides
from runtime.daemon import Daemon
from runtime.errors import ConfigError
from runtime.messages import ClockStatus, RawChunk
from runtime.stages import confirm_subscribed
from tests.conftest import free_tcp_port

REPO = Path(__file__).resolve().parents[2]


def test_the_shipped_configs_are_a_sensor_and_a_hub():
    sensor = load_config(REPO / "configs" / "sensor.toml")
    assert sensor.daemon.stages == ("driver",)
    assert sensor.bus.connect == "tcp://127.0.0.1:5591" and sensor.bus.key_name == "sensor1"
    hub = load_config(REPO / "configs" / "hub.toml")
    assert hub.daemon.stages == ("features", "controller") and hub.bus.connect == ""
    assert hub.bus.publish_endpoint.endswith(":5591")  # where sensors publish


@pytest.mark.parametrize(
    ("table", "match"),
    [
        ({"bus": {"connect": "tcp://h:5591"}}, r'sensor host.*stages = \["driver"\]'),
        ({"bus": {"connect": "ipc:///tmp/x"}, "daemon": {"stages": ["driver"]}}, "over TCP"),
        ({"bus": {"key_name": "a b"}}, r"\[bus\] key_name = 'a b'"),
        ({"source": {"person": "../P01"}}, r"\[source\] person = '../P01'.*path separator"),
        ({"daemon": {"stages": ["driver", "driver"]}}, r"name each stage once"),
        ({"daemon": {"stages": ["board"]}}, r"\[daemon.stages\] 0 = 'board'.*'controller'"),
    ],
)
def test_role_settings_that_cannot_work_fail_at_load_naming_the_key(table, match):
    with pytest.raises(ConfigError, match=match):
        config_from_mapping(table)


def test_role_settings_that_work_load():
    config = config_from_mapping(
        {"bus": {"connect": "tcp://10.231.1.1:5591", "keys": "/k", "key_name": "sensor-1"},
         "daemon": {"stages": ["driver"]}, "source": {"person": "P01"}}
    )
    assert config.source.person == "P01" and config.bus.key_name == "sensor-1"


def test_a_sensor_refuses_to_send_beyond_loopback_without_keys(capsys):
    code = main(["run", "-c", str(REPO / "configs" / "sensor.toml"),
                 "--connect", "tcp://10.231.1.1:5591", "--duration", "1"])
    assert code == 3
    assert "refusing to connect to 'tcp://10.231.1.1:5591' without authentication" in (
        capsys.readouterr().err
    )


def test_listen_and_connect_together_are_refused(capsys):
    code = main(["run", "-c", str(REPO / "configs" / "sensor.toml"), "--listen", "0.0.0.0"])
    assert code == 3 and "drop one of them" in capsys.readouterr().err


def test_keys_client_makes_an_authorized_sensor_certificate(tmp_path, capsys):
    assert main(["keys", str(tmp_path / "k"), "--client", "sensor1"]) == 0
    for name in ("server.key", "sensor1.key", "sensor1.key_secret", "authorized/sensor1.key"):
        assert (tmp_path / "k" / name).exists(), name
    assert not (tmp_path / "k" / "authorized" / "server.key").exists()


def test_a_sensor_daemon_feeds_a_hub_daemon_with_its_person():
    pub, sub = free_tcp_port(), free_tcp_port()
    bus = {"publish_endpoint": f"tcp://127.0.0.1:{pub}",
           "subscribe_endpoint": f"tcp://127.0.0.1:{sub}"}
    hub_config = config_from_mapping(
        {"bus": bus, "daemon": {"stages": ["features", "controller"]},
         "controller": {"require_stress": False}}
    )
    sensor_config = with_overrides(
        config_from_mapping({"bus": bus, "daemon": {"stages": ["driver"]}}),
        "bus", connect=f"tcp://127.0.0.1:{pub}",
    )
    sensor_config = with_overrides(sensor_config, "source", person="P01")
    with Daemon(hub_config) as hub:
        assert hub.role == "hub" and set(hub.health()) == {"features", "controller", "clock"}
        watcher = BusSubscriber(hub.subscribe_endpoint, ("raw.eeg", "status.clock"))
        try:
            confirm_subscribed(watcher)
            with Daemon(sensor_config) as sensor:
                assert sensor.role == "sensor" and sensor.broker is None
                assert sensor.publish_endpoint == f"tcp://127.0.0.1:{pub}"
                assert set(sensor.health()) == {"driver", "clock-responder"}
                chunks, clock = [], None
                end = time.monotonic() + 20
                while (len(chunks) < 5 or clock is None) and time.monotonic() < end:
                    message = watcher.recv(timeout_s=0.2)
                    if message is not None and isinstance(message.data, RawChunk):
                        chunks.append(message.data)
                    if isinstance(getattr(message, "data", None), ClockStatus) and (
                        "P01" in message.data.sensors
                    ):
                        clock = message.data
            assert len(chunks) >= 5 and {c.person for c in chunks} == {"P01"}
            # The sensor's responder answers the hub's requests under its person's id; one
            # host, one clock: the offset is the exchange's error alone.
            assert clock is not None and clock.requests > 0
            assert abs(clock.sensors["P01"].offset_ms) < 5.0
            assert chunks[0].first_index == 0  # the sensor waited for the hub: nothing lost
        finally:
            watcher.close()


def test_the_source_publisher_follows_the_person_and_the_role(broker):
    import threading

    from runtime._pipeline import SourceStageContext
    from runtime.bus import BusPublisher, PersonPublisher, UplinkPublisher

    def publisher(**fields):
        context = SourceStageContext(
            name="driver", publish_endpoint=broker.publish_endpoint,
            subscribe_endpoint=broker.subscribe_endpoint, stop=threading.Event(), **fields,
        )
        made = context.publisher()
        made.close()
        return type(made)

    assert publisher() is BusPublisher
    assert publisher(person="P01") is PersonPublisher
    assert publisher(person="P01", uplink=True) is UplinkPublisher
