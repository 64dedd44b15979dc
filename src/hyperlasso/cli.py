"""The ``hyperlasso`` command: tune a sparse model on a data file or a bundled set.

    hyperlasso tune [DATA] --model lasso|enet|wlasso|logreg|svm|svr|glasso
                    --criterion cv|holdout|sure
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np

from hyperlasso import __version__
from hyperlasso.data_io import DataError, Dataset, is_numeric, load_data

MODELS = {"lasso": "LassoCV", "enet": "ElasticNetCV", "wlasso": "WeightedLassoCV",
          "logreg": "SparseLogisticRegressionCV", "glasso": "GraphicalLassoCV",
          "svm": "LinearSVCCV", "svr": "LinearSVRCV"}
#: Models whose target is a class label, and those tuned on C (their dual).
CLASSIFIERS = ("logreg", "svm")
DUAL_MODELS = ("svm", "svr")
DEFAULT_SHAPE = (500, 5000)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``hyperlasso``."""
    parser = argparse.ArgumentParser(
        prog="hyperlasso",
        description="Tune the penalties of sparse models by hypergradient descent.")
    parser.add_argument("--version", action="version", version=f"hyperlasso {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    tune = commands.add_parser(
        "tune", help="tune a model on DATA and report scores, a JSON file and a plot",
        description="Tune a model on DATA (CSV with a header, NPZ with arrays X and y, or "
                    "LIBSVM/svmlight). Without DATA, a generated high-dimensional "
                    f"regression set ({DEFAULT_SHAPE[0]} x {DEFAULT_SHAPE[1]}) is used. "
                    "A random 20%% of the samples is held out as a test set.")
    tune.add_argument("data", nargs="?", help="data file (.csv, .npz, .svm/.libsvm/"
                      ".svmlight/.txt); omit it to use the bundled default")
    tune.add_argument("--target", help="CSV: name of the target column (default: last)")
    tune.add_argument("--model", choices=sorted(MODELS), default="lasso",
                      help="lasso, enet (ElasticNet), wlasso (one penalty per feature), "
                           "logreg (sparse logistic regression), svm (linear SVM, "
                           "hinge loss, tuning C), svr (linear SVR, tuning C; see "
                           "--epsilon) or glasso (graphical lasso: DATA holds samples "
                           "in rows, every column a variable); default lasso")
    tune.add_argument("--criterion", choices=["cv", "holdout", "sure"], default="cv",
                      help="K-fold cross-validation (default), one hold-out split, or SURE")
    tune.add_argument("--cv", type=int, default=5, help="number of folds (default 5)")
    tune.add_argument("--sigma", type=float, help="noise level for SURE (estimated from "
                      "a cross-validated Lasso when omitted)")
    tune.add_argument("--epsilon", type=_epsilon, default=0.0,
                      help="svr: width of the insensitive tube, a number >= 0 in the "
                           "units of y, or 'tune' to tune it with C (default 0)")
    tune.add_argument("--multi-class", choices=["auto", "multinomial", "ovr"],
                      default="auto", help="logreg with more than two classes: the "
                      "multinomial loss or one-vs-rest (default auto: one-vs-rest for "
                      "--penalty l1, multinomial for group)")
    tune.add_argument("--penalty", choices=["l1", "group"], default="l1",
                      help="logreg: l1, or group (a feature in or out for every class; "
                           "multinomial, more than two classes); default l1")
    tune.add_argument("--optimizer", default="lbfgs",
                      choices=["lbfgs", "gd", "adam", "grid", "random", "tpe"],
                      help="outer optimizer (default lbfgs)")
    tune.add_argument("--max-iter", type=int, default=50,
                      help="outer iterations or trials (default 50)")
    tune.add_argument("--test-size", type=float, default=0.2,
                      help="fraction of samples held out for the test score (default 0.2)")
    tune.add_argument("--n-jobs", type=int, default=None, help="folds (SURE: its two inner "
                      "problems) in parallel threads")
    tune.add_argument("--json", dest="json_path", help="result file (default: "
                      "<data>-<model>-<criterion>.json in the current folder)")
    tune.add_argument("--png", dest="png_path", help="plot file (default: same name .png)")
    tune.add_argument("--no-plot", action="store_true", help="do not draw the PNG")
    tune.add_argument("--force", action="store_true", help="overwrite existing outputs")
    tune.add_argument("--quiet", action="store_true", help="no progress bar or lines")
    return parser


