"""The band spectrum the timbre tests compare notes by."""

from __future__ import annotations

import numpy as np

FRAME = 2048


def band_spectrum(x: np.ndarray, rate: int) -> np.ndarray:
    """Energy in 40 log-spaced bands from 50 Hz to 8 kHz, in dB, relative to their mean: the
    timbre's shape, not its level (bands more than 80 dB down count as 80 dB down). The median over
    frames of 2048 samples, leaving out frames with unknown samples (NaN: a cycle a JACK test client
    missed), so one glitched frame (an xrun's seam) does not count."""
    x = np.asarray(x, np.float64)
    frames = [x[i:i + FRAME] for i in range(0, len(x) - FRAME + 1, FRAME // 2)]
    frames = [f for f in frames if not np.isnan(f).any()]
    assert frames, "every frame of this window is unknown (the test's JACK client missed them)"
    power = np.median([np.abs(np.fft.rfft(f * np.hanning(FRAME))) ** 2 for f in frames], axis=0)
    freqs = np.fft.rfftfreq(FRAME, 1.0 / rate)
    edges = np.geomspace(50.0, 8000.0, 41)
    energy = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    db = 10.0 * np.log10(energy + 1e-20)
    db = np.maximum(db, db.max() - 80.0)
    return db - db.mean()
