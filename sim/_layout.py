"""Where each signal goes in a board's data array, without importing BrainFlow.

The driver (and the ``kintsugi sim`` CLI) build a :class:`BoardLayout` from BrainFlow's board
descriptors with :meth:`BoardLayout.from_descr`; sim/ only needs row numbers and rates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sim._check import check_int, check_positive
from sim._errors import SimError

#: ADS1299 (OpenBCI) full scale in µV: 4.5 V reference / gain 24.
ADS1299_FULL_SCALE_UV = 4.5e6 / 24


@dataclass(frozen=True)
class BoardLayout:
    """Row layout of one board preset: row numbers are 0-based indices into the data array.

    ``ecg_rows`` and ``ppg_rows`` may be empty. Rows not named here are written as zeros.
    ``aux`` is the layout of a second preset (its own rate and rows), e.g. Galea's auxiliary
    preset that carries PPG at 50 Hz; it is written beside the main file (see ``SimRecording``).
    ``full_scale_uv`` is the amplifier's full scale, where a railed channel clips.
    """

    num_rows: int
    sampling_rate: float
    eeg_rows: tuple[int, ...]
    package_num_row: int
    timestamp_row: int
    marker_row: int | None = None
    ppg_rows: tuple[int, ...] = ()
    ecg_rows: tuple[int, ...] = ()
    eeg_names: tuple[str, ...] = ()
    full_scale_uv: float = ADS1299_FULL_SCALE_UV
    name: str = ""
    aux: BoardLayout | None = field(default=None)

    def __post_init__(self) -> None:
        check_int("num_rows", self.num_rows, minimum=2)
        check_positive("sampling_rate", self.sampling_rate)
        check_positive("full_scale_uv", self.full_scale_uv)
        for name in ("eeg_rows", "ppg_rows", "ecg_rows", "eeg_names"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        named: dict[int, str] = {}
        single = {"package_num_row": self.package_num_row, "timestamp_row": self.timestamp_row}
        if self.marker_row is not None:
            single["marker_row"] = self.marker_row
        pairs = [(k, r) for k, r in single.items()]
        for key in ("eeg_rows", "ecg_rows", "ppg_rows"):
            pairs += [(key, r) for r in getattr(self, key)]
        for key, row in pairs:
            check_int(key, row, minimum=0)
            if row >= self.num_rows:
                raise SimError(
                    f"'{key}' holds row {row}, outside the {self.num_rows} rows of layout "
                    f"{self.name or '(unnamed)'}; rows are 0-based, below num_rows."
                )
            if row in named:
                raise SimError(
                    f"row {row} is in both '{named[row]}' and '{key}' of layout "
                    f"{self.name or '(unnamed)'}; give each signal its own row."
                )
            named[row] = key
        if self.eeg_names and len(self.eeg_names) != len(self.eeg_rows):
            raise SimError(
                f"'eeg_names' has {len(self.eeg_names)} names for {len(self.eeg_rows)} "
                "eeg_rows; give one name per EEG row or none."
            )
        if self.aux is not None and self.aux.aux is not None:
            raise SimError("'aux' of an auxiliary layout must be None; one extra preset only.")

    @property
    def n_eeg(self) -> int:
        """Number of EEG channels."""
        return len(self.eeg_rows)

    def frontal_channels(self) -> tuple[int, ...]:
        """EEG channel indices (into eeg_rows) over the forehead, where blinks show.

        Names starting with Fp, AF or F (not FC/FT) count as frontal; without names, the
        first two channels are taken as frontal (Cyton's Fp1/Fp2, Galea's F1/F2 convention).
        """
        if self.eeg_names:
            picked = tuple(
                i for i, nm in enumerate(self.eeg_names)
                if nm.upper().startswith(("FP", "AF", "F")) and not nm.upper().startswith(
                    ("FC", "FT"))
            )
            if picked:
                return picked
        return tuple(range(min(2, self.n_eeg)))

    @classmethod
    def from_descr(
        cls,
        descr: Mapping[str, Any],
        aux_descr: Mapping[str, Any] | None = None,
        *,
        ecg_on_last_eeg_row: bool | None = None,
        full_scale_uv: float = ADS1299_FULL_SCALE_UV,
    ) -> BoardLayout:
        """Build a layout from ``BoardShim.get_board_descr(board_id, preset)`` dictionaries.

        ``aux_descr`` is the auxiliary preset's descriptor, if that preset is to be written.
        On biopotential boards BrainFlow lists the same ADC rows as EEG and ECG, so ECG rows
        that coincide with EEG rows are ignored; instead, when ``ecg_on_last_eeg_row`` is true
        the last EEG row carries an ECG lead (and leaves the EEG set). Its default (None) does
        that only when neither preset has a PPG row, so every layout carries a heart signal.
        """
        def rows(d: Mapping[str, Any], key: str) -> tuple[int, ...]:
            return tuple(int(r) for r in d.get(key, ()))

        def one(d: Mapping[str, Any], key: str, required: bool = True) -> int | None:
            if key not in d:
                if required:
                    raise SimError(
                        f"board descriptor {d.get('name', '?')!r} has no '{key}'; pass the "
                        "dictionary from BoardShim.get_board_descr(board_id, preset)."
                    )
                return None
            return int(d[key])

        def build(d: Mapping[str, Any], with_ecg: bool, aux: BoardLayout | None) -> BoardLayout:
            eeg = rows(d, "eeg_channels")
            names = tuple(n for n in str(d.get("eeg_names", "")).split(",") if n)
            ecg = tuple(r for r in rows(d, "ecg_channels") if r not in eeg)
            if with_ecg and eeg and not ecg:
                ecg, eeg = eeg[-1:], eeg[:-1]
                names = names[:-1] if names else names
            return cls(
                num_rows=int(d["num_rows"]),
                sampling_rate=float(d["sampling_rate"]),
                eeg_rows=eeg,
                ppg_rows=rows(d, "ppg_channels"),
                ecg_rows=ecg,
                package_num_row=one(d, "package_num_channel"),
                timestamp_row=one(d, "timestamp_channel"),
                marker_row=one(d, "marker_channel", required=False),
                eeg_names=names if len(names) == len(eeg) else (),
                full_scale_uv=full_scale_uv,
                name=str(d.get("name", "")),
                aux=aux,
            )

        has_ppg = bool(rows(descr, "ppg_channels")) or (
            aux_descr is not None and bool(rows(aux_descr, "ppg_channels"))
        )
        with_ecg = (not has_ppg) if ecg_on_last_eeg_row is None else ecg_on_last_eeg_row
        aux = build(aux_descr, False, None) if aux_descr is not None else None
        return build(descr, with_ecg, aux)


def generic_layout(
    n_eeg_channels: int = 8, fs: float = 250.0, *, with_ppg: bool = True, with_ecg: bool = True
) -> BoardLayout:
    """A board-free layout: counter, EEG, ECG, two PPG rows, timestamp, marker (in that order)."""
    check_int("n_eeg_channels", n_eeg_channels, minimum=1)
    eeg = tuple(range(1, n_eeg_channels + 1))
    nxt = n_eeg_channels + 1
    ecg = (nxt,) if with_ecg else ()
    nxt += len(ecg)
    ppg = (nxt, nxt + 1) if with_ppg else ()
    nxt += len(ppg)
    return BoardLayout(
        num_rows=nxt + 2, sampling_rate=fs, eeg_rows=eeg, ppg_rows=ppg, ecg_rows=ecg,
        package_num_row=0, timestamp_row=nxt, marker_row=nxt + 1, name="generic",
    )
