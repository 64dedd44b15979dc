"""Which penalty should the graphical lasso be refit with after cross-validation?

K-fold cross-validation tunes the penalty of an estimator fitted on n (K - 1) / K
samples; the final estimator is fitted on all n. This study measures, on generated
problems of several shapes, the penalty that minimizes the test NLL of the refit
(the oracle) relative to the cross-validated one, for the two held-out criteria
(validation covariance with ddof = 0, scikit-learn's, or ddof = 1, unbiased), and
the test NLL of three refits:

- "sklearn-like": ddof = 0, refit at the cross-validated penalty (scikit-learn's
  GraphicalLassoCV, with the exact optimum of its criterion);
- "ddof=1, cv": the unbiased criterion, refit at its cross-validated penalty;
- "default": the unbiased criterion, refit at cv_alpha * sqrt(n (K - 1) / K / n),
  hyperlasso's GraphicalLassoCV defaults.

    python benchmarks/study_graphical_refit.py                # 20 draws a setting, 1.5 min
    python benchmarks/study_graphical_refit.py --draws 2      # smoke run
    python benchmarks/study_graphical_refit.py --report-only  # the .md from the .json

Writes results/graphical_refit.{json,md}.
"""

from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import time

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.datasets import make_sparse_spd_matrix
from sklearn.model_selection import KFold

import hyperlasso as hl
from hyperlasso.datasets import make_random_graph_precision
from hyperlasso.inner.graphical import empirical_covariance, solve_graphical

RESULTS = pathlib.Path(__file__).parent / "results"
N_TEST = 20_000


def chain_precision(p: int, rng) -> np.ndarray:
    """Tridiagonal precision: 2 on the diagonal, 0.6 next to it."""
    del rng
    return 2 * np.eye(p) + 0.6 * (np.eye(p, k=1) + np.eye(p, k=-1))


def random_graph_precision(p: int, rng) -> np.ndarray:
    """Random graph, about 3 edges per node, weights +-U(0.2, 0.5)."""
    return make_random_graph_precision(p, 3.0, (0.2, 0.5), 0.3, random_state=rng)


def benchmark_precision(p: int, rng) -> np.ndarray:
    """The generator of bench_graphical.py (about 2 edges per node)."""
    return make_random_graph_precision(p, random_state=rng)


def sklearn_precision(p: int, rng) -> np.ndarray:
    """scikit-learn's make_sparse_spd_matrix (alpha = 0.95: mostly zeros)."""
    return make_sparse_spd_matrix(p, alpha=0.95, smallest_coef=0.3, largest_coef=0.7,
                                  random_state=int(rng.integers(2**31)))


GENERATORS = {"chain": chain_precision, "random graph": random_graph_precision,
              "benchmark graph": benchmark_precision, "make_sparse_spd": sklearn_precision}
#: (generator, p, n, folds): n < p, n ~ p and n >> p; 3, 5 and 10 folds.
SETTINGS = [("chain", 20, 80, 3), ("chain", 20, 80, 5), ("chain", 20, 80, 10),
            ("chain", 20, 1000, 5), ("make_sparse_spd", 30, 60, 5),
            ("random graph", 50, 100, 10), ("random graph", 50, 500, 5),
            ("random graph", 100, 100, 3), ("benchmark graph", 100, 200, 5)]


def one_draw(generator: str, p: int, n: int, folds: int, seed: int) -> dict:
    """Cross-validated penalties (ddof 0 and 1), the oracle and the refits' test NLL."""
    rng = np.random.default_rng(seed)
    precision = GENERATORS[generator](p, rng)
    covariance = np.linalg.inv(precision)
    X = rng.multivariate_normal(np.zeros(p), covariance, size=n)
    test = hl.HeldOutGaussianNLL(rng.multivariate_normal(np.zeros(p), covariance,
                                                         size=N_TEST))
    S, mask = empirical_covariance(X), 1.0 - np.eye(p)

    def test_nll(alpha: float) -> float:
        return test.value(solve_graphical(S, alpha * mask, tol=1e-8).precision)

    row = {"seed": seed}
    scale = np.sqrt((folds - 1) / folds)
    for ddof in (0, 1):
        cv_alpha = float(hl.GraphicalLassoCV(cv=KFold(folds), validation_ddof=ddof,
                                             refit_alpha="cv").fit(X).cv_alpha_)
        oracle = minimize_scalar(lambda r, a=cv_alpha: test_nll(a * np.exp(r)),
                                 bounds=(np.log(0.3), np.log(2.0)), method="bounded",
                                 options={"xatol": 2e-3})
        row[f"ddof{ddof}"] = {"cv_alpha": cv_alpha, "oracle_ratio": float(np.exp(oracle.x)),
                              "oracle_nll": float(oracle.fun), "cv_nll": test_nll(cv_alpha),
                              "rescaled_nll": test_nll(cv_alpha * scale)}
    return row


