"""Where the folds run: in order, in threads, or on a Dask cluster.

A fold task is a plain function ``task(fold, *args)`` that returns its result and
touches no shared state (the objective keeps the warm starts, in the calling
process), so the three ways give the same results.

- ``n_jobs`` of None or 1: in order, in this thread;
- ``n_jobs`` > 1 or -1: joblib threads (the numba kernels release the GIL);
- inside ``with joblib.parallel_backend("dask"):`` (or ``parallel_config``) and
  ``n_jobs`` not 1: on the cluster of that backend's client. The folds' data are
  scattered to every worker once, on the first evaluation, and each task ships
  only alpha and the fold's warm start. A search's trials run there together
  (``map_pairs``: one task per trial and fold, from cold starts). Warnings a
  task raises on a worker (an unconverged inner solver's ``ConvergenceWarning``)
  are raised again here. Dask
  reruns a task whose worker died; if the data it needs were lost with it, the
  folds are scattered again and the evaluation rerun once (the tasks are pure:
  same result); a second loss stops the run with a ``RuntimeError`` naming both,
  never with a wrong value.
"""

from __future__ import annotations

import warnings

from joblib import Parallel, delayed

from hyperlasso.inner.threads import single_threaded_blas


def active_dask_client():
    """The Dask client of the active joblib backend, or None (no Dask needed)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    if type(backend).__name__ != "DaskDistributedBackend":
        return None
    return backend.client


class FoldRunner:
    """Runs one task per fold, in order, in threads or on Dask.

    Parameters
    ----------
    folds : list
        The folds' data (anything picklable), passed first to every task.
    n_jobs : int or None
        As in scikit-learn: None means 1 unless a joblib backend is active.
    """

    def __init__(self, folds: list, n_jobs: int | None):
        self.folds = folds
        self.n_jobs = n_jobs
        self._scattered = None  # (client, futures of the folds) once on Dask

    def dask_client(self):
        """The client the tasks would run on, or None (threads or in order)."""
        return None if self.n_jobs == 1 else active_dask_client()

    def map(self, task, args: list[tuple], on_done=None) -> list:
        """``[task(fold_k, *args[k]) for k]``; ``on_done()`` after each task ends."""
        return self.map_pairs(task, list(enumerate(args)), on_done)

    def map_pairs(self, task, pairs: list[tuple], on_done=None) -> list:
        """``[task(folds[k], *args) for k, args in pairs]``, in the order of pairs."""
        client = self.dask_client()
        if client is not None:
            return self._on_dask(client, task, pairs, on_done)

        def run(k, arguments):
            result = task(self.folds[k], *arguments)
            if on_done is not None:
                on_done()
            return result

        if self.n_jobs in (None, 1) or len(pairs) == 1:
            return [run(k, arguments) for k, arguments in pairs]
        with single_threaded_blas():  # BLAS threads would compete with the folds'
            return Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(run)(k, arguments) for k, arguments in pairs)

    def _on_dask(self, client, task, pairs, on_done) -> list:
        """Run on the cluster; once more, data scattered again, if a worker died."""
        from concurrent.futures import CancelledError

        from distributed.scheduler import KilledWorker

        try:
            return self._submit_and_gather(client, task, pairs, on_done)
        except (CancelledError, KilledWorker) as first:
            self._scattered = None  # its data may have died with the worker
            try:
                return self._submit_and_gather(client, task, pairs, None)
            except (CancelledError, KilledWorker) as second:
                raise RuntimeError(
                    "the Dask cluster lost the folds' tasks twice (a worker died?): "
                    f"{type(first).__name__}: {first}; then {type(second).__name__}: "
                    f"{second}") from second

    def _submit_and_gather(self, client, task, pairs, on_done) -> list:
        from distributed import as_completed

        scattered = self._fold_futures(client)
        futures = [client.submit(_warnings_kept, task, scattered[k], *arguments,
                                 pure=False) for k, arguments in pairs]
        for _ in as_completed(futures):
            if on_done is not None:
                on_done()
        results = []
        for result, caught in client.gather(futures):
            for category, message in caught:
                warnings.warn(message, category, stacklevel=4)
            results.append(result)
        return results

    def _fold_futures(self, client) -> list:
        if self._scattered is None or self._scattered[0] is not client:
            folds = [_built(fold) for fold in self.folds]
            self._scattered = (client, client.scatter(folds, broadcast=True, hash=False))
        return self._scattered[1]


def _built(fold):
    """A fold as workers hold it: a ``RowFold`` (row indices into X) with its parts
    copied out, so that X itself is not shipped with every fold."""
    materialized = getattr(fold, "materialized", None)
    return fold if materialized is None else materialized()


def _warnings_kept(task, *args):
    """Run a task on a worker; return its result and the warnings it raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = task(*args)
    return result, [(w.category, str(w.message)) for w in caught]
