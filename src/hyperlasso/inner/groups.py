"""Groups of features: a partition of range(n_features) as an index pointer.

Group g holds the features ``indices[indptr[g]:indptr[g + 1]]``. The multi-task
Lasso's rows are the singletons ``Groups.singletons(p)``; a group Lasso takes a
list of index arrays or one label per feature (``Groups.of``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True, eq=False)
class Groups:
    """A partition of the features into non-empty groups.

    Parameters
    ----------
    indices : ndarray of int, shape (n_features,)
        Features ordered group after group (sorted within each group).
    indptr : ndarray of int, shape (n_groups + 1,)
        Group g is ``indices[indptr[g]:indptr[g + 1]]``.
    """

    indices: np.ndarray
    indptr: np.ndarray

    @classmethod
    def singletons(cls, n_features: int) -> Groups:
        """One group per feature (the Lasso's and the multi-task Lasso's blocks)."""
        return cls(np.arange(n_features), np.arange(n_features + 1))

    @classmethod
    def of(cls, groups, n_features: int, name: str = "groups") -> Groups:
        """Validate ``groups``: a list of index arrays or one label per feature.

        Raises
        ------
        ValueError
            If a group is empty, groups overlap, or some feature is in no group.
        """
        if isinstance(groups, Groups):
            members = [groups.members(g) for g in range(groups.n_groups)]
        elif _is_labels(groups, n_features):  # a partition by construction
            _, codes = np.unique(np.asarray(groups), return_inverse=True)
            indices = np.argsort(codes, kind="stable").astype(np.intp)
            counts = np.bincount(codes)
            return cls(indices, np.concatenate([[0], np.cumsum(counts)]).astype(np.intp))
        else:
            members = [_index_array(g, n_features, name, k) for k, g in enumerate(groups)]
        return cls._from_members(members, n_features, name)

    @classmethod
    def _from_members(cls, members, n_features: int, name: str) -> Groups:
        if not members:
            raise ValueError(f"{name} must hold at least one group.")
        for k, m in enumerate(members):
            if m.size == 0:
                raise ValueError(f"{name}[{k}] is empty: every group needs a feature.")
        indices = np.concatenate(members)
        counts = np.bincount(indices, minlength=n_features)
        if np.any(counts > 1):
            raise ValueError(f"{name} overlap: feature(s) {np.flatnonzero(counts > 1)[:5]}"
                             " belong to more than one group.")
        if np.any(counts == 0):
            raise ValueError(f"{name} leave feature(s) {np.flatnonzero(counts == 0)[:5]} "
                             f"out: the groups must cover all {n_features} features.")
        indptr = np.concatenate([[0], np.cumsum([m.size for m in members])])
        return cls(indices.astype(np.intp), indptr.astype(np.intp))

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return self.indptr.shape[0] - 1

    @property
    def n_features(self) -> int:
        """Number of features."""
        return self.indices.shape[0]

    @cached_property
    def sizes(self) -> np.ndarray:
        """Number of features of each group, shape (n_groups,)."""
        return np.diff(self.indptr)

    @cached_property
    def are_singletons(self) -> bool:
        """Whether every group holds one feature, in feature order."""
        return self.n_groups == self.n_features and bool(
            np.array_equal(self.indices, np.arange(self.n_features)))

    @cached_property
    def group_of_feature(self) -> np.ndarray:
        """The group of each feature, shape (n_features,)."""
        out = np.empty(self.n_features, dtype=np.intp)
        out[self.indices] = np.repeat(np.arange(self.n_groups), self.sizes)
        return out

    def members(self, g: int) -> np.ndarray:
        """Features of group g."""
        return self.indices[self.indptr[g]:self.indptr[g + 1]]

    def features_of(self, groups: np.ndarray) -> np.ndarray:
        """Features of the given groups, group after group."""
        if self.are_singletons:
            return np.asarray(groups, dtype=np.intp)
        if len(groups) == 0:
            return np.zeros(0, dtype=np.intp)
        return np.concatenate([self.members(g) for g in groups])

    def norms(self, M: np.ndarray) -> np.ndarray:
        """Frobenius norm of the rows of ``M`` (n_features, T) in each group."""
        row_sq = np.einsum("jt,jt->j", M, M)
        if self.are_singletons:
            return np.sqrt(row_sq)
        return np.sqrt(np.add.reduceat(row_sq[self.indices], self.indptr[:-1]))

    def kernel_view(self) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, indptr)`` for the numba kernels."""
        return self.indices, self.indptr


def _is_labels(groups, n_features: int) -> bool:
    if isinstance(groups, (list, tuple)) and groups and not np.isscalar(groups[0]):
        return False
    array = np.asarray(groups)
    return array.ndim == 1 and array.shape[0] == n_features and array.dtype != object


def _index_array(group, n_features: int, name: str, k: int) -> np.ndarray:
    index = np.asarray(group)
    if index.ndim != 1 or (index.size and index.dtype.kind not in "iu"):
        raise ValueError(f"{name}[{k}] must be a 1-D array of feature indices, "
                         f"got {group!r}.")
    if index.size and (index.min() < 0 or index.max() >= n_features):
        raise ValueError(f"{name}[{k}] has indices outside [0, {n_features}).")
    if np.unique(index).size != index.size:
        raise ValueError(f"{name}[{k}] repeats a feature.")
    return np.sort(index).astype(np.intp)
