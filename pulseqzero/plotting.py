"""Pictures for people: sequence diagrams, k-space trajectories, optimisation results.

    import pulseqzero
    graph = pulseqzero.trace(gre).trace(12e-3, 5e-3, flips)
    pulseqzero.plot_sequence(graph, time_range=(0, 24e-3), path="gre.png")
    pulseqzero.plot_kspace(graph, path="gre_k.png")

Each function accepts a traced :class:`~pulseqzero.Graph`, what calling a
traced function returns (a ``BoundSequence``), or a sequence recorded in
``mr0_mode()``; parameters given as keywords override the traced values.
``plot_kspace`` also takes an ``MRzeroCore.Sequence``. With ``path`` the figure
is saved (PNG at 120 dpi) and closed; without, it is returned.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .backends import plot as _plot
from .graph import Graph

__all__ = ["plot_sequence", "plot_kspace", "plot_optimization", "as_graph", "save"]

DPI = 120


def as_graph(seq, params: dict | None = None):
    """(Graph, params) for a Graph, BoundSequence, SequenceGraph or recorded pp Sequence."""
    from .ir.graph import SequenceGraph
    from .trace import BoundSequence, TracedFunction
    params = dict(params or {})
    if isinstance(seq, Graph):
        return seq, params
    if isinstance(seq, BoundSequence):
        return seq.graph, {**seq.params, **params}
    if isinstance(seq, SequenceGraph):
        return Graph(seq), params
    if hasattr(seq, "to_graph"):  # a pp.Sequence recorded in mr0_mode()
        return Graph(seq.to_graph()), params
    if isinstance(seq, TracedFunction):
        raise TypeError(f"call {seq.__name__}(...) (or {seq.__name__}.trace(...)) first: "
                        "a picture needs parameter values")
    raise TypeError(f"cannot draw a {type(seq).__name__}: give a traced graph, the result of "
                    "calling a traced function, or a sequence recorded in mr0_mode()")


def save(fig, path) -> Path:
    """Save a figure (PNG unless the suffix says otherwise) and close it."""
    import matplotlib.pyplot as plt
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_sequence(seq, time_range=None, path=None, title=None, show_blocks: bool = False,
                  time_unit: str = "ms", **params):
    """Sequence diagram (ADC, RF magnitude and phase, Gx, Gy, Gz) over ``time_range`` (s).

    Evaluated from the IR in float64 at the given parameters (guards checked).
    """
    graph, params = as_graph(seq, params)
    env = graph.evaluate("numpy", **params)
    fig = _plot.plot_sequence(graph.ir, env, time_range=time_range, title=title,
                              show_blocks=show_blocks, time_unit=time_unit)
    return save(fig, path) if path is not None else fig


def plot_kspace(seq, path=None, title=None, full: bool = True, **params):
    """k-space trajectory (1/m) of the ADC samples, as the MR-zero simulation sees it.

    ``seq``: anything :func:`plot_sequence` takes (lowered with ``to_mr0``) or an
    ``MRzeroCore.Sequence``. full: also draw the trajectory between samples.
    """
    import torch
    mr0_seq = seq
    if not hasattr(seq, "get_kspace"):
        graph, params = as_graph(seq, params)
        with torch.no_grad():
            mr0_seq = graph.to_mr0(**params)
    with torch.no_grad():
        k = mr0_seq.get_kspace().detach().cpu().numpy()
        traj = ([part.detach().cpu().numpy() for part in mr0_seq.get_full_kspace()]
                if full else None)
    fig = _plot.plot_kspace(k, traj, title=title)
    return save(fig, path) if path is not None else fig


def _image(ax, img, title, vmax=None):
    img = np.abs(np.asarray(img))
    if img.ndim == 3:  # a slab: show the middle slice
        img = img[:, :, img.shape[2] // 2]
    im = ax.imshow(img.T, origin="lower", cmap="gray", vmin=0, vmax=vmax)
    ax.set_title(title)
    ax.set_xlabel("x (voxel)")
    ax.set_ylabel("y (voxel)")
    from matplotlib.ticker import MaxNLocator
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return im


def plot_images(images: dict, path=None, suptitle=None, shared_scale: bool = True):
    """Magnitude images side by side, ``{title: image}`` (x right, y up), one colour bar each."""
    import matplotlib.pyplot as plt
    n = len(images)
    fig, axes = plt.subplots(1, n, figsize=(3.6 * n, 3.6), squeeze=False)
    vmax = (max(float(np.abs(np.asarray(v)).max()) for v in images.values())
            if shared_scale else None)
    for ax, (title, img) in zip(axes[0], images.items()):
        im = _image(ax, img, title, vmax)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="magnitude (a.u.)")
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return save(fig, path) if path is not None else fig


def plot_loss(losses, path=None, title="loss", ylabel="loss", log: bool | None = None):
    """Loss per step (log scale when it spans more than a decade)."""
    import matplotlib.pyplot as plt
    losses = np.asarray(losses, dtype=np.float64)
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(np.arange(len(losses)), losses, "o-", ms=3)
    if log is None:
        pos = losses[losses > 0]
        log = len(pos) == len(losses) and len(pos) > 1 and pos.max() / pos.min() > 10
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("optimisation step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return save(fig, path) if path is not None else fig


def plot_param_history(history, path=None, name="parameter", unit="", scale: float = 1.0,
                       title=None, final=None, reference=None, xlabel="index"):
    """How a parameter changed: a scalar as a curve over the steps; a vector (a flip train)
    as one curve per step, coloured from the first (light) to the last step (dark).

    history: array (steps, *shape) (e.g. ``Optimization.param_history(i)``); final: the
    value after the last step (drawn in red); scale: multiply before plotting (e.g. 1e3 for
    s -> ms, then give unit="ms"); reference: ``{label: value}`` drawn as dashed lines;
    xlabel: what a vector's index counts (e.g. "echo").
    """
    import matplotlib.pyplot as plt
    h = np.asarray(history, dtype=np.float64) * scale
    label = f"{name} ({unit})" if unit else name
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    if h.ndim == 1 or (h.ndim == 2 and h.shape[1] == 1):
        values = h.reshape(len(h))
        if final is not None:
            values = np.concatenate([values, np.ravel(np.asarray(final, dtype=np.float64) * scale)])
        ax.plot(np.arange(len(values)), values, "o-", ms=3)
        ax.set_xlabel("optimisation step")
        ax.set_ylabel(label)
    else:
        h = h.reshape(len(h), -1)
        cmap = plt.get_cmap("Blues")
        for i, row in enumerate(h[1:], start=1):
            ax.plot(row, color=cmap(0.3 + 0.7 * i / max(len(h) - 1, 1)), lw=1,
                    label="during (light to dark)" if i == 1 else None)
        ax.plot(h[0], color="0.3", lw=1.5, ls="--", label="start", zorder=3)
        if final is not None:
            ax.plot(np.ravel(np.asarray(final, dtype=np.float64)) * scale, color="tab:red",
                    lw=1.8, label="optimised")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        from matplotlib.ticker import MaxNLocator
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for i, (text, value) in enumerate((reference or {}).items()):
        ax.axhline(float(value) * scale, color=f"C{i + 3}", ls="--", lw=1, label=text)
    if reference or h.ndim > 1:
        ax.legend(fontsize="small")
    ax.set_title(title or f"{name} during optimisation")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return save(fig, path) if path is not None else fig


def plot_optimization(opt, path=None, start_image=None, final_image=None, names=None,
                      units=None, scales=None, title=None):
    """One overview figure of an :class:`~pulseqzero.Optimization`: start / optimised /
    target images, the loss curve and the history of every optimised parameter."""
    import matplotlib.pyplot as plt
    import torch
    trainable = [i for i, p in enumerate(opt.params)
                 if isinstance(p, torch.Tensor) and p.requires_grad]
    names = names or [f"param {i}" for i in range(len(opt.params))]
    units = units or [""] * len(opt.params)
    scales = scales or [1.0] * len(opt.params)
    images = {}
    if start_image is not None:
        images["start"] = start_image
    if final_image is not None:
        images[f"optimised ({len(opt.history)} steps)"] = final_image
    images["target"] = opt.target.detach().cpu()
    ncol = len(images) + 1 + len(trainable)
    fig, axes = plt.subplots(1, ncol, figsize=(3.7 * ncol, 3.7))
    vmax = max(float(np.abs(np.asarray(v)).max()) for v in images.values())
    for ax, (t, img) in zip(axes, images.items()):
        _image(ax, img, t, vmax if t != "target" else None)
    ax = axes[len(images)]
    ax.plot(opt.losses, "o-", ms=3)
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("loss")
    ax.set_title("loss")
    ax.grid(True, alpha=0.3)
    for ax, i in zip(axes[len(images) + 1:], trainable):
        h = opt.param_history(i) * scales[i]
        final = opt.params[i].detach().cpu().numpy() * scales[i]
        label = f"{names[i]} ({units[i]})" if units[i] else names[i]
        if h.ndim == 1:
            ax.plot(np.append(h, final), "o-", ms=3)
            ax.set_xlabel("optimisation step")
        else:
            ax.plot(h[0].ravel(), label="start")
            ax.plot(final.ravel(), label="optimised")
            ax.set_xlabel("index")
            ax.legend(fontsize="small")
        ax.set_ylabel(label)
        ax.set_title(names[i])
        ax.grid(True, alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path) if path is not None else fig
