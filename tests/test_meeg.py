"""The simulated EEG source-imaging problem (MNE-Python, in the test extra)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import hyperlasso as hl

pytest.importorskip("mne", reason="the meeg extra (mne) is part of hyperlasso[test]")

from hyperlasso.meeg import eeg_gain, make_meeg_problem  # noqa: E402


@pytest.fixture(scope="module")
def coarse_gain():
    """biosemi64 over a 15 mm grid: 542 sources, built in about a second."""
    return eeg_gain(spacing=15.0)


def test_gain_has_a_column_per_source_and_no_reference(coarse_gain):
    """64 channels; radial sources in a sphere have non-zero potentials, and the
    forward potentials are not average-referenced (channel means do not vanish)."""
    gain, positions, ch_names = coarse_gain
    assert gain.shape == (64, positions.shape[0]) and len(ch_names) == 64
    assert np.all(np.linalg.norm(gain, axis=0) > 0)
    assert np.max(np.abs(gain.mean(axis=0))) > 1e-3 * np.max(np.abs(gain))
    assert np.all(np.linalg.norm(positions - [0, 0, 0.04], axis=1) < 0.09)


def test_problem_is_whitened_normalized_and_at_the_asked_snr(coarse_gain):
    """Unit-norm columns, measurements = gain @ sources + noise with the noise of
    standard deviation sigma = 1 (2 % over 64 x 40 entries: 4 standard errors)
    and ||gain @ sources|| / ||noise|| = snr exactly (it sets the noise level)."""
    problem = make_meeg_problem(n_active=3, n_times=40, snr=4.0, random_state=1,
                                gain=coarse_gain)
    np.testing.assert_allclose(np.linalg.norm(problem.gain, axis=0), 1.0, rtol=1e-12)
    signal = problem.gain @ problem.sources
    noise = problem.measurements - signal
    assert abs(noise.std() - problem.sigma) < 0.06
    assert np.linalg.norm(signal) / np.linalg.norm(noise) == pytest.approx(4.0, rel=1e-9)
    assert np.array_equal(np.flatnonzero(np.any(problem.sources != 0, axis=1)),
                          problem.active)
    spread = problem.positions[problem.active]
    distances = np.linalg.norm(spread[:, None] - spread[None], axis=-1)
    assert np.min(distances[np.triu_indices(3, 1)]) >= 0.03


def test_problem_is_reproducible(coarse_gain):
    a, b = (make_meeg_problem(random_state=5, gain=coarse_gain) for _ in range(2))
    np.testing.assert_array_equal(a.measurements, b.measurements)
    c = make_meeg_problem(random_state=6, gain=coarse_gain)
    assert not np.array_equal(a.measurements, c.measurements)


def test_sure_tuned_multitask_lasso_finds_the_sources(coarse_gain):
    """Two sources at SNR 5 on the 15 mm grid: SURE's multi-task Lasso puts an
    estimated source within one grid step (15 mm) of each true one."""
    problem = make_meeg_problem(n_active=2, n_times=30, snr=5.0, random_state=0,
                                gain=coarse_gain)
    estimator = hl.MultiTaskLassoCV(criterion="sure", sigma=problem.sigma,
                                    fit_intercept=False)
    estimator.fit(problem.gain, problem.measurements)
    found = np.flatnonzero(np.linalg.norm(estimator.coef_, axis=0))
    for source in problem.active:
        nearest = np.min(np.linalg.norm(problem.positions[found]
                                        - problem.positions[source], axis=1))
        assert nearest <= 0.015 + 1e-9


def test_bad_input(coarse_gain, monkeypatch):
    with pytest.raises(ValueError, match="cannot place 50 sources"):
        make_meeg_problem(n_active=50, min_distance=0.05, gain=coarse_gain)
    with pytest.raises(ValueError, match="snr must be a positive finite number"):
        make_meeg_problem(snr=0.0, gain=coarse_gain)
    with pytest.raises(ValueError, match="n_times must be an integer >= 2"):
        make_meeg_problem(n_times=1, gain=coarse_gain)
    with pytest.raises(ValueError, match="spacing must be a positive number of mm"):
        eeg_gain(spacing=-1.0)
    monkeypatch.setitem(sys.modules, "mne", None)  # as if mne were not installed
    with pytest.raises(ImportError, match=r"pip install \"hyperlasso\[meeg\]\""):
        eeg_gain()
