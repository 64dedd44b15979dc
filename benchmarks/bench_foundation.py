"""Foundation benchmark of hyperlasso: inner solver, hypergradients, first fit.

Run ``python benchmarks/bench_foundation.py`` (``--quick`` for a smoke run on small
shapes). See ``benchmarks/README.md`` for what is measured.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

import hyperlasso as hl
from hyperlasso.datasets import make_correlated_regression, make_sparse_tfidf_regression

RESULTS_DIR = Path(__file__).resolve().parent / "results"
#: Target of every inner solve: duality gap / P0 with P0 = ||y - mean(y)||^2 / (2n).
TARGET_GAP = 1e-8
#: skglm stops on the largest optimality violation, not on the gap: the loosest of
#: these tolerances whose gap meets TARGET_GAP is used.
SKGLM_TOLS = (1e-8, 3e-9, 1e-9, 3e-10, 1e-10)
#: Tighter ones, tried only if none of SKGLM_TOLS meets TARGET_GAP (flagged).
SKGLM_EXTRA_TOLS = (3e-11, 1e-11, 3e-12, 1e-12)
#: scikit-learn stops on gap < tol * ||y_c||^2 / n = 2 tol P0.
SKLEARN_TOL = 0.5 * TARGET_GAP
SKLEARN_MAX_ITER = 100_000
ALPHA_DIVISORS = (10, 100)
HYPERGRADIENT_RUNS = (
    ("auto (polish)", "auto", "auto"),
    ("implicit / cholesky", "implicit", "cholesky"),
    ("implicit / cg", "implicit", "cg"),
    ("implicit_forward", "implicit_forward", "auto"),
    ("forward", "forward", "auto"),
    ("backward", "backward", "auto"),
)
#: Methods too slow for a full-size warm-up call: warmed up on a small problem.
SLOW_METHODS = ("forward", "backward")
FIRST_FIT_N, FIRST_FIT_P = 100, 200


# --------------------------------------------------------------------------- problems

def design_specs(quick: bool) -> dict[str, dict]:
    """Generator and shapes of each design (full benchmark or ``--quick``).

    Returns
    -------
    dict
        name -> {"generator", "train", "val", "small"}; the last three are keyword
        arguments of the generator (training set, validation set, warm-up problem).
    """
    dense = dict(n_samples=200, n_features=500) if quick else {}
    sparse = dict(n_samples=1000, n_features=1000, density=0.01) if quick else {}
    return {
        "dense": {
            "generator": make_correlated_regression, "train": dense,
            "val": dense, "small": dict(n_samples=50, n_features=100),
        },
        "sparse": {
            "generator": make_sparse_tfidf_regression, "train": sparse,
            "val": sparse, "small": dict(n_samples=200, n_features=100, density=0.05),
        },
    }


def make_problem(spec: dict, which: str = "train") -> dict:
    """Training set and a validation set with the same true coefficients.

    Parameters
    ----------
    spec : dict
        One value of :func:`design_specs`.
    which : {"train", "small"}
        Full-size problem or the small warm-up problem.

    Returns
    -------
    dict
        X (n, p), y (n,), X_val (n_val, p), y_val (n_val,), criterion (the
        HeldOutMSE of the validation set), alpha_max.
    """
    gen = spec["generator"]
    kwargs = spec[which]
    X, y, coef = gen(**kwargs, random_state=0)
    X_val, y_val, _ = gen(**(spec["val"] if which == "train" else kwargs),
                          random_state=1, coef=coef)
    return dict(X=X, y=y, X_val=X_val, y_val=y_val,
                criterion=hl.HeldOutMSE(X_val, y_val),
                alpha_max=float(hl.alpha_max("lasso", X, y)))


def relative_duality_gap(X, y: np.ndarray, coef: np.ndarray, intercept: float,
                         alpha: float) -> float:
    """Duality gap of the Lasso with intercept, divided by P0 (independent of hl).

    Primal ``||y - X w - b||^2 / (2n) + alpha ||w||_1``; dual point: the centered
    residual over n, rescaled so that ``||X^T theta||_inf <= alpha``; dual objective
    ``(||y_c||^2 - ||y_c - n theta||^2) / (2n)``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_features,)
    intercept : float
    alpha : float

    Returns
    -------
    float
        Gap / P0 with ``P0 = ||y - mean(y)||^2 / (2n)``.
    """
    n = y.shape[0]
    y_c = y - y.mean()
    residual = y - np.asarray(X @ coef).ravel() - intercept
    primal = residual @ residual / (2 * n) + alpha * np.abs(coef).sum()
    r_c = residual - residual.mean()
    theta = r_c / max(n, np.abs(np.asarray(X.T @ r_c).ravel()).max() / alpha)
    dual = (y_c @ y_c - np.sum((y_c - n * theta) ** 2)) / (2 * n)
    return float((primal - dual) / (y_c @ y_c / (2 * n)))


# --------------------------------------------------------------------------- timing

def call_recording(fn: Callable):
    """Call ``fn()``, return (result, seconds, warning messages)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - start
    return out, elapsed, sorted({f"{w.category.__name__}: {w.message}" for w in caught})


