"""The recording ``Sequence``: PyPulseq 1.4.2's API, building the IR block by block.

Every method of ``pypulseq.Sequence`` exists here, in three kinds:

* **Building** (``add_block``, ``set_block``, ``set_definition``,
  ``register_*_event``, ``mod_grad_axis``, ``read``): recorded into the graph
  (``blocks.py``, ``read.py``). ``add_block`` runs PyPulseq's checks (duplicate
  events, gradient continuity) on the traced values: a check that depends on a
  parameter records a guard, as the ``if`` in PyPulseq does.
* **Structural queries**, computed from the recorded blocks with PyPulseq's
  formulas (``queries.py``, ``timing.py``): ``duration``, ``get_block``,
  ``rf_times``, ``adc_times``, ``waveforms``, ``waveforms_and_times``,
  ``check_timing``, ``evaluate_labels`` are traced (their numbers are tracers
  where they depend on parameters; ``check_timing``'s ``ok`` is a traced truth
  value, so ``if ok:`` records a guard). ``get_gradients``, ``calculate_kspace``
  need scipy / numpy on concrete numbers: they are evaluated at the traced
  values and *pinned* (``pinned.py``) -- guards keep the values they were
  computed from -- so that re-executing the graph can never silently reuse a
  stale result. ``calculate_kspace``'s result pins only when the script uses it.
* **Through pypulseq** (``__str__``, ``plot``, ``test_report``,
  ``calculate_gradient_spectrum``, ``waveforms_export``): the graph is
  exported at the traced values and the real method runs. Display only
  (``plot``, ``test_report``, ``str``) is not pinned; results are pinned when used.

``calculate_pns`` and ``rf_from_lib_data`` are not available while recording
(they raise, naming the alternative).
"""
from __future__ import annotations

from ..version import API_15, API_NAME

import warnings

import numpy as np

from ... import tmath as tm
from ... import tracer as _tr
from ...ir.graph import ParamInfo, SequenceGraph
from ...tracer import Tracer, user_line
from ..events import to_arg
from ..opts import Opts, as_opts, to_system
from . import read as _read
from . import timing as _timing
from .blocks import BlockStore, Entry
from .pinned import PinnedDict, PinnedTuple, pin
from .queries import Queries


