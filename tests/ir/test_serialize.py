"""Save / load: versioned JSON, an equal graph back, and hostile files refused."""
import copy
import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import pulseqzero
from pulseqzero.ir import serialize
from pulseqzero.ir.serialize import GraphFileError
from pulseqzero.ir.values import Builder
from pulseqzero.pp.version import API_15

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from tse import tse  # noqa: E402

pp = pulseqzero.pp_impl


def traced(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pulseqzero.trace(fn).trace(*args, **kwargs)


def labelled(TE, amps):
    """Vector parameter, labels, arbitrary-gradient-free but with assignments and lists."""
    seq = pp.Sequence()
    rf = pp.make_block_pulse(flip_angle=0.3, duration=1e-3)
    seq.add_block(rf)
    for k in range(len(amps)):
        g = pp.make_trapezoid("y", amplitude=amps[k], duration=1e-3)
        seq.add_block(g, pp.make_delay(TE))
        g.amplitude = -g.amplitude
        seq.add_block(g)
    seq.add_block(pp.make_adc(4, dwell=1e-5))
    seq.set_definition("Name", "labelled")
    seq.set_definition("FOV", [0.2, 0.2, 5e-3])
    return seq


@pytest.fixture(scope="module")
def graphs(gre_graph):
    return {"gre": gre_graph,
            "tse": traced(tse, 12e-3, 1.0, np.linspace(150.0, 180.0, 4), Nx=8, Ny=8, n_echo=4),
            "labelled": traced(labelled, 3e-3, np.array([1e3, -2e3, 5e2]))}


def assert_equal_graphs(a, b):
    assert a.name == b.name
    assert a.values == b.values
    assert a.blocks == b.blocks
    assert a.guards == b.guards
    assert a.definitions == b.definitions
    assert a.system == b.system
    assert [(p.name, p.node, tuple(p.shape)) for p in a.params] == \
        [(p.name, p.node, tuple(p.shape)) for p in b.params]
    for p, q in zip(a.params, b.params):
        assert np.array_equal(p.traced_value, q.traced_value)
        assert type(np.asarray(p.traced_value).dtype) is type(np.asarray(q.traced_value).dtype)
    assert serialize.to_dict(a) == serialize.to_dict(b)


@pytest.mark.parametrize("name", ["gre", "tse", "labelled"])
def test_a_round_trip_gives_an_equal_graph_seq_file_and_mr0_sequence(graphs, name, tmp_path):
    graph = graphs[name]
    graph.save(tmp_path / "g.json")
    back = pulseqzero.load(tmp_path / "g.json")
    assert_equal_graphs(graph.ir, back.ir)
    graph.write(tmp_path / "a.seq")
    back.write(tmp_path / "b.seq")
    assert (tmp_path / "a.seq").read_bytes() == (tmp_path / "b.seq").read_bytes()
    new = {p.name: np.asarray(p.traced_value) * 1.02 for p in graph.params}
    for x, y in zip(graph.to_mr0(**new), back.to_mr0(**new)):
        for field in ("event_time", "gradm", "adc_phase", "adc_usage"):
            assert torch.equal(getattr(x, field), getattr(y, field))
        assert torch.equal(x.pulse.angle, y.pulse.angle)
    data = json.loads((tmp_path / "g.json").read_text())
    assert data["format"] == "pulseqzero.graph" and data["version"] == serialize.VERSION


def test_constants_keep_their_exact_bits_and_types():
    b = Builder()
    consts = [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-310, 0.1, 7, -(2 ** 70),
              True, np.float64(0.1), np.float32(0.1), np.int64(3), np.bool_(False), None,
              np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1 + 2j, -0.0j]),
              np.array([True, False]), np.array([], dtype=np.int16), np.array(2.5)]
    ids = [b.const(c) for c in consts]
    values = b.freeze()
    from tests.ir.test_passes import _bare
    p = Builder(values)
    te = p.param("TE")
    graph = _bare(p.freeze(), te)
    back = serialize.loads(serialize.dumps(graph))
    assert back.values == graph.values
    for i, c in zip(ids, consts):
        got = back.values.nodes[i].value
        assert type(got) is type(c)
        if isinstance(c, np.ndarray):
            assert got.dtype == c.dtype and got.shape == c.shape and not got.flags.writeable
            assert got.tobytes() == c.tobytes()
        elif isinstance(c, float):
            assert repr(got) == repr(c)


def test_save_is_atomic_and_load_checks_call_names(graphs, tmp_path):
    graph = graphs["gre"]
    graph.save(tmp_path / "g.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.json"]
    data = json.loads((tmp_path / "g.json").read_text())
    data["calls"][0]["name"] = "write"  # a real pypulseq.Sequence method, not a recorded call
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(GraphFileError, match=r"calls\[0\]\.name.*not a PyPulseq function"):
        pulseqzero.load(tmp_path / "bad.json")


# ---------------------------------------------------------------- hostile files


