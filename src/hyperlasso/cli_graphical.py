"""``hyperlasso tune DATA --model glasso``: a sparse precision matrix, tuned."""

from __future__ import annotations

import json
import time

import numpy as np

from hyperlasso import __version__
from hyperlasso.cli import jsonable_results
from hyperlasso.data_io import DataError, load_samples


def tune_graphical(args, json_path, png_path) -> int:
    """Tune GraphicalLassoCV on the samples of ``args.data`` (rows)."""
    from sklearn.model_selection import train_test_split

    from hyperlasso import GraphicalLassoCV, HeldOutGaussianNLL

    if not args.data:
        raise DataError("the bundled default is a regression set; give DATA (samples in "
                        "rows) for glasso.")
    if args.criterion != "cv" or args.optimizer in ("grid", "tpe"):
        raise DataError("glasso supports --criterion cv and the optimizers lbfgs, gd, "
                        "adam and random.")
    dataset = load_samples(args.data)
    print(f"data: {dataset.description}")
    X_train, X_test = train_test_split(dataset.X, test_size=args.test_size, random_state=0)
    estimator = GraphicalLassoCV(cv=args.cv, optimizer=args.optimizer,
                                 max_iter=args.max_iter, n_jobs=args.n_jobs)
    start = time.perf_counter()
    estimator.fit(X_train)
    elapsed = time.perf_counter() - start
    edges = int((np.count_nonzero(estimator.precision_) - X_train.shape[1]) // 2)
    report = {
        "data": dataset.description, "model": "GraphicalLassoCV", "criterion": "cv",
        "optimizer": args.optimizer, "alpha": np.asarray(estimator.alpha_).tolist(),
        "cv_alpha": np.asarray(estimator.cv_alpha_).tolist(),
        "validation_nll": estimator.best_score_,
        "test_nll": HeldOutGaussianNLL(X_test).value(estimator.precision_),
        "n_edges": edges, "time_seconds": elapsed,
        "history_value": estimator.history_["value"],
        "cv_results": jsonable_results(estimator.cv_results_),
        "hyperlasso_version": __version__,
    }
    print(f"alpha: {report['alpha']} (cross-validated {report['cv_alpha']}, rescaled to "
          f"{X_train.shape[0]} samples)\nvalidation NLL: {report['validation_nll']:.6g}\n"
          f"test NLL: {report['test_nll']:.6g}\nedges: {edges}\ntime: {elapsed:.2f} s")
    json_path.write_text(json.dumps(report, indent=2))
    print(f"wrote {json_path}")
    if png_path is not None:
        _plot(estimator, png_path)
        print(f"wrote {png_path}")
    return 0


def _plot(estimator, png_path) -> None:
    from hyperlasso.plotting import _pyplot

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    left.plot(estimator.history_["value"], "o-", ms=3)
    left.set_xlabel("evaluation")
    left.set_ylabel("mean held-out NLL")
    image = right.imshow(np.abs(estimator.precision_), cmap="viridis")
    right.set_title("|precision|")
    fig.colorbar(image, ax=right)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