class Sequence(BlockStore, Queries):
    """Sequence with PyPulseq 1.4.2's interface that records an IR graph.

    ``add_block`` snapshots its events (later changes to an event affect later
    blocks only, as in PyPulseq); the block duration is traced with
    PyPulseq's formula, so ``duration()`` is exact. Building and the stored
    blocks: ``BlockStore`` (blocks.py); structural queries: ``Queries``
    (queries.py); ``check_timing``: timing.py; ``read``: read.py.
    """

    version_major, version_minor, version_revision = 1, 4, 2

    def __init__(self, system=None, use_block_cache=True):
        self._ctx = _tr.context()
        self.system = Opts() if system is None else as_opts(system)
        self.use_block_cache = use_block_cache
        self._table: dict = {}  # block id -> _Entry, in sequence order (like pypulseq's dict)
        self.next_free_block_ID = 1
        self.definitions: dict = {}
        self._definition_args: dict = {}
        self.extension_numeric_idx: list = []
        self.extension_string_idx: list = []
        self._registry: dict = {}  # (library, handle) -> (event, IR event) as registered
        self._registrations: list = []
        self._copies: dict = {}  # id(IR event) -> the event as added (shared by its blocks)
        self.signature_type = self.signature_file = self.signature_value = ""
        self.rf_raster_time = self.system.rf_raster_time
        self.grad_raster_time = self.system.grad_raster_time
        self.adc_raster_time = self.system.adc_raster_time
        self.block_duration_raster = self.system.block_duration_raster
        self.set_definition("AdcRasterTime", self.adc_raster_time)
        self.set_definition("BlockDurationRaster", self.block_duration_raster)
        self.set_definition("GradientRasterTime", self.grad_raster_time)
        self.set_definition("RadiofrequencyRasterTime", self.rf_raster_time)
        self._line = user_line()
        self._ctx.add_sequence(self)

    def set_definition(self, key: str, value) -> None:
        """Set the ``[DEFINITIONS]`` entry ``key`` (traced numbers are recorded)."""
        if key == "FOV":
            values = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
            biggest = values[0]
            for v in values[1:]:
                biggest = tm.maximum(biggest, v)
            if biggest > 1:
                warnings.warn("Definition FOV uses values exceeding 1 m. New Pulseq interpreters "
                              "expect values in units of meters.")
        self.definitions[key] = value
        self._definition_args[key] = to_arg(self._ctx, value)

    def get_definition(self, key: str):
        return self.definitions.get(key, "")

    # -- extensions (bookkeeping, as pypulseq)

    def get_extension_type_ID(self, extension_string: str) -> int:
        if extension_string not in self.extension_string_idx:
            extension_id = 1 if not self.extension_numeric_idx else 1 + max(self.extension_numeric_idx)
            self.extension_numeric_idx.append(extension_id)
            self.extension_string_idx.append(extension_string)
        else:
            extension_id = self.extension_numeric_idx[self.extension_string_idx.index(extension_string)]
        return extension_id

    def get_extension_type_string(self, extension_id: int) -> str:
        if extension_id not in self.extension_numeric_idx:
            raise ValueError(f"Extension for the given ID - {extension_id} - is unknown.")
        return self.extension_string_idx[self.extension_numeric_idx.index(extension_id)]

    def set_extension_string_ID(self, extension_str: str, extension_id: int) -> None:
        """Set the numeric id of an extension. The export numbers extensions in the order of
        first use (pypulseq's default); an explicit numbering is not exported."""
        if extension_str in self.extension_string_idx or extension_id in self.extension_numeric_idx:
            raise ValueError("Numeric or string ID is not unique")
        self.extension_numeric_idx.append(extension_id)
        self.extension_string_idx.append(extension_str)
        self._ctx.say_once(("extension id",), f"{user_line()}: set_extension_string_ID is kept "
                           "for queries; the exported file numbers extensions in order of use")

    def remove_duplicates(self, in_place: bool = False) -> "Sequence":
        """The sequence with duplicate library events merged. The recording keeps events,
        not a library: pypulseq merges them when the export writes (``write`` does it by
        default), so this returns the sequence itself (``in_place``) or a copy."""
        if in_place:
            return self
        new = Sequence.__new__(Sequence)
        new.__dict__.update(self.__dict__)
        new._table = {k: Entry(e.block, e.duration, dict(e.events), e.labels, e.triggers)
                      for k, e in self._table.items()}
        new.definitions = dict(self.definitions)
        new._definition_args = dict(self._definition_args)
        new.extension_numeric_idx = list(self.extension_numeric_idx)
        new.extension_string_idx = list(self.extension_string_idx)
        new._registry = dict(self._registry)
        new._registrations = list(self._registrations)
        return new

    if API_15:
        def check_timing(self, print_errors: bool = False):
            """(ok, error_report): PyPulseq 1.5's timing checks on every block, from the
            graph; the report is a list of records (``block``, ``event``, ``field``,
            ``error_type``, ``value``, ...), printed with ``print_errors``.

            ``ok`` is traced where it depends on parameters (``if ok:`` records a guard);
            the report is computed at the traced values and pins what it says when used."""
            return _timing.check_timing_15(self, print_errors)
    else:
        def check_timing(self):
            """(ok, error_report): PyPulseq's timing checks on every block, from the graph.

            ``ok`` is traced where it depends on parameters (``if ok:`` records a guard);
            the report is computed at the traced values and pins what it says when it is
            used. Sets the definition ``TotalDuration`` (traced), as PyPulseq 1.4.2 does."""
            return _timing.check_timing(self)

    # ================================================================== through pypulseq

    def _exported(self):
        """The real ``pypulseq.Sequence`` of this recording at the traced values."""
        from ...graph import Graph
        return Graph(self.to_graph()).to_pypulseq()

    def __str__(self) -> str:
        """PyPulseq's summary (library sizes), of the export at the traced values."""
        try:
            return str(self._exported())
        except Exception as e:  # keep str() usable for debugging
            return f"Sequence: {len(self._table)} blocks (not exportable: {e})"

    def plot(self, *args, **kwargs) -> None:
        """PyPulseq's plot of the sequence at the traced values (display only)."""
        return self._exported().plot(*args, **kwargs)

    def test_report(self) -> str:
        """PyPulseq's text report of the sequence at the traced values (display only)."""
        return self._exported().test_report()

    def calculate_gradient_spectrum(self, *args, **kwargs):
        """PyPulseq's gradient spectrum at the traced values; pins the sequence when used."""
        result = self._exported().calculate_gradient_spectrum(*args, **kwargs)
        return PinnedTuple(result, self._pin_everything)

    if not API_15:  # (1.5 has no waveforms_export)
        def waveforms_export(self, time_range=(0, np.inf)) -> dict:
            """PyPulseq's ``waveforms_export`` at the traced values; pins the sequence when
            used."""
            return PinnedDict(self._exported().waveforms_export(time_range),
                              self._pin_everything)

    if API_15:
        def paper_plot(self, *args, **kwargs):
            """PyPulseq 1.5's paper-style plot of the sequence at the traced values (display
            only)."""
            return self._exported().paper_plot(*args, **kwargs)

        def install(self, *args, **kwargs):
            """PyPulseq 1.5's ``install`` (to a scanner) of the sequence exported at the traced
            values; pins the sequence (what was installed is these values)."""
            self._pin_everything()
            return self._exported().install(*args, **kwargs)

        def find_block_by_time(self, t):
            """PyPulseq 1.5's index of the block containing time ``t`` (s), at the traced
            values; pins the sequence and ``t`` (a block index is a discrete result)."""
            self._pin_everything()
            pin([t])
            return self._exported().find_block_by_time(float(_tr.value_of(t)))

        def get_raw_block_content_IDs(self, *args, **kwargs):
            raise NotImplementedError(
                "get_raw_block_content_IDs reads pypulseq's event library, which the recording "
                "does not keep: use seq.get_block(i), or export the traced graph "
                "(graph.to_pypulseq().get_raw_block_content_IDs(i))")

        def register_soft_delay_event(self, *args, **kwargs):
            raise NotImplementedError(
                f"register_soft_delay_event: soft delays are not supported while tracing yet "
                f"[{user_line()}]: use make_delay(default_duration) in the traced script, or "
                "run the script under plain pypulseq (pulseqzero.as_pypulseq)")

        def apply_soft_delay(self, *args, **kwargs):
            raise NotImplementedError(
                f"apply_soft_delay: soft delays are not supported while tracing yet "
                f"[{user_line()}]: give the durations as parameters of the traced script "
                "(make_delay of a traced value), or apply them to the exported sequence "
                "(graph.to_pypulseq().apply_soft_delay(...))")

    def _pin_everything(self) -> None:
        """Guard every traced value the blocks use (a result of the whole sequence)."""
        from ...ir.events import event_nodes
        ctx = self._ctx
        nodes = []
        for entry in self._table.values():
            nodes.append(entry.block.duration)
            for e in entry.block.events:
                nodes.extend(event_nodes(e))
        values = ctx.builder.freeze()
        dependent = values.depends_on_params()
        from ...ir.evaluate import evaluate
        params = {node: value for _, node, _, value, _ in ctx.params}
        wanted = sorted({n for n in nodes if dependent[n]})
        if not wanted:
            return
        env = evaluate(values, params, "numpy", roots=wanted)
        pin([Tracer(ctx, n, env[n], "f") for n in wanted])

    def calculate_pns(self, *args, **kwargs):
        raise NotImplementedError(
            "calculate_pns is not available while recording: export the traced graph "
            "(graph.to_pypulseq().calculate_pns(hardware)) or run the script with pypulseq")

    def rf_from_lib_data(self, lib_data, use: str = ""):
        raise NotImplementedError(
            "rf_from_lib_data reads pypulseq's event library, which the recording does not "
            "keep: use seq.get_block(i).rf")

    # ================================================================== files

    def read(self, file_path, detect_rf_use: bool = False, remove_duplicates: bool = True) -> None:
        """Load a ``.seq`` file: its blocks become constant events of this recording (read
        with pypulseq, then added block by block; writing it again gives the same file)."""
        _read.read(self, file_path, detect_rf_use, remove_duplicates)

    def write(self, name, create_signature: bool = True, remove_duplicates: bool = True):
        """Writes nothing while recording (says so once); export with ``graph.write``."""
        self._ctx.say_once(("write",), f"{user_line()}: seq.write({str(name)!r}) writes nothing "
                           "while recording; write the traced graph with graph.write(path) "
                           "or call the script with real pypulseq")
        return "" if create_signature else None

    # ================================================================== leaving the recording

    def to_graph(self, name: str | None = None) -> SequenceGraph:
        """The IR of this sequence as built so far."""
        ctx = self._ctx
        params = tuple(ParamInfo(n, node, shape, value, tensor)
                       for n, node, shape, value, tensor in ctx.params)
        return SequenceGraph(name or ctx.name, ctx.builder.freeze(), params,
                             tuple(e.block for e in self._table.values()),
                             to_system(self.system), tuple(self._definition_args.items()),
                             tuple(ctx.guards), tuple(self._registrations), api=API_NAME)

    def to_mr0(self, **options):  # rf_subpulses=n, rf_centre="middle" | "peak"
        """The MRzeroCore sequence, differentiable w.r.t. the tensors the script used."""
        from ...graph import Graph
        return Graph(self.to_graph()).to_mr0(**options)

    def to_pypulseq(self):
        from ...graph import Graph
        return Graph(self.to_graph()).to_pypulseq()
