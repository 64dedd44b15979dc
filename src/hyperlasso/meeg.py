"""An EEG source-imaging problem built offline with MNE-Python (``hyperlasso[meeg]``).

The inverse problem of brain source imaging: measurements M (n_channels,
n_times) = G X + noise, with G the gain (lead-field) matrix of the head model and
X (n_sources, n_times) the source activity, sparse in space. Tuned by SURE with a
multi-task Lasso (rows of X = sources), as MNE's ``mixed_norm(alpha="sure")``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Distance (m) from the sphere's center at which MNE's default sphere puts the
#: origin of the head (``make_sphere_model(r0=(0, 0, 0.04))``).
SPHERE_CENTER = np.array([0.0, 0.0, 0.04])
HEAD_RADIUS = 0.09


@dataclass(frozen=True)
class MEEGProblem:
    """A simulated EEG source-imaging problem.

    Attributes
    ----------
    gain : ndarray of shape (n_channels, n_sources)
        Whitened gain with unit-norm columns (see ``make_meeg_problem``).
    measurements : ndarray of shape (n_channels, n_times)
        Whitened measurements: gain @ sources + noise of standard deviation
        ``sigma`` in every entry.
    sources : ndarray of shape (n_sources, n_times)
        The true activity in the units of the normalized gain (zero rows but
        ``active``).
    active : ndarray of int, shape (n_active,)
        Indices of the true active sources.
    positions : ndarray of shape (n_sources, 3)
        Source positions (m, head coordinates).
    sigma : float
        Noise standard deviation of the whitened measurements (1.0).
    column_norms : ndarray of shape (n_sources,)
        Norms of the whitened gain's columns before normalization: divide the
        normalized-gain activity by them for source amplitudes (A m).
    ch_names : list of str
    times : ndarray of shape (n_times,)
        Seconds.
    """

    gain: np.ndarray
    measurements: np.ndarray
    sources: np.ndarray
    active: np.ndarray
    positions: np.ndarray
    sigma: float
    column_norms: np.ndarray
    ch_names: list
    times: np.ndarray


def _import_mne():
    try:
        import mne
    except ImportError as exc:
        raise ImportError("make_meeg_problem needs MNE-Python: pip install "
                          '"hyperlasso[meeg]" (or pip install mne).') from exc
    return mne


def eeg_gain(montage: str = "biosemi64", spacing: float = 7.0):
    """Gain of a standard EEG montage over a volume grid in a 3-shell sphere.

    Everything comes from MNE's wheel (montage, sphere model, source grid):
    nothing is downloaded. Orientations are fixed and radial (from the sphere's
    center): the free-orientation gain's 3 columns of each source projected on
    the radial direction.

    Parameters
    ----------
    montage : str, default="biosemi64"
        A name of ``mne.channels.make_standard_montage`` (EEG channels only).
    spacing : float, default=7.0
        Grid step of the volume source space (mm); 7 mm gives 5346 sources.

    Returns
    -------
    gain : ndarray of shape (n_channels, n_sources)
        Volts per ampere-metre, no reference applied (the forward model's
        potentials, as MNE computes them before any average reference).
    positions : ndarray of shape (n_sources, 3)
    ch_names : list of str
    """
    mne = _import_mne()
    if not (np.isfinite(spacing) and spacing > 0):
        raise ValueError(f"spacing must be a positive number of mm, got {spacing!r}.")
    with mne.utils.use_log_level("error"):
        layout = mne.channels.make_standard_montage(montage)
        info = mne.create_info(layout.ch_names, 1000.0, "eeg")
        info.set_montage(layout)
        sphere = mne.make_sphere_model(r0=tuple(SPHERE_CENTER), head_radius=HEAD_RADIUS,
                                       info=None)
        src = mne.setup_volume_source_space(sphere=sphere, pos=float(spacing),
                                            mindist=5.0, exclude=0.0)
        fwd = mne.make_forward_solution(info, trans=None, src=src, bem=sphere,
                                        eeg=True, meg=False)
    positions = fwd["source_rr"]
    radial = positions - SPHERE_CENTER
    radial /= np.maximum(np.linalg.norm(radial, axis=1, keepdims=True), 1e-12)
    free = fwd["sol"]["data"].reshape(len(info.ch_names), -1, 3)
    gain = np.einsum("csk,sk->cs", free, radial)
    return gain, positions, list(info.ch_names)


def make_meeg_problem(n_active: int = 3, n_times: int = 60, snr: float = 3.0,
                      montage: str = "biosemi64", spacing: float = 7.0,
                      min_distance: float = 0.03, random_state: int | None = 0,
                      gain=None) -> MEEGProblem:
    """Simulate EEG measurements of a few active sources with smooth time courses.

    The noise is white in the sensors, so the whitening MNE does with a noise
    covariance (``M <- C^(-1/2) M``, ``G <- C^(-1/2) G``, C = sigma_s^2 I) is a
    division by the sensor noise level sigma_s: the whitened noise has standard
    deviation 1, the ``sigma`` SURE takes. The gain's columns are then scaled to
    unit norm (MNE's depth weighting with ``depth=1``: deep sources are not
    penalized more than superficial ones), and ``sources`` are in those units.

    Parameters
    ----------
    n_active : int, default=3
        Active sources, at least ``min_distance`` apart.
    n_times : int, default=60
        Time samples (1 kHz).
    snr : float, default=3.0
        ||G X||_F / ||noise||_F.
    montage, spacing
        Head model (see ``eeg_gain``).
    min_distance : float, default=0.03
        Smallest distance between active sources (m).
    random_state : int or None, default=0
    gain : tuple (gain, positions, ch_names), optional
        The output of ``eeg_gain`` to reuse (building it takes a few seconds).

    Returns
    -------
    MEEGProblem
    """
    if not (isinstance(n_active, int | np.integer) and n_active >= 1):
        raise ValueError(f"n_active must be a positive integer, got {n_active!r}.")
    if not (isinstance(n_times, int | np.integer) and n_times >= 2):
        raise ValueError(f"n_times must be an integer >= 2, got {n_times!r}.")
    if not (np.isfinite(snr) and snr > 0):
        raise ValueError(f"snr must be a positive finite number, got {snr!r}.")
    G, positions, ch_names = eeg_gain(montage, spacing) if gain is None else gain
    rng = np.random.default_rng(random_state)
    active = _spread_sources(rng, positions, n_active, min_distance)
    times = np.arange(n_times) / 1000.0
    courses = _smooth_courses(rng, n_active, times)
    signal = G[:, active] @ courses
    noise = rng.standard_normal(signal.shape)
    sensor_sigma = np.linalg.norm(signal) / (snr * np.linalg.norm(noise))
    measurements = (signal + sensor_sigma * noise) / sensor_sigma  # whitened
    whitened = G / sensor_sigma
    norms = np.linalg.norm(whitened, axis=0)
    sources = np.zeros((G.shape[1], n_times))
    sources[active] = courses * norms[active, None]  # Gn S = G X / sensor_sigma
    return MEEGProblem(whitened / norms, measurements, sources, active, positions, 1.0,
                       norms, ch_names, times)


def _spread_sources(rng, positions, n_active, min_distance):
    """Random sources, each at least ``min_distance`` from the ones drawn before."""
    chosen: list[int] = []
    for candidate in rng.permutation(positions.shape[0]):
        if all(np.linalg.norm(positions[candidate] - positions[c]) >= min_distance
               for c in chosen):
            chosen.append(int(candidate))
            if len(chosen) == n_active:
                return np.sort(np.array(chosen))
    raise ValueError(f"cannot place {n_active} sources {min_distance} m apart in this "
                     "source space: lower n_active or min_distance.")


def _smooth_courses(rng, n_active, times):
    """Gaussian-windowed sinusoids (5-25 Hz), amplitudes 10-50 nA m."""
    span = times[-1] - times[0]
    centers = times[0] + span * rng.uniform(0.3, 0.7, n_active)
    widths = span * rng.uniform(0.15, 0.3, n_active)
    freqs = rng.uniform(5.0, 25.0, n_active)
    amplitudes = rng.uniform(10e-9, 50e-9, n_active)
    window = np.exp(-0.5 * ((times[None, :] - centers[:, None]) / widths[:, None]) ** 2)
    return amplitudes[:, None] * window * np.sin(2 * np.pi * freqs[:, None] * times)
