"""The typed-messages rule, checked on the source: outside runtime/messages/ (and the bus,
which carries the JSON), no module looks into a raw message body dict."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("runtime", "drivers", "sim", "bench")
#: The schema itself, and the bus that turns bodies into types.
ALLOWED = ("runtime/messages/", "runtime/bus/")
#: Modules that pass a received body on verbatim without reading a field of it, and why.
PASS_THROUGH = {
    "runtime/recorder/_files.py": "writes each message as received (the session's jsonl)",
    "runtime/cli/_watch.py": "prints each message as received",
}


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


def _body_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Every ``<x>.body`` read: a body kept in a name can be looked into later."""
    return [
        (node.lineno, ast.unparse(node)[:80])
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr == "body"
        and isinstance(node.ctx, ast.Load)
    ]


def test_only_pass_through_modules_touch_a_received_body_at_all():
    offenders, seen = [], set()
    for package in CHECKED:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative.startswith(ALLOWED):
                continue
            reads = _body_reads(ast.parse(path.read_text(encoding="utf-8"), filename=relative))
            if reads and relative in PASS_THROUGH:
                seen.add(relative)
            elif reads:
                offenders += [f"{relative}:{line}: {code}" for line, code in reads]
    assert not offenders, (
        "read message.data (a runtime.messages type), not message.body:\n" + "\n".join(offenders)
    )
    assert seen == set(PASS_THROUGH), f"no longer passes a body on: {set(PASS_THROUGH) - seen}"


def test_the_check_finds_a_body_kept_in_a_name():
    tree = ast.parse("body = message.body\nfs = body.get('fs')\nz = message.data.fs")
    assert [line for line, _ in _body_reads(tree)] == [1]


def test_the_check_finds_a_body_lookup():
    tree = ast.parse("x = message.body.get('fs')\ny = message.body['fs']\nz = message.data.fs")
    assert [line for line, _ in _body_lookups(tree)] == [1, 2]
