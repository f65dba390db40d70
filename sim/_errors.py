"""The simulator's exception: raised for any invalid argument or scenario file.

sim/ must not import the runtime, so it has its own error type; the CLI translates it into
``runtime.errors.ConfigError``. It subclasses ``ValueError`` so plain callers can catch it
without knowing about sim/.
"""

from __future__ import annotations


class SimError(ValueError):
    """An argument, layout or scenario given to the simulator is invalid.

    The message names the argument (or scenario key), shows the bad value and says the fix.
    """


class ScenarioError(SimError):
    """A scenario file or mapping is invalid; the message names the key and the allowed values."""
