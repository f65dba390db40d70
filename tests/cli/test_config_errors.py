"""Config loading: every error names the table, the key, the value and what is allowed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.config import config_from_mapping, load_config, with_overrides
from runtime.errors import ConfigError


def _load(tmp_path, text: str):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return load_config(path)


def test_every_shipped_config_loads():
    from pathlib import Path

    configs = sorted(Path("configs").glob("*.toml"))
    assert configs, "no configs found"
    for path in configs:
        load_config(path)


def test_a_bad_choice_names_the_key_the_value_and_the_allowed_ones(tmp_path):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, '[source]\nboard = "muse"\n')
    message = str(info.value)
    assert "[source] board = 'muse'" in message
    assert "'synthetic'" in message and "'galea'" in message


def test_unknown_keys_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"\[controller\] atention_high: unknown key"):
        _load(tmp_path, "[controller]\natention_high = 0.9\n")
    with pytest.raises(ConfigError, match="sauce: unknown key"):
        _load(tmp_path, "[sauce]\nx = 1\n")


def test_out_of_range_values_say_the_bound(tmp_path):
    with pytest.raises(
        ConfigError, match=r"\[controller\] attention_high = 1.5: .*less than or equal to 1"
    ):
        _load(tmp_path, "[controller]\nattention_high = 1.5\n")
    with pytest.raises(ConfigError, match=r"\[features.eeg\] window_s = -4"):
        _load(tmp_path, "[features.eeg]\nwindow_s = -4\n")


def test_cross_field_rules_explain_themselves(tmp_path):
    with pytest.raises(ConfigError, match="stale_after_s .* must not exceed ttl_s"):
        _load(tmp_path, "[controller]\nttl_s = 1.0\nstale_after_s = 2.0\n")
    with pytest.raises(ConfigError, match="needs ecg_channels"):
        _load(tmp_path, '[source]\nheart_signal = "ecg"\n')
    with pytest.raises(ConfigError, match="set board = 'playback'"):
        _load(tmp_path, '[source]\nscenario = "ci_short"\n')


def test_syntax_errors_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        _load(tmp_path, "[source\nboard=1")
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")


def test_command_line_overrides_are_validated_too():
    config = config_from_mapping({})
    assert with_overrides(config, "source", serial_port="/dev/ttyUSB0").source.serial_port == (
        "/dev/ttyUSB0"
    )
    with pytest.raises(ConfigError, match="command line"):
        with_overrides(config, "source", board="muse")


_toml_values = st.recursive(
    st.one_of(st.integers(), st.floats(allow_nan=True), st.text(max_size=8), st.booleans()),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["bus", "source", "features", "controller", "daemon", "other"]),
        st.dictionaries(st.text(max_size=12), _toml_values, max_size=4),
        max_size=4,
    )
)
def test_config_loader_fuzz_only_ever_raises_config_error(data):
    try:
        config_from_mapping(data)
    except ConfigError as exc:
        assert str(exc).startswith("config: invalid configuration")


_TWO_SOURCES = '''
[[sources]]
person = "P01"
board = "synthetic"
serial_number = "P01"

[[sources]]
person = "P02"
board = "synthetic"
serial_number = "P02"
'''


def test_several_sources_each_a_person_load_with_the_first_as_source(tmp_path):
    config = _load(tmp_path, _TWO_SOURCES)
    assert [s.person for s in config.all_sources] == ["P01", "P02"]
    assert config.source == config.sources[0]
    assert config.for_source(config.sources[1]).source.person == "P02"
    assert config.for_source(config.sources[1]).all_sources == (config.sources[1],)
    # a recording's config dump loads back as the same config
    assert config_from_mapping(config.model_dump(mode="json")) == config
    # one [source]: its dump is as before, without a sources key
    single = _load(tmp_path, '[source]\nboard = "synthetic"\nperson = "P01"\n')
    assert single.all_sources == (single.source,) and single.sources == ()
    assert "sources" not in single.model_dump(mode="json")


def test_source_and_sources_together_are_refused_naming_both(tmp_path):
    with pytest.raises(ConfigError, match=r"\[source\] and \[\[sources\]\] are both set"):
        _load(tmp_path, '[source]\nboard = "cyton"\nserial_port = "/dev/ttyUSB0"\n'
              + _TWO_SOURCES)


def test_a_person_on_two_sources_is_refused_naming_the_person(tmp_path):
    text = _TWO_SOURCES.replace('person = "P02"', 'person = "P01"')
    with pytest.raises(ConfigError,
                       match=r"\[\[sources\]\] person = 'P01' is set on more than one source"):
        _load(tmp_path, text)


def test_a_source_without_a_person_among_several_is_refused(tmp_path):
    text = _TWO_SOURCES.replace('person = "P02"\n', "")
    with pytest.raises(ConfigError,
                       match=r"\[\[sources\]\] entry 2 \(board = 'synthetic'\) has no person.*"
                             r'set person = "P02"'):
        _load(tmp_path, text)


def test_two_sources_on_the_same_board_are_refused(tmp_path):
    text = _TWO_SOURCES.replace('serial_number = "P02"\n', 'serial_number = "P01"\n')
    with pytest.raises(ConfigError, match=r"person = 'P01' and person = 'P02' name the same "
                                          r"synthetic board.*serial_number"):
        _load(tmp_path, text)


def test_a_source_override_with_several_sources_says_to_edit_each_entry(tmp_path):
    config = _load(tmp_path, _TWO_SOURCES)
    with pytest.raises(ConfigError, match=r"cannot override \[source\] board: this config has "
                                          r"2 \[\[sources\]\]"):
        with_overrides(config, "source", board="cyton")
    one = _load(tmp_path, _TWO_SOURCES.split("\n[[sources]]\nperson = \"P02\"")[0])
    changed = with_overrides(one, "source", person="P07")
    assert changed.source.person == changed.sources[0].person == "P07"


def test_several_sources_on_a_sensor_host_are_refused(tmp_path):
    text = '[bus]\nconnect = "tcp://10.0.0.1:5591"\n[daemon]\nstages = ["driver"]\n'
    with pytest.raises(ConfigError, match=r"\[\[sources\]\] has 2 sources, but \[bus\] connect"):
        _load(tmp_path, text + _TWO_SOURCES)