@pytest.fixture(scope="module")
def good(graphs):
    return serialize.to_dict(graphs["labelled"].ir)


def refused(data, match, **kw):
    text = data if isinstance(data, (str, bytes)) else json.dumps(data)
    with pytest.raises(GraphFileError, match=match):
        serialize.loads(text, **kw)


def edit(good, fn):
    data = copy.deepcopy(good)
    fn(data)
    return data


def first_op(data):
    return next(k for k, n in enumerate(data["nodes"]) if n[0] == "op")


HOSTILE = {
    "not json": ("{nodes: [", "not JSON"),
    "nan literal": ('{"format": NaN}', "not JSON"),
    "not an object": ([1, 2, 3], r"\$: expected an object"),
    "other format": (lambda d: d.update(format="pickle"), "not a pulseqzero graph"),
    "future version": (lambda d: d.update(version=99), "version 99 is not supported"),
    "version as string": (lambda d: d.update(version="1"), "expected an integer"),
    "unknown op": (lambda d: d["nodes"][first_op(d)].__setitem__(1, "system"), "unknown op 'system'"),
    "op input out of range": (lambda d: d["nodes"][first_op(d)].__setitem__(2, [10 ** 9]),
                              "does not exist"),
    "forward reference": (lambda d: d["nodes"][first_op(d)].__setitem__(2, [first_op(d) + 1]),
                          "does not exist"),
    "cycle": (lambda d: d["nodes"][first_op(d)].__setitem__(2, [first_op(d)]), "does not exist"),
    "node id as string": (lambda d: d["blocks"][0].__setitem__("duration", "0"),
                          r"blocks\[0\]\.duration: expected an integer"),
    "node id as bool": (lambda d: d["blocks"][0].__setitem__("duration", True), "expected an integer"),
    "negative node id": (lambda d: d["blocks"][0].__setitem__("duration", -1), "does not exist"),
    "event field out of range": (lambda d: d["events"][0].__setitem__("delay", len(d["nodes"])),
                                 r"events\[0\]\.delay: node"),
    "unknown event kind": (lambda d: d["events"][0].__setitem__("kind", "exec"), "unknown event kind"),
    "bad channel": (lambda d: [e.__setitem__("channel", "w") for e in d["events"] if e["kind"] == "trap"],
                    "invalid trap event"),
    "wrong arity": (lambda d: d["nodes"][first_op(d)].__setitem__(2, []), "inputs"),
    "attrs on add": (lambda d: d["nodes"].append(["op", "add", [0, 0], [1]]), "attributes"),
    "huge shape": (lambda d: d["nodes"].insert(0, ["param", "big", [2 ** 40]]), "out of range"),
    "absurd size": (lambda d: d["nodes"].insert(0, ["param", "big", [2 ** 20, 2 ** 20]]), "elements"),
    "too many dims": (lambda d: d["nodes"].insert(0, ["param", "big", [1] * 20]), "dimensions"),
    "bad base64": (lambda d: d["nodes"].append(["const", {"array": "f8", "shape": [2], "data": "!!"}]),
                   "base64|too long"),
    "wrong byte count": (lambda d: d["nodes"].append(["const", {"array": "f8", "shape": [3], "data": "AAAAAAAAAAA="}]),
                         "bytes"),
    "object dtype": (lambda d: d["nodes"].append(["const", {"array": "O", "shape": [1], "data": ""}]),
                     "unknown dtype"),
    "float as number": (lambda d: d["nodes"].append(["const", {"float": 0.5}]), "expected a string"),
    "bad hex float": (lambda d: d["nodes"].append(["const", {"float": "__import__('os')"}]),
                      "not a hexadecimal float"),
    "giant int": (lambda d: d["nodes"].append(["const", {"int": "9" * 5000}]), "too long|integer"),
    "duplicate param": (lambda d: d["nodes"].append(["param", "TE", []]), "defined twice"),
    "param mismatch": (lambda d: d["params"][0].__setitem__("node", d["params"][1]["node"]),
                       "is not the parameter"),
    "private assign": (lambda d: [e["origin"]["assigns"] and e["origin"]["assigns"][0].__setitem__("attr", "__class__")
                                  for e in d["events"] if e.get("origin")], "not a public name"),
    "call name with dots": (lambda d: d["calls"][0].__setitem__("name", "os.system"), "not a public name"),
    "event used before defined": (lambda d: d["calls"][0]["args"].append({"event": len(d["events"])}),
                                  "not defined before its use"),
    "duplicate call id": (lambda d: d["calls"][1].__setitem__("id", d["calls"][0]["id"]), "used twice"),
    "unknown guard kind": (lambda d: d["guards"].append({"node": 0, "kind": "eval", "observed": {"bool": True},
                                                        "line": "x", "spec": ""}), "unknown guard kind"),
    "guard on a vector": (lambda d: d["guards"].append({
        "node": next(p["node"] for p in d["params"] if p["shape"]), "kind": "bool",
        "observed": {"bool": True}, "line": "x", "spec": ""}), "scalar"),
    "guard observed type": (lambda d: d["guards"].append({"node": 0, "kind": "int", "observed": {"str": "1"},
                                                         "line": "x", "spec": ""}), "observes"),
    "long string": (lambda d: d.update(name="x" * (serialize.MAX_STRING + 1)), "characters"),
    "system field missing": (lambda d: d["system"].pop("gamma"), "expected the fields"),
    "deep argument nesting": (lambda d: d["calls"][0]["args"].append(_nested(100)), "nested deeper"),
}


