"""The resolver's own error: a conflict, a probability vector or a setting it cannot use."""

from __future__ import annotations

from runtime.errors import KintsugiError


class ResolverError(KintsugiError, ValueError):
    """Bad input to the resolver; the message names the argument, the value and the fix.

    Inside :meth:`decide` such an error never escapes: it becomes the fail-safe decision.
    Constructors and :func:`compute_probabilities` raise it directly.
    """
