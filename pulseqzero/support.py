"""How pulseqzero supports each public name of PyPulseq 1.4.2 and 1.5 (the support matrix).

``SUPPORT`` maps every public name of either version -- top-level functions and
classes, and the methods of ``Sequence`` and ``Opts`` as ``"Sequence.plot"`` -- to
``(status, note)``; ``SUPPORT_15`` holds what differs under the 1.5 API. Which names
each version has is recorded in ``tools/pypulseq_names/<version>.txt`` (walked in the
installed pypulseq: ``python tools/api_support.py --names`` under each version).
``docs/api-support.md`` is generated from it (``python tools/api_support.py``);
``tests/api/test_api_support.py`` fails when pypulseq has a public name missing
here, when a supported name is missing from ``pulseqzero.pp``, or when the
committed document is stale.

Statuses (what a name does while a sequence is traced or in ``mr0_mode()``;
outside, ``pp_impl`` is pypulseq itself):
"""
from __future__ import annotations

DIFFERENTIABLE = "differentiable"
EXACT = "exact"
PYPULSEQ = "via pypulseq"
DISABLED = "disabled"

#: status -> what it means
STATUSES = {
    DIFFERENTIABLE: "recorded with pypulseq's arithmetic (the same floats, bit for bit); its "
                    "numbers are traced, so gradients flow from the parameters through it "
                    "(raster rounding is straight-through); discrete choices are guarded",
    EXACT: "recorded or computed with pypulseq's arithmetic (the same floats, bit for bit); "
           "the result is discrete, structural or pinned (guarded, so a change re-traces): "
           "no gradient",
    PYPULSEQ: "runs pypulseq itself on the sequence exported at the traced values",
    DISABLED: "not available while recording: raises NotImplementedError naming the "
              "alternative, or returns the seed's value",
}

_SHAPE = "pulse design is not differentiated: with numbers, pypulseq designs the pulse and " \
         "the waveform is recorded (the export replays the call); a traced argument raises " \
         "NotImplementedError: design with pypulseq, pass the signal to make_arbitrary_rf"

