"""RF waveforms from shape parameters, written once for numpy, tracers and torch.

The numpy path reproduces PyPulseq 1.4.2 bit for bit (same operations in the
same order); ``xp=numpy`` also works on pulseqzero tracers (they implement the
numpy protocols), and ``xp=TORCH`` gives a differentiable waveform.
"""
from __future__ import annotations

import numpy as np

from .events import ArbitraryShape, BlockShape, GaussShape, SampledShape, SincShape

SHAPE_RECORDS = {"sinc": SincShape, "block": BlockShape, "gauss": GaussShape,
                 "arbitrary": ArbitraryShape, "sampled": SampledShape}


class _TorchXP:
    """The few numpy functions the waveforms use, on float64 torch tensors."""

    pi = np.pi

    def __init__(self):
        import torch
        self.torch = torch

    def arange(self, start, stop):
        return self.torch.arange(start, stop, dtype=self.torch.float64)

    def cos(self, x):
        return self.torch.cos(x)

    def sinc(self, x):
        return self.torch.sinc(x)

    def exp(self, x):
        return self.torch.exp(x)

    def square(self, x):
        return x * x

    def abs(self, x):
        return self.torch.abs(x)

    def squeeze(self, x):
        return self.torch.squeeze(x)

    def multiply(self, a, b):
        return a * b

    def sum(self, x):
        return self.torch.sum(x)

    def stack(self, xs):
        return self.torch.stack([self.torch.as_tensor(x, dtype=self.torch.float64) for x in xs])

    def ones(self, n):
        return self.torch.ones(n, dtype=self.torch.float64)


def torch_xp():
    return _TorchXP()


def _sample_count(x, xp) -> int:
    """``round(x)`` as a static int (a guard on tracers, a host sync on tensors)."""
    if isinstance(xp, _TorchXP):
        return int(xp.torch.round(x))
    return int(round(x))


def sinc_waveform(flip_angle, duration, time_bw_product, apodization, center_pos, dwell, xp=np):
    """``make_sinc_pulse``: signal (Hz) at t = (k + 0.5)·dwell, normalised to ``flip_angle`` (rad)."""
    BW = time_bw_product / duration
    alpha = apodization
    N = _sample_count(duration / dwell, xp)
    t = (xp.arange(1, N + 1) - 0.5) * dwell
    tt = t - (duration * center_pos)
    window = 1 - alpha + alpha * xp.cos(2 * xp.pi * tt / duration)
    signal = xp.multiply(window, xp.sinc(BW * tt))
    flip = xp.sum(signal) * dwell * 2 * xp.pi
    signal = signal * flip_angle / flip
    return signal, t


def block_waveform(flip_angle, duration, raster, xp=np):
    """``make_block_pulse``: a constant (Hz) at t = [0, N·raster]."""
    N = round(duration / raster) if not isinstance(xp, _TorchXP) else xp.torch.round(duration / raster)
    t = xp.stack([0, N]) * raster
    signal = flip_angle / (2 * xp.pi) / duration * xp.ones(2)
    return signal, t


def gauss_waveform(flip_angle, duration, bandwidth, time_bw_product, apodization, center_pos,
                   dwell, xp=np):
    """``make_gauss_pulse``: signal (Hz) at t = (k + 0.5)·dwell, normalised to ``flip_angle``."""
    if bandwidth == 0:
        BW = time_bw_product / duration
    else:
        BW = bandwidth
    alpha = apodization
    N = _sample_count(duration / dwell, xp)
    t = (xp.arange(1, N + 1) - 0.5) * dwell
    tt = t - duration * center_pos
    window = 1 - alpha + alpha * xp.cos(2 * xp.pi * tt / duration)
    signal = window * xp.exp(-xp.pi * xp.square(BW * tt))
    flip = xp.sum(signal) * dwell * 2 * xp.pi
    signal = signal * flip_angle / flip
    return signal, t


def arbitrary_waveform(flip_angle, signal, dwell, no_signal_scaling=False, xp=np):
    """``make_arbitrary_rf``: the given samples at t = (k + 0.5)·dwell, scaled to ``flip_angle``."""
    signal = xp.squeeze(signal)
    if not no_signal_scaling:
        signal = signal / xp.abs(xp.sum(signal * dwell)) * flip_angle / (2 * xp.pi)
    N = len(signal)
    t = (xp.arange(1, N + 1) - 0.5) * dwell
    return signal, t


def sampled_waveform(_flip_angle, signal, t, xp=np):
    return signal, t


_WAVEFORMS = {"sinc": sinc_waveform, "block": block_waveform, "gauss": gauss_waveform,
              "arbitrary": arbitrary_waveform, "sampled": sampled_waveform}


def waveform(kind: str, flip_angle, *params, xp=np, **static):
    """(signal, t) of an RF shape kind from its parameters (and static options)."""
    return _WAVEFORMS[kind](flip_angle, *params, xp=xp, **static)


def shape_waveform(shape, flip_angle, value, xp=np):
    """(signal, t) of an IR shape record; ``value(node)`` gives each parameter's value."""
    import attrs
    params, static = [], {}
    for f in attrs.fields(type(shape)):
        if f.type == "bool":
            static[f.name] = getattr(shape, f.name)
        else:
            params.append(value(getattr(shape, f.name)))
    return waveform(shape.kind, flip_angle, *params, xp=xp, **static)
