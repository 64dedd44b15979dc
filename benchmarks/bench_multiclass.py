"""Multiclass sparse logistic regression: hyperlasso's tuning (multinomial with an
l1 or a group penalty, and one-vs-rest) against scikit-learn's
``LogisticRegressionCV(penalty="l1", solver="saga", Cs=30)``.

All tune one penalty on the same 5 stratified folds of a training split and are
judged on the held-out log-loss and accuracy of the remaining 30 % of the
samples. scikit-learn's saga fits the multinomial loss (its default for more
than two classes) at its default tolerance (1e-4, max_iter 100: its
ConvergenceWarnings are counted, not silenced away). hyperlasso's contenders:
the multinomial loss with the l1 penalty (the same model as the peer's) and with
the group penalty across classes, tuned on the held-out log-loss of the softmax
probabilities, and K one-vs-rest binary problems tuned on the held-out log-loss
of their normalized probabilities (``HeldOutMulticlassLogLoss``).

Target (issue 12): >= 3x faster at equal held-out log-loss (within 1 %) on
digits and on a generated 10-class set with 2000 features.

    python benchmarks/bench_multiclass.py            # full run (about 20 minutes)
    python benchmarks/bench_multiclass.py --quick    # small shapes

Writes ``benchmarks/results/multiclass[_quick].json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.preprocessing import StandardScaler

import hyperlasso as hl
from bench_block_tuning import environment, save_report
from bench_svm import speed_and_verdict

#: Relative slack of "equal held-out log-loss".
EQUAL = 1e-2
TARGET_RATIO = 3.0
N_CS = 30


def digits():
    X, y = load_digits(return_X_y=True)
    return X, y


def generated(n: int, p: int):
    """10 classes, 50 informative features among ``p``, one cluster per class."""
    return make_classification(n_samples=n, n_features=p, n_informative=50,
                               n_redundant=0, n_classes=10, n_clusters_per_class=1,
                               class_sep=1.0, random_state=0)


PEER = f"LogisticRegressionCV saga Cs={N_CS}"


#: The multinomial contenders run on these data sets only: on the generated
#: 10-class set with 2000 features one solve at 3 % of alpha_max takes 127 s
#: (l1: 1540 non-zero entries, 2360 epochs) and 20 s (group: 6790 unknowns),
#: above the Newton finisher's 1000 unknowns; a search is then tens of minutes.
MULTINOMIAL_ON = ("digits", "digits (first 600)")


def _contenders(folds, name: str):
    def ours(**options):
        return lambda X, y: hl.SparseLogisticRegressionCV(cv=folds, **options).fit(X, y)

    def peer(X, y):
        return LogisticRegressionCV(Cs=N_CS, l1_ratios=(1.0,), solver="saga",
                                    cv=folds, scoring="neg_log_loss").fit(X, y)
    multinomial = [("hyperlasso multinomial l1", ours(multi_class="multinomial")),
                   ("hyperlasso multinomial group", ours(multi_class="multinomial",
                                                         penalty="group"))]
    return ((multinomial if name in MULTINOMIAL_ON else [])
            + [("hyperlasso one-vs-rest", ours(multi_class="ovr")), (PEER, peer)])


def _verdict(ours: dict, peer: dict) -> dict:
    ratio = peer["time"] / ours["time"]
    equal = ours["test_log_loss"] <= peer["test_log_loss"] * (1 + EQUAL)
    return {"speedup": ratio, "equal_or_better": bool(equal),
            "pass": bool(ratio >= TARGET_RATIO and equal)}


def bench(name: str, X, y, repeats: int) -> dict:
    X_train, X_test, y_train, y_test = train_test_split(
        StandardScaler().fit_transform(X), y, test_size=0.3, random_state=0, stratify=y)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X_train, y_train))
    runs = {}
    for label, fit in _contenders(folds, name):
        if label.startswith("hyperlasso"):  # untimed: compilation (saga compiles
            fit(X_train, y_train)  # nothing, and its 150 fits took minutes)
        times = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            for _ in range(repeats):
                start = time.perf_counter()
                estimator = fit(X_train, y_train)
                times.append(time.perf_counter() - start)
        proba = estimator.predict_proba(X_test)
        runs[label] = {
            "time": float(np.median(times)), "times": times,
            "test_log_loss": float(log_loss(y_test, proba, labels=estimator.classes_)),
            "test_accuracy": float(accuracy_score(y_test, estimator.predict(X_test))),
            "n_nonzero": int(np.count_nonzero(estimator.coef_)),
            "convergence_warnings": sum(issubclass(w.category, ConvergenceWarning)
                                        for w in caught)}
    for label, run in runs.items():
        if label != PEER:
            run.update(_verdict(run, runs[PEER]))
    return {"data": name, "shape": list(X.shape), "n_classes": int(np.unique(y).size),
            "runs": runs, "pass": any(run.get("pass", False) for run in runs.values())}


def markdown(report: dict) -> str:
    env = report["environment"]
    lines = ["# Multiclass sparse logistic regression: tuning benchmark", "",
             f"Commit {env['commit']} (uncommitted src changes: "
             f"{env['src_uncommitted_changes']}), {env['date']}; numpy {env['numpy']}, "
             f"scipy {env['scipy']}, scikit-learn {env['scikit-learn']}, Python "
             f"{env['python']}, {env['cpu_count']} CPUs; load average at start "
             f"{env['load_average_start'][0]:.2f}, at end "
             f"{report['load_average_end'][0]:.2f}.", "",
             "Standardized features; 70 % training (5 stratified folds, the same for "
             "both), 30 % test. Times: median of "
             f"{report['repeats']} timed run(s), hyperlasso's after an untimed one "
             "(compilation). Target: >= "
             f"{TARGET_RATIO:.0f}x faster at a test log-loss within {EQUAL:.0%} of the "
             "peer's or lower. The multinomial contenders run on digits only "
             "(``MULTINOMIAL_ON``: on the generated set one solve at 3 % of "
             "alpha_max takes 127 s with the l1 penalty).", "",
             "| data | shape | classes | contender | time (s) | test log-loss | "
             "test accuracy | non-zeros | ConvergenceWarnings | speed-up | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for result in report["results"]:
        for label, run in result["runs"].items():
            speed, verdict = (speed_and_verdict(run, "log-loss")
                              if label != PEER else ("", ""))
            lines.append(f"| {result['data']} | {result['shape'][0]} x "
                         f"{result['shape'][1]} | {result['n_classes']} | {label} | "
                         f"{run['time']:.2f} | {run['test_log_loss']:.4f} | "
                         f"{run['test_accuracy']:.4f} | {run['n_nonzero']} | "
                         f"{run['convergence_warnings']} | {speed} | {verdict} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        X, y = digits()
        cases = [("digits (first 600)", X[:600], y[:600]),
                 ("generated", *generated(600, 200))]
    else:
        cases = [("digits", *digits()), ("generated", *generated(1000, 2000))]
    report = {"environment": environment(), "repeats": args.repeats, "results": []}
    for name, X, y in cases:
        result = bench(name, X, y, args.repeats)
        report["results"].append(result)
        print(name + ": " + ", ".join(
            f"{label} {run['speedup']:.2f}x {run['test_log_loss']:.4f}"
            for label, run in result["runs"].items() if label != PEER), flush=True)
    save_report("multiclass_quick" if args.quick else "multiclass", report, markdown)


if __name__ == "__main__":
    main()
