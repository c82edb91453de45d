"""A pytest plugin: ``import pypulseq`` gives ``pulseqzero.pp`` (outside any trace, its
events and sequences record in the implicit context). Used to run pypulseq's own unit
tests against our implementation (``test_pypulseq_own_tests.py``)."""
import sys

import pypulseq.supported_labels_rf_use  # noqa: F401  (a data table the tests import: pypulseq's)

import pulseqzero.pp

sys.modules["pypulseq"] = pulseqzero.pp
