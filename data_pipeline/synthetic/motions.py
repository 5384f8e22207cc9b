"""Motion building blocks the actions are made of: easing curves, keyframes, oscillations and a
relaxed standing body (t is the frame number as float, T frames)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from data_pipeline.ntu import FPS
from data_pipeline.synthetic.body import BodyShape
from data_pipeline.synthetic.kinematics import Controls


def smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return smooth((t - t0) / max(t1 - t0, 1e-6))


def bump(t: np.ndarray, t0: float, t1: float, edge: float) -> np.ndarray:
    """0 -> 1 over [t0, t0+edge], 1 until t1-edge, back to 0 at t1."""
    edge = max(1.0, min(edge, (t1 - t0) / 2))
    return ramp(t, t0, t0 + edge) * (1.0 - ramp(t, t1 - edge, t1))


def keyframes(t: np.ndarray, times: Sequence[float], values: Sequence) -> np.ndarray:
    """Piecewise smoothstep interpolation through (time, value) knots; values scalar or vector."""
    vals = np.asarray(values, dtype=float)
    times = np.asarray(times, dtype=float)
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[idx + 1] - times[idx], 1e-6)
    w = smooth((t - times[idx]) / span)
    if vals.ndim == 1:
        return vals[idx] + (vals[idx + 1] - vals[idx]) * w
    return vals[idx] + (vals[idx + 1] - vals[idx]) * w[:, None]


def osc(t: np.ndarray, hz: float, phase: float) -> np.ndarray:
    return np.sin(2 * np.pi * hz * t / FPS + phase)


def blend(a: np.ndarray, b, w: np.ndarray) -> np.ndarray:  # a [T,3], b [T,3] or [3], w [T]
    return a + (np.asarray(b) - a) * w[:, None]


def rest_hand(body: BodyShape, side: float) -> np.ndarray:
    """Torso-frame wrist target of a relaxed, hanging arm."""
    return np.array([side * (body.shoulder_half + 0.04), -body.shoulder_drop - 0.96 * body.arm, 0.04])


def standing(rng: np.random.Generator, T: int, body: BodyShape) -> Controls:
    """A relaxed standing body with a little postural sway."""
    t = np.arange(T, dtype=float)
    sway = rng.uniform(0.004, 0.015) * osc(t, rng.uniform(0.15, 0.5), rng.uniform(0, 2 * np.pi))
    pelvis = np.zeros((T, 3))
    pelvis[:, 0] = sway
    pelvis[:, 1] = body.stand_pelvis
    stance = body.hip_half + rng.uniform(0.0, 0.05)
    foot_l = np.tile([stance, body.ankle_height, 0.03], (T, 1))
    foot_r = np.tile([-stance, body.ankle_height, 0.03], (T, 1))
    drift = 0.02 * osc(t, rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi))
    hand_l = np.tile(rest_hand(body, 1.0), (T, 1))
    hand_r = np.tile(rest_hand(body, -1.0), (T, 1))
    hand_l[:, 2] += drift
    hand_r[:, 2] += drift
    return Controls(
        pelvis=pelvis,
        pitch=np.full(T, rng.uniform(0.0, 0.08)) + 0.01 * osc(t, rng.uniform(0.1, 0.3), rng.uniform(0, 6)),
        roll=np.full(T, rng.uniform(-0.03, 0.03)),
        twist=np.full(T, rng.uniform(-0.05, 0.05)),
        nod=np.full(T, rng.uniform(-0.1, 0.15)),
        foot_l=foot_l, foot_r=foot_r, hand_l=hand_l, hand_r=hand_r,
        hand_l_body=np.zeros((T, 3)), hand_r_body=np.zeros((T, 3)), w_l=np.zeros(T), w_r=np.zeros(T),
        pole_l=np.array([0.6, -0.6, -0.5]), pole_r=np.array([-0.6, -0.6, -0.5]),
        yaw=float(np.pi + rng.uniform(-0.25, 0.25)),
    )


def active_window(rng: np.random.Generator, T: int, lo: float, hi: float) -> tuple[float, float]:
    """Start and end frame of the active part, leaving random idle time before and after."""
    length = rng.uniform(lo, hi) * T
    start = rng.uniform(0.0, T - length)
    return start, start + length
