"""The closed op set: one numpy and one torch implementation per op.

numpy runs in float64 and reproduces Python's / PyPulseq's float arithmetic bit
for bit (IEEE operations are exact; Python's ``round`` with digits is used
as is). torch carries autograd: rounding ops are *straight-through* there (the
forward pass rounds, the backward pass is the identity), which is what makes
raster rounding of optimised timings differentiable.

Each op has a printing template: ``{0}``, ``{1}`` are its inputs and
``{a0}`` its first static attribute.
"""
from __future__ import annotations

from typing import Callable

import attrs
import numpy as np

try:  # torch is a hard dependency of the package, but ir must import without it
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _scalar(x):
    """numpy returns 0-d arrays from some functions; keep scalars as np.float64."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return x[()]
    return x


def _broadcast(shapes, _attrs):
    return tuple(np.broadcast_shapes(*shapes)) if shapes else ()


def _scalar_shape(_shapes, _attrs):
    return ()


def _getitem_shape(shapes, attrs_):
    return tuple(np.empty(shapes[0], dtype=np.int8)[attrs_[0]].shape)


def _slice_shape(shapes, attrs_):
    return (len(range(*slice(*attrs_).indices(shapes[0][0]))), *shapes[0][1:])


def _concat_shape(shapes, _attrs):
    return (sum(s[0] for s in shapes), *shapes[0][1:])


def _stack_shape(shapes, _attrs):
    if any(s != shapes[0] for s in shapes):
        raise ValueError("stack: all inputs need the same shape")
    return (len(shapes), *shapes[0]) if shapes else (0,)


def _straight_through(fn):
    def st(x):
        return x + (fn(x) - x).detach()
    return st


def _py_round_digits(x, digits):
    """Python's correctly rounded ``round(x, digits)``, element-wise."""
    if np.ndim(x) == 0:
        return np.float64(round(float(x), digits))
    return np.vectorize(lambda v: round(float(v), digits), otypes=[np.float64])(x)


def _torch_round_digits(x, digits):
    return x + (torch.round(x, decimals=digits) - x).detach()


def _torch_floordiv(a, b):
    q = a / b
    return q + (torch.floor(q) - q).detach()


@attrs.frozen(slots=True)
class OpDef:
    name: str
    arity: int  # -1: any number of inputs
    numpy: Callable
    torch: Callable
    fmt: str
    shape: Callable = _broadcast
    boolean: bool = False  # result is a truth value (comparisons, logic)
    straight_through: bool = False  # torch backward is the identity


def _t(name):
    return lambda *a: getattr(torch, name)(*a)


