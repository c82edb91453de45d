"""Hypothesis strategies for the gradient, RF, label and trigger functions beyond the seed's.

Vector arguments come as numpy arrays or Python lists (what scripts pass); the
draws include the shapes and values on which PyPulseq raises.
"""
from __future__ import annotations

import numpy as np
import pypulseq
from hypothesis import strategies as st

from . import strategies as S

RASTER = 1e-5  # the default gradient raster (s)


def as_list_or_array(draw, values):
    values = np.asarray(values)
    return values.tolist() if draw(st.integers(0, 3)) == 0 else values


@st.composite
def gauss_kwargs(draw):
    kw = draw(S.sinc_kwargs())
    if draw(st.booleans()):
        kw["bandwidth"] = draw(st.one_of(st.just(0), st.floats(100, 5000)))
    return kw


@st.composite
def rf_signals(draw):
    """Real or complex pulse shapes; a few shapes PyPulseq rejects (2-D, one sample)."""
    n = draw(st.integers(1, 200))
    kind = draw(st.sampled_from(["smooth", "random", "complex", "ints", "smooth", "random",
                                 "complex", "row", "matrix"]))
    x = np.linspace(-1, 1, n)
    if kind == "smooth":
        signal = np.sinc(draw(st.floats(0.5, 6)) * x) * np.hanning(n + 2)[1:-1]
    elif kind == "random":
        signal = np.array(draw(st.lists(st.floats(-1, 1), min_size=n, max_size=n)))
    elif kind == "complex":
        signal = np.hanning(n + 2)[1:-1] * np.exp(1j * draw(st.floats(-10, 10)) * x)
    elif kind == "ints":
        signal = np.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)))
    elif kind == "row":
        signal = np.hanning(n + 2)[None, 1:-1]
    else:
        signal = np.ones((2, n))
    return as_list_or_array(draw, signal) if kind in ("smooth", "random", "ints") else signal


@st.composite
def arbitrary_rf_kwargs(draw):
    kw = {"signal": draw(rf_signals()), "flip_angle": draw(S.flip_angles)}
    kw.update(S.subset(draw, {
        "bandwidth": st.one_of(st.just(0), st.floats(-100, 5000)), "delay": S.times,
        "dwell": st.sampled_from([0, 1e-6, 2e-6, 1e-5]), "freq_offset": st.floats(-1e3, 1e3),
        "no_signal_scaling": st.booleans(), "max_grad": st.floats(0, 1.5e6),
        "max_slew": st.floats(0, 8e9), "phase_offset": st.floats(-7, 7),
        "time_bw_product": st.one_of(st.just(0), st.floats(1, 8)),
        "use": st.sampled_from(["", "excitation", "refocusing", "saturation", "bogus"]),
        "return_delay": st.booleans(),
    }))
    if draw(st.booleans()):
        kw["return_gz"] = True
        kw["slice_thickness"] = draw(st.sampled_from([0, 1e-3, 3e-3, 5e-3]))
    kw["system"] = draw(S.systems())
    return kw


@st.composite
def grad_waveforms(draw, min_size=0, max_size=80, step=6e4):
    """Random walks of gradient samples (Hz/m); big steps violate the slew rate."""
    steps = draw(st.lists(st.floats(-step, step), min_size=min_size, max_size=max_size))
    return np.cumsum([draw(st.floats(-2e5, 2e5))] + steps)


@st.composite
def arbitrary_grad_kwargs(draw):
    waveform = draw(grad_waveforms(min_size=2))
    if draw(st.integers(0, 9)) == 7:  # too short for pypulseq's slew check
        waveform = waveform[:draw(st.integers(0, 2))]
    kw = {"channel": draw(st.sampled_from(["x", "y", "z", "x", "y", "z", "q"])),
          "waveform": waveform.tolist() if draw(st.integers(0, 9)) == 7 else waveform}
    kw.update(S.subset(draw, {"delay": S.times, "max_grad": st.floats(0, 2e6),
                              "max_slew": st.floats(0, 9e9)}))
    kw["system"] = draw(S.systems())
    return kw


@st.composite
def corner_times(draw, n):
    """n increasing time points (s): on the raster, sometimes off it or not increasing."""
    steps = draw(st.lists(st.integers(1, 40), min_size=n, max_size=n))
    start = draw(st.sampled_from([0, 0, 0, 3]))
    times = (start + np.cumsum(steps) - steps[0]) * RASTER
    how = draw(st.sampled_from(["raster"] * 4 + ["off"] * 3 + ["last_off", "repeat", "zeros"]))
    if how == "off" and n > 1:
        times[draw(st.integers(0, n - 2))] += draw(st.floats(1e-7, 0.9 * RASTER))
        times = np.maximum.accumulate(times)
    elif how == "last_off":
        times[-1] += 0.5 * RASTER
    elif how == "repeat" and n > 1:
        times[1] = times[0]
    elif how == "zeros":
        times = np.zeros(n)
    return times


