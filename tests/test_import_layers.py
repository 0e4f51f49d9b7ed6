"""The package's imports only go down the data flow (DESIGN.md rule 14).

Layers, lowest first: spaces -> benchmarks -> graphs -> networks -> features -> predictors -> meta -> search ->
training -> experiment -> cli.
A module may import from its own layer and the layers before it; ``errors``, ``registry``, ``io``, ``typed``, ``devices`` and
``raycluster`` are base utilities below every layer. Imports inside functions count too: a lazy import is still an
edge a maintainer has to know about.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "surrogate_nas"
LAYERS = ["spaces", "benchmarks", "graphs", "networks", "features", "predictors", "meta", "search", "training",
          "experiment", "cli"]
BASE = {"errors", "registry", "io", "raycluster", "typed", "devices", "", "__version__"}  # "" = the package root


def layer_of(module: str) -> int:
    """Layer index of a dotted module name inside the package (-1 for the base utilities)."""
    parts = module.split(".")
    assert parts[0] == "surrogate_nas", module
    top = parts[1] if len(parts) > 1 else ""
    if top in BASE:
        return -1
    if top not in LAYERS:
        raise AssertionError(f"module {module} is in no layer; add its package to LAYERS or BASE")
    return LAYERS.index(top)


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) of every import of a package module in ``path``."""
    name = module_name(path)
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "surrogate_nas"]
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module and node.module.split(".")[0] == "surrogate_nas":
                    mods = [node.module]
                    # `from surrogate_nas import meta` imports the sub-package meta
                    if node.module == "surrogate_nas":
                        mods = [f"surrogate_nas.{a.name}" for a in node.names]
                    out += [(node.lineno, m) for m in mods]
                continue
            base = name.split(".")
            base = base if is_pkg else base[:-1]
            base = base[: len(base) - (node.level - 1)]
            if node.module:
                out.append((node.lineno, ".".join(base + node.module.split("."))))
            else:  # `from . import x` / `from .. import x`
                out += [(node.lineno, ".".join(base + [a.name])) for a in node.names]
    return out


def upward_edges() -> list[str]:
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = module_name(path)
        for line, dst in imported_modules(path):
            if layer_of(dst) > layer_of(src):
                bad.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {src} imports {dst} "
                           f"({LAYERS[layer_of(src)] if layer_of(src) >= 0 else 'base'} -> {LAYERS[layer_of(dst)]})")
    return bad


def test_every_package_module_is_in_a_layer():
    for path in PACKAGE.rglob("*.py"):
        layer_of(module_name(path))  # raises for a module outside the declared layers


def test_imports_only_go_down_the_data_flow():
    bad = upward_edges()
    assert not bad, "upward imports:\n" + "\n".join(bad)


@pytest.mark.parametrize("code, module, expected", [
    ("from ..meta.adapt import adapt\n", "predictors/x.py", "surrogate_nas.meta.adapt"),
    ("from . import get_space\n", "spaces/base.py", "surrogate_nas.spaces.get_space"),
    ("from .base import X\n", "search/__init__.py", "surrogate_nas.search.base"),
    ("import surrogate_nas.training\n", "search/x.py", "surrogate_nas.training"),
    ("def f():\n    from ...graphs import to_batch\n", "meta/sub/x.py", "surrogate_nas.graphs"),
])
def test_import_parser_resolves_relative_and_lazy_imports(tmp_path, code, module, expected):
    """The checker itself: relative, absolute and function-level imports resolve to the right module."""
    root = tmp_path / "surrogate_nas"
    path = root / module
    path.parent.mkdir(parents=True)
    path.write_text(code)
    globals()["PACKAGE"], saved = root, PACKAGE
    try:
        assert imported_modules(path) == [(code.count("\n", 0, code.index("import")) + 1, expected)]
    finally:
        globals()["PACKAGE"] = saved


def test_checker_flags_an_upward_edge(tmp_path):
    root = tmp_path / "surrogate_nas"
    (root / "spaces").mkdir(parents=True)
    (root / "spaces" / "base.py").write_text("def f():\n    from ..graphs import to_graph\n")
    globals()["PACKAGE"], saved = root, PACKAGE
    try:
        bad = upward_edges()
    finally:
        globals()["PACKAGE"] = saved
    assert len(bad) == 1 and "spaces -> graphs" in bad[0]
