"""``calc_rf_center``: time (s) and sample index of an RF pulse's peak, from its waveform.

The peak samples (those within 1e-5 of the maximum magnitude) are a discrete
choice: kept concrete and guarded. The centre time is traced (it moves with a
traced dwell time or duration).
"""
from __future__ import annotations

import numpy as np

from ..tracer import value_of
from .points_to_waveform import guard_equal
from .version import API_15

__all__ = ["calc_rf_center"]


def calc_rf_center(rf):
    """``(time_center, id_center)`` of the RF event's peak; a plateau gives its middle.

    With the 1.5 API an event that has a ``center`` (s) gives it, and the sample nearest to it.
    """
    if API_15 and hasattr(rf, "center"):
        distance = np.abs(rf.t - rf.center)
        i = int(np.argmin(np.asarray(value_of(distance))))
        # the nearest sample is a discrete choice: guard that no sample gets nearer
        guard_equal(distance < distance[i], np.zeros(np.shape(value_of(distance)), bool))
        if i > 0:  # and that it stays the first of equally near samples
            guard_equal(distance[:i] == distance[i], np.zeros(i, bool))
        return rf.center, i
    magnitude = np.abs(rf.signal)
    rf_max = np.max(magnitude)
    peak = magnitude >= rf_max * 0.99999
    observed = np.asarray(value_of(peak), dtype=bool)
    guard_equal(peak, observed)
    i_peak = np.where(observed)[0]
    time_center = (rf.t[i_peak[0]] + rf.t[i_peak[-1]]) / 2
    id_center = i_peak[round((len(i_peak) - 1) / 2)]
    return time_center, id_center
