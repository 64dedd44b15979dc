"""What a tuning run shows while it runs: a progress bar, or one line per evaluation.

``verbose=1`` draws a tqdm bar (the optional extra ``hyperlasso[progress]``) over
the outer evaluations, its postfix the criterion, the best value so far, the mean
support size and the folds done in the running evaluation; without tqdm, and
with ``verbose >= 2``, one line per evaluation goes to stderr instead.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class Progress:
    """Reports outer evaluations (a ``Recorder`` callback) and folds as they end.

    Parameters
    ----------
    who : str
        Shown first: the estimator and the model (or stage).
    verbose : int
        1: a bar when tqdm is installed, else lines; 2 or more: lines.
    total : int or None
        Evaluations expected (searches know it; first-order methods do not).
    n_folds : int or None
        Folds per evaluation, shown as "folds k/K" while an evaluation runs.
    """

    def __init__(self, who: str, verbose: int, total: int | None = None,
                 n_folds: int | None = None):
        self.who = who
        self.n_folds = n_folds
        self.start = time.perf_counter()
        self.best = float("inf")
        self._folds_done = 0
        self._lock = threading.Lock()
        tqdm = _tqdm() if verbose == 1 else None
        self.bar = None if tqdm is None else tqdm(total=total, desc=who, unit="eval",
                                                  file=sys.stderr, leave=True)
        self._postfix = ""
        self._shown = 0.0  # when a fold last refreshed the bar

    def __call__(self, n_eval: int, theta, evaluation) -> None:
        """Called after each evaluation with its number, point and Evaluation."""
        self.best = min(self.best, float(evaluation.value))
        with self._lock:
            self._folds_done = 0
        support = getattr(evaluation, "support_size", float("nan"))
        if self.bar is None:
            print(f"[{self.who}] evaluation {n_eval}: criterion {evaluation.value:.6g}, "
                  f"mean |support| {support:.1f}, "
                  f"{time.perf_counter() - self.start:.2f} s", file=sys.stderr)
            return
        self._postfix = (f"criterion={evaluation.value:.6g} best={self.best:.6g} "
                         f"support={support:.1f}")
        self.bar.set_postfix_str(self._postfix, refresh=False)
        self.bar.update(1)

    def fold_done(self) -> None:
        """Called by the objective as each fold's inner problem ends (any thread)."""
        if self.bar is None or not self.n_folds or self.n_folds < 2:
            return
        with self._lock:
            self._folds_done += 1
            done = self._folds_done
        self.bar.set_postfix_str(f"{self._postfix} folds={done}/{self.n_folds}".strip(),
                                 refresh=False)
        now = time.perf_counter()
        if now - self._shown > self.bar.mininterval:  # no redraw storm on fast folds
            self._shown = now
            self.bar.refresh()

    def close(self) -> None:
        """End the bar (lines need no closing)."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_for(verbose: int, who: str, objective, optimizer, n_hyperparameters: int):
    """A ``Progress`` wired to the objective's folds, or a null context (silent).

    Use as ``with progress_for(...) as callback`` and pass ``callback`` to the
    optimizer (None when silent).
    """
    if not verbose:
        return contextlib.nullcontext()
    folds = getattr(objective, "folds", None)
    progress = Progress(who, int(verbose),
                        total=expected_evaluations(optimizer, n_hyperparameters),
                        n_folds=None if folds is None else len(folds))
    if hasattr(objective, "on_fold_done"):
        objective.on_fold_done = progress.fold_done
    return progress


def expected_evaluations(optimizer, n_hyperparameters: int) -> int | None:
    """Evaluations a search will make (None for first-order optimizers)."""
    from hyperlasso.outer.search import GridSearch, RandomSearch, TPESearch

    if isinstance(optimizer, GridSearch):
        return optimizer.n_points ** n_hyperparameters
    if isinstance(optimizer, (RandomSearch, TPESearch)):
        return optimizer.max_iter
    return None