def time_repeated(fn: Callable, repeats: int, budget: float = float("inf")) -> dict:
    """Time ``fn()`` ``repeats`` times (once only if the first call exceeds budget).

    The caller is responsible for the warm-up call.

    Returns
    -------
    dict
        times (list of seconds), median, warnings, and the last result under "out".
    """
    out, first, caught = call_recording(fn)
    times = [first]
    if first <= budget:
        for _ in range(repeats - 1):
            out, elapsed, _ = call_recording(fn)
            times.append(elapsed)
    return dict(times=times, median=statistics.median(times), warnings=caught,
                out=out, skipped_repeats=first > budget)


# --------------------------------------------------------------------------- inner

def fit_hyperlasso(X, y, alpha: float) -> tuple[np.ndarray, float]:
    """hyperlasso.fit at relative gap 1e-8; returns (coef, intercept)."""
    sol = hl.fit("lasso", alpha, X, y, tol=TARGET_GAP)
    return sol.coef, sol.intercept


def fit_sklearn(X, y, alpha: float) -> tuple[np.ndarray, float]:
    """scikit-learn Lasso with tol = 0.5e-8 (its gap < 2 tol P0)."""
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=alpha, tol=SKLEARN_TOL, max_iter=SKLEARN_MAX_ITER).fit(X, y)
    return model.coef_, float(model.intercept_)


def fit_skglm(X, y, alpha: float, tol: float) -> tuple[np.ndarray, float]:
    """skglm Lasso stopping at optimality violation ``tol``."""
    from skglm import Lasso

    model = Lasso(alpha=alpha, tol=tol, max_iter=1000).fit(X, y)
    return model.coef_, float(model.intercept_)


def select_skglm_tol(X, y, alpha: float) -> dict:
    """Loosest skglm tolerance whose relative gap is <= TARGET_GAP.

    The first fit also compiles skglm (warm-up). Tolerances beyond ``SKGLM_TOLS``
    are tried only when none of those reaches the target, and flagged.

    Returns
    -------
    dict
        tol, in_list (bool), reached (bool), tried (list of (tol, gap)).
    """
    tried = []
    for tol in SKGLM_TOLS + SKGLM_EXTRA_TOLS:
        coef, intercept = fit_skglm(X, y, alpha, tol)
        gap = relative_duality_gap(X, y, coef, intercept, alpha)
        tried.append((tol, gap))
        if gap <= TARGET_GAP:
            return dict(tol=tol, in_list=tol in SKGLM_TOLS, reached=True, tried=tried)
    return dict(tol=tried[-1][0], in_list=False, reached=False, tried=tried)


def summarize_fit(run: dict, X, y, alpha: float) -> dict:
    """Times, median, achieved relative gap and support size of a timed fit."""
    coef, intercept = run.pop("out")
    run["rel_gap"] = relative_duality_gap(X, y, coef, intercept, alpha)
    run["reached_target"] = run["rel_gap"] <= TARGET_GAP
    run["n_nonzero"] = int(np.count_nonzero(coef))
    return run


