"""Scenario files (TOML in configs/scenarios/): timelines, artifacts and model overrides.

A scenario says what happens to the person and the electrodes; the board layout says where
it goes. Every error names the key (``artifacts[2].kind``), the bad value and what is allowed.
See ``configs/scenarios/README.md`` for the format.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim._cardiac import CardiacParams
from sim._eeg import EegParams
from sim._errors import ScenarioError
from sim._timeline import Timeline

#: Where the shipped scenarios live (the repository's configs/scenarios/).
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "configs" / "scenarios"

#: Artifact kinds and the optional keys each accepts (beyond kind, start_s, duration_s).
ARTIFACT_KEYS: dict[str, tuple[str, ...]] = {
    "blink": ("channels", "amplitude_uv", "interval_s"),
    "emg": ("channels", "amplitude_uv"),
    "pop": ("channels", "amplitude_uv"),
    "railed": ("channels",),
    "flat": ("channels",),
    "nan_gap": ("channels", "target"),
    "dropped_packets": (),
    "ppg_motion": ("amplitude",),
    "line_noise": ("channels", "amplitude_uv", "freq_hz"),
}
ARTIFACT_KINDS: tuple[str, ...] = tuple(ARTIFACT_KEYS)
#: Default values of the optional keys, per kind.
ARTIFACT_DEFAULTS: dict[str, dict[str, Any]] = {
    "blink": {"channels": "frontal", "amplitude_uv": 150.0, "interval_s": 4.0},
    "emg": {"channels": "all", "amplitude_uv": 30.0},
    "pop": {"channels": [0], "amplitude_uv": 400.0},
    "railed": {"channels": [0]},
    "flat": {"channels": [0]},
    "nan_gap": {"channels": "all", "target": "eeg"},
    "dropped_packets": {"channels": "all"},
    "ppg_motion": {"channels": "all", "amplitude": 3.0},
    "line_noise": {"channels": "all", "amplitude_uv": 20.0, "freq_hz": 50.0},
}
NAN_TARGETS = ("eeg", "ecg", "ppg", "all")
_TOP_KEYS = ("name", "description", "duration_s", "seed", "calibration_s", "n_eeg_channels",
             "fs", "attention", "stress", "markers", "eeg", "heart", "artifacts")
_EEG_KEYS = tuple(f.name for f in dataclasses.fields(EegParams)
                  if f.type in ("float", float))
_HEART_KEYS = (*(f.name for f in dataclasses.fields(CardiacParams)), "pulse_arrival_s")


@dataclass(frozen=True)
class ArtifactSpec:
    """One scheduled artifact. ``channels`` is a tuple of channel indices, "all" or "frontal".

    Units of ``amplitude``: µV for EEG kinds (blink peak, EMG RMS, pop step, line-noise peak);
    multiples of the PPG pulse amplitude (RMS) for ``ppg_motion``.
    """

    kind: str
    start_s: float
    duration_s: float
    channels: tuple[int, ...] | str = "all"
    amplitude: float | None = None
    interval_s: float | None = None
    freq_hz: float | None = None
    target: str = "eeg"

    @property
    def end_s(self) -> float:
        """End of the span in seconds."""
        return self.start_s + self.duration_s


@dataclass(frozen=True)
class Scenario:
    """A validated scenario; build it with :func:`load_scenario` or :func:`parse_scenario`."""

    name: str
    duration_s: float
    seed: int
    attention: Timeline
    stress: Timeline
    calibration_s: float = 0.0
    description: str = ""
    n_eeg_channels: int = 8
    fs: float = 250.0
    markers: tuple[tuple[float, float], ...] = ()
    artifacts: tuple[ArtifactSpec, ...] = ()
    eeg: EegParams = EegParams()
    heart: CardiacParams = CardiacParams()
    pulse_arrival_s: float = 0.25
    source: str = ""

    def without_artifacts(self) -> Scenario:
        """The same scenario (same seed, same physiology) with no artifacts."""
        return dataclasses.replace(self, artifacts=())


def _fail(key: str, value: Any, expected: str) -> ScenarioError:
    return ScenarioError(f"scenario key '{key}': {value!r} is invalid; expected {expected}.")


def _unknown(where: str, keys: Mapping[str, Any], allowed: tuple[str, ...]) -> None:
    extra = sorted(set(keys) - set(allowed))
    if extra:
        prefix = f"{where}." if where else ""
        raise ScenarioError(
            f"unknown scenario key '{prefix}{extra[0]}'; allowed keys"
            f"{' in ' + where if where else ''}: {', '.join(allowed)}."
        )


def _number(key: str, value: Any, *, minimum: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _fail(key, value, "a number")
    if value < minimum or (strict and value == minimum):
        raise _fail(key, value, f"a number {'>' if strict else '>='} {minimum:g}")
    return float(value)


def _channels(key: str, value: Any) -> tuple[int, ...] | str:
    if value in ("all", "frontal"):
        return value
    ok = isinstance(value, list) and value and all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in value
    )
    if not ok:
        raise _fail(key, value, '"all", "frontal" or a non-empty list of 0-based channel indices')
    return tuple(value)


def _artifact(i: int, raw: Any, duration_s: float) -> ArtifactSpec:
    where = f"artifacts[{i}]"
    if not isinstance(raw, Mapping):
        raise _fail(where, raw, "a table with kind, start_s, duration_s")
    kind = raw.get("kind")
    if kind not in ARTIFACT_KEYS:
        raise ScenarioError(
            f"scenario key '{where}.kind': {kind!r} is not an artifact kind; allowed: "
            f"{', '.join(ARTIFACT_KINDS)}."
        )
    _unknown(where, raw, ("kind", "start_s", "duration_s", *ARTIFACT_KEYS[kind]))
    for req in ("start_s", "duration_s"):
        if req not in raw:
            raise ScenarioError(f"scenario key '{where}.{req}' is missing; {kind} needs it.")
    start = _number(f"{where}.start_s", raw["start_s"])
    dur = _number(f"{where}.duration_s", raw["duration_s"], strict=True)
    if start + dur > duration_s + 1e-9:
        raise ScenarioError(
            f"scenario key '{where}': span {start:g}–{start + dur:g} s ends after the "
            f"scenario's duration_s = {duration_s:g}; shorten it or move start_s."
        )
    opts = {**ARTIFACT_DEFAULTS[kind], **{k: raw[k] for k in ARTIFACT_KEYS[kind] if k in raw}}
    amp_key = "amplitude" if kind == "ppg_motion" else "amplitude_uv"
    amplitude = opts.get(amp_key)
    if amplitude is not None:
        amplitude = _number(f"{where}.{amp_key}", amplitude, strict=True)
    target = opts.get("target", "eeg")
    if target not in NAN_TARGETS:
        raise ScenarioError(
            f"scenario key '{where}.target': {target!r} is invalid; allowed: "
            f"{', '.join(NAN_TARGETS)}."
        )
    channels = _channels(f"{where}.channels", opts["channels"])
    if (channels == "frontal" and kind != "blink") or (target == "all" and channels != "all"):
        raise _fail(f"{where}.channels", opts["channels"],
                    '"all" here ("frontal" is for blinks; target "all" takes every channel)')
    return ArtifactSpec(
        kind=kind, start_s=start, duration_s=dur, channels=channels, amplitude=amplitude,
        interval_s=(_number(f"{where}.interval_s", opts["interval_s"], strict=True)
                    if "interval_s" in opts else None),
        freq_hz=(_number(f"{where}.freq_hz", opts["freq_hz"], strict=True)
                 if "freq_hz" in opts else None),
        target=target,
    )


def _params(key: str, raw: Any, allowed: tuple[str, ...]) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        raise _fail(key, raw, f"a table with keys among {', '.join(allowed)}")
    _unknown(key, raw, allowed)
    return {k: _number(f"{key}.{k}", v) for k, v in raw.items()}


def parse_scenario(raw: Mapping[str, Any], *, source: str = "") -> Scenario:
    """Validate a scenario mapping (as loaded from TOML) and build a :class:`Scenario`."""
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"a scenario must be a table of keys; got {type(raw).__name__}.")
    _unknown("", raw, _TOP_KEYS)
    for req in ("duration_s", "seed", "attention", "stress"):
        if req not in raw:
            raise ScenarioError(f"scenario key '{req}' is missing; every scenario needs it.")
    duration_s = _number("duration_s", raw["duration_s"], strict=True)
    seed = raw["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise _fail("seed", seed, "an integer >= 0")
    calibration_s = _number("calibration_s", raw.get("calibration_s", 0.0))
    if calibration_s >= duration_s:
        raise _fail("calibration_s", calibration_s, f"less than duration_s = {duration_s:g}")
    timelines = {
        key: Timeline.from_points(raw[key], name=key, error=ScenarioError)
        for key in ("attention", "stress")
    }
    for key, tl in timelines.items():
        if calibration_s > 0 and not tl.is_constant_between(0.0, calibration_s):
            raise ScenarioError(
                f"scenario key '{key}' changes during the calibration segment "
                f"(calibration_s = {calibration_s:g}); hold it constant until then."
            )
    n_ch = raw.get("n_eeg_channels", 8)
    if isinstance(n_ch, bool) or not isinstance(n_ch, int) or n_ch < 1:
        raise _fail("n_eeg_channels", n_ch, "an integer >= 1")
    markers = raw.get("markers", [])
    if not isinstance(markers, list):
        raise _fail("markers", markers, "a list of [time_s, code] pairs")
    parsed_markers = []
    for i, m in enumerate(markers):
        if not (isinstance(m, list) and len(m) == 2):
            raise _fail(f"markers[{i}]", m, "a [time_s, code] pair")
        t = _number(f"markers[{i}] time", m[0])
        code = _number(f"markers[{i}] code", m[1], strict=True)
        if t >= duration_s:
            raise _fail(f"markers[{i}] time", m[0], f"a time below duration_s = {duration_s:g}")
        parsed_markers.append((t, code))
    arts = raw.get("artifacts", [])
    if not isinstance(arts, list):
        raise _fail("artifacts", arts, "an array of tables ([[artifacts]] in TOML)")
    heart = _params("heart", raw.get("heart", {}), _HEART_KEYS)
    pulse_arrival_s = heart.pop("pulse_arrival_s", 0.25)
    try:
        eeg_params = EegParams(**_params("eeg", raw.get("eeg", {}), _EEG_KEYS))
        heart_params = CardiacParams(**heart)
    except ValueError as exc:
        raise ScenarioError(f"scenario [eeg] or [heart] table: {exc}") from exc
    for key in ("name", "description"):
        if not isinstance(raw.get(key, ""), str):
            raise _fail(key, raw[key], "a string")
    return Scenario(
        name=raw.get("name", Path(source).stem if source else "scenario"),
        description=raw.get("description", ""),
        duration_s=duration_s,
        seed=seed,
        calibration_s=calibration_s,
        attention=timelines["attention"],
        stress=timelines["stress"],
        n_eeg_channels=n_ch,
        fs=_number("fs", raw.get("fs", 250.0), strict=True),
        markers=tuple(parsed_markers),
        artifacts=tuple(_artifact(i, a, duration_s) for i, a in enumerate(arts)),
        eeg=eeg_params,
        heart=heart_params,
        pulse_arrival_s=pulse_arrival_s,
        source=source,
    )


def scenario_path(name_or_path: str | Path) -> Path:
    """Resolve a scenario: an existing file path, or a name in configs/scenarios/ (no .toml)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = SCENARIO_DIR / f"{Path(name_or_path).name.removesuffix('.toml')}.toml"
    if shipped.is_file():
        return shipped
    names = ", ".join(list_scenarios()) or "(none found)"
    raise ScenarioError(
        f"scenario {str(name_or_path)!r} is neither a file nor a shipped scenario; "
        f"give a path to a .toml file or one of: {names}."
    )


def list_scenarios() -> tuple[str, ...]:
    """Names of the scenarios shipped in configs/scenarios/."""
    return tuple(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load and validate a scenario file (a path, or a name in configs/scenarios/)."""
    path = scenario_path(name_or_path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario file {path} is not valid TOML: {exc}") from exc
    try:
        return parse_scenario(raw, source=str(path))
    except ScenarioError as exc:
        raise ScenarioError(f"{path}: {exc}") from exc
