"""MRzeroCore's ``Pulse`` and ``Repetition`` as the mr0 lowering builds them.

The simulation reads a pulse's angle, phase and shim and a repetition's event
times, gradient moments, ADC phases and usage: the lowering makes those tensors
at every call. The fields only reconstruction and inspection read, a
repetition's ``adc_labels`` and a pulse's ``grad``, are made on first access,
from arrays that the repetitions of one lowering share; after that they are
ordinary attributes (assignable, and not shared). Otherwise these are
MRzeroCore's classes (subclasses), built without ``__init__``, whose shape
checks hold by construction.
"""
from __future__ import annotations

import numpy as np
import torch

import MRzeroCore as mr0


class Labels:
    """The label state at every event of one lowering, for the repetitions' ``adc_labels``."""

    __slots__ = ("names", "values", "device")

    def __init__(self, names: list, values: dict, device):
        self.names = names  # label names, in the importer's order
        self.values = values  # name -> int32 array (one per event), for labels that are not all 0
        self.device = device

    def of(self, first_event: int, event_count: int) -> dict:
        """``adc_labels`` of the repetition of these events: one int32 tensor per label."""
        out = {}
        for name in self.names:
            values = self.values.get(name)
            if values is None:
                out[name] = torch.zeros(event_count, dtype=torch.int32, device=self.device)
            else:
                part = values[first_event:first_event + event_count]
                out[name] = torch.tensor(part, dtype=torch.int32, device=self.device)
        return out


class PulseGradients:
    """The gradient amplitudes during every pulse of one lowering (Hz/m, [pulses, 3])."""

    __slots__ = ("amplitudes", "device")

    def __init__(self, amplitudes: np.ndarray, device):
        self.amplitudes = amplitudes
        self.device = device

    def of(self, pulse: int) -> torch.Tensor:
        return torch.tensor(self.amplitudes[pulse], dtype=torch.float32, device=self.device)


class Pulse(mr0.Pulse):
    """``MRzeroCore.Pulse`` whose ``grad`` is made on first access."""

    def __getattr__(self, name):  # only for attributes not (yet) in the instance dict
        fields = self.__dict__
        if name == "grad" and "_gradients" in fields:
            fields["grad"] = fields["_gradients"].of(fields["_pulse"])
            return fields["grad"]
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