def bench_inner(X, y, alpha: float, repeats: int) -> dict:
    """Median time and achieved gap of hyperlasso, scikit-learn and skglm at alpha.

    Returns
    -------
    dict
        "hyperlasso", "sklearn", "skglm" -> times, median, rel_gap, ...
    """
    out = {}
    for name, fn in (("hyperlasso", fit_hyperlasso), ("sklearn", fit_sklearn)):
        fn(X, y, alpha)  # warm-up (compilation, caches)
        out[name] = summarize_fit(time_repeated(lambda f=fn: f(X, y, alpha), repeats),
                                  X, y, alpha)
    out["hyperlasso"]["library_gap"] = float(hl.fit("lasso", alpha, X, y).gap)
    out["sklearn"]["tol"] = SKLEARN_TOL
    out["sklearn"]["converged"] = not any(
        "ConvergenceWarning" in w for w in out["sklearn"]["warnings"])
    choice = select_skglm_tol(X, y, alpha)
    run = time_repeated(lambda: fit_skglm(X, y, alpha, choice["tol"]), repeats)
    out["skglm"] = {**summarize_fit(run, X, y, alpha), "tol": choice["tol"],
                    "tol_in_list": choice["in_list"], "tols_tried": choice["tried"]}
    return out


# --------------------------------------------------------------------------- hypergrads

def run_hypergradient(problem: dict, alpha: float, method: str, linear_solver: str):
    """One call of hl.hypergradient with the HeldOutMSE of the validation set.

    The criterion is built once per problem, as in any outer loop (its
    construction validates X_val: 0.25 ms on the sparse design).
    """
    return hl.hypergradient("lasso", problem["criterion"], alpha, problem["X"],
                            problem["y"],
                            method=method, linear_solver=linear_solver)


def warm_up_hypergradients(small: dict) -> None:
    """Compile every method on a small problem of the same design kind."""
    for _, method, linear_solver in HYPERGRADIENT_RUNS:
        call_recording(lambda m=method, s=linear_solver: run_hypergradient(
            small, small["alpha_max"] / 10, m, s))


def time_hypergradient(problem: dict, alpha: float, method: str, linear_solver: str,
                       repeats: int, budget: float) -> dict:
    """Median time, gradient and diagnostics of one hypergradient method."""
    fn = functools.partial(run_hypergradient, problem, alpha, method, linear_solver)
    if method not in SLOW_METHODS:
        call_recording(fn)  # full-size warm-up
    run = time_repeated(fn, repeats, budget)
    res = run.pop("out")
    return {**run, "gradient": float(res.gradient), "value": res.value,
            "method": res.method, "linear_solver": res.linear_solver, "note": res.note,
            "n_epochs": int(res.solution.n_epochs), "inner_gap": float(res.solution.gap),
            "n_support": int(res.solution.support.size)}


