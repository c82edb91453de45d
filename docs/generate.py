"""Regenerate the generated parts of the docs from the code, so they cannot go stale.

    .venv/bin/python docs/generate.py          # rewrite them in place
    .venv/bin/python docs/generate.py --check  # exit 1 if a doc is out of date (tests/test_docs.py)

Generated parts sit between ``<!-- generated: NAME -->`` and ``<!-- end generated -->``
markers; everything else in the file is hand-written.

* ``ops`` in ir.md: the closed op set, from ``ir/ops.py`` ``OPS``;
* ``events`` in ir.md: the event kinds and their value fields, from ``ir/events.py``.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))


def ops_table() -> str:
    from pulseqzero.ir import ops
    lines = ["| op | inputs | printed as | notes |", "|---|---|---|---|"]
    for name, d in ops.OPS.items():
        arity = "any" if d.arity < 0 else str(d.arity)
        notes = []
        if d.boolean:
            notes.append("truth value")
        if d.straight_through:
            notes.append("straight-through in torch")
        if d.shape is not ops._broadcast:
            notes.append(f"shape: {d.shape.__name__.strip('_').replace('_shape', '')}")
        fmt = d.fmt.replace("|", "\\|")
        lines.append(f"| `{name}` | {arity} | `{fmt}` | {', '.join(notes)} |")
    return "\n".join(lines)


def events_table() -> str:
    import attrs

    from pulseqzero.ir import events
    kinds = [events.Trap, events.Grad, events.RF, events.ADC, events.Label, events.Trigger,
             events.Delay]
    lines = ["| kind | class | value fields (node ids) | static fields |", "|---|---|---|---|"]
    for cls in kinds:
        value = events.VALUE_FIELDS[cls.kind]
        static = [f.name for f in attrs.fields(cls) if f.name not in value and f.name != "origin"]
        lines.append(f"| `{cls.kind}` | `{cls.__name__}` | {', '.join(value)} | "
                     f"{', '.join(static) or '—'} |")
    shapes = [events.SincShape, events.BlockShape, events.GaussShape, events.ArbitraryShape,
              events.SampledShape]
    lines += ["", "| RF shape | class | fields |", "|---|---|---|"]
    for cls in shapes:
        fields = ", ".join(f.name for f in attrs.fields(cls))
        lines.append(f"| `{cls.kind}` | `{cls.__name__}` | {fields} |")
    return "\n".join(lines)


GENERATED = {("ir.md", "ops"): ops_table, ("ir.md", "events"): events_table}

_BLOCK = re.compile(r"(<!-- generated: (\w+) -->\n)(.*?)(\n<!-- end generated -->)", re.S)


def render(path: Path) -> str:
    text = path.read_text()

    def fill(m):
        make = GENERATED.get((path.name, m.group(2)))
        if make is None:
            raise KeyError(f"{path.name}: no generator for {m.group(2)!r}")
        return m.group(1) + make() + m.group(4)
    return _BLOCK.sub(fill, text)


def main(argv) -> int:
    stale = []
    for name in sorted({doc for doc, _ in GENERATED}):
        path = DOCS / name
        new = render(path)
        if new != path.read_text():
            stale.append(name)
            if "--check" not in argv:
                path.write_text(new)
    if "--check" in argv and stale:
        print(f"out of date: {', '.join(stale)} (run: python docs/generate.py)")
        return 1
    print("generated parts: " + ("rewrote " + ", ".join(stale) if stale else "up to date"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
