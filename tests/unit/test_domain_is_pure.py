"""The domain and its policies stay pure: standard library and `eventsourcing.domain` only, no I/O.

Read from the source with `ast`, so an import inside a function counts too, and nothing
is imported to check it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import ledger.domain
import ledger.policies

#: Standard-library modules that do I/O or load code: the pure layers have no use for them.
IO_MODULES = frozenset({"asyncio", "http", "importlib", "os", "pathlib", "shutil", "socket", "sqlite3", "subprocess",
                        "urllib"})
#: What each pure package may import beyond the (non-I/O) standard library.
ALLOWED = {
    "ledger.domain": ("eventsourcing.domain", "ledger.domain", "ledger.policies"),
    "ledger.policies": ("ledger.policies",),
}


def source_files(package) -> list[Path]:
    return sorted(p for root in package.__path__ for p in Path(root).rglob("*.py"))


def module_name(package: str, root: Path, path: Path) -> str:
    parts = [*package.split("."), *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the tree, relative ones resolved."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                found.append((node.lineno, node.module or ""))
                continue
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            found.append((node.lineno, ".".join([*base, node.module] if node.module else base)))
    return found


def forbidden(name: str, allowed: tuple[str, ...]) -> bool:
    if any(name == a or name.startswith(a + ".") for a in allowed):
        return False
    top = name.split(".")[0]
    return top not in sys.stdlib_module_names or top in IO_MODULES


def violations(package) -> list[str]:
    found = []
    for root in package.__path__:
        for path in sorted(Path(root).rglob("*.py")):
            module = module_name(package.__name__, Path(root), path)
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, name in imports(tree, module, path.name == "__init__.py"):
                if forbidden(name, ALLOWED[package.__name__]):
                    found.append(f"{path.name}:{line} imports {name}")
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in (
                    "__import__", "open", "exec", "eval",
                ):
                    found.append(f"{path.name}:{node.lineno} calls {node.func.id}()")
    return found


@pytest.mark.parametrize("package", [ledger.domain, ledger.policies], ids=lambda p: p.__name__)
def test_pure_layers_import_only_the_standard_library_and_eventsourcing_domain(package):
    """ledger.domain imports the standard library, eventsourcing.domain and itself/policies; policies only stdlib."""
    assert source_files(package), f"no source found for {package.__name__}"
    assert violations(package) == []


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("import psycopg", True),
        ("from fastapi import APIRouter", True),
        ("from pydantic import BaseModel", True),
        ("from eventsourcing.application import Application", True),
        ("from eventsourcing.domain import Aggregate", False),
        ("import sqlite3", True),
        ("def f():\n    import os", True),
        ("from ..mapper import PlainJSONMapper", True),
        ("from .base import Provenance", False),
        ("from ..policies.vaccines import DoseFact", False),
        ("from datetime import date", False),
        ("from __future__ import annotations", False),
    ],
)
def test_the_purity_check_catches_what_it_should(source, bad):
    """The checker itself: web, database and application imports are caught in the domain, wherever they hide."""
    module = "ledger.domain.person"
    names = [name for _, name in imports(ast.parse(source), module, is_package=False)]
    assert any(forbidden(n, ALLOWED["ledger.domain"]) for n in names) == bad


def test_policies_may_not_import_the_domain():
    """Policies are data read by the domain, never the other way round."""
    names = [name for _, name in imports(ast.parse("from ..domain.codes import SOURCES"), "ledger.policies.x", False)]
    assert names == ["ledger.domain.codes"]
    assert forbidden(names[0], ALLOWED["ledger.policies"])
