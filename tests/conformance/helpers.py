"""Run a PyPulseq call in pypulseq 1.4.2 and in pulseqzero's recording implementation."""
from __future__ import annotations

import warnings

import numpy as np
import pypulseq

import pulseqzero.pp as zpp
from pulseqzero.tracer import TraceContext, Tracer, value_of

NUMERIC = (int, float, np.floating, np.integer)


def run_reference(name, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "ok", getattr(pypulseq, name)(**kwargs)
        except Exception as e:  # the reference decides what raises
            return "error", e


def run_ours(name, kwargs, traced=()):
    """Our call; ``traced`` names numeric arguments that become graph parameters."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with TraceContext("conformance", mode="trace") as ctx:
            kw = {k: (ctx.new_param(k, v) if k in traced and isinstance(v, NUMERIC)
                      and not isinstance(v, bool) else v)
                  for k, v in kwargs.items()}
            try:
                return "ok", getattr(zpp, name)(**kw)
            except Exception as e:
                return "error", e


def concrete(x):
    if isinstance(x, Tracer):
        return value_of(x)
    if isinstance(x, (list, tuple)):
        return type(x)(concrete(v) for v in x)
    return x


def same_value(a, b) -> bool:
    a, b = concrete(a), concrete(b)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    a, b = float(a), float(b)
    return a == b or (np.isnan(a) and np.isnan(b))


def assert_same_event(ours, ref, where=""):
    for key, value in vars(ref).items():
        assert hasattr(ours, key), f"{where}: missing attribute {key}"
        assert same_value(getattr(ours, key), value), (
            f"{where}: {key}: ours {concrete(getattr(ours, key))!r} != pypulseq {value!r}")
    extra = set(vars(ours)) - set(vars(ref))
    assert not extra, f"{where}: attributes pypulseq does not have: {extra}"


def assert_conforms(name, kwargs, traced=()):
    """Same fields, or the same kind of error with pypulseq's message."""
    ref_status, ref = run_reference(name, kwargs)
    status, ours = run_ours(name, kwargs, traced)
    where = f"{name}({kwargs}) traced={tuple(traced)}"
    if ref_status == "error":
        assert status == "error", f"{where}: pypulseq raises {ref!r}, ours returns {ours!r}"
        assert type(ours) is type(ref), f"{where}: {type(ours).__name__} vs {type(ref).__name__}"
        # a traced float is a 'Tracer' in Python's operand-type messages
        message = str(ours).replace("'Tracer'", "'float'")
        assert str(ref) in message, f"{where}: message {str(ours)!r} lacks {str(ref)!r}"
        return
    assert status == "ok", f"{where}: pypulseq returns, ours raises {ours!r}"
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref), where
        for i, (o, r) in enumerate(zip(ours, ref)):
            if hasattr(r, "__dict__"):
                assert_same_event(o, r, f"{where}[{i}]")
            else:  # pypulseq returns the `delay` argument when there is no ringdown delay
                assert same_value(o, r), f"{where}[{i}]: {concrete(o)!r} != {r!r}"
    elif hasattr(ref, "__dict__") and not isinstance(ref, type):
        assert_same_event(ours, ref, where)
    else:
        assert same_value(ours, ref), f"{where}: {concrete(ours)!r} != {ref!r}"
