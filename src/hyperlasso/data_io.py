"""Read a data set from a CSV, NPZ or LIBSVM/svmlight file, with one-line errors."""

from __future__ import annotations

import csv
import pathlib
import zipfile
from dataclasses import dataclass

import numpy as np


class DataError(ValueError):
    """A data file that cannot be used, with a message meant for one line."""


@dataclass(frozen=True)
class Dataset:
    """A design, a target and where they came from.

    Attributes
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    feature_names : list of str
    description : str
    """

    X: object
    y: np.ndarray
    feature_names: list
    description: str
    target_name: str = "y"


def load_data(path, target: str | None = None) -> Dataset:
    """Load ``path`` by its extension: .csv, .npz, or .svm/.libsvm/.svmlight/.txt.

    Parameters
    ----------
    path : str or Path
    target : str, optional
        CSV only: the name of the target column (the last column by default).
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file.")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return load_csv(path, target)
    if target is not None:
        raise DataError(f"--target applies to CSV files only, not to {path.name}.")
    if suffix == ".npz":
        return load_npz(path)
    if suffix in (".svm", ".libsvm", ".svmlight", ".txt"):
        return load_libsvm(path)
    raise DataError(f"{path}: unknown file type {suffix!r}; expected .csv, .npz or "
                    ".svm/.libsvm/.svmlight/.txt.")


def load_samples(path) -> Dataset:
    """Samples in rows and no target (graphical models): every CSV column is a
    variable, an NPZ needs only ``X``, LIBSVM labels are ignored; ``y`` is None."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        if not path.is_file():
            raise DataError(f"{path}: no such file.")
        return load_npz(path, require_y=False)
    data = load_data(path)
    if suffix == ".csv":
        X = np.column_stack([data.X, data.y])
        names = [*data.feature_names, data.target_name]
    else:
        X, names = data.X.toarray(), data.feature_names
    return Dataset(X, None, names, f"{path.name} ({X.shape[0]} samples x {X.shape[1]} "
                   "variables)")


def load_csv(path: pathlib.Path, target: str | None = None) -> Dataset:
    """A CSV with a header row; feature columns numeric; target by name or last,
    numeric or class labels (kept as strings when any value is not a number)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(f.strip() for f in row)]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc}).") from None
    if len(rows) < 2:
        raise DataError(f"{path}: a header row and at least one data row are needed.")
    header, body = [name.strip() for name in rows[0]], rows[1:]
    column = len(header) - 1 if target is None else _column_index(path, header, target)
    features = [j for j in range(len(header)) if j != column]
    values = np.empty((len(body), len(features)))
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}:{i}: {len(row)} fields, the header has {len(header)}.")
        for k, j in enumerate(features):
            values[i - 2, k] = _number(path, i, header[j], row[j])
    return Dataset(values, _target_values([row[column].strip() for row in body]),
                   [header[j] for j in features],
                   f"{path.name} ({len(body)} rows, target column {header[column]!r})",
                   header[column])


def _target_values(fields: list) -> np.ndarray:
    """Numbers when every field is one, else the fields as class labels."""
    try:
        return np.array([float(field) for field in fields])
    except ValueError:
        return np.array(fields)


def is_numeric(y: np.ndarray) -> bool:
    """Whether a loaded target holds numbers (not class labels)."""
    return y.dtype.kind in "biuf"


def _column_index(path, header, target):
    if target not in header:
        raise DataError(f"{path}: no column named {target!r}; columns are "
                        f"{', '.join(header[:10])}{' ...' if len(header) > 10 else ''}.")
    return header.index(target)


def _number(path, line, name, field) -> float:
    try:
        return float(field)
    except ValueError:
        raise DataError(f"{path}:{line}: column {name!r} is not numeric "
                        f"(value {field.strip()!r}).") from None


def load_npz(path: pathlib.Path, require_y: bool = True) -> Dataset:
    """An ``.npz`` with arrays ``X`` (n_samples, n_features) and ``y`` (n_samples,)
    (``y`` optional when ``require_y`` is False)."""
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: not a readable NPZ file ({exc}).") from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: a single array, not an NPZ archive with X and y.")
    with archive:
        missing = ({"X", "y"} if require_y else {"X"}) - set(archive.files)
        if missing:
            raise DataError(f"{path}: missing array(s) {', '.join(sorted(missing))}; "
                            f"found {', '.join(archive.files) or 'none'}.")
        X = archive["X"]
        y = archive["y"] if "y" in archive.files else np.zeros(X.shape[0])
    if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
        raise DataError(f"{path}: X must be 2-D and y 1-D with as many rows, got "
                        f"{X.shape} and {y.shape}.")
    if X.dtype.kind not in "biuf" or y.dtype.kind not in "biufUS":
        raise DataError(f"{path}: X must be numeric and y numeric or string labels, "
                        f"got {X.dtype} and {y.dtype}.")
    names = [f"x{j}" for j in range(X.shape[1])]
    y = y.astype(np.float64) if is_numeric(y) else y.astype(str)
    return Dataset(X.astype(np.float64), y if require_y else None,
                   names, f"{path.name} (X {X.shape[0]} x {X.shape[1]})")


def load_libsvm(path: pathlib.Path) -> Dataset:
    """A LIBSVM/svmlight text file (sparse features), read by scikit-learn."""
    from sklearn.datasets import load_svmlight_file

    try:
        X, y = load_svmlight_file(str(path))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a valid LIBSVM file ({exc}).") from None
    names = [f"x{j}" for j in range(X.shape[1])]
    return Dataset(X.tocsc(), y, names,
                   f"{path.name} (sparse X {X.shape[0]} x {X.shape[1]}, {X.nnz} nonzeros)")
