"""The recording ``Sequence`` (PyPulseq 1.4.2's ``pypulseq.Sequence``), one concern a module:

* ``sequence.py``: the ``Sequence`` class -- definitions, extensions, what goes through
  pypulseq, leaving the recording (``to_graph``);
* ``blocks.py``: the block store -- ``add_block`` / ``set_block``, registration,
  ``mod_grad_axis``, ``get_block``;
* ``queries.py``: structural queries (``duration``, ``waveforms``, ``rf_times``, ...),
  with ``kspace.py`` for ``calculate_kspace``'s numpy algorithm;
* ``timing.py``: ``check_timing``;
* ``read.py``: reading a ``.seq`` file;
* ``pinned.py``: results computed at the traced values and the guards that keep them.
"""
from .sequence import Sequence

__all__ = ["Sequence"]
