"""Generate ``docs/api-support.md``: every public name of pypulseq 1.4.2 and 1.5, one
column per version, and how pulseqzero supports it (from ``pulseqzero/support.py``).

    python tools/api_support.py          # write docs/api-support.md
    python tools/api_support.py --check  # exit 1 if it is stale or incomplete
    python tools/api_support.py --names  # record the installed pypulseq's public names

The public names are walked in the installed pypulseq: the functions and classes
its package exports (defined in pypulseq itself), and the methods ``Sequence`` and
``Opts`` define (public ones, ``__init__`` and ``__str__``); for 1.4.2 the list of
the seed README, plus ``round_half_up``, which pypulseq's ``__init__`` defines.
Each version's list is recorded in ``tools/pypulseq_names/<version>.txt`` (run
``--names`` under each installed version), so the document is the same whichever
version renders it; ``--check`` also compares the installed version's walk with its
recorded list.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "api-support.md"
NAMES = ROOT / "tools" / "pypulseq_names"
CLASSES = ("Sequence", "Opts")
VERSIONS = {"1.4": "1.4.2", "1.5": "1.5"}  # API version -> column title


def installed_api() -> str:
    """The installed pypulseq's API version, "1.4" or "1.5"."""
    from pulseqzero.pp.version import API_NAME
    return API_NAME


def names_of(api: str) -> list:
    """The recorded public names of pypulseq's API version ``api``."""
    return (NAMES / f"{api}.txt").read_text().split()


def all_names() -> list:
    """The names of every version: 1.4.2's in their order, then the newer ones."""
    out = []
    for api in VERSIONS:
        out += [n for n in names_of(api) if n not in out]
    return out


def public_names() -> list:
    """The installed pypulseq's public names: top-level first, then ``Class.method``."""
    import pypulseq
    top = []
    for name in sorted(dir(pypulseq), key=str.lower):
        value = getattr(pypulseq, name)
        module = getattr(value, "__module__", None) or ""
        if not name.startswith("_") and callable(value) and module.startswith("pypulseq"):
            top.append(name)
    methods = []
    for cls in CLASSES:
        for name, value in vars(getattr(pypulseq, cls)).items():
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if callable(value) and (not name.startswith("_") or name in ("__init__", "__str__")):
                methods.append(f"{cls}.{name}")
    return top + methods


def implemented(name: str) -> bool:
    """Does pulseqzero's recording implementation have this name?"""
    from pulseqzero import pp
    owner, _, attr = name.rpartition(".")
    if not owner:
        return hasattr(pp, name)
    # defined by the class or a base of ours (Sequence's block store and queries are mixins),
    # not inherited from object
    return any(attr in vars(c) for c in getattr(pp, owner).__mro__ if c is not object)


def problems() -> list:
    """What keeps the matrix from being complete (empty when it is): checked for the
    installed version, whose names are walked; the other version's list is as recorded."""
    from pulseqzero.support import STATUSES, SUPPORT, SUPPORT_15, support
    api = installed_api()
    names = public_names()
    out = []
    if names != names_of(api):
        out.append(f"tools/pypulseq_names/{api}.txt is not the installed pypulseq's list: "
                   "run python tools/api_support.py --names")
    known = all_names()
    out += [f"{n}: public in pypulseq, missing from pulseqzero/support.py SUPPORT"
            for n in names if n not in SUPPORT]
    out += [f"{n}: in SUPPORT but not a public name of pypulseq {', '.join(VERSIONS.values())}"
            for n in list(SUPPORT) + list(SUPPORT_15) if n not in known]
    out += [f"{n}: unknown status {support(n, a)[0]!r}" for a in VERSIONS for n in names_of(a)
            if n in SUPPORT and support(n, a)[0] not in STATUSES]
    out += [f"{n}: not in pulseqzero.pp" for n in names if not implemented(n)]
    out += [f"{n}: in pulseqzero.pp, but pypulseq {VERSIONS[api]} has no such name"
            for n in known if n not in names and implemented(n)]
    return out


def _row(name: str) -> str:
    from pulseqzero.support import SUPPORT, support
    cells, notes = [], []
    for api, title in VERSIONS.items():
        if name not in names_of(api):
            cells.append("—")
            continue
        status, note = support(name, api) if name in SUPPORT else ("**missing**", "")
        cells.append(status)
        if note and note not in [n for _, n in notes]:
            notes.append((title, note))
    text = notes[0][1] if len(notes) == 1 else " ".join(f"{t}: {n}" for t, n in notes)
    return f"| `{name}` | {' | '.join(cells)} | {text} |"


def render() -> str:
    """The Markdown document (from the recorded name lists: the same under every version)."""
    from pulseqzero.support import STATUSES, support
    names = all_names()
    titles = list(VERSIONS.values())
    lines = [
        f"# PyPulseq {' and '.join(titles)} API support",
        "",
        "<!-- generated by tools/api_support.py from pulseqzero/support.py and "
        "tools/pypulseq_names/: do not edit -->",
        "",
        f"Every public name of PyPulseq {' and '.join(titles)} (the functions and classes the "
        "package exports, and the methods of `Sequence` and `Opts`) and what it does in "
        "pulseqzero while a sequence is traced (`@pulseqzero.trace`, "
        "`pulseqzero.trace_script`) or inside `pulseqzero.mr0_mode()`, under each version "
        "(pulseqzero implements the API of the pypulseq installed beside it; — : the "
        "version has no such name). Outside, `pulseqzero.pp_impl` (and `import pypulseq` "
        "inside `pulseqzero.as_pypulseq()`) is pypulseq itself.",
        "",
        "| status | meaning |",
        "|---|---|",
    ]
    lines += [f"| {status} | {meaning} |" for status, meaning in STATUSES.items()]
    sections = (("Functions and classes", [n for n in names if "." not in n]),
                ("`Sequence` methods", [n for n in names if n.startswith("Sequence.")]),
                ("`Opts` methods", [n for n in names if n.startswith("Opts.")]))
    header = "| name | " + " | ".join(titles) + " | notes |"
    rule = "|---|" + "---|" * len(titles) + "---|"
    for title, members in sections:
        lines += ["", f"## {title}", "", header, rule]
        lines += [_row(n) for n in members]
    lines.append("")
    for api, title in VERSIONS.items():
        version_names = names_of(api)
        counts = {s: sum(1 for n in version_names if support(n, api)[0] == s) for s in STATUSES}
        lines.append(f"In all, PyPulseq {title}: "
                     + ", ".join(f"{k} {v}" for k, v in counts.items())
                     + f" ({len(version_names)} names).")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sys.path.insert(0, str(ROOT))
    if "--names" in argv:
        NAMES.mkdir(exist_ok=True)
        path = NAMES / f"{installed_api()}.txt"
        path.write_text("\n".join(public_names()) + "\n")
        print(f"wrote {path.relative_to(ROOT)}")
        return 0
    issues = problems()
    text = render()
    if "--check" in argv:
        if DOC.exists() and DOC.read_text() == text and not issues:
            return 0
        for issue in issues:
            print(issue)
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is stale: run python tools/api_support.py")
        return 1
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
    for issue in issues:
        print(issue)
    print(f"wrote {DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
