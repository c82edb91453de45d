"""The printed form of a sequence graph: params first, repeated blocks folded.

``format_graph(g)`` fits a screen for a typical 2D sequence::

    gre(TR: f64, TE: f64, flips: f64[64])
      system   max_grad 1.19e+06 Hz/m  max_slew 5.95e+09 Hz/m/s  rasters: grad 10 us ...
      values   812 nodes: 3 params, 420 consts, 389 ops
      guards   1
        gre.py:41  condition of %17 was True
      blocks   322
        0        rf:sinc gz:trap
        1-320    64 x [rf:sinc gz:trap | gx:trap gy:trap gz:trap | delay | ...]

``format_values(g)`` lists every op node (``%12 = (TE - 0.0042)``).
"""
from __future__ import annotations

import numpy as np

from . import ops as _ops
from .values import Const, Op, Param

MAX_PERIOD = 16


def fmt_number(x) -> str:
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, np.ndarray):
        if x.size <= 4:
            return "[" + ", ".join(fmt_number(v) for v in x.ravel()) + "]"
        return f"f64[{', '.join(map(str, x.shape))}]"
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.6g}"


def fmt_ref(values, node: int) -> str:
    """A node as an operand: constants inline, params by name, ops as %id."""
    n = values.nodes[node]
    if isinstance(n, Const):
        return fmt_number(n.value)
    if isinstance(n, Param):
        return n.name
    if n.op == "getitem" and isinstance(values.nodes[n.inputs[0]], Param):
        return f"{values.nodes[n.inputs[0]].name}[{n.attrs[0]}]"
    return f"%{node}"


def fmt_op(values, node: int, depth: int = 0) -> str:
    """An op node as an expression; operands inlined ``depth`` levels deep."""
    n = values.nodes[node]
    spec = _ops.OPS[n.op]
    args = [fmt_op(values, i, depth - 1)
            if depth > 0 and isinstance(values.nodes[i], Op) and fmt_ref(values, i).startswith("%")
            else fmt_ref(values, i) for i in n.inputs]
    if "{all}" in spec.fmt:
        return spec.fmt.replace("{all}", ", ".join(args))
    attrs = {f"a{i}": a for i, a in enumerate(n.attrs)}
    return spec.fmt.format(*args, **attrs)


def _event_key(e) -> str:
    if e.kind == "trap":
        return f"g{e.channel}:trap"
    if e.kind == "rf":
        # (no use given: "" in the 1.4 API, "undefined" in 1.5's)
        return f"rf:{e.shape.kind}" + (f"({e.use})" if e.use not in ("", "undefined") else "")
    if e.kind == "adc":
        return f"adc:{e.num_samples}"
    if e.kind == "delay" and e.origin is None:
        return "duration"
    return e.kind


def block_key(block) -> str:
    return " ".join(_event_key(e) for e in block.events) or "(empty)"


def fold(keys: list) -> list:
    """Runs of a repeated pattern: [(start, period, count)], covering all keys."""
    out, i, n = [], 0, len(keys)
    while i < n:
        best = (1, 1)
        for p in range(1, min(MAX_PERIOD, (n - i) // 2) + 1):
            k = 1
            while i + (k + 1) * p <= n and keys[i + k * p:i + (k + 1) * p] == keys[i:i + p]:
                k += 1
            if k > 1 and k * p > best[0] * best[1]:
                best = (p, k)
        out.append((i, *best))
        i += best[0] * best[1]
    return out


WIDTH = 100


def _wrap(head: str, items: list, indent: int = 11, sep: str = ", ") -> list:
    """``head`` then the items, wrapped at WIDTH columns."""
    lines, line = [], head
    for item in items:
        if len(line) + len(item) + len(sep) > WIDTH and line.strip() != head.strip():
            lines.append(line[:-len(sep)] if line.endswith(sep) else line)
            line = " " * indent
        line += item + sep
    lines.append(line[:-len(sep)] if line.endswith(sep) else line)
    return lines


def _system_items(s) -> list:
    return [f"max_grad {s.max_grad:.4g} Hz/m", f"max_slew {s.max_slew:.4g} Hz/m/s",
            f"rasters: grad {s.grad_raster_time * 1e6:g} us", f"rf {s.rf_raster_time * 1e6:g} us",
            f"adc {s.adc_raster_time * 1e6:g} us", f"block {s.block_duration_raster * 1e6:g} us",
            f"B0 {s.B0:g} T"]


def _arg_text(values, arg) -> str:
    kind = type(arg).__name__
    if kind == "ArgValue":
        return fmt_ref(values, arg.node)
    if kind == "ArgLiteral":
        return repr(arg.value)
    if kind == "ArgList":
        return "[" + ", ".join(_arg_text(values, a) for a in arg.items) + "]"
    return kind[3:].lower()


def format_graph(graph, max_runs: int = 40) -> str:
    v = graph.values
    params = ", ".join(
        f"{p.name}: f64" + (f"[{', '.join(map(str, p.shape))}]" if p.shape else "")
        for p in graph.params)
    n_params = sum(isinstance(n, Param) for n in v.nodes)
    n_const = sum(isinstance(n, Const) for n in v.nodes)
    n_ops = sum(isinstance(n, Op) for n in v.nodes)
    lines = [f"{graph.name}({params})"]
    lines += _wrap("  system   ", _system_items(graph.system))
    if graph.definitions:
        lines += _wrap("  defs     ", [f"{k}={_arg_text(v, a)}" for k, a in graph.definitions])
    lines.append(f"  values   {len(v)} nodes: {n_params} params, {n_const} consts, {n_ops} ops")
    lines.append(f"  guards   {len(graph.guards)}")
    for g in graph.guards[:8]:
        lines.append(f"    {g.describe()}")
        if isinstance(v.nodes[g.node], Op):
            lines.append(f"      %{g.node} = {fmt_op(v, g.node, depth=3)}")
    if len(graph.guards) > 8:
        lines.append(f"    ... {len(graph.guards) - 8} more")
    lines.append(f"  blocks   {len(graph.blocks)}")
    keys = [block_key(b) for b in graph.blocks]
    runs = fold(keys)
    for start, period, count in runs[:max_runs]:
        stop = start + period * count - 1
        where = f"{start}" if stop == start else f"{start}-{stop}"
        if count == 1:
            lines.append(f"    {where:<10} {keys[start]}")
        else:
            lines += _wrap(f"    {where:<10} {count} x [",
                           [k for k in keys[start:start + period]], indent=16, sep=" | ")
            lines[-1] += "]"
    if len(runs) > max_runs:
        lines.append(f"    ... {len(runs) - max_runs} more runs")
    return "\n".join(lines)


def format_values(graph) -> str:
    """Every op node, one per line (what the graph computes)."""
    v = graph.values
    return "\n".join(f"%{i} = {fmt_op(v, i)}" for i, n in enumerate(v.nodes) if isinstance(n, Op))
