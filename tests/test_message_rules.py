"""The typed-messages rule, checked on the source: outside runtime/messages/ (and the bus,
which carries the JSON), no module looks into a raw message body dict."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("runtime", "drivers", "sim", "bench")
#: The schema itself, and the bus that turns bodies into types.
ALLOWED = ("runtime/messages/", "runtime/bus/")


def _body_lookups(tree: ast.AST) -> list[tuple[int, str]]:
    """``<x>.body.get(...)`` and ``<x>.body[...]`` on a received message."""
    found = []
    for node in ast.walk(tree):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get":
                target = node.func.value
        elif isinstance(node, ast.Subscript):
            target = node.value
        if isinstance(target, ast.Attribute) and target.attr == "body":
            found.append((node.lineno, ast.unparse(node)[:80]))
    return found


def test_no_module_outside_the_schema_reads_a_message_body_dict():
    offenders = []
    for package in CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
            offenders += [f"{relative}:{line}: {code}" for line, code in _body_lookups(tree)]
    assert not offenders, (
        "read message.data (a runtime.messages type), not the raw body:\n" + "\n".join(offenders)
    )


def test_the_check_finds_a_body_lookup():
    tree = ast.parse("x = message.body.get('fs')\ny = message.body['fs']\nz = message.data.fs")
    assert [line for line, _ in _body_lookups(tree)] == [1, 2]
