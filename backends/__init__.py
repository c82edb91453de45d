"""Lowerings of the IR: ``mr0`` (differentiable MRzeroCore sequence) and
``pypulseq`` (replayed pypulseq calls, ``.seq`` export). Backends import
``ir`` only and never see a tracer."""
