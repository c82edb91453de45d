"""python -m pulseqzero: trace, export, simulate or draw a sequence script from the shell.

A SCRIPT is a Python file that defines a sequence function written against
pulseqzero.pp_impl (pp = pulseqzero.pp_impl, then PyPulseq code as usual),
for example examples/gre.py:

    def gre(TR, TE, flips, Nx: int = 64, Ny: int = 64): ...

Its arguments come from the function's defaults and -p NAME=VALUE options.
Scripts written for plain pypulseq (import pypulseq as pp, and a main())
are traced with pulseqzero.trace_script where this version has it.
"""
from __future__ import annotations

import argparse
import ast
import importlib.util
import inspect
import math
import re
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np

EPILOG = """\
values (-p NAME=VALUE):
  numbers (12e-3, 64), lists ([10, 20, 30]), strings, or a numpy expression
  ("np.full(64, 10.0)", "np.linspace(5, 20, 64)"). Whole numbers are static
  arguments (sizes, counts: the structure of the sequence); other numbers and
  arrays are parameters (traced, can be re-executed and optimised).

examples:
  python -m pulseqzero trace examples/gre.py          (the function's defaults)
  python -m pulseqzero trace examples/gre.py -p TR=12e-3 -p TE=5e-3 -p "flips=np.full(64, 10.0)"
  python -m pulseqzero export examples/gre.py -p TR=12e-3 -p TE=5e-3 \\
      -p "flips=np.full(64, 10.0)" -o gre.seq
  python -m pulseqzero simulate examples/gre.py -p TR=12e-3 -p TE=5e-3 \\
      -p "flips=np.full(32, 10.0)" -p Nx=32 -p Ny=32 -o gre.png
  python -m pulseqzero plot examples/gre.py -p TR=12e-3 -p TE=5e-3 \\
      -p "flips=np.full(64, 10.0)" --time 0 0.024 -o gre_diagram.png

Python API: see docs/getting-started.md (pulseqzero.trace, graph.write,
graph.to_mr0, pulseqzero.optimize).
"""


class CliError(Exception):
    """A problem with the command line or the script, reported without a traceback."""


# ---------------------------------------------------------------- values and scripts

