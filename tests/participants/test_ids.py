"""Participant ids: invalid ones are refused naming why, name-like ones warned about."""

from __future__ import annotations

import logging

import pytest

from runtime.errors import ConfigError
from runtime.participants import check_participant_id, name_like_reason, validate_participant


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("a/b", "path separator"),
        ("..\\x1", "path separator"),
        ("..", "starts with a dot"),
        (".P01", "starts with a dot"),
        ("P01\n", "leading or trailing whitespace"),
        ("P\x0001", "control character"),
        ("P" * 65, "longer than 64"),
    ],
)
def test_an_invalid_id_is_an_error_naming_why(bad, why):
    with pytest.raises(ConfigError, match=why) as info:
        check_participant_id(bad)
    assert "P01" in str(info.value)  # the fix: a pseudonymous code


@pytest.mark.parametrize(
    ("name", "why"),
    [("Jane Doe", "space"), ("jane.doe@x", "@"), ("jane.doe", "no digit"), ("Smith", "no digit")],
)
def test_a_name_like_id_is_warned_about(name, why, caplog):
    caplog.set_level(logging.WARNING, logger="runtime.participants")
    assert validate_participant(name) == name
    assert why in name_like_reason(name)
    assert any("looks like a name" in r.getMessage() and name in r.getMessage()
               for r in caplog.records)


@pytest.mark.parametrize("code", ["P01", "sub-07", "S3_a", "p.12"])
def test_a_pseudonymous_code_passes_without_a_warning(code, caplog):
    caplog.set_level(logging.WARNING, logger="runtime.participants")
    assert validate_participant(code) == code
    assert name_like_reason(code) == ""
    assert not caplog.records
