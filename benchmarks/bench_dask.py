"""Speed-up of folds and trials on a 2-worker local Dask cluster (issue 13).

Two jobs, each run with ``n_jobs=1`` (one process, in order) and inside
``joblib.parallel_backend("dask")`` on a ``LocalCluster`` of 2 worker processes
of one thread each, in the same run:

1. a 5-fold ``ElasticNetCV`` (L-BFGS on the hypergradient): the 5 folds of each
   evaluation run on the workers;
2. a 100-trial random search (``LassoCV(optimizer="random", max_iter=100)``,
   5 folds): the 500 (trial, fold) tasks run together, each from a cold start.

The design is correlated (Toeplitz 0.5), n x p as given. Each timing is the best
of ``--repeat`` runs after one warm-up run (which compiles the kernels in this
process and loads them from numba's cache in the workers). The table reports the
speed-up, whether ``alpha_`` is the same and the largest coefficient difference.

    python benchmarks/bench_dask.py            # full run (a few minutes)
    python benchmarks/bench_dask.py --quick    # small shape

Writes ``benchmarks/results/dask[_quick].json`` and ``.md``. Needs
``pip install "hyperlasso[dask]"``.
"""

from __future__ import annotations

import argparse
import time

import joblib
import numpy as np

import hyperlasso as hl
from bench_block_tuning import environment, save_report


def correlated_problem(n: int, p: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    X[:, 1:] = 0.5 * X[:, :-1] + np.sqrt(1 - 0.25) * X[:, 1:]  # neighbours correlated
    w = np.zeros(p)
    w[rng.choice(p, 20, replace=False)] = rng.standard_normal(20)
    y = X @ w + 0.5 * rng.standard_normal(n) * np.linalg.norm(X @ w) / np.sqrt(n)
    return X, y


JOBS = {
    "ElasticNetCV, 5 folds": lambda: hl.ElasticNetCV(cv=5),
    "random search, 100 trials x 5 folds": lambda: hl.LassoCV(
        cv=5, optimizer="random", max_iter=100),
}


def best_time(fit, repeat: int):
    times, est = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        est = fit()
        times.append(time.perf_counter() - start)
    return min(times), est


def run(n: int, p: int, repeat: int) -> dict:
    from distributed import Client, LocalCluster

    X, y = correlated_problem(n, p)
    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        for name, make in JOBS.items():
            def on_dask(make=make):
                with joblib.parallel_backend("dask", client=client):
                    return make().fit(X, y)

            def in_order(make=make):
                return make().fit(X, y)

            in_order(), on_dask()  # warm-up: compile here, load the cache there
            t_one, one = best_time(in_order, repeat)
            t_dask, dask = best_time(on_dask, repeat)
            rows.append({
                "job": name, "n_jobs=1 (s)": t_one, "dask 2 workers (s)": t_dask,
                "speed-up": t_one / t_dask,
                "same alpha_": bool(np.array_equal(one.alpha_, dask.alpha_)),
                "max |coef diff|": float(np.max(np.abs(one.coef_ - dask.coef_))),
                "evaluations": len(one.history_["value"]),
            })
            print(rows[-1], flush=True)
    import dask
    import distributed
    env = environment()
    env.update({"dask": dask.__version__, "distributed": distributed.__version__})
    return {"environment": env, "shape": [n, p], "repeat": repeat, "rows": rows}


def markdown(report: dict) -> str:
    env = report["environment"]
    n, p = report["shape"]
    lines = [
        "# Folds and trials on a 2-worker local Dask cluster",
        "",
        f"Design {n} x {p} (Toeplitz 0.5), best of {report['repeat']} runs after a "
        f"warm-up. hyperlasso {env['hyperlasso']} at {env['commit']}, dask "
        f"{env['dask']}, distributed {env['distributed']}, {env['cpu_count']} cores, "
        f"{env['date']}.",
        "",
        "| job | n_jobs=1 (s) | Dask, 2 workers (s) | speed-up | same alpha_ | "
        "max abs coef diff | evaluations |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['job']} | {row['n_jobs=1 (s)']:.2f} | {row['dask 2 workers (s)']:.2f}"
            f" | {row['speed-up']:.2f}x | {row['same alpha_']} | "
            f"{row['max |coef diff|']:.1e} | {row['evaluations']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    n, p = (200, 500) if args.quick else (500, 2000)
    report = run(n, p, 1 if args.quick else args.repeat)
    save_report("dask_quick" if args.quick else "dask", report, markdown)


if __name__ == "__main__":
    main()