def _epsilon(text: str):
    """--epsilon: 'tune' or a finite number >= 0."""
    if text == "tune":
        return text
    try:
        value = float(text)
    except ValueError:
        value = np.nan
    if not (np.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number >= 0 or 'tune', got {text!r}")
    return value


def main(argv=None) -> int:
    """Entry point; returns the exit status (2 on a usage or data error)."""
    args = build_parser().parse_args(argv)
    try:
        return tune(args)
    except (DataError, ValueError, OSError, ImportError) as exc:
        print(f"hyperlasso: error: {exc}", file=sys.stderr)
        return 2


def tune(args) -> int:
    """Run ``hyperlasso tune``."""
    _check_options(args)
    json_path, png_path = _output_paths(args)
    if args.model == "glasso":
        from hyperlasso.cli_graphical import tune_graphical

        return tune_graphical(args, json_path, png_path)
    dataset = _dataset(args)
    print(f"data: {dataset.description}")
    X_train, X_test, y_train, y_test = _split(dataset, args)
    estimator = _estimator(args, X_train, y_train)
    start = time.perf_counter()
    estimator.fit(X_train, y_train)
    elapsed = time.perf_counter() - start
    report = _report(args, dataset, estimator, X_test, y_test, elapsed)
    _print_report(report)
    json_path.write_text(json.dumps(report, indent=2))
    print(f"wrote {json_path}")
    if png_path is not None:
        _plot(args, estimator, X_train, y_train, report, png_path)
        print(f"wrote {png_path}")
    return 0


def _check_options(args) -> None:
    """Refuse options that do not apply to the model, before any work."""
    if args.model in DUAL_MODELS and args.criterion == "sure":
        raise DataError(f"--criterion sure does not apply to {args.model}: use cv or "
                        "holdout.")
    if args.model != "svr" and args.epsilon != 0.0:
        raise DataError(f"--epsilon applies to svr only, not to {args.model}.")
    if args.model != "logreg" and (args.multi_class != "auto" or args.penalty != "l1"):
        raise DataError(f"--multi-class and --penalty apply to logreg only, not to "
                        f"{args.model}.")


def _output_paths(args):
    stem = pathlib.Path(args.data).stem if args.data else "default"
    json_path = pathlib.Path(args.json_path or f"{stem}-{args.model}-{args.criterion}.json")
    png_path = None if args.no_plot else pathlib.Path(
        args.png_path or json_path.with_suffix(".png"))
    for path in (json_path, png_path):
        if path is not None and path.exists() and not args.force:
            raise DataError(f"{path} exists; pass --force to overwrite it.")
        if path is not None and not path.parent.is_dir():
            raise DataError(f"{path.parent}: no such folder for the output {path.name}.")
    if png_path is not None and not _has_matplotlib():
        if args.png_path:  # asked for by name: refuse before any work
            raise DataError('the plot needs matplotlib: pip install "hyperlasso[plot]", '
                            "or pass --no-plot.")
        print('no plot: it needs matplotlib (pip install "hyperlasso[plot]").')
        png_path = None
    return json_path, png_path


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _dataset(args) -> Dataset:
    if args.data:
        dataset = load_data(args.data, args.target)
        if args.model not in CLASSIFIERS and not is_numeric(dataset.y):
            labels = ", ".join(repr(str(v)) for v in np.unique(dataset.y)[:3])
            raise DataError(f"{args.model} needs a numeric target; {args.data} holds "
                            f"class labels ({labels}, ...): use --model logreg or svm.")
        return dataset
    if args.model in CLASSIFIERS:
        raise DataError("the bundled default is a regression set; give DATA for "
                        f"{args.model}.")
    from hyperlasso.datasets import make_correlated_regression

    n, p = DEFAULT_SHAPE
    X, y, _ = make_correlated_regression(n_samples=n, n_features=p, random_state=0)
    return Dataset(X, y, [f"x{j}" for j in range(p)],
                   f"bundled default: generated regression, {n} samples x {p} features, "
                   "Toeplitz correlation 0.5, 20 true non-zeros, SNR 3, seed 0")


def _split(dataset: Dataset, args):
    from sklearn.model_selection import train_test_split

    if not 0 < args.test_size < 1:
        raise DataError(f"--test-size must be in (0, 1), got {args.test_size}.")
    stratify = dataset.y if args.model in CLASSIFIERS else None
    return train_test_split(dataset.X, dataset.y, test_size=args.test_size,
                            random_state=0, stratify=stratify)


def _estimator(args, X_train, y_train):
    import hyperlasso

    options = dict(criterion=args.criterion, cv=args.cv, optimizer=args.optimizer,
                   max_iter=args.max_iter, n_jobs=args.n_jobs, verbose=int(not args.quiet))
    if args.model == "svr":
        options["epsilon"] = args.epsilon
    if args.model == "logreg":
        options.update(multi_class=args.multi_class, penalty=args.penalty)
    if args.model not in (*CLASSIFIERS, *DUAL_MODELS):
        options["sigma"] = args.sigma
        if args.criterion == "sure" and args.sigma is None:
            from hyperlasso.estimators.noise import estimate_noise

            options["sigma"] = estimate_noise(X_train, y_train)
            print(f"sigma not given: {options['sigma']:.4g}, estimated from the residual "
                  "of a cross-validated Lasso (Reid et al. 2016)")
    return getattr(hyperlasso, MODELS[args.model])(**options)


def _report(args, dataset, estimator, X_test, y_test, elapsed) -> dict:
    alpha = np.asarray(estimator.alpha_)
    report = {
        "data": dataset.description, "model": MODELS[args.model],
        "criterion": args.criterion, "optimizer": args.optimizer,
        "alpha": alpha.tolist(), "validation_score": estimator.best_score_,
        "n_iter": estimator.n_iter_, "n_evaluations": len(estimator.history_["value"]),
        "time_seconds": elapsed, "n_nonzero": int(np.count_nonzero(estimator.coef_)),
        "n_features": int(np.size(estimator.coef_)),
        "history_value": estimator.history_["value"],
        "history_time": estimator.history_["time"],
        "cv_results": jsonable_results(estimator.cv_results_),
        "hyperlasso_version": __version__,
    }
    if args.model in DUAL_MODELS:
        report["C"] = float(estimator.C_)
    if args.model == "svr":
        report["epsilon"] = float(estimator.epsilon_)
    if args.model == "logreg":
        report.update(multi_class=estimator.multi_class_, penalty=args.penalty)
    report.update(_test_scores(args, estimator, X_test, y_test))
    return report


def jsonable_results(results: dict) -> dict:
    """``cv_results_`` as JSON: lists for arrays, null for NaN."""
    def plain(value):
        value = np.asarray(value)
        if value.dtype.kind == "f":
            return np.where(np.isnan(value), None, value).tolist()
        return value.tolist()
    return {key: [plain(v) for v in column] if key == "param_alpha" else plain(column)
            for key, column in results.items()}


def _test_scores(args, estimator, X_test, y_test) -> dict:
    if args.model == "svm":
        from sklearn.metrics import hinge_loss

        margins = estimator.decision_function(X_test)
        return {"test_hinge_loss": float(hinge_loss(y_test, margins,
                                                    labels=estimator.classes_)),
                "test_accuracy": float(estimator.score(X_test, y_test))}
    if args.model == "logreg":
        from sklearn.metrics import log_loss

        proba = estimator.predict_proba(X_test)
        return {"test_log_loss": float(log_loss(y_test, proba, labels=estimator.classes_)),
                "test_accuracy": float(estimator.score(X_test, y_test))}
    residual = y_test - estimator.predict(X_test)
    return {"test_mse": float(np.mean(residual**2)),
            "test_r2": float(estimator.score(X_test, y_test))}


def _print_report(report: dict) -> None:
    alpha = np.asarray(report["alpha"])
    shown = (f"{alpha:.6g}" if alpha.ndim == 0 else
             f"[{', '.join(f'{a:.6g}' for a in alpha)}]" if alpha.size <= 2 else
             f"{alpha.size} values, median {np.median(alpha):.4g}, range "
             f"[{alpha.min():.4g}, {alpha.max():.4g}]")
    print(f"model: {report['model']}   criterion: {report['criterion']}   "
          f"optimizer: {report['optimizer']}")
    print(f"alpha: {shown}")
    print(f"validation ({report['criterion']}) score: {report['validation_score']:.6g}")
    if "C" in report:
        tube = f"   epsilon: {report['epsilon']:.6g}" if "epsilon" in report else ""
        print(f"C: {report['C']:.6g}{tube}")
    for key in ("test_mse", "test_r2", "test_log_loss", "test_hinge_loss",
                "test_accuracy"):
        if key in report:
            print(f"{key.replace('_', ' ')}: {report[key]:.6g}")
    print(f"non-zero coefficients: {report['n_nonzero']} of {report['n_features']}")
    print(f"time: {report['time_seconds']:.2f} s ({report['n_evaluations']} evaluations)")


def _plot(args, estimator, X_train, y_train, report, png_path) -> None:
    from hyperlasso.plotting import plot_tuning

    alphas, values = criterion_path(estimator, X_train, y_train)
    title = f"{report['model']} tuned by {report['optimizer']} on {report['criterion']}"
    label = "C" if args.model in DUAL_MODELS else "alpha (l1 weight)"
    plot_tuning(alphas, values, estimator.history_, estimator.coef_, title, png_path,
                xlabel=label)


def criterion_path(estimator, X, y, n_points: int = 25):
    """The estimator's criterion on a grid of l1 weights (the l2 weight at its tuned
    value for the ElasticNet; the scalar Lasso for one penalty per feature), or of C
    over its search bounds for the SVM and the SVR (epsilon at its tuned value)."""
    from hyperlasso.criteria import make_objective
    from hyperlasso.hypergradients import Settings
    from hyperlasso.inner.problem import Design

    model = estimator._model()
    if model.layout == "per_unit":  # the path of the single-penalty stage
        model = estimator._stage_model()
    if getattr(model, "class_indices", False):  # the target is the class index
        y = np.searchsorted(estimator.classes_, y)
    y_model = model.check_target(y)
    X = X.astype(np.float64)
    objective = make_objective(estimator.criterion, model, X, y_model,
                               Settings(tol=estimator.tol), cv=estimator.cv,
                               sigma=getattr(estimator, "sigma", None))
    grid = _path_grid(model, Design.of(X, model.fit_intercept), y_model, n_points)
    if model.layout in ("l1_l2", "svr"):
        l2 = float(np.asarray(estimator.alpha_)[1])
        values = [objective.value(np.array([a, l2])).value for a in grid]
    else:
        values = [objective.value(float(a)).value for a in grid]
    return grid, np.array(values)


def _path_grid(model, design, y, n_points: int) -> np.ndarray:
    """alpha_max down to alpha_max / 1000, or C across its default search bounds."""
    if model.layout in ("svm", "svr"):  # tuned on C (and epsilon)
        from hyperlasso.hyperparameters import default_space

        low, high = np.exp(default_space(model, design, y).bounds[0])
        return np.geomspace(low, high, n_points)
    amax = float(np.max(model.alpha_max(design, y)))
    return np.geomspace(amax, amax * 1e-3, n_points)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
