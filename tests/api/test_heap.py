"""frozen_heap: the objects alive on entry skip full collections, and come back after."""
import gc

import pulseqzero


class Cycle:
    def __init__(self):
        self.me = self


def test_frozen_heap_freezes_what_is_alive_nests_and_restores():
    assert gc.get_freeze_count() == 0
    before = Cycle()
    with pulseqzero.frozen_heap():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with pulseqzero.frozen_heap():  # nested: nothing more is frozen
            assert gc.get_freeze_count() == frozen
        assert gc.get_freeze_count() == frozen
        during = Cycle()
        del during
        assert gc.collect() >= 1  # the loop's own cyclic garbage is still collected
    assert gc.get_freeze_count() == 0
    del before
    assert gc.collect() >= 1  # what was frozen is collectable again


def test_frozen_heap_unfreezes_when_the_loop_raises():
    try:
        with pulseqzero.frozen_heap():
            raise KeyError("stop")
    except KeyError:
        pass
    assert gc.get_freeze_count() == 0
