"""Structural queries of a ``Sequence``, computed from the stored blocks with PyPulseq's
formulas.

``duration``, ``rf_times``, ``adc_times``, ``waveforms``, ``waveforms_and_times`` and
``evaluate_labels`` are traced: their numbers are tracers where they depend on
parameters. ``get_gradients`` and ``calculate_kspace`` need scipy / numpy on concrete
numbers: they are evaluated at the traced values and *pinned* (``pinned.py``);
``calculate_kspace``'s result pins only when the script uses it.

PyPulseq computes its queries from its event *library* (where arbitrary shapes are
compressed with a 1e-7 quantisation); here they come from the events as recorded, so
arbitrary waveforms agree with PyPulseq's to that quantisation and everything else
exactly.
"""
from __future__ import annotations

import warnings

import numpy as np

from ... import tmath as tm
from ... import tracer as _tr
from ...tracer import Tracer, value_of
from .blocks import EPS, GRAD_COLUMNS, is_regular
from .kspace import kspace
from .pinned import PinnedTuple, concrete, pin


class Queries:
    """The structural queries of a ``Sequence`` (mixin over ``BlockStore``'s table)."""

    def duration(self):
        """(total duration in s, number of blocks, event count per column)."""
        if not self._table:
            raise StopIteration  # what pypulseq 1.4.2 raises for an empty sequence
        total = 0
        counts = np.zeros(7)
        rows = self.block_events
        for i, entry in self._table.items():
            counts += rows[i] > 0
            total = total + entry.duration
        return total, len(self._table), counts

    def _block_range(self, time_range):
        """(block ids, start time of the first) for PyPulseq's ``time_range`` selection."""
        if time_range is None:
            return list(self._table), 0
        if len(time_range) != 2:
            raise ValueError("Time range must be list of two elements")
        if time_range[0] > time_range[1]:
            raise ValueError("End time of time_range must be after begin time")
        ids = list(self._table)
        durations = [self._table[i].duration for i in ids]
        ends, total = [], 0
        for d in durations:
            total = total + d
            ends.append(total)
        starts = [t - d for t, d in zip(ends, durations)]
        begin = _searchsorted(ends, time_range[0], "left")  # the first block ending at / after t0
        end = _searchsorted(starts, time_range[1], "right")  # the first block starting after t1
        return ids[begin:end], ends[begin] - durations[begin]

    def rf_times(self, time_range=None):
        """(t_excitation, fp_excitation, t_refocusing, fp_refocusing): RF centre times (s),
        frequency and phase offsets; traced."""
        from ..calc_rf_center import calc_rf_center
        t_excitation, fp_excitation, t_refocusing, fp_refocusing = [], [], [], []
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            rf = entry.events.get("rf")
            if rf is not None:
                t = rf.delay + calc_rf_center(rf)[0]
                use = getattr(rf, "use", "")
                if use in ("", "excitation", "undefined"):  # the library's 'u' is 'undefined'
                    t_excitation.append(curr_dur + t)
                    fp_excitation.append([rf.freq_offset, rf.phase_offset])
                elif use == "refocusing":
                    t_refocusing.append(curr_dur + t)
                    fp_refocusing.append([rf.freq_offset, rf.phase_offset])
            curr_dur = curr_dur + entry.duration
        return (t_excitation, _pairs_T(fp_excitation), t_refocusing, _pairs_T(fp_refocusing))

    def adc_times(self, time_range=None):
        """(t_adc, fp_adc): every ADC sample time (s) and each ADC's frequency / phase offset;
        traced."""
        t_adc, fp_adc = [], []
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            adc = entry.events.get("adc")
            if adc is not None:
                delay = tm.maximum(adc.delay, adc.dead_time)  # what pypulseq's library keeps
                t_adc.append((np.arange(adc.num_samples) + 0.5) * adc.dwell + delay + curr_dur)
                fp_adc.append([adc.freq_offset, adc.phase_offset])
            curr_dur = curr_dur + entry.duration
        if not t_adc:
            return np.zeros(0), np.zeros((0, 2))
        t_adc = _concat(t_adc)
        if any(isinstance(v, Tracer) for pair in fp_adc for v in pair):
            return t_adc, _tr.stack([_tr.stack(pair) for pair in fp_adc])
        return t_adc, np.array(fp_adc)

    def waveforms(self, append_RF: bool = False, time_range=None) -> list:
        """Gradient waveforms (and RF with ``append_RF``): per channel a (2, N) array of
        times (s) and amplitudes (Hz/m; RF in Hz, complex); traced."""
        raster = self.grad_raster_time
        shape_channels = 4 if append_RF else 3
        pieces = [[] for _ in range(shape_channels)]  # (times, values) per channel
        ids, curr_dur = self._block_range(time_range)
        for block_id in ids:
            entry = self._table[block_id]
            for j, column in enumerate(GRAD_COLUMNS):
                grad = entry.events.get(column)
                if grad is None:
                    continue
                if grad.type == "grad":
                    tt = _library_times(grad.tt, raster)
                    tt_rast = tt / raster + 0.5
                    if np.all(np.abs(tt_rast - np.arange(1, len(tt_rast) + 1)) < EPS):
                        # an arbitrary gradient on the raster: its first and last values added
                        times = curr_dur + grad.delay + _concat(
                            ([0], tt, [tt[-1] + raster / 2]))
                        values = _concat(([grad.first], grad.waveform, [grad.last]))
                    else:  # an extended trapezoid
                        times = curr_dur + grad.delay + tt
                        values = grad.waveform
                elif abs(grad.flat_time) > EPS:
                    times = _tr.stack(_cumsum(curr_dur + grad.delay, grad.rise_time,
                                              grad.flat_time, grad.fall_time))
                    values = grad.amplitude * np.array([0, 1, 1, 0])
                elif abs(grad.rise_time) > EPS and abs(grad.fall_time) > EPS:
                    times = _tr.stack(_cumsum(curr_dur + grad.delay, grad.rise_time,
                                              grad.fall_time))
                    values = grad.amplitude * np.array([0, 1, 0])
                else:
                    if abs(grad.amplitude) > EPS:
                        print(f'Warning: "empty" gradient with non-zero magnitude detected in '
                              f'block {block_id}')
                    continue
                pieces[j].append((times, values))
            rf = entry.events.get("rf")
            if rf is not None and append_RF:
                t = _library_times(rf.t, self.rf_raster_time)
                times = curr_dur + rf.delay + t
                values = rf.signal * np.exp(1j * (rf.phase_offset
                                                  + 2 * np.pi * rf.freq_offset * t))
                if abs(rf.signal[0]) > 0:
                    times = _concat(([times[0] - 0.1 * self.system.rf_raster_time], times))
                    values = _concat(([0], values))
                if abs(rf.signal[-1]) > 0:
                    times = _concat((times, [times[-1] + 0.1 * self.system.rf_raster_time]))
                    values = _concat((values, [0]))
                pieces[-1].append((times, values))
            curr_dur = curr_dur + entry.duration

        wave_data = []
        for channel in pieces:
            if not channel:
                wave_data.append(np.zeros((2, 0)))
                continue
            # a piece starting where the previous ended loses its first point
            joined = [channel[0]]
            for prev, cur in zip(channel[:-1], channel[1:]):
                joined.append(cur if prev[0][-1] + EPS < cur[0][0] else (cur[0][1:], cur[1][1:]))
            times = _concat([p[0] for p in joined])
            values = _concat([p[1] for p in joined])
            if np.any(np.diff(times) < EPS):
                raise Warning("Time vector elements are not monotonically increasing.")
            if not isinstance(times, Tracer) and not isinstance(values, Tracer):
                wave_data.append(np.array([times, values]))
            else:
                wave_data.append(np.stack([times, values]))
        return wave_data

    def waveforms_and_times(self, append_RF: bool = False, time_range=None):
        """(wave_data, tfp_excitation, tfp_refocusing, t_adc, fp_adc); traced."""
        wave_data = self.waveforms(append_RF=append_RF, time_range=time_range)
        t_excitation, fp_excitation, t_refocusing, fp_refocusing = self.rf_times(time_range)
        t_adc, fp_adc = self.adc_times(time_range)
        return (wave_data, _join_times(t_excitation, fp_excitation),
                _join_times(t_refocusing, fp_refocusing), t_adc, fp_adc)

    def get_gradients(self, trajectory_delay=0, gradient_offset=0, time_range=None) -> list:
        """Gradient waveforms as scipy ``PPoly`` per channel (None for an unused channel).

        Evaluated at the traced values and pinned: the waveforms are guarded to keep these
        values (a ``PPoly`` cannot be traced)."""
        gw_pp, used = self._gradients(trajectory_delay, gradient_offset, time_range)
        pin(used)
        return gw_pp

    def _gradients(self, trajectory_delay, gradient_offset, time_range):
        """pypulseq's ``get_gradients`` on concrete values: (PPolys, the traced inputs)."""
        from scipy.interpolate import PPoly
        used = [trajectory_delay, gradient_offset]
        trajectory_delay = concrete(trajectory_delay)
        gradient_offset = concrete(gradient_offset)
        if np.any(np.abs(trajectory_delay) > 100e-6):
            raise Warning(f"Trajectory delay of {trajectory_delay * 1e6} us is suspiciously high")
        durations = list(self.block_durations.values())
        used.append(durations)
        total_duration = sum(concrete(durations))
        gw_data = self.waveforms(time_range=time_range)
        used.append(gw_data)
        gw_data = [np.array(concrete(w)) for w in gw_data]
        ng = len(gw_data)
        if isinstance(trajectory_delay, (int, float)):
            gradient_delays = [trajectory_delay] * ng
        else:
            assert len(trajectory_delay) == ng
            gradient_delays = [trajectory_delay] * ng  # (sic) pypulseq 1.4.2
        if isinstance(gradient_offset, (int, float)):
            gradient_offset = [gradient_offset] * ng
        else:
            assert len(gradient_offset) == ng
        gw_pp = []
        for j in range(ng):
            if gw_data[j].shape[1] == 0:
                if np.abs(gradient_offset[j]) <= EPS:
                    gw_pp.append(None)
                    continue
                gw = np.array(([0, total_duration], [0, 0]))
            else:
                gw = gw_data[j]
            if np.abs(gradient_delays[j]) > EPS:
                gw[0] = gw[0] - gradient_delays[j]
            if not np.all(np.isfinite(gw)):
                raise Warning("Not all elements of the generated waveform are finite.")
            teps = 1e-12
            _temp1 = np.array(([gw[0, 0] - 2 * teps, gw[0, 0] - teps], [0, 0]))
            _temp2 = np.array(([gw[0, -1] + teps, gw[0, -1] + 2 * teps], [0, 0]))
            gw = np.hstack((_temp1, gw, _temp2))
            if np.abs(gradient_offset[j]) > EPS:
                gw[1, :] += gradient_offset[j]
            gw[1][gw[1] == -0.0] = 0.0
            gw_pp.append(PPoly(np.stack((np.diff(gw[1]) / np.diff(gw[0]), gw[1][:-1])), gw[0],
                               extrapolate=True))
        return gw_pp, used

    def calculate_kspace(self, trajectory_delay=0, gradient_offset=0):
        """(k_traj_adc, k_traj, t_excitation, t_refocusing, t_adc), PyPulseq's algorithm.

        Evaluated at the traced values; the result pins (guards) the values it was computed
        from when the script uses it, so a result that is never looked at costs nothing."""
        if np.any(np.abs(concrete(trajectory_delay)) > 100e-6):
            raise Warning(f"Trajectory delay of {concrete(trajectory_delay) * 1e6} us is "
                          "suspiciously high")
        durations = list(self.block_durations.values())
        t_excitation, fp_excitation, t_refocusing, _ = self.rf_times()
        t_adc, _ = self.adc_times()
        gw_pp, used = self._gradients(trajectory_delay, gradient_offset, None)
        used += [durations, t_excitation, fp_excitation, t_refocusing, t_adc]
        result = kspace(gw_pp, sum(concrete(durations)), list(concrete(t_excitation)),
                         np.asarray(concrete(fp_excitation), dtype=float),
                         list(concrete(t_refocusing)), np.asarray(concrete(t_adc), dtype=float),
                         self.grad_raster_time, self.rf_raster_time)
        return PinnedTuple(result, lambda: pin(used))

    def calculate_kspacePP(self, trajectory_delay=0, gradient_offset=0):
        warnings.warn("Sequence.calculate_kspacePP has been deprecated, use calculate_kspace "
                      "instead", DeprecationWarning, stacklevel=2)
        return self.calculate_kspace(trajectory_delay, gradient_offset)

    def evaluate_labels(self, init: dict = None, evolution: str = "none") -> dict:
        """Label values at the end (or their evolution per 'blocks' / 'adc' / 'label');
        traced. Labels of one block are applied in the order they were given."""
        labels = init or dict()
        label_evolution = []
        for entry in self._table.values():
            if entry.labels:
                for lab in entry.labels:
                    if lab.type == "labelinc":
                        if lab.label not in labels:
                            labels[lab.label] = 0
                        labels[lab.label] = labels[lab.label] + lab.value
                    else:
                        labels[lab.label] = lab.value
                if evolution == "label":
                    label_evolution.append(dict(labels))
            if evolution == "blocks" or (evolution == "adc" and "adc" in entry.events):
                label_evolution.append(dict(labels))
        if len(label_evolution) > 0:
            for lab in labels:
                values = [e[lab] if lab in e else 0 for e in label_evolution]
                labels[lab] = (_tr.stack(values) if any(isinstance(v, Tracer) for v in values)
                               else np.array(values))
        return labels


