"""PyPulseq 1.4.2's ``calculate_kspace`` algorithm, after its inputs were gathered: plain
numpy on concrete numbers (``Queries.calculate_kspace`` gathers them and pins them)."""
from __future__ import annotations

import numpy as np

from .blocks import EPS


def kspace(gw_pp, total_duration, t_excitation, fp_excitation, t_refocusing, t_adc,
           grad_raster_time, rf_raster_time):
    """pypulseq 1.4.2's ``calculate_kspace`` after its inputs were gathered (numpy)."""
    eps = EPS
    ng = len(gw_pp)
    if len(t_excitation) > 0:
        slice_pos = np.zeros((ng, len(t_excitation)))
        for j in range(ng):
            if gw_pp[j] is None:
                slice_pos[j] = np.nan
            else:
                divisor = np.array(gw_pp[j](t_excitation))
                slice_pos[j, divisor != 0.0] = fp_excitation[0, divisor != 0.0] / divisor[divisor != 0.0]
                slice_pos[j, divisor == 0.0] = np.nan
        slice_pos[~np.isfinite(slice_pos)] = 0
    gm_pp, tc = [], []
    for i in range(ng):
        if gw_pp[i] is None:
            gm_pp.append(None)
            continue
        gm_pp.append(gw_pp[i].antiderivative())
        tc.append(gm_pp[i].x)
        ii = np.flatnonzero(np.abs(gm_pp[i].c[0, :]) > eps)
        if ii.shape[0] == 0:
            continue
        starts = np.int64(np.floor((gm_pp[i].x[ii] + eps) / grad_raster_time))
        ends = np.int64(np.ceil((gm_pp[i].x[ii + 1] - eps) / grad_raster_time))
        lengths = ends - starts + 1
        inds = np.ones((lengths).sum())
        start_inds = np.cumsum(np.concatenate(([0], lengths[:-1])))
        inds[start_inds] = np.concatenate(([starts[0]], np.diff(starts) - lengths[:-1] + 1))
        tc.append(np.cumsum(inds) * grad_raster_time)
    if tc != []:
        tc = np.concatenate(tc)
    t_acc = 1e-10
    t_acc_inv = 1 / t_acc
    t_ktraj = t_acc * np.unique(np.round(t_acc_inv * np.array([
        *tc, 0, *np.asarray(t_excitation) - 2 * rf_raster_time,
        *np.asarray(t_excitation) - rf_raster_time, *t_excitation,
        *np.asarray(t_refocusing) - rf_raster_time, *t_refocusing, *t_adc, total_duration])))
    i_excitation = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_excitation)))
    i_refocusing = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_refocusing)))
    i_adc = np.searchsorted(t_ktraj, t_acc * np.round(t_acc_inv * np.asarray(t_adc)))
    i_periods = np.unique([0, *i_excitation, *i_refocusing, len(t_ktraj) - 1])
    ii_next_excitation = 0 if len(i_excitation) > 0 else -1
    ii_next_refocusing = 0 if len(i_refocusing) > 0 else -1
    k_traj = np.zeros((ng, len(t_ktraj)))
    for i in range(ng):
        if gw_pp[i] is None:
            continue
        it = np.where(np.logical_and(
            t_ktraj >= t_acc * round(t_acc_inv * gm_pp[i].x[0]),
            t_ktraj <= t_acc * round(t_acc_inv * gm_pp[i].x[-1]),
        ))[0]
        k_traj[i, it] = gm_pp[i](t_ktraj[it])
        if t_ktraj[it[-1]] < t_ktraj[-1]:
            k_traj[i, it[-1] + 1:] = k_traj[i, it[-1]]
    dk = -k_traj[:, 0]
    for i in range(len(i_periods) - 1):
        i_period = i_periods[i]
        i_period_end = i_periods[i + 1]
        if ii_next_excitation >= 0 and i_excitation[ii_next_excitation] == i_period:
            if abs(t_ktraj[i_period] - t_excitation[ii_next_excitation]) > t_acc:
                raise Warning(f"abs(t_ktraj[i_period]-t_excitation[ii_next_excitation]) < {t_acc} "
                              f"failed for ii_next_excitation={ii_next_excitation}")
            dk = -k_traj[:, i_period]
            if i_period > 0:
                k_traj[:, i_period - 1] = np.nan
            ii_next_excitation = min(len(i_excitation) - 1, ii_next_excitation + 1)
        elif ii_next_refocusing >= 0 and i_refocusing[ii_next_refocusing] == i_period:
            dk = -2 * k_traj[:, i_period] - dk
            ii_next_refocusing = min(len(i_refocusing) - 1, ii_next_refocusing + 1)
        k_traj[:, i_period:i_period_end] = k_traj[:, i_period:i_period_end] + dk[:, None]
    k_traj[:, i_period_end] = k_traj[:, i_period_end] + dk
    k_traj_adc = k_traj[:, i_adc]
    return k_traj_adc, k_traj, t_excitation, t_refocusing, t_adc