@st.composite
def extended_trapezoid_kwargs(draw):
    n = draw(st.integers(2, 6))
    times = draw(corner_times(n))
    amplitudes = [draw(st.sampled_from([0.0, draw(st.floats(-1e6, 1e6))])) for _ in range(n)]
    if draw(st.booleans()):
        amplitudes[0] = 0.0
    if draw(st.integers(0, 9)) == 7:
        amplitudes = amplitudes[:-1]
    kw = {"channel": draw(st.sampled_from(["x", "y", "z", "x", "y", "z", "q"])),
          "times": as_list_or_array(draw, times), "amplitudes": as_list_or_array(draw, amplitudes)}
    kw.update(S.subset(draw, {"convert_to_arbitrary": st.booleans(), "skip_check": st.booleans(),
                              "max_grad": st.floats(0, 2e6), "max_slew": st.floats(0, 9e9)}))
    kw["system"] = draw(S.systems())
    return kw


@st.composite
def extended_trapezoid_area_kwargs(draw):
    system = draw(S.systems())
    limit = 0.9 * (system or pypulseq.Opts.default).max_grad
    amplitude = st.one_of(st.just(0.0), st.floats(-limit, limit))
    return {"area": draw(st.one_of(S.areas, st.floats(-30, 30))),
            "channel": draw(st.sampled_from(["x", "y", "z"])),
            "grad_start": draw(amplitude), "grad_end": draw(amplitude), "system": system}


label_values = st.one_of(st.integers(-5, 300), st.floats(-10, 10), st.booleans(),
                         st.sampled_from([np.int64(3), np.float64(2.0), np.bool_(True), "1", None]))


@st.composite
def label_kwargs(draw):
    labels = list(pypulseq.get_supported_labels()) + ["FOO", "slc"]
    return {"label": draw(st.sampled_from(labels)),
            "type": draw(st.sampled_from(["SET", "INC", "set"])), "value": draw(label_values)}


trigger_durations = st.one_of(st.just(0), S.times, st.floats(-1e-3, 1e-5))


@st.composite
def trigger_kwargs(draw):
    kw = {"channel": draw(st.sampled_from(["physio1", "physio2", "osc0"]))}
    kw.update(S.subset(draw, {"delay": S.times, "duration": trigger_durations}))
    kw["system"] = draw(S.systems())
    return kw


@st.composite
def output_kwargs(draw):
    kw = {"channel": draw(st.sampled_from(["osc0", "osc1", "ext1", "physio1"]))}
    kw.update(S.subset(draw, {"delay": S.times, "duration": trigger_durations}))
    kw["system"] = draw(S.systems())
    return kw


@st.composite
def points_to_waveform_kwargs(draw):
    n = draw(st.integers(0, 6))
    times = draw(st.lists(st.floats(0, 2e-3), min_size=n, max_size=n, unique=True))
    if draw(st.integers(0, 4)) > 0:
        times = sorted(times)
    amplitudes = draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n))
    return {"amplitudes": as_list_or_array(draw, amplitudes),
            "grad_raster_time": draw(st.sampled_from([1e-5, 4e-6, 2e-5])),
            "times": as_list_or_array(draw, times)}


@st.composite
def rf_pulse_calls(draw):
    """(name, kwargs) of an RF pulse whose centre and bandwidth are well defined."""
    name = draw(st.sampled_from(["make_sinc_pulse", "make_gauss_pulse", "make_block_pulse",
                                 "make_arbitrary_rf"]))
    kw = {"flip_angle": draw(st.floats(0.1, 3.0))}
    if name == "make_block_pulse":
        kw["duration"] = draw(st.floats(1e-4, 2e-3))
    elif name == "make_arbitrary_rf":
        n = draw(st.integers(8, 120))
        x = np.linspace(-1, 1, n)
        kw["signal"] = (np.sinc(draw(st.floats(0.5, 4)) * (x - draw(st.floats(-0.3, 0.3))))
                        * (1 if draw(st.booleans()) else np.exp(1j * x)))
        kw["dwell"] = draw(st.sampled_from([1e-6, 1e-5]))
    else:
        kw.update(duration=draw(st.floats(3e-4, 3e-3)), time_bw_product=draw(st.floats(1, 8)),
                  center_pos=draw(st.floats(0.2, 0.8)), apodization=draw(st.floats(0, 0.5)))
    return name, kw