def summary(setting: tuple, draws: list[dict]) -> dict:
    """Per setting: oracle ratios against sqrt((K - 1) / K), and paired test NLL
    differences of the default refit against the two others (mean, standard error,
    draws where the default is lower)."""
    folds = setting[3]

    def paired(a: str, b: str) -> dict:
        diff = np.array([_nll(d, a) - _nll(d, b) for d in draws])
        return {"mean": float(diff.mean()),
                "se": float(diff.std(ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.,
                "lower": int(np.sum(diff < 0)), "n": len(diff)}

    ratios = {d: float(np.exp(np.mean([np.log(r[f"ddof{d}"]["oracle_ratio"])
                                       for r in draws]))) for d in (0, 1)}
    return {"setting": list(setting), "rate": float(np.sqrt((folds - 1) / folds)),
            "oracle_ratio_ddof0": ratios[0], "oracle_ratio_ddof1": ratios[1],
            "default_vs_sklearn_like": paired("default", "sklearn-like"),
            "default_vs_ddof1_cv": paired("default", "ddof=1, cv"),
            "oracle_vs_default": paired("oracle", "default")}


def _nll(draw: dict, refit: str) -> float:
    return {"sklearn-like": draw["ddof0"]["cv_nll"], "ddof=1, cv": draw["ddof1"]["cv_nll"],
            "default": draw["ddof1"]["rescaled_nll"],
            "oracle": draw["ddof1"]["oracle_nll"]}[refit]


def markdown(results: dict) -> str:
    """The summary table."""
    lines = ["# Graphical lasso: the refit penalty after cross-validation", "",
             f"{results['date']}; hyperlasso {hl.__version__}; {results['n_draws']} draws "
             f"per setting, {N_TEST} test samples; {results['seconds']:.0f} s. Command: "
             "`python benchmarks/study_graphical_refit.py`.", "",
             "Oracle ratio: test-optimal refit penalty / cross-validated penalty "
             "(geometric mean over draws), next to the fold-size rate sqrt((K-1)/K). "
             "Differences: test NLL of the default (ddof = 1, rescaled refit) minus the "
             "other, mean +- standard error over draws, and on how many draws the "
             "default is lower.", "",
             "| generator | p | n | K | rate | oracle ratio, ddof=0 | oracle ratio, "
             "ddof=1 | default - (ddof=0, cv): scikit-learn's choices | default - "
             "(ddof=1, cv) | oracle - default |",
             "|---|---|---|---|---|---|---|---|---|---|"]

    def cell(d: dict) -> str:
        return f"{d['mean']:+.4f} +- {d['se']:.4f} ({d['lower']}/{d['n']})"

    for s in results["summary"]:
        g, p, n, k = s["setting"]
        lines.append(f"| {g} | {p} | {n} | {k} | {s['rate']:.3f} | "
                     f"{s['oracle_ratio_ddof0']:.3f} | {s['oracle_ratio_ddof1']:.3f} | "
                     f"{cell(s['default_vs_sklearn_like'])} | "
                     f"{cell(s['default_vs_ddof1_cv'])} | "
                     f"{cell(s['oracle_vs_default'])} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=20, help="draws per setting")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite the Markdown from the existing JSON")
    args = parser.parse_args()
    if args.report_only:
        results = json.loads((RESULTS / "graphical_refit.json").read_text())
        (RESULTS / "graphical_refit.md").write_text(markdown(results))
        print(markdown(results))
        return
    start = time.perf_counter()
    runs = []
    for setting in SETTINGS:
        draws = [one_draw(*setting, seed=1000 + k) for k in range(args.draws)]
        runs.append({"setting": list(setting), "draws": draws})
        print(json.dumps(summary(setting, draws)), flush=True)
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
               "n_draws": args.draws, "seconds": time.perf_counter() - start,
               "summary": [summary(tuple(r["setting"]), r["draws"]) for r in runs],
               "runs": runs}
    stem = "graphical_refit" if args.draws >= 20 else "graphical_refit_quick"
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(results, indent=2))
    (RESULTS / f"{stem}.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
