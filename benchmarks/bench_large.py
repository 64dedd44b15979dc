"""Tuning on a design of E2006-log1p's shape: time and peak memory (issue 13).

The design is ``hyperlasso.datasets.make_e2006_like_regression``: 16,087 x
4,272,227, about 9.1e7 stored entries, log1p TF-IDF-like values (1.1 GB as CSC).
It is drawn once, in a child process, and saved to a temporary directory; every
job then runs in a fresh process that

1. imports its library and fits once on a small design of the same kind (numba
   compiles or loads its cache there: compilation is not in the timings);
2. loads X and y, then resets the kernel's peak-RSS counter (``/proc/self/clear_refs``);
3. fits, and reports the time and the peak resident memory of the fit.

Memory is reported as the peak RSS of the fit minus the RSS before X was loaded
(the interpreter, the libraries and the compiled code), against the bytes of X
(``data + indices + indptr``); the goal is below 3x. The jobs: ``LassoCV`` and
``WeightedLassoCV`` of hyperlasso with ``criterion="holdout"`` and 5-fold CV,
and scikit-learn's ``LassoCV(cv=5)`` with its defaults on the same design, stopped
after ``--sklearn-timeout`` seconds if it has not finished.

    python benchmarks/bench_large.py                 # full shape (about 30 minutes)
    python benchmarks/bench_large.py --quick         # 1/100 of the features

Writes ``benchmarks/results/large[_quick].json`` and ``.md``. Linux only (reads
``/proc``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_block_tuning import environment, save_report
from hyperlasso.criteria.splits import matrix_bytes

JOBS = {
    "hyperlasso LassoCV, holdout": ("hyperlasso", "LassoCV", "holdout"),
    "hyperlasso LassoCV, 5-fold CV": ("hyperlasso", "LassoCV", "cv"),
    "hyperlasso WeightedLassoCV, holdout": ("hyperlasso", "WeightedLassoCV", "holdout"),
    "hyperlasso WeightedLassoCV, 5-fold CV": ("hyperlasso", "WeightedLassoCV", "cv"),
    "scikit-learn LassoCV, 5-fold CV": ("sklearn", "LassoCV", "cv"),
}
MEMORY_GOAL = 3.0


# ------------------------------------------------------------------ child processes

def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def _reset_peak_rss() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _estimator(library: str, name: str, criterion: str):
    if library == "sklearn":
        from sklearn.linear_model import LassoCV
        return LassoCV(cv=5)
    import hyperlasso as hl
    return getattr(hl, name)(criterion=criterion, cv=5)


def _summary(library: str, est) -> dict:
    coef = np.asarray(est.coef_)
    alpha = np.asarray(est.alpha_, dtype=float)
    out = {"support": int(np.count_nonzero(coef)),
           "alpha": float(alpha) if alpha.ndim == 0 else float(np.median(alpha))}
    if library == "hyperlasso":
        out["evaluations"] = len(est.history_["value"])
        out["criterion"] = float(est.best_score_)
    else:
        out["evaluations"] = int(est.mse_path_.size)
        out["criterion"] = float(np.min(est.mse_path_.mean(axis=1)))
    return out


def child_job(job: str, data: Path) -> dict:
    """Warm up, load the design, fit; time and peak memory (run in its own process)."""
    from hyperlasso.datasets import make_e2006_like_regression

    library, name, criterion = JOBS[job]
    X_small, y_small, _ = make_e2006_like_regression(500, 5000, density=0.01)
    _estimator(library, name, criterion).fit(X_small, y_small)
    rss_before = _status_kib("VmRSS") * 1024
    X = _load_design(data)
    y = np.load(data / "y.npy")
    x_bytes = matrix_bytes(X)
    rss_loaded = _status_kib("VmRSS") * 1024
    reset = _reset_peak_rss()
    start = time.perf_counter()
    est = _estimator(library, name, criterion).fit(X, y)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM") * 1024
    return {"job": job, "time (s)": seconds, "x_bytes": x_bytes, "peak_rss": peak,
            "rss_before_load": rss_before, "rss_after_load": rss_loaded,
            "peak_reset": reset,
            "memory / X": (peak - rss_before) / x_bytes, **_summary(library, est)}


def _load_design(data: Path):
    """X from its three arrays (``np.load`` of a file reads in place: no transient
    copy, unlike a member of an ``.npz`` archive)."""
    from scipy import sparse

    arrays = [np.load(data / f"X_{name}.npy") for name in ("data", "indices", "indptr")]
    return sparse.csc_matrix(tuple(arrays), shape=tuple(np.load(data / "X_shape.npy")),
                             copy=False)


def child_generate(scale: float, out: Path) -> dict:
    from hyperlasso.datasets import E2006_SHAPE, make_e2006_like_regression

    start = time.perf_counter()
    X, y, _ = make_e2006_like_regression(n_features=int(round(scale * E2006_SHAPE[1])))
    seconds = time.perf_counter() - start
    for name in ("data", "indices", "indptr"):
        np.save(out / f"X_{name}.npy", getattr(X, name))
    np.save(out / "X_shape.npy", np.array(X.shape))
    np.save(out / "y.npy", y)
    return {"shape": list(X.shape), "nnz": int(X.nnz), "generation (s)": seconds,
            "x_bytes": matrix_bytes(X)}


# ------------------------------------------------------------------ the parent

def _run_child(args: list[str], timeout: float) -> dict | None:
    """Run this script as a child; its last stdout line is JSON (None on timeout)."""
    try:
        done = subprocess.run([sys.executable, __file__, *args], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(scale: float, timeout: float, sklearn_timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="hyperlasso-large-") as tmp:
        design = _run_child(["--child-generate", tmp, "--scale", str(scale)], 3600)
        print(design, flush=True)
        rows = []
        for job, (library, _, _) in JOBS.items():
            limit = sklearn_timeout if library == "sklearn" else timeout
            row = _run_child(["--child-job", job, tmp], limit)
            if row is None:
                row = {"job": job, "timed out after (s)": limit}
            rows.append(row)
            print(row, flush=True)
    env = environment()
    import sklearn
    env["scikit-learn"] = sklearn.__version__
    return {"environment": env, "scale": scale, "design": design, "rows": rows,
            "timeout": timeout, "sklearn_timeout": sklearn_timeout}


def _gb(x: float) -> str:
    return f"{x / 1e9:.2f}"


def markdown(report: dict) -> str:
    env, design = report["environment"], report["design"]
    n, p = design["shape"]
    lines = [
        "# Tuning on a design of E2006-log1p's shape",
        "",
        f"X: {n} x {p}, {design['nnz']:,} stored entries, {_gb(design['x_bytes'])} GB "
        f"(CSC), drawn in {design['generation (s)']:.0f} s by "
        "`make_e2006_like_regression`. hyperlasso "
        f"{env['hyperlasso']} at {env['commit']}, scikit-learn {env['scikit-learn']}, "
        f"{env['cpu_count']} cores, {env['date']}. Command: "
        "`python benchmarks/bench_large.py" + (" --quick`" if report["scale"] < 1 else "`")
        + ".",
        "",
        "Memory: peak RSS of the fit minus the RSS before X was loaded, over the bytes "
        f"of X (goal below {MEMORY_GOAL:g}x); compilation is done before the timing.",
        "",
        "| job | time (s) | memory / X | peak RSS (GB) | alpha_ (median) | support | "
        "evaluations | criterion |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        if "timed out after (s)" in row:
            lines.append(f"| {row['job']} | did not finish in "
                         f"{row['timed out after (s)']:.0f} s | - | - | - | - | - | - |")
            continue
        verdict = "PASS" if row["memory / X"] < MEMORY_GOAL else "FAIL"
        lines.append(
            f"| {row['job']} | {row['time (s)']:.1f} | {row['memory / X']:.2f}x "
            f"{verdict} | {_gb(row['peak_rss'])} | {row['alpha']:.3g} | "
            f"{row['support']} | {row['evaluations']} | {row['criterion']:.4g} |")
    lines += ["", "The criterion is the held-out or CV mean squared error at "
              "alpha_ (scikit-learn: its best mean path MSE); scikit-learn's "
              "evaluations are its (alpha, fold) fits."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1/100 of the features")
    parser.add_argument("--scale", type=float, default=None,
                        help="fraction of E2006-log1p's features (default 1)")
    parser.add_argument("--timeout", type=float, default=2400.0,
                        help="seconds allowed to each hyperlasso job")
    parser.add_argument("--sklearn-timeout", type=float, default=600.0)
    parser.add_argument("--child-generate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-job", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    scale = args.scale if args.scale is not None else (0.01 if args.quick else 1.0)
    if args.child_generate is not None:
        print(json.dumps(child_generate(scale, args.child_generate)))
        return
    if args.child_job is not None:
        print(json.dumps(child_job(args.child_job[0], Path(args.child_job[1]))))
        return
    report = run(scale, args.timeout, args.sklearn_timeout)
    save_report("large_quick" if scale < 1 else "large", report, markdown)


if __name__ == "__main__":
    main()
