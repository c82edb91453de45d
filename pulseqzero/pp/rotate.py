"""``rotate``, PyPulseq 1.4.2's algorithm over numbers or tracers (differentiable in the
angle and in the gradients' amplitudes)."""
from __future__ import annotations

import numpy as np

from .. import tmath as tm
from .add_gradients import add_gradients
from .events import recorded
from .opts import as_opts
from .scale_grad import scale_grad

__all__ = ["rotate"]


def _get_grad_abs_mag(grad):
    if grad.type == "trap":
        return abs(grad.amplitude)
    return np.max(np.abs(grad.waveform))


@recorded()
def rotate(*args, angle, axis: str, system=None):
    """The gradients among ``args`` rotated by ``angle`` (rad) about ``axis`` ('x', 'y', 'z').

    Other events and gradients on ``axis`` are returned unchanged (the same
    objects); the rotated components on each of the two other axes are summed
    with ``add_gradients``; components below 1e-6 of the largest input
    amplitude are dropped. Returns a list.
    """
    system = as_opts(system)

    axes = ["x", "y", "z"]

    # Cycle through the objects and rotate gradients non-parallel to the given rotation axis.
    # Rotated gradients assigned to the same axis are then added together.

    # First create indexes of the objects to be bypassed or rotated
    i_rotate1 = []
    i_rotate2 = []
    i_bypass = []

    axes.remove(axis)
    axes_to_rotate = axes
    if len(axes_to_rotate) != 2:
        raise ValueError("Incorrect axes specification.")

    for i in range(len(args)):
        event = args[i]

        if (event.type != "grad" and event.type != "trap") or event.channel == axis:
            i_bypass.append(i)
        else:
            if event.channel == axes_to_rotate[0]:
                i_rotate1.append(i)
            else:
                if event.channel == axes_to_rotate[1]:
                    i_rotate2.append(i)
                else:
                    i_bypass.append(i)  # Should never happen

    # Now every gradient to be rotated generates two new gradients: one on the original axis
    # and one on the other from the axes_to_rotate list
    rotated1 = []
    rotated2 = []
    max_mag = 0  # Measure of relevant amplitude
    for i in range(len(i_rotate1)):
        g = args[i_rotate1[i]]
        max_mag = tm.maximum(max_mag, _get_grad_abs_mag(g))
        rotated1.append(scale_grad(grad=g, scale=np.cos(angle)))
        g = scale_grad(grad=g, scale=np.sin(angle))
        g.__dict__["channel"] = axes_to_rotate[1]
        rotated2.append(g)

    for i in range(len(i_rotate2)):
        g = args[i_rotate2[i]]
        max_mag = tm.maximum(max_mag, _get_grad_abs_mag(g))
        rotated2.append(scale_grad(grad=g, scale=np.cos(angle)))
        g = scale_grad(grad=g, scale=-np.sin(angle))
        g.__dict__["channel"] = axes_to_rotate[0]
        rotated1.append(g)

    # Eliminate zero-amplitude gradients
    threshold = 1e-6 * max_mag
    for i in range(len(rotated1) - 1, -1, -1):
        if _get_grad_abs_mag(rotated1[i]) < threshold:
            rotated1.pop(i)
    for i in range(len(rotated2) - 1, -1, -1):
        if _get_grad_abs_mag(rotated2[i]) < threshold:
            rotated2.pop(i)

    # Add gradients on the corresponding axis together
    g = []
    if len(rotated1) != 0:
        g.append(add_gradients(grads=rotated1, system=system))

    if len(rotated2) != 0:
        g.append(add_gradients(grads=rotated2, system=system))

    # Eliminate zero amplitude gradients
    for i in range(len(g) - 1, -1, -1):
        if _get_grad_abs_mag(g[i]) < threshold:
            g.pop(i)

    # Export (the bypassed events are the objects that were passed in)
    bypass = [args[i] for i in i_bypass]
    rotated_grads = [*bypass, *g]

    return rotated_grads