def backward_peak_memory(problem: dict, alpha: float) -> float:
    """Peak traced memory (MB) during one method="backward" call.

    tracemalloc sees numpy allocations (the recorded iterates), not numba's.
    """
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        call_recording(lambda: run_hypergradient(problem, alpha, "backward", "auto"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def bench_hypergradients(problem: dict, alpha: float, repeats: int,
                         budget: float) -> dict:
    """Every method at alpha, with its relative difference to the polish gradient."""
    out = {}
    for label, method, linear_solver in HYPERGRADIENT_RUNS:
        out[label] = time_hypergradient(problem, alpha, method, linear_solver,
                                        repeats, budget)
        print(f"      {label:<20s} {out[label]['median']:9.3f} s", flush=True)
    reference = out["auto (polish)"]["gradient"]
    for entry in out.values():
        entry["rel_diff_to_polish"] = abs(entry["gradient"] - reference) / max(
            abs(reference), 1e-300)
    return out


# --------------------------------------------------------------------------- first fit

FIRST_FIT_CODE = """\
import time
t0 = time.perf_counter()
import numpy as np
{imports}
rng = np.random.default_rng(0)
X = rng.standard_normal(({n}, {p}))
y = X[:, :5].sum(axis=1) + rng.standard_normal({n})
alpha = np.abs((X - X.mean(0)).T @ (y - y.mean())).max() / {n} / 10
{fit}
print(time.perf_counter() - t0)
"""

FIRST_FIT_LIBRARIES = {
    "hyperlasso": ("import hyperlasso as hl", "hl.fit('lasso', alpha, X, y)"),
    "skglm": ("from skglm import Lasso", "Lasso(alpha=alpha).fit(X, y)"),
    "sklearn": ("from sklearn.linear_model import Lasso", "Lasso(alpha=alpha).fit(X, y)"),
}


def first_fit_once(library: str) -> tuple[float, float]:
    """(import-to-fit seconds printed by a fresh interpreter, whole-process seconds)."""
    imports, fit = FIRST_FIT_LIBRARIES[library]
    code = FIRST_FIT_CODE.format(imports=imports, fit=fit, n=FIRST_FIT_N, p=FIRST_FIT_P)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    wall = time.perf_counter() - start
    return float(done.stdout.strip().splitlines()[-1]), wall


def bench_first_fit(runs: int) -> dict:
    """Median first-fit time in new processes, after one run that warms disk caches.

    Returns
    -------
    dict
        library -> times, median (import to fit), process_times, process_median.
    """
    out = {}
    for library in FIRST_FIT_LIBRARIES:
        first_fit_once(library)  # warm the numba cache and the file system
        pairs = [first_fit_once(library) for _ in range(runs)]
        times, process = [a for a, _ in pairs], [b for _, b in pairs]
        out[library] = dict(
            times=times, median=statistics.median(times),
            process_times=process, process_median=statistics.median(process),
        )
        print(f"  first fit {library:<10s} {out[library]['median']:.3f} s", flush=True)
    return out


# --------------------------------------------------------------------------- cold start

#: Issue 13: the first run after installation compiles in under 5 s.
COLD_START_TARGET = 5.0
COLD_START_JOBS = {
    "first Lasso fit (hl.fit)": [sys.executable, "-c", FIRST_FIT_CODE.format(
        imports=FIRST_FIT_LIBRARIES["hyperlasso"][0], fit=FIRST_FIT_LIBRARIES[
            "hyperlasso"][1], n=FIRST_FIT_N, p=FIRST_FIT_P)],
    "hyperlasso tune (bundled default, --no-plot)": [
        sys.executable, "-c", "import sys; from hyperlasso.cli import main; "
        "sys.exit(main(sys.argv[1:]))", "tune", "--no-plot", "--quiet", "--force"],
}


def _timed_process(command: list[str], cache_dir: str, workdir: str) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True, text=True, check=True, cwd=workdir,
                   env={**os.environ, "NUMBA_CACHE_DIR": cache_dir})
    return time.perf_counter() - start


def bench_cold_start(runs: int) -> dict:
    """Each job in a new process on an empty numba cache (the first run after
    installation: ``NUMBA_CACHE_DIR`` points to a new empty folder, so the
    package's own caches are not touched), then again on the cache it wrote.
    Compilation is the difference; medians over ``runs`` fresh caches."""
    import tempfile

    out = {}
    for name, command in COLD_START_JOBS.items():
        cold, warm = [], []
        for _ in range(runs):
            with tempfile.TemporaryDirectory() as cache, \
                    tempfile.TemporaryDirectory() as workdir:
                cold.append(_timed_process(command, cache, workdir))
                warm.append(_timed_process(command, cache, workdir))
        compile_time = statistics.median(cold) - statistics.median(warm)
        out[name] = {"cold": cold, "warm": warm, "cold_median": statistics.median(cold),
                     "warm_median": statistics.median(warm), "compile": compile_time}
        print(f"  cold start {name}: {statistics.median(cold):.1f} s cold, "
              f"{statistics.median(warm):.1f} s warm", flush=True)
    return out


def cold_start_table(results: dict) -> list[str]:
    """Markdown rows of the cold-start runs."""
    lines = ["| job | empty cache (s) | cache written (s) | compilation (s) | "
             f"< {COLD_START_TARGET:g} s |", "|---|---|---|---|---|"]
    for name, run in results["cold_start"].items():
        lines.append(f"| {name} | {run['cold_median']:.1f} | {run['warm_median']:.1f} | "
                     f"{run['compile']:.1f} | "
                     f"{flag(run['compile'] < COLD_START_TARGET)} |")
    return lines


# --------------------------------------------------------------------------- targets

def inner_targets(alpha_result: dict) -> dict:
    """Speed ratios of the inner solve and their PASS/FAIL."""
    inner = alpha_result["inner"]
    hl_time = inner["hyperlasso"]["median"]
    vs_skglm = inner["skglm"]["median"] / hl_time
    vs_sklearn = inner["sklearn"]["median"] / hl_time
    auto = alpha_result["hypergradient"]["auto (polish)"]["median"]
    return dict(
        skglm_over_hyperlasso=vs_skglm, skglm_pass=vs_skglm >= 1.0,
        sklearn_over_hyperlasso=vs_sklearn, sklearn_pass=vs_sklearn >= 5.0,
        hypergradient_over_inner=auto / hl_time, hypergradient_pass=auto / hl_time <= 1.5,
    )


def bench_design(name: str, spec: dict, repeats: int, budget: float) -> dict:
    """All measurements on one design, at every alpha of ALPHA_DIVISORS."""
    problem = make_problem(spec)
    X = problem["X"]
    print(f"== {name}: X {X.shape}", flush=True)
    warm_up_hypergradients(make_problem(spec, "small"))
    out = dict(shape=list(X.shape), nnz=int(getattr(X, "nnz", X.size)),
               n_val=int(problem["X_val"].shape[0]), alpha_max=problem["alpha_max"],
               alphas={})
    for divisor in ALPHA_DIVISORS:
        alpha = problem["alpha_max"] / divisor
        print(f"  alpha = alpha_max / {divisor}: inner solves", flush=True)
        entry = dict(alpha=alpha, inner=bench_inner(X, problem["y"], alpha, repeats))
        print("  hypergradients", flush=True)
        entry["hypergradient"] = bench_hypergradients(problem, alpha, repeats, budget)
        entry["backward_peak_mb"] = backward_peak_memory(problem, alpha)
        entry["targets"] = inner_targets(entry)
        out["alphas"][f"alpha_max/{divisor}"] = entry
    return out


# --------------------------------------------------------------------------- report

def versions() -> dict:
    """Versions of the libraries and of Python, cpu count and date."""
    import numba
    import scipy
    import skglm
    import sklearn

    return {
        "hyperlasso": hl.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__, "skglm": skglm.__version__,
        "numba": numba.__version__, "python": platform.python_version(),
        "cpu_count": os.cpu_count(), "platform": platform.platform(),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def git_state() -> dict:
    """Commit of the checkout and whether src/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else "unknown"

    return {"git_commit": git("rev-parse", "--short", "HEAD"),
            "src_dirty": bool(git("status", "--porcelain", "--", "src"))}


def fmt_time(seconds: float) -> str:
    """Seconds with 3 significant digits."""
    return f"{seconds:.3g} s"


def flag(ok: bool) -> str:
    """PASS or FAIL."""
    return "PASS" if ok else "FAIL"


def inner_table(results: dict) -> list[str]:
    """Markdown rows of the inner-solve comparison."""
    lines = [
        "| design | alpha | hyperlasso | skglm (tol) | scikit-learn | skglm / hl | "
        "no slower than skglm | sklearn / hl | >= 5x sklearn |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, design in results["designs"].items():
        for label, entry in design["alphas"].items():
            inner, tg = entry["inner"], entry["targets"]
            cells = [name, label]
            for key in ("hyperlasso", "skglm", "sklearn"):
                run = inner[key]
                tol = ""
                if key == "skglm":
                    outside = "" if run["tol_in_list"] else ", outside the list"
                    tol = f" (tol {run['tol']:.0e}{outside})"
                miss = "" if run["reached_target"] else " **gap not reached**"
                if not run.get("converged", True):
                    miss += " (ConvergenceWarning)"
                cells.append(f"{fmt_time(run['median'])}{tol}, gap {run['rel_gap']:.1e}"
                             f"{miss}")
            cells += [f"{tg['skglm_over_hyperlasso']:.2f}x", flag(tg["skglm_pass"]),
                      f"{tg['sklearn_over_hyperlasso']:.2f}x", flag(tg["sklearn_pass"])]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def hypergradient_table(results: dict) -> list[str]:
    """Markdown rows of the hypergradient methods."""
    lines = [
        "| design | alpha | method | median time | runs | / inner solve | gradient | "
        "rel. diff to polish | epochs |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, design in results["designs"].items():
        for label, entry in design["alphas"].items():
            inner = entry["inner"]["hyperlasso"]["median"]
            for method, run in entry["hypergradient"].items():
                runs = f"{len(run['times'])}" + (" (budget)" if run["skipped_repeats"]
                                                 else "")
                lines.append(
                    f"| {name} | {label} | {method} | {fmt_time(run['median'])} | {runs} "
                    f"| {run['median'] / inner:.2f} | {run['gradient']:.10g} | "
                    f"{run['rel_diff_to_polish']:.1e} | {run['n_epochs']} |")
    return lines


def summary_table(results: dict) -> list[str]:
    """Markdown rows: default hypergradient / inner solve, backward peak memory."""
    lines = [
        "| design | alpha | hyperlasso inner | auto hypergradient | ratio | "
        "<= 1.5x inner | backward peak memory |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, design in results["designs"].items():
        for label, entry in design["alphas"].items():
            tg = entry["targets"]
            lines.append(
                f"| {name} | {label} | {fmt_time(entry['inner']['hyperlasso']['median'])} "
                f"| {fmt_time(entry['hypergradient']['auto (polish)']['median'])} | "
                f"{tg['hypergradient_over_inner']:.2f} | {flag(tg['hypergradient_pass'])} "
                f"| {entry['backward_peak_mb']:.1f} MB |")
    return lines


def first_fit_table(results: dict) -> list[str]:
    """Markdown rows of the first fit in a new process."""
    lines = ["| library | import + fit (median) | whole process (median) | < 3 s |",
             "|---|---|---|---|"]
    for library, run in results["first_fit"].items():
        ok = flag(run["median"] < 3.0) if library == "hyperlasso" else "-"
        lines.append(f"| {library} | {fmt_time(run['median'])} | "
                     f"{fmt_time(run['process_median'])} | {ok} |")
    return lines


def _loadavg(meta: dict, when: str) -> str:
    values = meta.get(f"loadavg_{when}")
    return "n/a" if values is None else "/".join(f"{v:.2f}" for v in values)


def _pools(meta: dict) -> str:
    pools = meta.get("thread_pools", [])
    return ", ".join(f"{p['library']} {p['num_threads']}" for p in pools) or "n/a"


def write_markdown(results: dict, path: Path) -> None:
    """Readable report of ``results`` at ``path``."""
    meta = results["meta"]
    env = ", ".join(f"{k} {meta[k]}" for k in ("hyperlasso", "numpy", "scipy",
                                               "scikit-learn", "skglm", "numba", "python"))
    lines = [
        "# hyperlasso foundation benchmark", "",
        f"{meta['date']}; commit {meta.get('git_commit', 'n/a')}"
        f"{' (src modified)' if meta.get('src_dirty') else ''}; "
        f"{meta['cpu_count']} CPUs; {env}.",
        f"Load average (1, 5, 15 min) at start {_loadavg(meta, 'start')}, at end "
        f"{_loadavg(meta, 'end')}: other work on the machine distorts the timings.",
        f"BLAS/OpenMP threads: {meta.get('blas_threads') or 'library defaults'} "
        f"({_pools(meta)}).",
        f"Median over {meta['repeats']} runs after a warm-up call"
        f"{' (quick mode: small shapes)' if meta['quick'] else ''}. "
        f"gap = duality gap / P0, computed independently; target {TARGET_GAP:.0e}.", "",
        "## Inner solve (Lasso with intercept)", "", *inner_table(results), "",
        "## Default hypergradient vs inner solve", "", *summary_table(results), "",
        "## Hypergradient methods (HeldOutMSE on a validation set)", "",
        *hypergradient_table(results), "",
        f"## First fit in a new process ({FIRST_FIT_N} x {FIRST_FIT_P})", "",
        *first_fit_table(results), "",
        *cold_start_section(results),
    ]
    path.write_text("\n".join(lines))


def cold_start_section(results: dict) -> list[str]:
    if "cold_start" not in results:
        return []
    return ["## First run after installation (empty numba cache)", "",
            "Each job in a new process with `NUMBA_CACHE_DIR` set to a new empty "
            "folder, then again on the cache it wrote (median of "
            f"{len(next(iter(results['cold_start'].values()))['cold'])} fresh caches).",
            "", *cold_start_table(results), ""]


def write_cold_start_markdown(results: dict, path: Path) -> None:
    meta = results["meta"]
    lines = ["# hyperlasso: the first run after installation", "",
             f"{meta['date']}; commit {meta.get('git_commit', 'n/a')}"
             f"{' (src modified)' if meta.get('src_dirty') else ''}; "
             f"{meta['cpu_count']} CPUs; numba {meta['numba']}, python {meta['python']}; "
             f"load average at start {_loadavg(meta, 'start')}, at end "
             f"{_loadavg(meta, 'end')}. Command: `python benchmarks/bench_foundation.py "
             "--cold-start-only`.", "", *cold_start_section(results)]
    path.write_text("\n".join(lines))


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small shapes and 1 repeat; writes foundation_quick.*")
    parser.add_argument("--repeats", type=int, default=None,
                        help="timed runs per measurement (default 5, 1 with --quick)")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds above which a method is timed once only")
    parser.add_argument("--blas-threads", type=int, default=None,
                        help="limit BLAS/OpenMP threads (threadpoolctl); default: no "
                        "limit. Results go to foundation[_quick]_blasN.*")
    parser.add_argument("--cold-start-only", action="store_true",
                        help="only the first run after installation (empty numba "
                        "cache); writes foundation_cold_start.*")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown from the existing JSON, no runs")
    return parser.parse_args(argv)


def thread_pools() -> list[dict]:
    """The native thread pools (BLAS, OpenMP) loaded in this process, per threadpoolctl."""
    from threadpoolctl import threadpool_info

    return [{"api": info["internal_api"], "num_threads": info["num_threads"],
             "library": Path(info["filepath"]).name} for info in threadpool_info()]


def run_all(args: argparse.Namespace) -> dict:
    """Every measurement, under the requested BLAS/OpenMP thread limit."""
    from threadpoolctl import threadpool_limits

    repeats = args.repeats or (1 if args.quick else 5)
    if args.blas_threads:  # also for the first-fit subprocesses
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(args.blas_threads)
    with threadpool_limits(limits=args.blas_threads):
        results = {"meta": {**versions(), **git_state(), "quick": args.quick,
                            "repeats": repeats, "target_rel_gap": TARGET_GAP,
                            "budget_s": args.budget,
                            "blas_threads": args.blas_threads,
                            "loadavg_start": list(os.getloadavg())}}
        results["designs"] = {name: bench_design(name, spec, repeats, args.budget)
                              for name, spec in design_specs(args.quick).items()}
        results["meta"]["thread_pools"] = thread_pools()
        results["first_fit"] = bench_first_fit(1 if args.quick else 3)
        results["cold_start"] = bench_cold_start(1 if args.quick else 3)
    results["meta"]["loadavg_end"] = list(os.getloadavg())
    return results


def main(argv=None) -> dict:
    """Run the benchmark and write the JSON and Markdown reports."""
    args = parse_args(argv)
    if args.cold_start_only:
        results = {"meta": {**versions(), **git_state(),
                            "loadavg_start": list(os.getloadavg())},
                   "cold_start": bench_cold_start(1 if args.quick else 3)}
        results["meta"]["loadavg_end"] = list(os.getloadavg())
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / "foundation_cold_start"
        path.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        write_cold_start_markdown(results, path.with_suffix(".md"))
        print(path.with_suffix(".md").read_text())
        return results
    stem = "foundation_quick" if args.quick else "foundation"
    if args.blas_threads:
        stem += f"_blas{args.blas_threads}"
    if args.report_only:
        results = json.loads((RESULTS_DIR / f"{stem}.json").read_text())
    else:
        results = run_all(args)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, RESULTS_DIR / f"{stem}.md")
    print(f"wrote {RESULTS_DIR / stem}.json and .md")
    return results


if __name__ == "__main__":
    main()
