"""Fixtures of the multi-host tests: namespaces made and removed by the test itself, keys,
and a hub running inside its namespace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.bus import make_keys
from tests.net._netns import HUB_PUBLISH_PORT, HUB_SUBSCRIBE_PORT, NetLab, netns_unavailable

_WHY_NOT = netns_unavailable()



def pytest_collection_modifyitems(items):
    """Every test here needs namespaces: skip them, saying why, where none can be made."""
    if _WHY_NOT:
        skip = pytest.mark.skip(reason=f"tests/net: {_WHY_NOT}")
        for item in items:
            if "tests/net/" in str(item.fspath).replace("\\", "/"):
                item.add_marker(skip)


@pytest.fixture
def netlab(tmp_path) -> Iterator[NetLab]:
    lab = NetLab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


@pytest.fixture
def hub_keys(tmp_path) -> Path:
    """The hub's keys: its own stages' 'client' and the sensors' sensor1, sensor2."""
    directory = tmp_path / "keys"
    make_keys(directory, ("client", "sensor1", "sensor2"))
    return directory


class Observed:
    """The raw chunks an observer in the hub's namespace printed."""

    def __init__(self, process) -> None:
        self.process = process

    def rows(self) -> list[dict]:
        return [json.loads(line) for line in self.process.stdout().splitlines()[1:] if line]

    def chunks(self, person: str | None = None, topic: str = "raw.eeg") -> list[dict]:
        return [
            r for r in self.rows()
            if r["topic"] == topic and (person is None or r["person"] == person)
        ]

    def bodies(self, topic: str) -> list[dict]:
        """The bodies of the non-raw messages on ``topic`` (observer given its prefix)."""
        return [r["body"] for r in self.rows() if r["topic"] == topic and "body" in r]


def start_hub(netlab: NetLab, keys: Path, config: Path, prefixes: str = "raw."):
    """`kintsugi run -c configs/hub.toml --listen 0.0.0.0 --keys DIR` in the hub namespace,
    and an observer there of its topics starting with ``prefixes`` (comma-separated);
    returns (hub, Observed)."""
    hub = netlab.run(
        netlab.hub,
        ["-m", "runtime.cli", "run", "-c", str(config), "--listen", "0.0.0.0",
         "--keys", str(keys)],
        "hub",
    )
    hub.wait_stdout("role=hub")
    observer = netlab.run(
        netlab.hub,
        ["-m", "tests.net._observer", f"tcp://127.0.0.1:{HUB_SUBSCRIBE_PORT}", str(keys),
         "client", prefixes],
        "observer",
    )
    observer.wait_stdout("ready")
    return hub, Observed(observer)


def start_sensor(
    netlab: NetLab, index: int, keys: Path, person: str, *extra: str,
    config: str = "configs/sensor.toml",
):
    """`kintsugi run -c configs/sensor.toml --connect tcp://HUB:5591 --keys DIR --key-name
    sensorI --person P` in sensor namespace ``index``."""
    return netlab.run(
        netlab.sensor_namespace(index),
        ["-m", "runtime.cli", "run", "-c", config,
         "--connect", f"tcp://{netlab.hub_address(index)}:{HUB_PUBLISH_PORT}",
         "--keys", str(keys), "--key-name", f"sensor{index}", "--person", person, *extra],
        f"sensor{index}",
    )
