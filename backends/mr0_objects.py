"""MRzeroCore's ``Pulse`` and ``Repetition`` as the mr0 lowering builds them.

The simulation reads a pulse's angle, phase and shim and a repetition's event
times, gradient moments, ADC phases and usage: the lowering makes those tensors
at every call. The fields only reconstruction and inspection read, a
repetition's ``adc_labels`` and a pulse's ``grad`` and ``off_res``, are made on
first access, from what the repetitions of one lowering share (computed for all
of them at the first access); after that they are ordinary attributes
(assignable, and not shared). Otherwise these are
MRzeroCore's classes (subclasses), built without ``__init__``, whose shape
checks hold by construction.
"""
from __future__ import annotations

import numpy as np
import torch

import MRzeroCore as mr0


class Labels:
    """The label states of one lowering, for the repetitions' ``adc_labels``: the state at
    an event that ends at an ADC sample is the state at that sample, 0 at other events."""

    __slots__ = ("names", "states", "event_sample", "device")

    def __init__(self, names: list, states: dict, event_sample: np.ndarray, device):
        self.names = names  # label names, in the importer's order
        self.states = states  # name -> int array (one per ADC sample), for labels not all 0
        self.event_sample = event_sample  # per event: the ADC sample it ends at, or -1
        self.device = device

    def of(self, first_event: int, event_count: int) -> dict:
        """``adc_labels`` of the repetition of these events: one int32 tensor per label."""
        sample = self.event_sample[first_event:first_event + event_count]
        at_adc = sample >= 0
        out = {}
        for name in self.names:
            states = self.states.get(name)
            if states is None:
                out[name] = torch.zeros(event_count, dtype=torch.int32, device=self.device)
            else:
                values = np.where(at_adc, states[np.maximum(sample, 0)], 0)
                out[name] = torch.tensor(values, dtype=torch.int32, device=self.device)
        return out


class PulseGradients:
    """The gradient amplitudes during every pulse of one lowering (Hz/m, [pulses, 3]) and
    whether each pulse is off resonance; ``make()`` computes both (numpy), once, when
    the first pulse needs them (pickling and copying compute them first)."""

    __slots__ = ("_make", "_amplitudes", "_off_res", "device")

    def __init__(self, make, device):
        self._make = make  # () -> (float32 [pulses, 3], bool [pulses])
        self._amplitudes = self._off_res = None
        self.device = device

    def _made(self):
        if self._make is not None:
            self._amplitudes, self._off_res = self._make()
            self._make = None  # (and with it what it computes from)
        return self._amplitudes, self._off_res

    def of(self, pulse: int) -> torch.Tensor:
        return torch.tensor(self._made()[0][pulse], dtype=torch.float32, device=self.device)

    def off_res(self, pulse: int) -> bool:
        return bool(self._made()[1][pulse])

    def __getstate__(self):
        return (*self._made(), self.device)

    def __setstate__(self, state):
        self._amplitudes, self._off_res, self.device = state
        self._make = None


class Pulse(mr0.Pulse):
    """``MRzeroCore.Pulse`` whose ``grad`` and ``off_res`` are made on first access."""

    def __getattr__(self, name):  # only for attributes not (yet) in the instance dict
        fields = self.__dict__
        if name in ("grad", "off_res") and "_gradients" in fields:
            gradients, pulse = fields["_gradients"], fields["_pulse"]
            fields[name] = gradients.of(pulse) if name == "grad" else gradients.off_res(pulse)
            return fields[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


class Repetition(mr0.Repetition):
    """``MRzeroCore.Repetition`` whose ``adc_labels`` are made on first access."""

    def __getattr__(self, name):  # only for attributes not (yet) in the instance dict
        fields = self.__dict__
        if name == "adc_labels" and "_labels" in fields:
            labels = fields["_labels"]
            # the importer gives labels to repetitions that have ADC samples only
            fields["adc_labels"] = {} if labels is None else labels.of(fields["_first_event"],
                                                                        fields["event_count"])
            return fields["adc_labels"]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