def parse_value(text: str):
    """``-p`` value: a Python literal or a numpy expression; lists become float arrays."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        names = {"np": np, "numpy": np, "math": math, "pi": math.pi}
        try:
            value = eval(text, {"__builtins__": {}}, names)  # noqa: S307 (the user's own shell)
        except Exception as e:  # noqa: BLE001
            if re.fullmatch(r"[A-Za-z_]\w*", text):
                return text  # a bare word is a string (e.g. -p mode=fast)
            raise CliError(f"cannot read the value {text!r}: {e}") from None
    if isinstance(value, (list, tuple)) and all(isinstance(v, (int, float)) for v in value):
        value = np.asarray(value, dtype=np.float64)
    return value


def parse_params(items) -> dict:
    params = {}
    for item in items or []:
        if "=" not in item:
            raise CliError(f"-p {item!r}: write NAME=VALUE, e.g. -p TE=5e-3")
        name, text = item.split("=", 1)
        params[name.strip()] = parse_value(text.strip())
    return params


def _uses_plain_pypulseq(source: str) -> bool:
    imports_pypulseq = re.search(r"^\s*(import\s+pypulseq|from\s+pypulseq)", source, re.M)
    return bool(imports_pypulseq) and "pulseqzero" not in source


def load_script(path: Path):
    """Import the script as a module (its folder on sys.path, so its own imports work)."""
    if not path.exists():
        raise CliError(f"no such script: {path}")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = "pulseqzero_script_" + re.sub(r"\W", "_", path.stem)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        where = f"{e.filename}:{e.lineno}" if e.filename else str(path)
        text = f"\n    {e.text.rstrip()}" if e.text else ""
        raise CliError(f"{where}: {type(e).__name__}: {e.msg}{text}") from None
    return module


def find_function(module, path: Path, name: str | None):
    """The sequence function: ``--fn NAME``, else the only public function the script defines
    (or the one named like the file)."""
    from .trace import TracedFunction
    if name:
        fn = getattr(module, name, None)
        if fn is None or not callable(fn):
            raise CliError(f"{path} defines no function {name!r}")
        return fn
    own = [obj for n, obj in vars(module).items()
           if not n.startswith("_") and (inspect.isfunction(obj) or isinstance(obj, TracedFunction))
           and getattr(obj, "__module__", None) == module.__name__]
    if len(own) == 1:
        return own[0]
    named = [f for f in own if f.__name__ == path.stem]
    if len(named) == 1:
        return named[0]
    names = ", ".join(f.__name__ for f in own) or "none"
    raise CliError(f"{path}: which function builds the sequence? It defines: {names}. "
                   "Choose one with --fn NAME.")


def trace_graph(script: str, fn_name: str | None, params: dict):
    """(Graph, traced function, arguments) for a script, a function name and -p values."""
    import pulseqzero
    path = Path(script)
    if path.exists() and _uses_plain_pypulseq(path.read_text()):
        trace_script = getattr(pulseqzero, "trace_script", None)
        if trace_script is None:
            raise CliError(f"{path} uses pypulseq directly; tracing such scripts needs "
                           "pulseqzero.trace_script, which this version does not have. Write "
                           "the script against pulseqzero.pp_impl (see docs/migrating.md).")
        graph = trace_script(str(path), entry=fn_name or "main", **params)
        return graph, None, params
    module = load_script(path)
    fn = find_function(module, path, fn_name)
    traced = fn if isinstance(fn, pulseqzero.TracedFunction) else pulseqzero.trace(fn)
    signature = inspect.signature(traced.fn)
    unknown = set(params) - set(signature.parameters)
    if unknown and not any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):
        raise CliError(f"{traced.__name__}{signature} has no argument(s) {sorted(unknown)}")
    missing = [n for n, p in signature.parameters.items()
               if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
               and n not in params]
    if missing:
        example = " ".join(f"-p {n}=..." for n in missing)
        raise CliError(f"{traced.__name__}{signature} needs values for {', '.join(missing)}: "
                       f"add {example} (numbers, lists, or e.g. \"np.full(64, 10.0)\")")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pulseqzero.TracingWarning)
        graph = traced.trace(**params)
    return graph, traced, params


# ---------------------------------------------------------------- subcommands

def cmd_trace(args) -> int:
    t0 = time.perf_counter()
    graph, _, _ = trace_graph(args.script, args.fn, parse_params(args.param))
    print(graph)
    if args.values:
        from .ir.printer import format_values
        print("\n" + format_values(graph.ir))
    print(f"\n(traced in {time.perf_counter() - t0:.2f} s)", file=sys.stderr)
    return 0


def cmd_export(args) -> int:
    from .backends.pypulseq import seq_path
    graph, _, _ = trace_graph(args.script, args.fn, parse_params(args.param))
    out = Path(args.output)
    if out.is_dir():  # a folder: the file is named after the sequence function
        out = out / f"{graph.name}.seq"
    out = seq_path(out)  # what is written: pypulseq adds .seq to other names
    graph.write(out)
    print(f"wrote {out} ({len(graph.blocks)} blocks, via pypulseq)")
    return 0


def cmd_plot(args) -> int:
    from .plotting import plot_sequence
    graph, _, _ = trace_graph(args.script, args.fn, parse_params(args.param))
    time_range = tuple(args.time) if args.time else None
    out = plot_sequence(graph, time_range=time_range, path=args.output)
    print(f"wrote {out}")
    return 0


def image_shape(graph, seq, fov) -> tuple:
    """Image size of a Cartesian acquisition: x = samples per ADC (the most of any readout),
    y = FOV_y · (ky extent) + 1."""
    readouts = [e.num_samples for b in graph.blocks for e in b.events if e.kind == "adc"]
    if not readouts:
        raise CliError(f"{graph.name} has no ADC: there is nothing to reconstruct")
    ky = seq.get_kspace()[:, 1].detach().cpu().numpy()
    return max(readouts), max(int(round(fov[1] * float(ky.max() - ky.min()) + 1)), 1)


def cmd_simulate(args) -> int:
    import torch

    from .optimize import Simulator, definition, kspace_fov
    from .plotting import plot_images
    params = parse_params(args.param)
    t0 = time.perf_counter()
    graph, traced, params = trace_graph(args.script, args.fn, params)
    with torch.no_grad():
        seq = graph.to_mr0()
        fov = definition(graph, "FOV")
        fov = tuple(np.atleast_1d(fov)[:2]) if fov is not None else kspace_fov(seq.get_kspace())
        shape = ((args.resolution, args.resolution) if args.resolution
                 else image_shape(graph, seq, fov))
        # a script traced by trace_script comes as a graph: simulate it as it is
        sim = Simulator(graph if traced is None else traced, shape, args.phantom,
                        seq_kwargs=None if traced is None else params,
                        simulator=args.simulator)
        image = sim.image()
    seconds = time.perf_counter() - t0
    phantom = args.phantom or "built-in brain phantom"
    out = plot_images({f"{graph.name}: magnitude": image.abs().cpu()}, args.output,
                      suptitle=f"simulated (PDG) on the {phantom}, {shape[0]}×{shape[1]}")
    print(f"wrote {out} (simulated in {seconds:.1f} s)")
    return 0


# ---------------------------------------------------------------- the parser

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m pulseqzero",
        description=("Trace a PyPulseq sequence script into pulseqzero's graph (IR), export it "
                     "to a .seq file through pypulseq, simulate it with MR-zero (PDG) on a "
                     "phantom, or draw its sequence diagram.\n\n" + __doc__.split("\n\n", 1)[1]),
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traceback", action="store_true",
                        help="show the whole Python traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def common(p):
        p.add_argument("script", metavar="SCRIPT",
                       help="Python file defining the sequence function")
        p.add_argument("--fn", metavar="NAME",
                       help="the sequence function (default: the only function SCRIPT defines)")
        p.add_argument("-p", "--param", action="append", metavar="NAME=VALUE",
                       help="an argument of the function (repeat for several)")

    p = sub.add_parser("trace", help="print the traced graph (params, guards, blocks)",
                       description="Run the function once on tracers and print its graph: "
                                   "parameters, system, definitions, guards and the blocks "
                                   "(repeated patterns folded).")
    common(p)
    p.add_argument("--values", action="store_true", help="also list every computed value")
    p.set_defaults(run=cmd_trace)

    p = sub.add_parser("export", help="write the .seq file (through real pypulseq)",
                       description="Trace, then write the .seq file by replaying every event "
                                   "through pypulseq (the bytes pypulseq itself writes).")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT.seq",
                   help="the .seq file, or a folder (then NAME.seq, after the function)")
    p.set_defaults(run=cmd_export)

    p = sub.add_parser("simulate", help="simulate on a phantom and save the image as PNG",
                       description="Trace, lower to MR-zero, simulate with PDG on a phantom "
                                   "and reconstruct (adjoint, with the sequence's k-space and "
                                   "FOV definition); saves magnitude and phase as a PNG.")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="IMAGE.png", help="the picture")
    p.add_argument("--phantom", metavar="PATH",
                   help="a MRzeroCore .npz phantom (default: the built-in brain)")
    p.add_argument("--resolution", type=int, metavar="N",
                   help="image (and built-in phantom) size N×N (default: from the k-space)")
    p.add_argument("--simulator", choices=("pulseqzero", "mrzerocore"), default="pulseqzero",
                   help="the PDG main pass: ours (default) or MRzeroCore's own (the reference)")
    p.set_defaults(run=cmd_simulate)

    p = sub.add_parser("plot", help="draw the sequence diagram as PNG",
                       description="Trace and draw ADC, RF magnitude / phase and the gradients "
                                   "over time.")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="DIAGRAM.png", help="the picture")
    p.add_argument("--time", type=float, nargs=2, metavar=("START", "STOP"),
                   help="time range in s (default: the whole sequence)")
    p.set_defaults(run=cmd_plot)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except CliError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that cannot be read or written: no traceback needed
        if args.traceback:
            raise
        print(f"error: {e.strerror if e.strerror and e.filename else e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - the script's own error, at the script's line
        if args.traceback:
            raise
        print(f"error: {script_line(e)}{type(e).__name__}: {e}", file=sys.stderr)
        print("(the whole traceback: python -m pulseqzero --traceback ...)", file=sys.stderr)
        return 1


def script_line(error: BaseException) -> str:
    """``"file.py:42: "`` of the innermost frame of the user's code in the error's
    traceback (the script, or a module of the user's it imports), else ``""``."""
    from .trace import _is_user_code
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if _is_user_code(f.filename) and Path(f.filename).suffix == ".py"]
    if not frames:
        return ""
    name = frames[-1].filename
    try:
        name = str(Path(name).resolve().relative_to(Path.cwd()))
    except ValueError:
        pass
    return f"{name}:{frames[-1].lineno}: "


if __name__ == "__main__":
    sys.exit(main())