def _nested(depth):
    arg = {"list": [], "tuple": False}
    for _ in range(depth):
        arg = {"list": [arg], "tuple": False}
    return arg


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_or_malformed_file_is_refused_with_a_clear_error(good, case):
    change, match = HOSTILE[case]
    data = edit(good, change) if callable(change) else change
    refused(data, match)


def test_deeply_nested_json_is_refused():
    refused("[" * 100_000 + "]" * 100_000, "nested too deeply|not JSON")


def test_limits_are_checked_before_building(good, tmp_path, monkeypatch):
    monkeypatch.setattr(serialize, "MAX_NODES", 3)
    refused(good, r"\$\.nodes: \d+ entries")
    monkeypatch.setattr(serialize, "MAX_FILE_BYTES", 100)
    path = tmp_path / "big.json"
    path.write_text(json.dumps(good))
    with pytest.raises(GraphFileError, match="bytes"):
        serialize.load(path)


def test_loading_runs_no_code(good, monkeypatch):
    import pypulseq
    calls = []
    for name in ("make_trapezoid", "make_block_pulse", "make_adc", "make_delay"):
        monkeypatch.setattr(pypulseq, name, lambda *a, **k: calls.append(a))
    serialize.loads(json.dumps(good))
    assert calls == []


def registered(TE):
    """A script that pre-registers its events (pypulseq numbers its library by it)."""
    seq = pp.Sequence()
    rf = pp.make_block_pulse(flip_angle=0.3, duration=1e-3)
    adc = pp.make_adc(4, dwell=1e-5)
    rf.id, _ = seq.register_rf_event(rf)
    seq.add_block(pp.make_delay(TE))
    if API_15:  # 1.5 returns (id, phase shape id)
        adc.id, _ = seq.register_adc_event(adc)
    else:
        adc.id = seq.register_adc_event(adc)
    seq.add_block(rf)
    seq.add_block(adc)
    return seq


def test_registered_events_survive_the_round_trip_and_the_passes(tmp_path):
    if not hasattr(pulseqzero.ir.graph, "Registration"):
        pytest.skip("this IR records no registrations")
    from pulseqzero.ir import passes
    graph = traced(registered, 2e-3)
    assert len(graph.ir.registrations) == 2
    back = serialize.loads(serialize.dumps(graph.ir))
    assert back.registrations == graph.ir.registrations
    graph.write(tmp_path / "a.seq", TE=3e-3)
    for other in (back, passes.optimize(graph.ir)):
        pulseqzero.Graph(other).write(tmp_path / "b.seq", TE=3e-3)
        assert (tmp_path / "a.seq").read_bytes() == (tmp_path / "b.seq").read_bytes()


# ---------------------------------------------------------------- integrity (issue 18 #11)

def _swap_an_op(data):
    k = next(k for k, n in enumerate(data["nodes"]) if n[0] == "op" and n[1] == "add")
    data["nodes"][k][1] = "sub"  # still a valid graph: only the content hash tells


@pytest.mark.parametrize("change", [_swap_an_op, lambda d: d.update(guards=[]),
                                    lambda d: d.update(name="other")],
                         ids=["op swapped", "guards deleted", "renamed"])
def test_a_valid_but_changed_file_is_refused_by_its_content_hash(good, change):
    assert good["version"] == 2 and len(good["sha256"]) == 64
    changed = edit(good, change)
    assert "does not match the hash" not in str(changed)
    refused(changed, r"\$\.sha256: the content does not match the hash")


def test_a_version_1_file_without_hash_loads_with_a_warning(good):
    old = edit(good, lambda d: (d.pop("sha256"), d.update(version=1)))
    with pytest.warns(UserWarning, match="version 1 has no content hash"):
        graph = serialize.loads(json.dumps(old))
    assert serialize.to_dict(graph)["sha256"] == good["sha256"]


def test_adc_sample_counts_are_bounded(graphs, monkeypatch):
    good = serialize.to_dict(graphs["gre"].ir)
    assert any(e["kind"] == "adc" for e in good["events"])

    def samples(n):
        return lambda d: [e.__setitem__("num_samples", n) for e in d["events"] if e["kind"] == "adc"]
    refused(edit(good, samples(2 ** 31)), r"num_samples: out of range")
    monkeypatch.setattr(serialize, "MAX_TOTAL_SAMPLES", 4)
    refused(good, r"\$\.blocks: \d+ ADC samples in all \(limit 4\)")
