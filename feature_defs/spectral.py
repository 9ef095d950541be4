"""Spectral (FFT) features of one sensor in one window: the single numpy definition.

Spark runs it per window through ``applyInPandas``; Flink SQL cannot express an FFT, so the
Flink compiler refuses views that declare spectral features (spark-only features).

Definition (per window, after deduplication):

* readings ordered by event_time are treated as uniformly sampled at the window's observed rate
  ``fs = (n - 1) / (t_last - t_first)`` Hz (gaps are not interpolated); fewer than 4 readings -> NULL;
* the mean is removed (no taper), ``X = rfft(x - mean)``, power ``P_k = |X_k|**2 / n`` at
  ``f_k = k * fs / n``;
* ``band_energy_<band>`` = sum of ``P_k`` with ``low <= f_k < high``;
* ``dominant_frequency`` = ``f_k`` of the largest ``P_k`` for k >= 1 (lowest k on ties);
* ``spectral_centroid`` = ``sum(f_k P_k) / sum(P_k)`` over k >= 1 (power-weighted);
  both NULL when the signal is constant.

Example::

    spectral_features(np.array([0, 500, 1000, 1500]), np.array([1.0, 2.0, 1.0, 2.0]), spec)
    # {'vibration__band_energy_low': 0.0, ..., 'vibration__dominant_frequency': 1.0, ...}
"""
from __future__ import annotations

import numpy as np

MIN_READINGS = 4


def spectral_features(event_ms, values, spec) -> dict[str, float | None]:
    """Spectral feature columns of ``spec`` (a :class:`feature_defs.view.SpectralSpec`) for one window."""
    columns = spec.columns()
    t = np.asarray(event_ms, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    n = len(x)
    if n < MIN_READINGS or t[-1] == t[0]:
        return {col: None for col, _ in columns}
    fs = (n - 1) * 1000.0 / float(t[-1] - t[0])
    power = np.abs(np.fft.rfft(x - x.mean())) ** 2 / n
    freqs = np.fft.rfftfreq(n, d=1.0 / fs)
    ac_power, ac_freqs = power[1:], freqs[1:]
    total = float(ac_power.sum())
    out: dict[str, float | None] = {}
    for col, kind in columns:
        if kind == "band_energy":
            lo, hi = spec.bands_hz[col.rsplit("__band_energy_", 1)[1]]
            out[col] = float(power[(freqs >= lo) & (freqs < hi)].sum())
        elif kind == "dominant_frequency":
            out[col] = float(ac_freqs[int(np.argmax(ac_power))]) if total > 0 else None
        elif kind == "spectral_centroid":
            out[col] = float((ac_freqs * ac_power).sum() / total) if total > 0 else None
    return out
