"""Feature estimates: the bodies of ``features.attention`` and ``features.stress``.

Both are timed by the data: ``sample_index`` is the number of samples the estimator had
received when the window ended, ``time_s = sample_index / fs``. The level (``attention`` or
``stress``, 0–1, meaning fixed by docs/levels.md) is None unless ``valid``; ``reason`` says
why not (``calibrating …``, ``too few good channels …``). ``person`` is the pseudonymous id
of the person the estimate is of (None in a single-person session, and then left off the
wire).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from runtime.messages._base import Body
from runtime.messages._common import Trace
from runtime.messages._fields import FieldReader
from runtime.messages._person import read_person, write_person

__all__ = ["AttentionFeature", "Feature", "StressFeature"]


@dataclass(frozen=True)
class Feature(Body):
    """What every estimate has; :attr:`level` is its 0–1 value (None unless valid)."""

    KIND: ClassVar[str] = ""

    sample_index: int
    time_s: float
    window_s: float
    hop_s: float
    valid: bool
    calibrated: bool
    reason: str
    quality: float
    trace: Trace | None = None
    #: The person the estimate is of (a pseudonymous id such as P01; None: single person).
    person: str | None = None

    @property
    def kind(self) -> str:
        """``attention`` or ``stress``."""
        return self.KIND

    @property
    def level(self) -> float | None:
        """The estimate's 0–1 value; None unless valid."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kind"] = self.KIND
        return write_person(out, "person")

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        reader.string("kind", cls.KIND, choices=(cls.KIND,))
        return {
            "sample_index": reader.integer("sample_index", low=0),
            "time_s": reader.number("time_s", low=0.0),
            "window_s": reader.number("window_s", low=0.0),
            "hop_s": reader.number("hop_s", low=0.0),
            "valid": reader.boolean("valid"),
            "calibrated": reader.boolean("calibrated"),
            "reason": reader.string("reason", ""),
            "quality": reader.number("quality", low=0.0, high=1.0),
            "trace": Trace.read_nested(reader, "trace"),
            "person": read_person(reader, "person"),
        }


def _level(reader: FieldReader, name: str, valid: bool) -> float | None:
    value = reader.number(name, None, low=0.0, high=1.0, optional=True)
    if valid and value is None:
        reader.fail(name, value, "a number in [0, 1] when 'valid' is true")
    return value


@dataclass(frozen=True)
class AttentionFeature(Feature):
    """One EEG window's attention. ``engagement_index`` is the window's β/(α+θ) (median
    over good channels), ``log_engagement`` its smoothed log (compared with the baseline),
    ``band_powers`` µV², mean over the good channels."""

    TOPIC = "features.attention"
    KIND = "attention"

    attention: float | None = None
    log_engagement: float | None = None
    engagement_index: float | None = None
    band_powers: dict[str, float] = field(default_factory=dict)
    channels_used: tuple[str, ...] = ()
    channels_bad: dict[str, str] = field(default_factory=dict)
    channels_warn: dict[str, str] = field(default_factory=dict)

    @property
    def level(self) -> float | None:
        return self.attention

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            attention=_level(reader, "attention", values["valid"]),
            log_engagement=reader.number("log_engagement", None, optional=True),
            engagement_index=reader.number("engagement_index", None, optional=True),
            band_powers=reader.number_map("band_powers", {}),
            channels_used=reader.strings("channels_used", ()),
            channels_bad=reader.string_map("channels_bad", {}),
            channels_warn=reader.string_map("channels_warn", {}),
        )
        return values


@dataclass(frozen=True)
class StressFeature(Feature):
    """One heart window's stress, with the HRV it rests on (None when none could be
    computed; reported during calibration too). ``signal`` is ``ppg`` or ``ecg``."""

    TOPIC = "features.stress"
    KIND = "stress"

    stress: float | None = None
    signal: str = "ppg"
    hr_bpm: float | None = None
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    pnn50_pct: float | None = None
    n_beats: int | None = None
    n_rr: int | None = None
    baevsky_si: float | None = None
    lf_hf: float | None = None

    @property
    def level(self) -> float | None:
        return self.stress

    @classmethod
    def read(cls, reader: FieldReader) -> dict[str, Any]:
        values = super().read(reader)
        values.update(
            stress=_level(reader, "stress", values["valid"]),
            signal=reader.string("signal", "ppg", choices=("ppg", "ecg")),
            hr_bpm=reader.number("hr_bpm", None, low=0.0, optional=True),
            rmssd_ms=reader.number("rmssd_ms", None, low=0.0, optional=True),
            sdnn_ms=reader.number("sdnn_ms", None, low=0.0, optional=True),
            pnn50_pct=reader.number("pnn50_pct", None, low=0.0, high=100.0, optional=True),
            n_beats=reader.integer("n_beats", None, low=0, optional=True),
            n_rr=reader.integer("n_rr", None, low=0, optional=True),
            baevsky_si=reader.number("baevsky_si", None, optional=True),
            lf_hf=reader.number("lf_hf", None, optional=True),
        )
        return values
