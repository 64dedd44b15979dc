"""Per-evaluation vectors of many hyperparameters, kept in O(entries that differ).

A weighted Lasso on 4,272,227 features has one penalty per feature: a history of
60 evaluations holding theta and the gradient as dense rows would take 4 GB, four
times its design. Yet each row is one value almost everywhere (theta moves only
where a feature entered a support; the gradient is zero off the support, NaN for a
zero-order evaluation; the Lasso stage's penalty is one value broadcast), so a row
is kept as that fill value and the entries that differ from it. Rows of fewer than
``COMPACT_FROM`` entries stay plain arrays in a list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

#: Rows of at least this many entries (0.8 MB as float64) are kept compact.
COMPACT_FROM = 100_000


def _differs(row: np.ndarray, fill: float) -> np.ndarray:
    """Mask of the entries other than ``fill`` (NaN counts as equal to NaN)."""
    if np.isnan(fill):
        return ~np.isnan(row)
    return row != fill


class CompactRows(Sequence):
    """A sequence of arrays of one shape, each a fill value and its exceptions.

    Indexing returns a new dense array (a copy); iteration builds one row at a
    time, so a loop over the rows needs the memory of one.

    Parameters
    ----------
    rows : iterable of ndarray, optional
        Initial rows, all of the same shape.
    """

    def __init__(self, rows: Iterable[np.ndarray] = ()):
        self._shape: tuple | None = None
        self._rows: list[tuple[float, np.ndarray, np.ndarray]] = []
        for row in rows:
            self.append(row)

    def append(self, row) -> None:
        """Add a row (copied in compact form)."""
        row = np.asarray(row, dtype=float)
        if self._shape is None:
            self._shape = row.shape
        elif row.shape != self._shape:
            raise ValueError(f"rows must all have shape {self._shape}, got {row.shape}.")
        flat = row.ravel()
        fill = self._best_fill(flat)
        where = np.flatnonzero(_differs(flat, fill))
        self._rows.append((fill, where, flat[where].copy()))

    def _best_fill(self, flat: np.ndarray) -> float:
        """The candidate value (first entry, 0, the last row's fill) most entries hold."""
        candidates = [float(flat[0]), 0.0] if flat.size else [0.0]
        if self._rows:
            candidates.append(self._rows[-1][0])
        counts = [np.count_nonzero(_differs(flat, c)) for c in candidates]
        return candidates[int(np.argmin(counts))]

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, k):
        if isinstance(k, slice):
            out = CompactRows()
            out._shape, out._rows = self._shape, self._rows[k]
            return out
        fill, where, values = self._rows[k]
        row = np.full(int(np.prod(self._shape)), fill)
        row[where] = values
        return row.reshape(self._shape)

    @property
    def shape(self) -> tuple:
        """(n_rows, *row shape)."""
        return (len(self), *(self._shape or ()))

    @property
    def nbytes(self) -> int:
        """Bytes held by the exceptions."""
        return int(sum(w.nbytes + v.nbytes for _, w, v in self._rows))

    def __array__(self, dtype=None, copy=None):
        dense = np.array(list(self)) if self._rows else np.empty(self.shape)
        return dense if dtype is None else dense.astype(dtype)


def row_store(example) -> list | CompactRows:
    """An empty store for rows like ``example``: compact from COMPACT_FROM entries."""
    return CompactRows() if np.size(example) >= COMPACT_FROM else []


def stack_rows(rows: Sequence) -> np.ndarray | CompactRows:
    """A 2-D array of the rows of a list, or the CompactRows as they are."""
    return rows if isinstance(rows, CompactRows) else np.array(rows)


def broadcast_rows(values: Sequence[float], shape: tuple) -> list | CompactRows:
    """Rows ``np.full(shape, v)`` for each v, compact if they are large."""
    store = row_store(np.empty(shape))
    for v in values:
        store.append(np.full(shape, v))
    return store
