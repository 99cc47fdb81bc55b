"""The shape a newcomer can rely on: small modules, short handlers, SQL only in stores.

Limits (issue 14): no module over 300 lines outside migrations and generated code; no RPC
handler over 60 lines; `rpc_*` modules validate, call a domain or store function and map,
so they build no SQL themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = [ROOT / "runtime", ROOT / "gateway", ROOT / "console",
              *sorted((ROOT / "services").iterdir()), ROOT / "admin"]
MAX_MODULE_LINES = 300
MAX_HANDLER_LINES = 60
# What building SQL looks like; an rpc_ module may still call store functions that do it.
SQL_NAMES = {"select", "insert", "update", "delete", "text"}
SQL_MODULES = {"sqlalchemy", "sqlmodel", "sqlalchemy.dialects.postgresql", "sqlalchemy.sql"}


def _modules() -> list[Path]:
    return sorted(
        path
        for top in PRODUCTION
        for path in top.rglob("*.py")
        if "migrations" not in path.parts and not path.name.endswith(("_pb2.py", "_pb2_grpc.py"))
    )


def _rpc_modules() -> list[Path]:
    return [p for p in _modules() if p.name.startswith("rpc_")]


def _id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", _modules(), ids=_id)
def test_module_fits_in_one_sitting(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{_id(path)} has {lines} lines"


def _handlers(tree: ast.Module) -> list[ast.AsyncFunctionDef | ast.FunctionDef]:
    """gRPC handlers: methods named in CamelCase on classes."""
    return [
        node
        for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef)
        for node in cls.body
        if isinstance(node, (ast.AsyncFunctionDef, ast.FunctionDef)) and node.name[:1].isupper()
    ]


@pytest.mark.parametrize("path", _rpc_modules(), ids=_id)
def test_handlers_are_short(path: Path) -> None:
    tree = ast.parse(path.read_text())
    long = {
        h.name: (h.end_lineno or h.lineno) - h.lineno + 1
        for h in _handlers(tree)
        if (h.end_lineno or h.lineno) - h.lineno + 1 > MAX_HANDLER_LINES
    }
    assert not long, f"{_id(path)}: handlers over {MAX_HANDLER_LINES} lines: {long}"


@pytest.mark.parametrize("path", _rpc_modules(), ids=_id)
def test_handlers_build_no_sql(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module in SQL_MODULES
        for alias in node.names
        if alias.name in SQL_NAMES
    }
    assert not imported, f"{_id(path)} builds SQL ({sorted(imported)}): move it to a store module"
