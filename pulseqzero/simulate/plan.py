"""The structure of one PDG main pass, read once from MRzeroCore's pre-pass graph.

MRzeroCore's ``execute_graph`` decides state by state, in Python, which states
it simulates and how each is built from its ancestors. None of that depends on
the numbers being simulated: only on the graph and the two thresholds. So we
read it once into index tensors (a :class:`RepetitionPlan` per repetition) and
the executor turns each repetition into a fixed handful of tensor ops, however
many states it has.

The rules, as MRzeroCore 1.2 applies them on a fresh graph:

* the first repetition of the graph holds one relaxed ``z0`` state;
* a state is simulated when it is a ``z0``, or when its ``latent_signal`` is at
  least ``min_latent_signal`` and at least one of its ancestors was simulated;
* its magnetisation is the sum over its simulated ancestors of the edge's
  transform (``zz``, ``++``, ``z+``, ``+z`` of the ancestor, ``-z``, ``-+`` of
  its complex conjugate);
* its dephasing ``kt_vec`` is the first simulated ancestor's (negated for a
  ``-z`` / ``-+`` edge), zero for a ``z0``;
* a ``+`` state emits signal when its ``emitted_signal`` is at least
  ``min_emitted_signal``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

#: edge kinds in the order of the executor's coefficient rows
EDGE_KINDS = ("zz", "++", "z+", "+z", "-z", "-+")
_KIND_INDEX = {kind: i for i, kind in enumerate(EDGE_KINDS)}
_CONJUGATED = {"-z", "-+"}


@dataclass(frozen=True)
class RepetitionPlan:
    """How the simulated states of one repetition are made from the previous one's.

    States are ordered ``+`` states first (those that emit first, in graph order),
    then ``z`` / ``z0`` states. Indices into the previous repetition refer to its
    simulated states in this same order.
    """

    n_states: int
    n_plus: int  # the first n_plus states are transverse (+)
    n_emit: int  # the first n_emit of those emit signal
    edge_child: torch.Tensor  # (edges,) int64: the state an edge adds to
    edge_source: torch.Tensor  # (edges,) int64: ancestor index, + n_prev when conjugated
    edge_kind: torch.Tensor  # (edges,) int64: row of the coefficient table (EDGE_KINDS)
    any_conjugated: bool
    kt_source: torch.Tensor  # (states,) int64 into cat([kt, -kt, 0]) of the previous states
    has_z0: bool
    kind_columns: torch.Tensor  # (states, 2) float32: one-hot [+ state, z state]
    z0_rows: torch.Tensor  # (z0 states,) int64

    def to(self, device) -> "RepetitionPlan":
        move = {name: getattr(self, name).to(device) for name in
                ("edge_child", "edge_source", "edge_kind", "kt_source", "kind_columns",
                 "z0_rows")}
        return RepetitionPlan(self.n_states, self.n_plus, self.n_emit, any_conjugated=self.any_conjugated,
                              has_z0=self.has_z0, **move)


@dataclass(frozen=True)
class Plan:
    """Every repetition's :class:`RepetitionPlan` (``repetitions[i]`` is the sequence's
    repetition ``i``, the pre-pass graph's ``i + 1``)."""

    repetitions: tuple
    min_emitted_signal: float
    min_latent_signal: float

    def to(self, device) -> "Plan":
        return Plan(tuple(r.to(device) for r in self.repetitions), self.min_emitted_signal,
                    self.min_latent_signal)


def make_plan(graph, min_emitted_signal: float, min_latent_signal: float) -> Plan:
    """Read the pre-pass ``graph`` (MRzeroCore ``Graph``) into a :class:`Plan`."""
    if len(graph) == 0 or len(graph[0]) != 1:
        raise ValueError("the pre-pass graph's first repetition must hold the single relaxed "
                         "z0 state (compute_graph's result)")
    # position of each simulated state of the previous repetition, by identity
    previous = {id(graph[0][0]): 0}
    n_prev = 1
    repetitions = []
    for states in graph[1:]:
        kept = []  # (state, simulated ancestors as (kind, index))
        for state in states:
            kind = state.dist_type
            ancestors = [(edge[0], previous[id(edge[1])]) for edge in state.ancestors
                         if id(edge[1]) in previous]
            if kind != "z0" and (state.latent_signal < min_latent_signal or not ancestors):
                continue
            kept.append((state, ancestors))
        # + states first, the emitting ones first among them; stable, so graph order stays
        def rank(item):
            state = item[0]
            if state.dist_type != "+":
                return 2
            return 0 if state.emitted_signal >= min_emitted_signal else 1
        kept.sort(key=rank)
        child, source, edge_kind, kt_source, z0 = [], [], [], [], []
        for i, (state, ancestors) in enumerate(kept):
            for kind, parent in ancestors:
                if kind not in _KIND_INDEX:
                    raise ValueError(f"unknown transform {kind!r} in the pre-pass graph")
                child.append(i)
                source.append(parent + (n_prev if kind in _CONJUGATED else 0))
                edge_kind.append(_KIND_INDEX[kind])
            if state.dist_type == "z0":
                kt_source.append(2 * n_prev)  # the zero row
            else:
                kind, parent = ancestors[0]
                kt_source.append(parent + (n_prev if kind in _CONJUGATED else 0))
            z0.append(state.dist_type == "z0")
        ranks = [rank(item) for item in kept]
        long = dict(dtype=torch.int64)
        repetitions.append(RepetitionPlan(
            n_states=len(kept), n_plus=ranks.count(0) + ranks.count(1), n_emit=ranks.count(0),
            edge_child=torch.tensor(child, **long), edge_source=torch.tensor(source, **long),
            edge_kind=torch.tensor(edge_kind, **long),
            any_conjugated=any(s >= n_prev for s in source),
            kt_source=torch.tensor(kt_source, **long),
            has_z0=any(z0),
            kind_columns=torch.tensor([[float(r < 2), float(r == 2)] for r in ranks],
                                      dtype=torch.float32).reshape(-1, 2),
            z0_rows=torch.tensor([i for i, is_z0 in enumerate(z0) if is_z0], **long)))
        previous = {id(state): i for i, (state, _) in enumerate(kept)}
        n_prev = len(kept)
    return Plan(tuple(repetitions), float(min_emitted_signal), float(min_latent_signal))


#: attribute under which a pre-pass graph keeps its plans (a Graph is a plain list subclass)
_CACHE_ATTR = "_pulseqzero_plans"


def plan_of(graph, min_emitted_signal: float, min_latent_signal: float, device) -> Plan:
    """The plan of ``graph`` for these thresholds on ``device``, made once per graph."""
    key = (float(min_emitted_signal), float(min_latent_signal), str(device), len(graph))
    cache = getattr(graph, _CACHE_ATTR, None)
    if cache is None:
        cache = {}
        try:
            setattr(graph, _CACHE_ATTR, cache)
        except AttributeError:  # a plain list: no caching
            pass
    plan = cache.get(key)
    if plan is None:
        cpu_key = key[:2] + ("cpu", key[3])
        plan = cache.get(cpu_key) or make_plan(graph, min_emitted_signal, min_latent_signal)
        cache[cpu_key] = plan
        if torch.device(device).type != "cpu":
            plan = plan.to(device)
        cache[key] = plan
    return plan
