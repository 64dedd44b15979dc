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


ALL_MODULES = sorted(PACKAGE.rglob("*.py"))
#: Largest module, in lines (issue 10: "no file over 400 lines").
MAX_MODULE_LINES = 400


def _model_class_names() -> set[str]:
    """Every class with a ``kind`` attribute (the stack that serves a model)."""
    from hyperlasso.hypergradients import smooth
    from hyperlasso.inner import block_models, graphical, models

    return {name for module in (models, block_models, graphical, smooth)
            for name, obj in vars(module).items()
            if isinstance(obj, type) and isinstance(getattr(obj, "kind", None), str)}


def _isinstance_targets(tree: ast.AST):
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "isinstance" and len(node.args) == 2):
            target = node.args[1]
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if isinstance(item, ast.Name):
                    yield item.id
                elif isinstance(item, ast.Attribute):
                    yield item.attr


def test_model_classes_are_found():
    assert {"Lasso", "GroupLasso", "MultiTaskLasso", "GraphicalLasso",
            "SmoothModel"} <= _model_class_names()


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_isinstance_on_a_model_outside_the_models(path):
    """Dispatch on a model goes through its ``kind`` or its methods, so a new model
    does not mean editing the modules that use models."""
    if path.stem in {"models", "block_models"}:
        return
    found = set(_isinstance_targets(ast.parse(path.read_text()))) & _model_class_names()
    assert not found, f"{path.name} tests isinstance on the models {sorted(found)}"


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_are_short(path):
    n_lines = len(path.read_text().splitlines())
    assert n_lines <= MAX_MODULE_LINES, f"{path.name} has {n_lines} lines"


#: Issue 10: kernels take the packed datafit, penalty and state, not their parts.
MAX_KERNEL_ARGUMENTS = 8


def _is_kernel(function: ast.FunctionDef) -> bool:
    """Decorated with numba's njit / jit / overload (the compiled code)."""
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        name = (target.attr if isinstance(target, ast.Attribute)
                else getattr(target, "id", ""))
        if name in {"njit", "jit", "overload", "generated_jit"}:
            return True
    return False


def _returned_names(function: ast.FunctionDef) -> set[str]:
    """Names an overload returns as its implementation (``return a if c else b``)."""
    return {name.id for node in ast.walk(function) if isinstance(node, ast.Return)
            and node.value is not None
            for name in ast.walk(node.value) if isinstance(name, ast.Name)}


def _kernels(tree: ast.AST):
    """The compiled functions: decorated with numba, and the module's functions an
    overload returns as its implementation (``_units``' feature and group forms)."""
    functions = [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]
    implementations = set().union(*(_returned_names(f) for f in functions
                                    if _is_kernel(f)))
    for node in functions:
        if _is_kernel(node) or node.name in implementations:
            yield node


def test_kernels_are_found():
    """The scan sees the coordinate-descent kernels (a scan that finds nothing
    would pass every module)."""
    tree = ast.parse((PACKAGE / "inner" / "_cd.py").read_text())
    names = {f.name for f in _kernels(tree)}
    assert {"epoch", "solve_subproblem", "violations"} <= names
    units = {f.name for f in _kernels(ast.parse((PACKAGE / "inner" / "_units.py")
                                                .read_text()))}
    assert {"_feature_sweep", "_group_sweep", "_feature_distances"} <= units


def _reads_the_penalty(kernel: ast.FunctionDef) -> list[int]:
    """Lines where a kernel looks inside its ``penalty`` argument (attribute,
    index or unpacking) instead of calling the penalty's functions."""
    lines = []
    for node in ast.walk(kernel):
        inner = getattr(node, "value", None)
        if (isinstance(node, ast.Attribute | ast.Subscript | ast.Assign)
                and isinstance(inner, ast.Name) and inner.id == "penalty"):
            lines.append(node.lineno)
    return lines


KERNEL_MODULES = [p for p in ALL_MODULES
                  if p.name not in {"penalties.py", "box.py", "_penalty_calls.py"}]


@pytest.mark.parametrize("path", KERNEL_MODULES,
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_penalties_read_their_weights_in_kernels(path):
    """The prox, distances and derivatives of a penalty live in its class
    (``penalties``, ``box``):
    a kernel elsewhere passes ``penalty`` on, so a new penalty is one class."""
    found = {f.name: lines for f in _kernels(ast.parse(path.read_text()))
             if (lines := _reads_the_penalty(f))}
    assert not found, f"{path.name}: kernels reading the penalty's weights {found}"


def test_the_penalty_scan_sees_an_unpacking():
    tree = ast.parse("@njit\ndef k(penalty):\n    lam, l2 = penalty\n    return lam\n")
    assert _reads_the_penalty(next(_kernels(tree))) == [3]


@pytest.mark.parametrize("path", ALL_MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_kernel_has_more_than_eight_arguments(path):
    too_many = {f.name: len(f.args.args) for f in _kernels(ast.parse(path.read_text()))
                if len(f.args.args) > MAX_KERNEL_ARGUMENTS}
    assert not too_many, f"{path.name}: kernels with more than 8 arguments {too_many}"
