"""Reproduce the error study of Ye, Peyre, Cremers and Ablin (AISTATS 2024).

Panels: ridge with a linear outer, ridge with a quadratic (held-out) outer,
l2-logistic regression with a held-out logistic outer (the paper's three), plus
the Lasso and sparse logistic regression after support identification. Data are
generated with the paper's shapes (mpg 392 x 7, liver-disorders 145 x 5): its
LIBSVM files cannot be downloaded here. Writes ``results/ye2024.png`` (the
figure), ``results/ye2024.md`` and ``results/ye2024.json`` (fitted slopes).

    python benchmarks/reproduce_ye2024.py [--seeds 10]
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np

from hyperlasso import accuracy as acc
from hyperlasso.plotting import _pyplot, plot_error_study

RESULTS_DIR = Path(__file__).resolve().parent / "results"

PANELS = {
    "ridge, linear outer": functools.partial(acc.ridge_case, outer="linear"),
    "ridge, quadratic outer": functools.partial(acc.ridge_case, outer="quadratic"),
    "l2-logistic, held-out logistic": acc.logistic_case,
    "Lasso, held-out MSE (identified support)": acc.lasso_case,
    "sparse logistic, held-out logistic (identified support)": acc.sparse_logistic_case,
}


def run(seeds: int) -> dict:
    """Every panel's study over ``seeds`` seeds."""
    studies = {}
    for title, make_case in PANELS.items():
        start = time.perf_counter()
        studies[title] = acc.error_study(make_case, seeds=range(seeds))
        print(f"{title}: {time.perf_counter() - start:.1f} s", flush=True)
    return studies


def slope_table(studies: dict) -> list[str]:
    """Markdown: median [min, max] slope, median and max error per method."""
    lines = ["| panel | method | slope: median [min, max] | median error | max error |",
             "|---|---|---|---|---|"]
    for title, study in studies.items():
        for method in study.methods:
            slopes = study.slopes[method]
            finite = slopes[np.isfinite(slopes)]
            slope = (f"{np.median(finite):.2f} [{finite.min():.2f}, {finite.max():.2f}]"
                     if finite.size else "- (errors at round-off)")
            lines.append(f"| {title} | {method} | {slope} | "
                         f"{study.median_error(method):.1e} | "
                         f"{study.max_error(method):.1e} |")
    return lines


def write(studies: dict, seeds: int) -> None:
    """The figure, the Markdown table and the JSON."""
    RESULTS_DIR.mkdir(exist_ok=True)
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(studies), figsize=(5 * len(studies), 4.5))
    for ax, (title, study) in zip(axes, studies.items(), strict=True):
        plot_error_study(study, ax=ax, title=title)
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / "ye2024.png", dpi=90)
    header = [
        "# Hypergradient error vs inner error (Ye et al. 2024), reproduced", "",
        f"{seeds} seeds per panel; generated data of the paper's shapes (ridge 392 x 7 "
        "with penalties in U[3, 6] / 7, l2-logistic 145 x 5, Lasso 100 x 40 at "
        "alpha_max / 5, sparse logistic 145 x 20 at alpha_max / 4; correlated "
        "columns). Slopes: least squares of log10 error on log10 relative distance "
        f"over {acc.SMOOTH_FIT_RANGE} (smooth) or {acc.SPARSE_FIT_RANGE} "
        "(Lasso-type, identified iterates only), errors below "
        f"{acc.ERROR_FLOOR:g} dropped.", "",
        "Command: `python benchmarks/reproduce_ye2024.py`; figure: `ye2024.png`.", ""]
    (RESULTS_DIR / "ye2024.md").write_text("\n".join(header + slope_table(studies))
                                           + "\n")
    payload = {title: {"slopes": {m: s.tolist() for m, s in study.slopes.items()},
                       "median_error": {m: study.median_error(m) for m in study.methods},
                       "max_error": {m: study.max_error(m) for m in study.methods},
                       "notes": study.notes[:20]}
               for title, study in studies.items()}
    (RESULTS_DIR / "ye2024.json").write_text(json.dumps(payload, indent=1))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds per panel")
    args = parser.parse_args(argv)
    studies = run(args.seeds)
    write(studies, args.seeds)
    print("\n".join(slope_table(studies)))


if __name__ == "__main__":
    main()