# ====================================================================== helpers


def _library_times(t, raster):
    """Sample times as pypulseq's library gives them back (rebuilt when regular)."""
    if is_regular(t, raster):
        return (np.arange(1, len(value_of(t)) + 1) - 0.5) * raster
    return t


def _concat(parts):
    """``np.concatenate`` of vectors and short lists, traced when any element is."""
    parts = [_tr.stack(p) if isinstance(p, list) else p for p in parts]
    if any(isinstance(p, Tracer) for p in parts):
        return _tr.apply("concat", *[p if np.ndim(_tr.value_of(p)) else _tr.stack([p])
                                     for p in parts])
    return np.concatenate(parts)


def _searchsorted(values: list, x, side: str) -> int:
    """``np.searchsorted`` over (possibly traced) sorted values; the index found is a
    discrete choice, guarded by the two comparisons that decide it."""
    k = int(np.searchsorted(np.array([value_of(v) for v in values], dtype=float), value_of(x),
                            side=side))
    if k > 0:
        bool(values[k - 1] < x if side == "left" else values[k - 1] <= x)
    if k < len(values):
        bool(values[k] >= x if side == "left" else values[k] > x)
    return k


def _cumsum(a, b, c=None, d=None):
    """pypulseq.utils.cumsum: running sums, added in the same order."""
    if d is not None:
        s1 = a + b
        s2 = s1 + c
        return (a, s1, s2, s2 + d)
    s = a + b
    return (a, s, s + c)


def _pairs_T(pairs):
    """pypulseq's ``np.array(pairs).T`` (2, n), or ``np.empty((2, 0))``."""
    if not pairs:
        return np.empty((2, 0))
    if any(isinstance(v, Tracer) for pair in pairs for v in pair):
        return _tr.stack([_tr.stack([p[0] for p in pairs]), _tr.stack([p[1] for p in pairs])])
    return np.array(pairs).T


def _join_times(times, fp):
    """pypulseq's ``np.concatenate((np.array(times)[None], fp), axis=0)``: (3, n)."""
    if not any(isinstance(v, Tracer) for v in times) and not isinstance(fp, Tracer):
        return np.concatenate((np.array(times)[None], fp), axis=0)
    return _tr.stack([_tr.stack(times), fp[0], fp[1]])


