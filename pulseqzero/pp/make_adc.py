"""``make_adc`` (and the 1.5 API's ``calc_adc_segments``), PyPulseq's algorithms over numbers
or tracers."""
from __future__ import annotations

import itertools
import math

from .events import Event, recorded
from .opts import Opts, as_opts
from .rf_fields import warn_delay_raised
from .version import API_15

__all__ = ["make_adc"] + (["calc_adc_segments"] if API_15 else [])


def adc(num_samples, delay, duration, dwell, freq_offset, phase_offset, system, freq_ppm=None,
        phase_ppm=None, phase_modulation=None):
    """ADC readout: ``num_samples`` (static), dwell or duration (s), delay (s), offsets (Hz,
    rad, ppm), ``phase_modulation`` (rad per sample). ``freq_ppm`` None: the 1.4 API's event."""
    system = as_opts(system)
    adc = Event(type="adc")
    adc.__dict__.update(num_samples=num_samples, dwell=dwell, delay=delay,
                        freq_offset=freq_offset, phase_offset=phase_offset)
    if freq_ppm is not None:
        adc.__dict__.update(freq_ppm=freq_ppm, phase_ppm=phase_ppm)
    adc.__dict__["dead_time"] = system.adc_dead_time
    if (dwell == 0 and duration == 0) or (dwell > 0 and duration > 0):
        raise ValueError("Either dwell or duration must be defined")
    if freq_ppm is not None:
        if phase_modulation is not None and len(phase_modulation) != num_samples:
            raise ValueError("ADC Phase modulation vector must have the same length as the "
                             "number of samples")
        adc.__dict__["phase_modulation"] = phase_modulation
    if duration > 0:
        adc.__dict__["dwell"] = duration / num_samples
    if dwell > 0:
        adc.__dict__["duration"] = dwell * num_samples
    if adc.dead_time > adc.delay:
        warn_delay_raised(adc)
        adc.__dict__["delay"] = adc.dead_time
    return adc


if API_15:
    @recorded()
    def make_adc(num_samples: int, delay=0.0, duration=0.0, dwell=0.0, freq_offset=0.0,
                 phase_offset=0.0, system=None, freq_ppm=0.0, phase_ppm=0.0,
                 phase_modulation=None) -> Event:
        """ADC readout, PyPulseq 1.5: ``num_samples`` (static), dwell or duration (s), delay
        (s), offsets (Hz, rad, ppm), ``phase_modulation`` (rad per sample, or None)."""
        return adc(num_samples, delay, duration, dwell, freq_offset, phase_offset, system,
                   freq_ppm, phase_ppm, phase_modulation)
else:
    @recorded()
    def make_adc(num_samples: int, delay=0, duration=0, dwell=0, freq_offset=0, phase_offset=0,
                 system=None) -> Event:
        """ADC readout, PyPulseq 1.4.2: ``num_samples`` (static), dwell or duration (s), delay
        (s), offsets (Hz, rad)."""
        return adc(num_samples, delay, duration, dwell, freq_offset, phase_offset, system)


_MAX_SEGMENTS = 128  # PyPulseq 1.5's limit on ADC segments


def calc_adc_segments(num_samples: int, dwell, system=None, mode: str = "lengthen"):
    """``(num_segments, num_samples_per_segment)`` for an ADC of ``num_samples`` at ``dwell``
    (s) that a scanner limited to ``system.adc_samples_limit`` samples per ADC can split into
    equal segments on the gradient raster (1.5 API). A count is structural: a traced
    ``dwell`` is pinned (guarded)."""
    if mode not in ["shorten", "lengthen"]:
        raise ValueError(f"'mode' must be 'shorten' or 'lengthen' but is {mode}")
    if system is None:
        system = Opts.default
    if system.adc_samples_limit <= 0:
        return 1, num_samples
    # the shortest segment whose duration is on both the gradient and the ADC raster
    grad_steps = round(system.grad_raster_time / system.adc_raster_time)
    if not math.isclose(system.grad_raster_time / system.adc_raster_time, grad_steps):
        raise ValueError("System 'grad_raster_time' is not a multiple of 'adc_raster_time'.")
    dwell_steps = round(dwell / system.adc_raster_time)
    if not math.isclose(dwell / system.adc_raster_time, dwell_steps):
        raise ValueError("'dwell' is not a multiple of system 'adc_raster_time'.")
    common = grad_steps * dwell_steps // math.gcd(grad_steps, dwell_steps)
    min_samples = int(common / dwell_steps)
    divisor_gcd = math.gcd(min_samples, system.adc_samples_divisor)
    if divisor_gcd != system.adc_samples_divisor:  # segments must hold a multiple of the divisor
        min_samples *= system.adc_samples_divisor / divisor_gcd

    step = -1 if mode == "shorten" else 1
    multiple = (math.floor if mode == "shorten" else math.ceil)(num_samples / min_samples)
    while 0 < multiple < 2 * num_samples / min_samples:
        primes = _prime_factors(multiple)
        num_segments = 1
        if len(primes) > 1:
            candidates = set()
            for k in range(1, len(primes) + 1):
                candidates |= {math.prod(c) for c in itertools.combinations(primes, k)}
            for num_segments in sorted(candidates):
                samples_per_segment = multiple * min_samples / num_segments
                if (samples_per_segment <= system.adc_samples_limit
                        and num_segments <= _MAX_SEGMENTS):
                    break
        else:
            samples_per_segment = multiple * min_samples
        if samples_per_segment <= system.adc_samples_limit and num_segments <= _MAX_SEGMENTS:
            break
        multiple += step

    if multiple <= 0:
        raise ValueError("Could not find suitable segmentation.")
    if samples_per_segment == 0:
        raise ValueError("Could not find suitable number of samples per segment.")
    if num_segments > _MAX_SEGMENTS:
        raise ValueError(f"Number of segments ({num_segments}) exceeds allowed number of "
                         f"{_MAX_SEGMENTS}")
    return int(num_segments), int(samples_per_segment)


def _prime_factors(n: int) -> list:
    """The prime factors of ``n`` with repetition, ascending; ``[1]`` for 1."""
    if n == 1:
        return [1]
    factors = []
    while n % 2 == 0:
        factors.append(2)
        n //= 2
    i = 3
    while i * i <= n:
        while n % i == 0:
            factors.append(i)
            n //= i
        i += 2
    if n > 2:
        factors.append(n)
    return factors
