"""Pseudonymous participant ids: what is refused, and what only looks like a name.

A participant id (``P01``, ``sub-07``) is what sessions, baselines and training logs are
filed under, and what ``kintsugi forget`` removes. It becomes a directory name, so an id
that could escape its directory is an error: empty, path separators (``/``, ``\\``), a
leading dot (``.``, ``..``, hidden and tombstone names), control characters, leading or
trailing whitespace, more than :data:`MAX_ID_LENGTH` characters. An id that looks like a
person's name is only warned about (the lab may have its reasons): it contains whitespace
(``Jane Doe``) or ``@`` (an e-mail address), or it has no digit at all (``jane.doe``,
``Smith``): a pseudonymous code carries a number.
"""

from __future__ import annotations

import logging
import unicodedata

from runtime.errors import ConfigError

__all__ = ["MAX_ID_LENGTH", "check_participant_id", "name_like_reason", "validate_participant"]

logger = logging.getLogger("runtime.participants")

#: Longest accepted participant id, in characters.
MAX_ID_LENGTH = 64

_FIX = "use a pseudonymous code such as P01 or sub-07"


def check_participant_id(participant: str) -> str:
    """``participant`` when it is a valid id; a ConfigError naming what is wrong otherwise."""
    def refuse(why: str) -> ConfigError:
        return ConfigError(f"participant id {participant!r} is invalid: {why}; {_FIX}")

    if not isinstance(participant, str) or not participant.strip():
        raise refuse("it is empty")
    if participant != participant.strip():
        raise refuse("it has leading or trailing whitespace")
    if "/" in participant or "\\" in participant:
        raise refuse("it contains a path separator")
    if participant.startswith("."):
        raise refuse("it starts with a dot")
    if any(unicodedata.category(c).startswith("C") for c in participant):
        raise refuse("it contains a control character")
    if len(participant) > MAX_ID_LENGTH:
        raise refuse(f"it is longer than {MAX_ID_LENGTH} characters")
    return participant


def name_like_reason(participant: str) -> str:
    """Why a (valid) id looks like a person's name or address, or '' when it does not."""
    if any(c.isspace() for c in participant):
        return "it contains a space"
    if "@" in participant:
        return "it contains @, like an e-mail address"
    if not any(c.isdigit() for c in participant):
        return "it has no digit, like a name"
    return ""


def validate_participant(participant: str) -> str:
    """Check an id (ConfigError when invalid) and log a warning when it looks like a name."""
    check_participant_id(participant)
    reason = name_like_reason(participant)
    if reason:
        logger.warning(
            "participants: participant id %r looks like a name (%s): ids are stored in "
            "recordings, baselines and training logs; %s",
            participant, reason, _FIX,
        )
    return participant
