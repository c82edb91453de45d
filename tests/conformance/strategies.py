"""Hypothesis strategies for PyPulseq call arguments (on and off the rasters)."""
from __future__ import annotations

import pypulseq
from hypothesis import strategies as st

raster_time = st.integers(0, 400).map(lambda n: n * 1e-5)
any_time = st.floats(1e-6, 5e-3, allow_nan=False)
times = st.one_of(raster_time, any_time)
areas = st.one_of(st.floats(-3000, 3000, allow_nan=False, allow_infinity=False),
                  st.integers(-600, 600).map(float))
amplitudes = st.one_of(st.just(0), st.floats(-1.5e6, 1.5e6, allow_nan=False))


@st.composite
def systems(draw):
    if draw(st.booleans()):
        return None
    return pypulseq.Opts(
        max_grad=draw(st.floats(10, 80)), grad_unit="mT/m",
        max_slew=draw(st.floats(50, 220)), slew_unit="T/m/s",
        rf_dead_time=draw(st.sampled_from([0, 100e-6])),
        rf_ringdown_time=draw(st.sampled_from([0, 20e-6, 30e-6])),
        adc_dead_time=draw(st.sampled_from([0, 10e-6])),
    )


def subset(draw, options: dict) -> dict:
    return {k: draw(s) for k, s in options.items() if draw(st.booleans())}


@st.composite
def trapezoid_kwargs(draw):
    kw = {"channel": draw(st.sampled_from(["x", "y", "z", "x", "q"]))}
    shape = draw(st.sampled_from(["area", "amp_dur", "flat", "flat_amp", "flat_area_rise",
                                  "area_dur", "area_dur_rise", "random"]))
    if shape == "area":
        kw["area"] = draw(areas)
    elif shape == "amp_dur":
        kw.update(amplitude=draw(amplitudes), duration=draw(times))
    elif shape == "flat":
        kw.update(flat_time=draw(times), flat_area=draw(areas))
    elif shape == "flat_amp":
        kw.update(flat_time=draw(times), amplitude=draw(amplitudes))
    elif shape == "flat_area_rise":
        kw.update(flat_time=draw(times), area=draw(areas), rise_time=draw(times))
    elif shape == "area_dur":
        kw.update(area=draw(areas), duration=draw(times))
    elif shape == "area_dur_rise":
        kw.update(area=draw(areas), duration=draw(times), rise_time=draw(times))
    kw.update(subset(draw, {
        "amplitude": amplitudes, "area": areas, "flat_area": areas, "flat_time": times,
        "duration": times, "rise_time": times, "fall_time": times, "delay": times,
        "max_grad": st.floats(0, 1.6e6), "max_slew": st.floats(0, 9e9),
    }) if shape == "random" or draw(st.integers(0, 4)) == 0 else {})
    kw["system"] = draw(systems())
    return kw


flip_angles = st.floats(-3.2, 3.2, allow_nan=False)


@st.composite
def sinc_kwargs(draw):
    kw = {"flip_angle": draw(flip_angles)}
    kw.update(subset(draw, {
        "apodization": st.floats(0, 1), "delay": times,
        "duration": st.one_of(st.integers(-1, 60).map(lambda n: n * 1e-4), st.floats(2e-4, 6e-3)),
        "dwell": st.sampled_from([0, 1e-6, 2e-6, 1e-5]), "center_pos": st.floats(0.1, 0.9),
        "freq_offset": st.floats(-1e3, 1e3), "phase_offset": st.floats(-7, 7),
        "time_bw_product": st.floats(1, 8), "use": st.sampled_from(["", "excitation", "refocusing",
                                                                     "inversion", "bogus"]),
        "max_grad": st.floats(0, 1.5e6), "max_slew": st.floats(0, 8e9),
    }))
    if draw(st.booleans()):
        kw["return_gz"] = True
        kw["slice_thickness"] = draw(st.sampled_from([0, 1e-3, 3e-3, 5e-3, 8e-3]))
    if draw(st.booleans()):
        kw["return_delay"] = True
    kw["system"] = draw(systems())
    return kw


@st.composite
def block_kwargs(draw):
    kw = {"flip_angle": draw(flip_angles)}
    kw.update(subset(draw, {
        "delay": times, "duration": st.one_of(st.none(), st.floats(-1e-3, 5e-3), raster_time),
        "bandwidth": st.one_of(st.none(), st.floats(-100, 5000)),
        "time_bw_product": st.one_of(st.none(), st.floats(-1, 8)),
        "freq_offset": st.floats(-1e3, 1e3), "phase_offset": st.floats(-7, 7),
        "return_delay": st.booleans(),
        "use": st.sampled_from(["", "excitation", "refocusing", "saturation", "nope"]),
    }))
    kw["system"] = draw(systems())
    return kw


@st.composite
def adc_kwargs(draw):
    kw = {"num_samples": draw(st.integers(1, 512))}
    kw.update(subset(draw, {
        "delay": times, "duration": st.one_of(st.just(0), times), "dwell": st.one_of(
            st.just(0), st.sampled_from([1e-6, 2.5e-6, 1e-5]), st.floats(1e-7, 1e-4)),
        "freq_offset": st.floats(-1e4, 1e4), "phase_offset": st.floats(-7, 7),
    }))
    kw["system"] = draw(systems())
    return kw


delays = st.one_of(times, st.floats(-1, 1, allow_nan=False), st.just(float("inf")),
                   st.just(float("nan")))