SUPPORT = {
    # -- events
    "make_adc": (DIFFERENTIABLE, "dwell, delay and phase are traced; the sample count is static"),
    "make_arbitrary_grad": (DIFFERENTIABLE, "the waveform may be a traced vector"),
    "make_arbitrary_rf": (DIFFERENTIABLE, "the signal may be a traced vector: a differentiable "
                                          "pulse shape"),
    "make_block_pulse": (DIFFERENTIABLE, "flip angle, duration, offsets traced; signal and t "
                                         "computed when read"),
    "make_delay": (DIFFERENTIABLE, ""),
    "make_digital_output_pulse": (EXACT, "an output event: delay and duration are timing"),
    "make_extended_trapezoid": (DIFFERENTIABLE, "amplitudes and times traced"),
    "make_extended_trapezoid_area": (DIFFERENTIABLE, "pypulseq's timing search runs on the "
                                                     "traced values (its choice is guarded); "
                                                     "the amplitudes are traced"),
    "make_gauss_pulse": (DIFFERENTIABLE, "as make_sinc_pulse"),
    "make_label": (EXACT, "SET / INC of every supported label; traced values are allowed"),
    "make_sinc_pulse": (DIFFERENTIABLE, "flip angle, duration, slice thickness, offsets traced"),
    "make_trapezoid": (DIFFERENTIABLE, "every way of specifying it; areas, amplitudes and "
                                       "durations traced"),
    "make_trigger": (EXACT, "a trigger event: delay and duration are timing"),
    "make_adiabatic_pulse": (EXACT, _SHAPE),
    "sigpy_n_seq": (EXACT, _SHAPE),
    "make_slr": (EXACT, "pypulseq's SLR design (numbers only: a traced argument raises "
                        "NotImplementedError)"),
    "make_sms": (EXACT, "pypulseq's SMS design (numbers only, as make_slr)"),
    "SigpyPulseOpts": (EXACT, "pypulseq's options object for the sigpy designs"),
    # -- helpers
    "add_gradients": (DIFFERENTIABLE, "the superposition is traced"),
    "align": (DIFFERENTIABLE, "the new delays are traced"),
    "calc_duration": (DIFFERENTIABLE, "traced without guards (max as an op)"),
    "calc_ramp": (EXACT, "a faithful port, including where pypulseq 1.4.2 raises"),
    "calc_rf_bandwidth": (EXACT, "from the real waveform's spectrum, pinned (a 10 Hz grid "
                                 "distance has no gradient)"),
    "calc_rf_center": (DIFFERENTIABLE, "from the real waveform: the peak samples are guarded, "
                                       "the centre time is traced"),
    "calc_SAR": (DISABLED, "returns (True, []) as the seed specifies, with a TracingWarning "
                           "(once per recording); check SAR on the exported sequence "
                           "(graph.to_pypulseq())"),
    "get_supported_labels": (EXACT, ""),
    "points_to_waveform": (DIFFERENTIABLE, "np.interp traced (segments guarded)"),
    "rotate": (DIFFERENTIABLE, "in the angle and the gradients' amplitudes"),
    "round_half_up": (DIFFERENTIABLE, "plain arithmetic (math.floor is straight-through)"),
    "scale_grad": (DIFFERENTIABLE, ""),
    "split_gradient": (DIFFERENTIABLE, ""),
    "split_gradient_at": (DIFFERENTIABLE, "the cut is traced; which corners fall on each side "
                                          "is guarded"),
    "traj_to_grad": (DIFFERENTIABLE, "finite differences of a traced trajectory"),
    # -- Opts
    "Opts": (EXACT, "system limits are structural: traced values are pinned"),
    "Opts.__init__": (EXACT, "every unit conversion of pypulseq"),
    "Opts.__str__": (EXACT, ""),
    "Opts.set_as_default": (EXACT, "pulseqzero's own default (pypulseq's is not touched)"),
    "Opts.reset_default": (EXACT, ""),
    # -- Sequence
    "Sequence": (EXACT, "records the IR graph; see the methods"),
    "Sequence.__init__": (EXACT, ""),
    "Sequence.__str__": (PYPULSEQ, "pypulseq's summary of the export (display only)"),
    "Sequence.add_block": (DIFFERENTIABLE, "snapshots its events; the block duration is traced; "
                                           "pypulseq's checks (duplicates, gradient continuity) "
                                           "run on the traced values"),
    "Sequence.adc_times": (DIFFERENTIABLE, "from the graph, traced"),
    "Sequence.calculate_gradient_spectrum": (PYPULSEQ, "the result pins the sequence when used"),
    "Sequence.calculate_kspace": (EXACT, "pypulseq's algorithm at the traced values; pins the "
                                         "values it used when the result is used"),
    "Sequence.calculate_kspacePP": (EXACT, "deprecated alias of calculate_kspace"),
    "Sequence.calculate_pns": (DISABLED, "raises: export (graph.to_pypulseq().calculate_pns)"),
    "Sequence.check_timing": (DIFFERENTIABLE, "from the graph: ok is a traced truth value "
                                              "(`if ok:` records a guard), the report is "
                                              "pinned when used; sets TotalDuration"),
    "Sequence.duration": (DIFFERENTIABLE, "traced total duration"),
    "Sequence.evaluate_labels": (EXACT, "from the graph, traced values"),
    "Sequence.flip_grad_axis": (DIFFERENTIABLE, "see mod_grad_axis"),
    "Sequence.get_block": (EXACT, "pypulseq's block namespace with the events as added"),
    "Sequence.get_definition": (EXACT, ""),
    "Sequence.get_extension_type_ID": (EXACT, ""),
    "Sequence.get_extension_type_string": (EXACT, ""),
    "Sequence.get_gradients": (EXACT, "scipy PPoly at the traced values; the waveforms are "
                                      "pinned"),
    "Sequence.mod_grad_axis": (DIFFERENTIABLE, "scales the gradients (pypulseq 1.4.2 raises "
                                               "TypeError here: a bug)"),
    "Sequence.plot": (PYPULSEQ, "display only"),
    "Sequence.read": (EXACT, "a .seq file becomes a graph of constants; writing it gives the "
                             "same file"),
    "Sequence.register_adc_event": (EXACT, "pre-registration is replayed by the export in "
                                           "the same order (library numbering)"),
    "Sequence.register_grad_event": (EXACT, "as register_adc_event (write_MPRAGE.py uses it)"),
    "Sequence.register_label_event": (EXACT, "as register_adc_event"),
    "Sequence.register_rf_event": (EXACT, "as register_adc_event; shape ids are placeholders"),
    "Sequence.remove_duplicates": (EXACT, "returns the sequence (or a copy): pypulseq merges "
                                          "library duplicates when the export writes"),
    "Sequence.rf_from_lib_data": (DISABLED, "raises: the recording keeps no event library; "
                                            "use get_block(i).rf"),
    "Sequence.rf_times": (DIFFERENTIABLE, "from the graph, traced"),
    "Sequence.set_block": (DIFFERENTIABLE, "as add_block, replacing a block"),
    "Sequence.set_definition": (DIFFERENTIABLE, "traced numbers are recorded"),
    "Sequence.set_extension_string_ID": (EXACT, "kept for queries; the export numbers "
                                                "extensions in order of first use"),
    "Sequence.test_report": (PYPULSEQ, "display only"),
    "Sequence.waveforms": (DIFFERENTIABLE, "from the graph, traced"),
    "Sequence.waveforms_and_times": (DIFFERENTIABLE, "from the graph, traced"),
    "Sequence.waveforms_export": (PYPULSEQ, "the result pins the sequence when used"),
    "Sequence.write": (DISABLED, "writes nothing while recording (says so once): write the "
                                 "traced graph with graph.write(path)"),
    # -- PyPulseq 1.5 only
    "calc_adc_segments": (EXACT, "the segment count and length: discrete (guarded)"),
    "disable_trace": (PYPULSEQ, "switches pypulseq's record of where events were made (the "
                                "export keeps it); pulseqzero names script lines itself"),
    "enable_trace": (PYPULSEQ, "switches pypulseq's record of where events were made (the "
                               "export keeps it); pulseqzero names script lines itself"),
    "make_soft_delay": (DISABLED, "soft delays are not recorded yet: NotImplementedError "
                                  "naming make_delay of a traced duration"),
    "Sequence.apply_soft_delay": (DISABLED, "NotImplementedError: give the durations as "
                                            "parameters, or apply them to graph.to_pypulseq()"),
    "Sequence.find_block_by_time": (PYPULSEQ, "pins the sequence and the time (a block index)"),
    "Sequence.get_raw_block_content_IDs": (DISABLED, "library ids are not kept: "
                                                     "NotImplementedError naming get_block"),
    "Sequence.install": (PYPULSEQ, "installs the export at the traced values; pins the "
                                   "sequence"),
    "Sequence.paper_plot": (PYPULSEQ, "display only"),
    "Sequence.register_soft_delay_event": (DISABLED, "soft delays are not recorded yet: "
                                                     "NotImplementedError"),
}

#: what differs under the PyPulseq 1.5 API (names of both versions)
SUPPORT_15 = {
    "calc_SAR": (EXACT, "raises RuntimeError as pypulseq 1.5 does (its SAR computation was "
                        "removed: PySar4seq)"),
    "Sequence.add_block": (DIFFERENTIABLE, "as under 1.4.2; a raw float duration is refused as "
                                           "pypulseq 1.5 refuses it (make_delay)"),
    "Sequence.check_timing": (DIFFERENTIABLE, "from the graph: ok is a traced truth value "
                                              "(`if ok:` records a guard), the error records "
                                              "are pinned when used; print_errors"),
    "Sequence.mod_grad_axis": (DIFFERENTIABLE, "scales the gradients added so far, as 1.5 "
                                               "scales its library"),
}


def support(name: str, api: str) -> tuple:
    """(status, note) of a public name under the API version ``api`` ("1.4" or "1.5")."""
    if api != "1.4" and name in SUPPORT_15:
        return SUPPORT_15[name]
    return SUPPORT[name]
