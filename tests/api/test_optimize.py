"""``pulseqzero.optimize``, ``Optimization``, ``Simulator`` and the phantoms.

The problem is small on purpose (an 8×8 GRE, a few steps): what is checked is
the machinery -- the loss goes down, the optimiser state survives between
calls (a loop of single steps is the same as one call with several), the
graph is traced once, the pre-pass can be reused -- not the physics (the
examples show that).
"""
from __future__ import annotations

import copy
import gc
import warnings

import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero.optimize import (Optimization, Simulator, mse_magnitude, scaled_mse, simulate,
                                 traced)
from pulseqzero.phantom import (TISSUES, brain_phantom, label_map, load_phantom, save_npz,
                                sim_data, tissue_maps, tissue_masks)

N = 8
KW = dict(Nx=N, Ny=N)
F64 = dict(dtype=torch.float64)


@pytest.fixture(scope="module")
def gre_fn(gre_module):
    return gre_module.gre


@pytest.fixture(scope="module")
def target(gre_fn):
    """The image of a 12° train: what the optimiser should find back from 4°."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return simulate(gre_fn, 12e-3, 5e-3, torch.full((N,), 12.0, **F64), shape=(N, N),
                        seq_kwargs=KW).abs()


def fresh():
    return (torch.tensor(12e-3, **F64), torch.tensor(5e-3, **F64),
            torch.full((N,), 4.0, **F64, requires_grad=True))


def test_optimize_lowers_the_loss_and_keeps_state_across_calls(gre_fn, target):
    TR, TE, flips = fresh()
    losses = [pulseqzero.optimize(gre_fn, target, TR, TE, flips, seq_kwargs=KW, lr=2.0)
              for _ in range(4)]
    assert all(isinstance(x, float) for x in losses)
    assert losses[-1] < 0.5 * losses[0]
    session = Optimization.of(gre_fn, TR, TE, flips)
    assert session is not None and len(session.history) == 4
    assert session.losses == losses
    # one Adam state, advanced by every call: the calls are one optimisation
    assert int(session.optimizer.state[flips]["step"]) == 4
    assert traced(gre_fn).trace_count == 1  # traced once, re-executed after
    # the history holds the parameters before each step (copies, not views)
    h = session.param_history(2)
    assert h.shape == (4, N) and np.all(h[0] == 4.0) and not np.allclose(h[1], h[0])
    # TR and TE did not require grad while flips did: only flips moved
    assert float(TR) == 12e-3 and float(TE) == 5e-3

    # a loop of single steps is the same optimisation as one call with steps=4
    TR2, TE2, flips2 = fresh()
    last = pulseqzero.optimize(gre_fn, target, TR2, TE2, flips2, seq_kwargs=KW, lr=2.0, steps=4,
                               progress=False)
    other = Optimization.of(gre_fn, TR2, TE2, flips2)
    assert other is not session
    assert last == other.losses[-1]
    np.testing.assert_allclose(other.losses, losses, rtol=1e-6)
    np.testing.assert_allclose(flips2.detach().numpy(), flips.detach().numpy(), rtol=1e-6)


def test_the_state_lives_as_long_as_the_parameters(gre_fn, target):
    import gc
    import weakref
    TR, TE, flips = fresh()
    pulseqzero.optimize(gre_fn, target, TR, TE, flips, seq_kwargs=KW, lr=2.0)
    session = weakref.ref(Optimization.of(gre_fn, TR, TE, flips))
    assert session() is not None
    assert Optimization.of(gre_fn, TR, TE, flips.detach().clone()) is None  # other tensors
    del TR, TE, flips
    gc.collect()
    assert session() is None  # nothing of the optimisation is kept once its tensors are gone


def test_penalty_custom_loss_bounds_and_graph_reuse(gre_fn, target, monkeypatch):
    import sys
    om = sys.modules["pulseqzero.optimize"]  # the module (pulseqzero.optimize is the function)
    calls = []
    real = om.compute_pdg
    monkeypatch.setattr(om, "compute_pdg", lambda *a, **k: calls.append(1) or real(*a, **k))
    TR, TE, flips = fresh()
    seen, frozen = [], []

    def loss(image, tgt):
        seen.append(tuple(image.shape))
        frozen.append(gc.get_freeze_count())
        return scaled_mse(image, tgt)

    opt = Optimization(gre_fn, target, TR, TE, flips, seq_kwargs=KW, loss=loss,
                       penalty=lambda TR, TE, flips: 1e-3 * torch.mean(flips ** 2), lr=3.0,
                       bounds=[None, None, (0.0, 5.0)], steps_per_graph=3)
    opt.run(3, progress=False)
    assert seen == [(N, N)] * 3
    # the loop ran with the heap of imports frozen (frozen_heap), and unfroze it after
    assert min(frozen) > 0 and gc.get_freeze_count() == 0
    assert len(calls) == 1  # the pre-pass graph was computed once for three steps
    for s in opt.history:  # the penalty is part of the loss, recorded separately
        np.testing.assert_allclose(s.penalty, 1e-3 * np.mean(s.params[2] ** 2), rtol=1e-6)
    assert float(flips.max()) <= 5.0  # clamped after each step
    # scaled_mse ignores a global factor; mse_magnitude does not
    assert float(scaled_mse(3 * target, target)) < 1e-10
    assert float(mse_magnitude(3 * target, target)) > 0


def test_the_simulator_option_chooses_the_main_pass(gre_fn, target, monkeypatch):
    """Our executor by default; ``simulator="mrzerocore"`` runs MRzeroCore's: same image,
    same gradients (the executor's own oracle tests are in tests/simulate)."""
    import pulseqzero.simulate as simulate_pkg
    calls = []
    real = simulate_pkg.execute_graph
    monkeypatch.setattr(simulate_pkg, "execute_graph",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    results = []
    for option in ({}, {"simulator": "mrzerocore"}):
        TR, TE, flips = fresh()
        sim = Simulator(gre_fn, (N, N), seq_kwargs=KW, **option)
        image = sim.image(TR, TE, flips)
        (grad,) = torch.autograd.grad(mse_magnitude(image, target), [flips])
        results.append((image.detach(), grad))
    assert len(calls) == 1  # the default ran ours, the option did not
    (ours, g_ours), (ref, g_ref) = results
    assert float((ours - ref).norm() / ref.norm()) < 1e-5
    assert float((g_ours - g_ref).norm() / g_ref.norm()) < 1e-4
    with pytest.raises(ValueError, match="simulator='pdg'"):
        Simulator(gre_fn, (N, N), simulator="pdg")


def test_seed_readme_loop_switches_on_requires_grad(gre_fn, target):
    """`TR = torch.tensor(14e-3); optimize(seq, target, TR, TE)`: tensors without
    requires_grad are all optimised when none has it (the seed README's usage)."""
    TR, TE = torch.tensor(12e-3, **F64), torch.tensor(5e-3, **F64)
    flips = torch.full((N,), 10.0, **F64)
    pulseqzero.optimize(gre_fn, target, TR, TE, flips, seq_kwargs=KW, lr=[1e-4, 1e-4, 1.0])
    assert TR.requires_grad and TE.requires_grad and flips.requires_grad
    assert float(TE) != 5e-3 and float(TR) != 12e-3


def test_a_traced_graph_is_optimised_as_it_is(gre_fn, target):
    graph = pulseqzero.trace(gre_fn).trace(12e-3, 5e-3, np.full(N, 4.0), **KW)
    flips = torch.full((N,), 4.0, **F64, requires_grad=True)
    sim = Simulator(graph, (N, N))
    with torch.no_grad():
        direct = sim.image(12e-3, 5e-3, flips)
        via_fn = simulate(gre_fn, 12e-3, 5e-3, flips, shape=(N, N), seq_kwargs=KW)
    torch.testing.assert_close(direct, via_fn)
    loss = pulseqzero.optimize(graph, target, 12e-3, 5e-3, flips, lr=2.0)
    assert np.isfinite(loss) and not torch.all(flips == 4.0)


def test_errors_are_clear(gre_fn, target):
    with pytest.raises(ValueError, match="nothing to optimise"):
        Optimization(gre_fn, target, 12e-3, 5e-3, np.full(N, 4.0), seq_kwargs=KW)
    x = torch.tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="not a leaf"):
        Optimization(gre_fn, target, x * 2, seq_kwargs=KW)
    with pytest.raises(TypeError, match="simulation options"):
        Optimization(gre_fn, target, *fresh(), seq_kwargs=KW, max_states=3)
    with pytest.raises(ValueError, match="nx, ny"):
        Optimization(gre_fn, target[0], *fresh(), seq_kwargs=KW)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_runs_on_cuda_when_the_params_are_there(gre_fn, target):
    flips = torch.full((N,), 4.0, **F64, device="cuda", requires_grad=True)
    opt = Optimization(gre_fn, target, 12e-3, 5e-3, flips, seq_kwargs=KW, lr=2.0)
    opt.run(2, progress=False)
    assert opt.simulator.data.device.type == "cuda" and opt.last_image.device.type == "cuda"
    assert opt.losses[1] < opt.losses[0]


# ---------------------------------------------------------------- phantoms

def test_brain_phantom_at_any_resolution_2d_and_thin_3d():
    labels = label_map((20, 12))
    assert labels.shape == (20, 12)
    names = list(TISSUES)
    assert {names[i] for i in np.unique(label_map(32))} == set(TISSUES)
    data = sim_data(resolution=(20, 12))
    maps = tissue_maps((20, 12))
    assert data.PD.numel() == int((maps["PD"] > 1e-6).sum())  # air and bone are not simulated
    np.testing.assert_allclose(np.sort(data.T1.numpy()), np.sort(maps["T1"][maps["PD"] > 0]),
                               rtol=1e-6)
    slab = brain_phantom(16, slices=5, slice_thickness=0.02)
    assert tuple(slab.PD.shape) == (16, 16, 5)
    areas = (slab.PD > 0).sum((0, 1)).numpy()
    assert areas[2] > areas[0] and areas[0] == areas[4]  # the head ellipsoid narrows up and down
    masks = tissue_masks(16)
    assert sum(m.astype(int) for m in masks.values()).max() == 1  # a partition


def test_npz_phantom_by_path(tmp_path):
    path = save_npz(tmp_path / "brain.npz", resolution=16)
    phantom = load_phantom(path)
    reference = brain_phantom(16)
    torch.testing.assert_close(phantom.PD, reference.PD)
    torch.testing.assert_close(phantom.T2dash, reference.T2dash)
    data = sim_data(str(path))
    assert data.PD.numel() == reference.build().PD.numel()
    torch.testing.assert_close(data.size, reference.build().size)
    assert sim_data(data) is data
    with pytest.raises(FileNotFoundError):
        sim_data(tmp_path / "missing.npz")


def test_a_cut_parameter_is_reported_once_during_optimisation(gre_fn, target):
    """issue 18 #5: a parameter that goes through math.sqrt gets no gradient; the
    optimisation says so once, naming the parameter and the script line."""
    import math

    def gre_cut(TR, TE, flips, Nx, Ny):
        return gre_fn(TR, math.sqrt(TE * TE), flips, Nx, Ny)  # cut: float()

    TR, TE, flips = fresh()
    TE.requires_grad_()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = Optimization(gre_cut, target, TR, TE, flips, seq_kwargs=KW, lr=2.0)
        opt.run(2, progress=False)
    notes = [str(w.message) for w in caught if issubclass(w.category, pulseqzero.TracingWarning)]
    assert len(notes) == 1, notes
    assert "cuts the influence of TE" in notes[0] and "test_optimize.py:" in notes[0]


# -- nothing lost, nothing broken (issue 18 #1, #6, #7) -----------------------------------

def _params(opt):
    return [p.detach().clone() for p in opt.params]


def test_a_run_resumed_from_a_checkpoint_continues_exactly(gre_fn, target, tmp_path):
    kw = dict(seq_kwargs=KW, steps_per_graph=3)  # the pre-pass schedule must resume too
    whole = Optimization(gre_fn, target, *fresh(), **kw)
    whole.run(5, progress=False)

    path = tmp_path / "run.pt"
    first = Optimization(gre_fn, target, *fresh(), **kw)
    first.run(2, progress=False, checkpoint=path, checkpoint_every=1)
    first.step()  # a step after the checkpoint: lost with the "crash"
    resumed = Optimization(gre_fn, target, *fresh(), **kw)
    resumed.load_checkpoint(path)
    assert len(resumed.history) == 2
    resumed.run(3, progress=False)

    assert resumed.losses == whole.losses
    for a, b in zip(_params(resumed), _params(whole)):
        assert torch.equal(a, b)
    for a, b in zip(resumed.param_history(2), whole.param_history(2)):
        assert np.array_equal(a, b)
    assert [f.name for f in tmp_path.iterdir()] == ["run.pt"]  # no temporary file left


def test_a_state_of_another_optimisation_is_refused(gre_fn, target):
    opt = Optimization(gre_fn, target, *fresh(), seq_kwargs=KW)
    state = opt.state_dict()
    state["params"] = state["params"][:2]
    with pytest.raises(ValueError, match="with 2 parameters"):
        Optimization(gre_fn, target, *fresh(), seq_kwargs=KW).load_state_dict(state)
    with pytest.raises(ValueError, match="not a state of pulseqzero.Optimization"):
        opt.load_state_dict({"params": []})


def test_a_non_finite_gradient_raises_naming_the_parameter_and_changes_nothing(gre_fn, target):
    def penalty(TR, TE, flips):  # d/dx sqrt(x) at 0 is inf, times 0: NaN
        return 0 * torch.sqrt(flips[3] - 4.0)

    opt = Optimization(gre_fn, target, *fresh(), seq_kwargs=KW, penalty=penalty)
    before = _params(opt)
    with pytest.raises(FloatingPointError, match=r"gradient of flips is not finite at \[3\]"):
        opt.step()
    assert all(torch.equal(a, b) for a, b in zip(_params(opt), before))
    assert opt.history == [] and not opt.optimizer.state


def test_a_step_the_script_refuses_is_rolled_back(gre_fn, target):
    TR, TE, flips = fresh()
    TE.requires_grad_()
    opt = Optimization(gre_fn, target, TR, TE, flips, seq_kwargs=KW, lr=[1e-5, 1.0])
    opt.step()  # a good step: Adam has moments to roll back to
    ok = _params(opt)
    state = copy.deepcopy(opt.optimizer.state_dict())
    opt.optimizer.param_groups[0]["lr"] = 1.0  # TE moves by about 1 s: too short for the script
    with pytest.raises(AssertionError, match="too short") as caught:
        opt.step()
    assert "rolled back" in "".join(getattr(caught.value, "__notes__", []))
    assert all(torch.equal(a, b) for a, b in zip(_params(opt), ok))
    assert len(opt.history) == 1
    after = opt.optimizer.state_dict()["state"]
    assert all(torch.equal(after[k]["exp_avg"], state["state"][k]["exp_avg"]) for k in after)
    assert all(int(after[k]["step"]) == 1 for k in after)
    opt.optimizer.param_groups[0]["lr"] = 1e-5  # a sane step goes on from there
    opt.step()
    assert len(opt.history) == 2
