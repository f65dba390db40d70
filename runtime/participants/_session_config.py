"""``kintsugi run --participant ID --baseline current``: the ``[session]`` a run starts with.

``--baseline`` takes ``current``, a version (``3`` or ``v3``) of the participant's saved
baselines under the store root, or the path of a baseline file. The chosen file's path
becomes ``[session] baseline``; it is checked against the config's feature settings here,
before anything starts, so a baseline made under other settings is refused at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from runtime.config import Config, with_overrides
from runtime.errors import ConfigError
from runtime.participants._baselines import BaselineStore, SessionBaseline
from runtime.participants._ids import validate_participant
from runtime.participants._root import resolve_root

__all__ = ["apply_session_choice", "resolve_baseline_choice"]

_VERSION = re.compile(r"^(current|v?\d+)$", re.IGNORECASE)


def resolve_baseline_choice(
    choice: str, participant: str | None, root: str | Path | None
) -> Path:
    """The baseline file ``--baseline CHOICE`` names (see the module docstring)."""
    if _VERSION.match(choice.strip()):
        if not participant:
            raise ConfigError(
                f"--baseline {choice} picks one of a participant's saved baselines: give "
                "--participant ID too (or the path of a baseline file)"
            )
        return BaselineStore(resolve_root(root)).get(participant, choice.strip().lower()).path
    path = Path(choice).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"--baseline {choice!r} is neither 'current', a version number, nor an existing "
            "file: see `kintsugi baseline list` for the saved ones"
        )
    try:
        owner = json.loads(path.read_text(encoding="utf-8")).get("participant")
    except (OSError, ValueError, AttributeError):
        owner = None
    if participant and isinstance(owner, str) and owner != participant:
        raise ConfigError(
            f"--baseline {choice!r} is the baseline of participant {owner!r}, not of "
            f"{participant!r}"
        )
    return path


def apply_session_choice(
    config: Config,
    *,
    participant: str | None = None,
    baseline: str | None = None,
    root: str | Path | None = None,
) -> Config:
    """``config`` with ``[session] participant`` and ``baseline`` set from the flags; the
    id is validated (a name-like one warned about) and the baseline checked against the
    feature settings (ConfigError naming the settings that differ)."""
    if participant is not None:
        config = with_overrides(config, "session", participant=validate_participant(participant))
    elif config.session.participant is not None:
        validate_participant(config.session.participant)
    if baseline is not None:
        path = resolve_baseline_choice(baseline, config.session.participant, root)
        config = with_overrides(config, "session", baseline=str(path.resolve()))
    if config.session.baseline:
        SessionBaseline(
            config.session.baseline, config.features.eeg, config.features.heart,
            config.source.heart_signal,
        )
    return config