_TABLE = [
    # name, arity, numpy, torch, fmt, extra
    ("add", 2, np.add, _t("add"), "({0} + {1})", {}),
    ("sub", 2, np.subtract, _t("sub"), "({0} - {1})", {}),
    ("mul", 2, np.multiply, _t("mul"), "{0}*{1}", {}),
    ("div", 2, np.true_divide, _t("true_divide"), "{0}/{1}", {}),
    ("floordiv", 2, np.floor_divide, _torch_floordiv, "({0} // {1})", {"straight_through": True}),
    ("mod", 2, np.mod, _t("remainder"), "({0} % {1})", {}),
    ("pow", 2, np.power, _t("pow"), "{0}**{1}", {}),
    ("neg", 1, np.negative, _t("neg"), "-{0}", {}),
    ("abs", 1, np.abs, _t("abs"), "abs({0})", {}),
    ("sign", 1, np.sign, _t("sign"), "sign({0})", {}),
    ("sqrt", 1, np.sqrt, _t("sqrt"), "sqrt({0})", {}),
    ("exp", 1, np.exp, _t("exp"), "exp({0})", {}),
    ("log", 1, np.log, _t("log"), "log({0})", {}),
    ("log10", 1, np.log10, _t("log10"), "log10({0})", {}),
    ("sin", 1, np.sin, _t("sin"), "sin({0})", {}),
    ("cos", 1, np.cos, _t("cos"), "cos({0})", {}),
    ("tan", 1, np.tan, _t("tan"), "tan({0})", {}),
    ("arcsin", 1, np.arcsin, _t("asin"), "arcsin({0})", {}),
    ("arccos", 1, np.arccos, _t("acos"), "arccos({0})", {}),
    ("arctan", 1, np.arctan, _t("atan"), "arctan({0})", {}),
    ("arctan2", 2, np.arctan2, _t("atan2"), "arctan2({0}, {1})", {}),
    ("sinh", 1, np.sinh, _t("sinh"), "sinh({0})", {}),
    ("cosh", 1, np.cosh, _t("cosh"), "cosh({0})", {}),
    ("tanh", 1, np.tanh, _t("tanh"), "tanh({0})", {}),
    ("sinc", 1, np.sinc, _t("sinc"), "sinc({0})", {}),
    ("minimum", 2, np.minimum, _t("minimum"), "min({0}, {1})", {}),
    ("maximum", 2, np.maximum, _t("maximum"), "max({0}, {1})", {}),
    ("floor", 1, np.floor, _straight_through(lambda x: torch.floor(x)), "floor({0})",
     {"straight_through": True}),
    ("ceil", 1, np.ceil, _straight_through(lambda x: torch.ceil(x)), "ceil({0})",
     {"straight_through": True}),
    ("round", 1, np.rint, _straight_through(lambda x: torch.round(x)), "round({0})",
     {"straight_through": True}),
    ("trunc", 1, np.trunc, _straight_through(lambda x: torch.trunc(x)), "trunc({0})",
     {"straight_through": True}),
    ("round_digits", 1, _py_round_digits, _torch_round_digits, "round({0}, {a0})",
     {"straight_through": True}),
    ("round_np", 1, lambda x, d: np.round(x, d), _torch_round_digits, "np.round({0}, {a0})",
     {"straight_through": True}),
    ("lt", 2, np.less, _t("lt"), "({0} < {1})", {"boolean": True}),
    ("le", 2, np.less_equal, _t("le"), "({0} <= {1})", {"boolean": True}),
    ("gt", 2, np.greater, _t("gt"), "({0} > {1})", {"boolean": True}),
    ("ge", 2, np.greater_equal, _t("ge"), "({0} >= {1})", {"boolean": True}),
    ("eq", 2, np.equal, _t("eq"), "({0} == {1})", {"boolean": True}),
    ("ne", 2, np.not_equal, _t("ne"), "({0} != {1})", {"boolean": True}),
    ("isfinite", 1, np.isfinite, _t("isfinite"), "isfinite({0})", {"boolean": True}),
    ("not", 1, np.logical_not, _t("logical_not"), "not {0}", {"boolean": True}),
    ("and", 2, np.logical_and, _t("logical_and"), "({0} and {1})", {"boolean": True}),
    ("or", 2, np.logical_or, _t("logical_or"), "({0} or {1})", {"boolean": True}),
    ("where", 3, np.where, _t("where"), "where({0}, {1}, {2})", {}),
    ("getitem", 1, lambda x, i: x[i], lambda x, i: x[i], "{0}[{a0}]", {"shape": _getitem_shape}),
    ("stack", -1, lambda *xs: np.stack(xs), lambda *xs: torch.stack(xs), "[{all}]",
     {"shape": _stack_shape}),
    ("slice", 1, lambda x, *a: x[slice(*a)], lambda x, *a: x[slice(*a)], "{0}[{a0}:{a1}:{a2}]",
     {"shape": _slice_shape}),
    ("concat", -1, lambda *xs: np.concatenate(xs), lambda *xs: torch.cat(xs), "concat({all})",
     {"shape": _concat_shape}),
    ("sum", 1, np.sum, _t("sum"), "sum({0})", {"shape": _scalar_shape}),
    ("prod", 1, np.prod, _t("prod"), "prod({0})", {"shape": _scalar_shape}),
    ("max_reduce", 1, np.max, _t("amax"), "max({0})", {"shape": _scalar_shape}),
    ("min_reduce", 1, np.min, _t("amin"), "min({0})", {"shape": _scalar_shape}),
    ("cumsum", 1, np.cumsum, lambda x: torch.cumsum(x, 0), "cumsum({0})", {}),
]

OPS: dict = {
    name: OpDef(name, arity, np_fn, torch_fn, fmt, **extra)
    for name, arity, np_fn, torch_fn, fmt, extra in _TABLE
}


def check_op(name: str) -> None:
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; the op set is closed: {sorted(OPS)}")


def eval_numpy(name: str, inputs: list, attrs_: tuple = ()):
    """Evaluate one op on float64 numpy values."""
    fn = OPS[name].numpy
    with np.errstate(all="ignore"):
        return _scalar(fn(*inputs, *attrs_))


def eval_torch(name: str, inputs: list, attrs_: tuple = ()):
    """Evaluate one op on torch tensors (autograd-aware, straight-through rounding)."""
    return OPS[name].torch(*inputs, *attrs_)
