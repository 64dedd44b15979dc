"""House rule 1: layers call downward only. Reads every module's imports."""

from __future__ import annotations

import ast
import pathlib

import pytest

import hyperlasso

PACKAGE = pathlib.Path(hyperlasso.__file__).parent
#: Layer number of each subpackage: a module may import only from layers with a
#: number greater than or equal to its own (1 = estimators ... 5 = inner).
LAYERS = {"estimators": 1, "outer": 2, "criteria": 3, "hypergradients": 4, "inner": 5}


def _layer_of(module: str):
    parts = module.split(".")
    if len(parts) > 1 and parts[0] == "hyperlasso":
        return LAYERS.get(parts[1])
    return None


def _imports(path: pathlib.Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


MODULES = sorted(p for p in PACKAGE.rglob("*.py")
                 if p.relative_to(PACKAGE).parts[0] in LAYERS)


def test_every_layer_has_modules():
    present = {p.relative_to(PACKAGE).parts[0] for p in MODULES}
    assert {"criteria", "hypergradients", "inner"} <= present


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downward(path):
    own = LAYERS[path.relative_to(PACKAGE).parts[0]]
    upward = [m for m in _imports(path) if (_layer_of(m) or 99) < own]
    assert not upward, f"{path.name} imports from a higher layer: {upward}"
