"""Where participant data lives: the store root (``--root``), its default and its layout.

Default: ``$KINTSUGI_HOME`` when set, else ``~/.kintsugi``. Under it: ``baselines/<ID>/``
(each participant's saved baselines), ``audit.jsonl`` (what ``forget`` and retention
removed) and, wherever under the root a lab puts them, session directories and training
logs (found by their content: ``session.json``'s participant, a log's first line).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["AUDIT_FILE", "BASELINES_DIR", "ROOT_ENV", "default_root", "resolve_root"]

#: Environment variable that moves the default root.
ROOT_ENV = "KINTSUGI_HOME"
#: The participants' baselines, one directory per id.
BASELINES_DIR = "baselines"
#: Append-only audit log of removals (JSON lines; never participant data).
AUDIT_FILE = "audit.jsonl"


def default_root() -> Path:
    """``$KINTSUGI_HOME``, else ``~/.kintsugi``."""
    env = os.environ.get(ROOT_ENV)
    return Path(env).expanduser() if env else Path.home() / ".kintsugi"


def resolve_root(root: str | Path | None) -> Path:
    """``root`` (``--root``), or the default when it is None."""
    return Path(root).expanduser() if root is not None else default_root()
