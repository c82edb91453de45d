"""Pictures of a sequence: a sequence diagram drawn from the IR, and a k-space plot.

``waveforms(graph, env)`` turns an evaluated graph (``env``: every node's
numpy value, from ``ir.evaluate.evaluate(graph.values, inputs, "numpy")``)
into plain arrays: RF (complex, Hz) per pulse, gradient breakpoints per
channel (Hz/m), ADC sample times (s). ``plot_sequence`` draws them over any
time range; ``plot_kspace`` draws a k-space trajectory given as arrays (for
example ``MRzeroCore.Sequence.get_kspace()``).

Like every backend this module sees the IR only, never a tracer; matplotlib
is imported when a plot is made.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import shapes
from ..ir.graph import SequenceGraph

#: rows of the sequence diagram
ROWS = ("adc", "rf", "phase", "gx", "gy", "gz")


@dataclass
class Waveforms:
    """Everything a sequence diagram shows, as numpy arrays (times in s)."""

    block_start: np.ndarray  # start of every block (s); block_start[-1] + last duration = total
    duration: float  # total (s)
    rf: list = field(default_factory=list)  # (t, complex signal Hz incl. phase offset), per pulse
    grad: dict = field(default_factory=dict)  # channel -> (t, amplitude Hz/m), breakpoints
    adc: list = field(default_factory=list)  # sample times (s), per ADC event
    blocks: range = range(0)  # the blocks that were included


def _value(env, node):
    return np.asarray(env[node], dtype=np.float64)


def _block_times(graph: SequenceGraph, env):
    durations = np.array([float(env[b.duration]) for b in graph.blocks])
    starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]]) if len(durations) else np.zeros(0)
    return starts, durations


def waveforms(graph: SequenceGraph, env: list, time_range=None) -> Waveforms:
    """The waveforms of the blocks that overlap ``time_range`` (s, (start, stop); None: all)."""
    starts, durations = _block_times(graph, env)
    total = float(starts[-1] + durations[-1]) if len(starts) else 0.0
    lo, hi = (0.0, total) if time_range is None else (float(time_range[0]), float(time_range[1]))
    first = max(int(np.searchsorted(starts + durations, lo, side="right")), 0)
    last = int(np.searchsorted(starts, hi, side="left"))
    out = Waveforms(starts, total, blocks=range(first, min(last, len(graph.blocks))))
    points = {ch: ([], []) for ch in "xyz"}
    for i in out.blocks:
        t0 = starts[i]
        for e in graph.blocks[i].events:
            if e.kind == "trap":
                d, r, f, fa = (float(env[n])
                               for n in (e.delay, e.rise_time, e.flat_time, e.fall_time))
                a = float(env[e.amplitude])
                t = t0 + d + np.array([0.0, r, r + f, r + f + fa])
                points[e.channel][0].append(t)
                points[e.channel][1].append(np.array([0.0, a, a, 0.0]))
            elif e.kind == "grad":
                tt, w = _value(env, e.tt).ravel(), _value(env, e.waveform).ravel()
                d, dur = float(env[e.delay]), float(env[e.shape_dur])
                first, last = float(env[e.first]), float(env[e.last])
                # arbitrary gradients are sampled at raster centres: add their end values
                t, a = tt, w
                if len(t) == 0 or t[0] > 0:
                    t, a = np.concatenate([[0.0], t]), np.concatenate([[first], a])
                if t[-1] < dur:
                    t, a = np.concatenate([t, [dur]]), np.concatenate([a, [last]])
                points[e.channel][0].append(t0 + d + t)
                points[e.channel][1].append(a)
            elif e.kind == "rf":
                value = lambda n: env[n]  # noqa: E731
                signal, t = shapes.shape_waveform(e.shape, env[e.flip_angle], value)
                signal = np.asarray(signal, dtype=np.complex128).ravel()
                t = np.asarray(t, dtype=np.float64).ravel()
                phase = float(env[e.phase_offset]) + 2 * np.pi * float(env[e.freq_offset]) * t
                out.rf.append((t0 + float(env[e.delay]) + t, signal * np.exp(1j * phase)))
            elif e.kind == "adc":
                n = e.num_samples
                dwell, delay = float(env[e.dwell]), float(env[e.delay])
                out.adc.append(t0 + delay + (np.arange(n) + 0.5) * dwell)
    for ch, (ts, amps) in points.items():
        if ts:
            t, a = np.concatenate(ts), np.concatenate(amps)
            order = np.argsort(t, kind="stable")
            out.grad["g" + ch] = (t[order], a[order])
        else:
            out.grad["g" + ch] = (np.zeros(0), np.zeros(0))
    return out


def plot_sequence(graph: SequenceGraph, env: list, time_range=None, axes=None, title=None,
                  time_unit: str = "ms", show_blocks: bool = False):
    """Draw the sequence diagram: ADC, RF magnitude (µT) and phase (rad), Gx, Gy, Gz (mT/m).

    time_range: (start, stop) in s (None: the whole sequence). axes: six
    matplotlib axes to draw into (None: a new figure). show_blocks: dotted
    lines at block boundaries. Returns the figure.
    """
    import matplotlib.pyplot as plt

    w = waveforms(graph, env, time_range)
    gamma = float(graph.system.gamma)  # Hz/T
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[time_unit]
    lo, hi = (0.0, w.duration) if time_range is None else time_range
    if axes is None:
        fig, axes = plt.subplots(len(ROWS), 1, figsize=(11, 7.5), sharex=True,
                                 gridspec_kw=dict(height_ratios=[0.5, 1, 0.7, 1, 1, 1]))
    else:
        fig = axes[0].figure
    ax = dict(zip(ROWS, axes))

    for samples in w.adc:
        ax["adc"].plot(samples * scale, np.ones_like(samples), "|", color="tab:red", ms=8)
        ax["adc"].axvspan(samples[0] * scale, samples[-1] * scale, color="tab:red", alpha=0.15)
    ax["adc"].set_yticks([])
    ax["adc"].set_ylabel("ADC", rotation=0, ha="right", va="center")

    for t, signal in w.rf:
        mag = np.abs(signal) / gamma * 1e6  # Hz -> µT
        ax["rf"].plot(t * scale, mag, color="tab:blue", lw=1.2)
        on = mag > 1e-3 * max(mag.max(), 1e-12)
        ax["phase"].plot(t[on] * scale, np.angle(signal[on]), ".", color="tab:blue", ms=2)
    ax["rf"].set_ylabel("RF |B1|\n(µT)")
    ax["phase"].set_ylabel("RF phase\n(rad)")
    ax["phase"].set_ylim(-np.pi * 1.1, np.pi * 1.1)
    ax["phase"].set_yticks([-np.pi, 0, np.pi], ["-π", "0", "π"])

    colors = {"gx": "tab:green", "gy": "tab:orange", "gz": "tab:purple"}
    for ch in ("gx", "gy", "gz"):
        t, a = w.grad[ch]
        if len(t):
            # zero before the first and after the last breakpoint shown
            t = np.concatenate([[lo], t, [hi]])
            a = np.concatenate([[0.0], a, [0.0]]) / gamma * 1e3  # Hz/m -> mT/m
            ax[ch].plot(t * scale, a, color=colors[ch], lw=1.2)
            ax[ch].fill_between(t * scale, a, color=colors[ch], alpha=0.15, lw=0)
        ax[ch].axhline(0, color="0.6", lw=0.5)
        ax[ch].set_ylabel(f"G{ch[1]}\n(mT/m)")

    if show_blocks:
        for i in w.blocks:
            for a in axes:
                a.axvline(w.block_start[i] * scale, color="0.8", lw=0.5, ls=":")
    for a in axes:
        a.grid(True, alpha=0.3)
    axes[-1].set_xlim(lo * scale, hi * scale)
    axes[-1].set_xlabel(f"time ({'µs' if time_unit == 'us' else time_unit})")
    axes[0].set_title(title or f"{graph.name}: {len(graph.blocks)} blocks, "
                      f"{w.duration * 1e3:.4g} ms")
    fig.align_ylabels(axes)
    return fig


def plot_kspace(kspace, full=None, ax=None, title=None, axes_labels=("x", "y")):
    """Draw a k-space trajectory (1/m): the ADC samples coloured by acquisition order, and the
    full trajectory in grey if ``full`` is given (a list of (n, ≥2) arrays, one per repetition,
    e.g. ``MRzeroCore.Sequence.get_full_kspace()``). ``kspace``: (n_samples, ≥2) array.
    Returns the figure."""
    import matplotlib.pyplot as plt

    k = np.asarray(kspace, dtype=np.float64)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.6, 5))
    else:
        fig = ax.figure
    if full is not None:
        for i, part in enumerate(full):
            part = np.asarray(part, dtype=np.float64)
            ax.plot(part[:, 0], part[:, 1], color="0.75", lw=0.6,
                    label="trajectory" if i == 0 else None, zorder=1)
    sc = ax.scatter(k[:, 0], k[:, 1], c=np.arange(len(k)), cmap="viridis", s=6, zorder=2,
                    label="ADC samples")
    fig.colorbar(sc, ax=ax, label="sample index (acquisition order)")
    ax.set_xlabel(f"k{axes_labels[0]} (1/m)")
    ax.set_ylabel(f"k{axes_labels[1]} (1/m)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper right", fontsize="small")
    ax.set_title(title or f"k-space: {len(k)} samples")
    return fig
