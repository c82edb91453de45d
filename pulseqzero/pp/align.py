"""``align``, PyPulseq 1.4.2's algorithm over numbers or tracers.

The new delays are traced (``calc_duration`` of the events), so an aligned
event's timing follows the parameters that set the durations.
"""
from __future__ import annotations

from copy import deepcopy
from types import SimpleNamespace

import numpy as np

from .calc_duration import calc_duration
from .events import Event, recorded

__all__ = ["align"]


@recorded()
def align(**kwargs):
    """Copies of the events with delays (s) that align them ``left``, ``center`` or ``right``
    in their block: ``align(left=[gx, gy], right=adc)``.

    Every event's own delay counts for the block duration, then it is replaced.
    """
    alignment_specs = list(kwargs.keys())
    if not isinstance(alignment_specs[0], str):
        raise ValueError(
            f"First parameter must be of type str. Passed: {type(alignment_specs[0])}")

    alignment_options = ["left", "center", "right"]
    if np.any([align_opt not in alignment_options for align_opt in alignment_specs]):
        raise ValueError("Invalid alignment spec.")

    alignments = []
    objects = []
    for curr_align in alignment_specs:
        objects_to_align = kwargs[curr_align]
        curr_align = alignment_options.index(curr_align)
        if isinstance(objects_to_align, (list, np.ndarray, tuple)):
            alignments.extend([curr_align] * len(objects_to_align))
            objects.extend(objects_to_align)
        elif isinstance(objects_to_align, (SimpleNamespace, Event)):
            alignments.extend([curr_align])
            objects.append(objects_to_align)

    dur = calc_duration(*objects)

    # copy() to emulate pass-by-value; otherwise passed events are modified
    objects = deepcopy(objects)
    for obj in objects:
        if isinstance(obj, Event):
            object.__setattr__(obj, "_snap", None)  # its delay changes below

    # Set new delays (inside the implementation: not recorded as the script's assignments)
    for i in range(len(objects)):
        fields = objects[i].__dict__
        if alignments[i] == 0:
            fields["delay"] = 0
        elif alignments[i] == 1:
            fields["delay"] = (dur - calc_duration(objects[i])) / 2
        elif alignments[i] == 2:
            fields["delay"] = dur - calc_duration(objects[i]) + objects[i].delay
            if objects[i].delay < 0:
                raise ValueError("align() attempts to set a negative delay, probably some RF "
                                 "pulses ignore rf_ringdown_time")

    return objects
