"""Synthetic NTU RGB+D data: real-format `.skeleton` files from a 25-joint kinematic body.

Each file is one performance of an NTU action by a forward-kinematic body (torso chain plus two-bone
IK for arms and legs, so bone lengths are exactly those of the subject), seen by one of three Kinect
views, with Kinect-like sensor noise and, now and then, the artefacts the real preprocessing has to
remove: short ghost bodies, flat non-person blobs and empty frames at the ends.

The classes are built so that only motion over time separates some of them:
- time-reversed pairs: A008 sitting down / A009 standing up, A020 put on a hat / A021 take off a hat,
  A059 walking towards / A060 walking apart (the second of each pair is the first played backwards,
  so any single frame is equally likely in both);
- same limbs, different rhythm: A010 clapping / A034 rubbing hands (hands in front of the chest),
  A023 hand waving / A038 salute (right hand up by the head), A050 punching / A058 handshaking
  (right arm towards the partner).

Every file depends only on (seed, sample index): the index fixes action, subject group, camera and
a slot that makes the name unique; the subject's body depends only on (seed, subject).
Coordinates are metres in camera space: x (Kinect: towards the performer's right), y up,
z away from the camera (about 2.5-4 m).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from data_pipeline.skeleton_format import NUM_JOINTS, SkeletonSequence, write_skeleton

FPS = 30.0
MIN_FRAMES, MAX_FRAMES = 40, 150
NUM_SETUPS = 17
NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU60_TEST_SUBJECTS = tuple(s for s in range(1, 41) if s not in NTU60_TRAIN_SUBJECTS)
CAMERA_YAW_DEG = {1: -45.0, 2: 0.0, 3: 45.0}
KINECT_ID_BASE = 72057594037927936  # 2**56: real Kinect v2 body IDs are this plus a small counter

# How often the artefacts the NTU denoising deals with appear (per file).
EXTRA_BODY_RATE = 0.08
EMPTY_FRAMES_RATE = 0.05

# One name slot per (setup, subject of the group, replication) in each (action, group, camera) cell.
_SLOTS_PER_CELL = NUM_SETUPS * len(NTU60_TRAIN_SUBJECTS) * 2


# --------------------------------------------------------------------------------------------------
# Body


@dataclass(frozen=True)
class BodyShape:
    """Bone lengths (metres) and movement habits of one subject."""

    spine_low: float  # base of spine -> middle of spine
    spine_high: float  # middle of spine -> spine (shoulder)
    neck: float
    head: float
    shoulder_half: float  # spine (shoulder) -> shoulder, sideways
    shoulder_drop: float
    upper_arm: float
    forearm: float
    hand: float  # wrist -> hand
    hand_tip: float
    thumb: float
    hip_half: float
    hip_drop: float
    thigh: float
    shin: float
    ankle_height: float
    foot: float
    tempo: float  # > 1: this subject moves slower than average
    amplitude: float  # > 1: this subject moves wider than average

    @property
    def stand_pelvis(self) -> float:
        """Height of the base of the spine when standing with nearly straight legs."""
        return self.hip_drop + self.ankle_height + 0.985 * (self.thigh + self.shin)

    @property
    def head_height(self) -> float:
        return self.stand_pelvis + self.spine_low + self.spine_high + self.neck + 0.6 * self.head

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm


def subject_body(seed: int, subject: int) -> BodyShape:
    """The body of `subject`: fixed across all of that subject's files for a given seed."""
    rng = np.random.default_rng([seed, 1, subject])
    s = rng.uniform(0.86, 1.12)  # overall size (NTU performers were 10-35 years old)
    width = rng.uniform(0.9, 1.12)

    def bone(length: float) -> float:
        return float(length * s * rng.uniform(0.95, 1.05))

    return BodyShape(
        spine_low=bone(0.28), spine_high=bone(0.22), neck=bone(0.07), head=bone(0.13),
        shoulder_half=bone(0.17) * width, shoulder_drop=bone(0.03),
        upper_arm=bone(0.28), forearm=bone(0.25), hand=bone(0.07), hand_tip=bone(0.07), thumb=bone(0.05),
        hip_half=bone(0.075) * width, hip_drop=bone(0.06),
        thigh=bone(0.42), shin=bone(0.40), ankle_height=bone(0.08), foot=bone(0.11),
        tempo=float(rng.uniform(0.88, 1.14)), amplitude=float(rng.uniform(0.88, 1.12)),
    )


# --------------------------------------------------------------------------------------------------
# Kinematics


def _rot_x(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]; positive a tips +y towards +z (lean forward)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(-1, 3, 3)


def _rot_y(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]; maps +z to (sin a, 0, cos a)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(-1, 3, 3)


def _rot_z(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(-1, 3, 3)


def _apply(r: np.ndarray, v: np.ndarray) -> np.ndarray:  # r [T,3,3], v [T,3] or [3] -> [T,3]
    return np.einsum("tij,tj->ti", r, np.broadcast_to(v, (r.shape[0], 3)))


def _unit(v: np.ndarray, fallback: np.ndarray | None = None) -> np.ndarray:  # [T,3]
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    out = v / np.maximum(n, 1e-9)
    if fallback is not None:
        out = np.where(n > 1e-6, out, fallback)
    return out


def two_bone_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float, pole: np.ndarray):
    """Middle and end joints [T,3] of a two-bone chain from `root` reaching for `target`.

    The middle joint bends towards `pole`; unreachable targets are clamped onto the reachable
    shell, so |mid - root| == l1 and |end - mid| == l2 hold exactly in every frame.
    """
    v = target - root
    d = np.linalg.norm(v, axis=-1)
    u = _unit(v, fallback=np.array([0.0, -1.0, 0.0]))
    d = np.clip(d, abs(l1 - l2) + 1e-3, (l1 + l2) * 0.999)
    cos_a = np.clip((l1 * l1 + d * d - l2 * l2) / (2 * l1 * d), -1.0, 1.0)
    sin_a = np.sqrt(1.0 - cos_a * cos_a)
    pole = np.broadcast_to(pole, v.shape)
    n = pole - np.sum(pole * u, axis=-1, keepdims=True) * u
    # A pole parallel to the bone gives no bend direction: fall back to any perpendicular.
    alt = np.cross(u, np.array([1.0, 0.0, 0.0]))
    n = _unit(n, fallback=_unit(alt, fallback=np.array([0.0, 0.0, 1.0])))
    mid = root + l1 * (cos_a[:, None] * u + sin_a[:, None] * n)
    end = root + d[:, None] * u
    return mid, end


@dataclass
class Controls:
    """What drives one body over T frames. Body-local frame: x = performer's left, y up, z forward;
    its origin is on the floor at `origin` (scene x, z), rotated by `yaw` about the vertical."""

    pelvis: np.ndarray  # [T,3] body-local base of spine
    pitch: np.ndarray  # [T] forward lean of the upper body (rad)
    roll: np.ndarray  # [T] sideways lean
    twist: np.ndarray  # [T] upper-body rotation about the vertical; + brings the right shoulder forward
    nod: np.ndarray  # [T] head pitch relative to the torso
    foot_l: np.ndarray  # [T,3] body-local ankle targets
    foot_r: np.ndarray
    hand_l: np.ndarray  # [T,3] wrist targets in the torso frame, relative to spine (shoulder)
    hand_r: np.ndarray
    hand_l_body: np.ndarray  # [T,3] body-local wrist targets, blended in with weight w_l
    hand_r_body: np.ndarray
    w_l: np.ndarray  # [T]
    w_r: np.ndarray
    pole_l: np.ndarray  # [3] torso-frame direction the elbow bends towards
    pole_r: np.ndarray
    yaw: float = np.pi  # facing the camera (-z in the scene)
    origin: tuple[float, float] = (0.0, 0.0)


def pose_joints(body: BodyShape, c: Controls) -> np.ndarray:
    """Scene-space joints [T,25,3] of a body driven by `c` (NTU joint order)."""
    T = c.pelvis.shape[0]
    yaw = np.full(T, c.yaw)
    r_body = _rot_y(yaw)
    r_torso = _rot_y(yaw + c.twist) @ _rot_x(c.pitch) @ _rot_z(c.roll)
    r_low = _rot_y(yaw + 0.5 * c.twist) @ _rot_x(0.55 * c.pitch) @ _rot_z(0.5 * c.roll)
    r_hips = _rot_y(yaw + 0.3 * c.twist)
    origin = np.array([c.origin[0], 0.0, c.origin[1]])

    j = np.zeros((T, NUM_JOINTS, 3))
    j[:, 0] = origin + _apply(r_body, c.pelvis)
    j[:, 1] = j[:, 0] + _apply(r_low, np.array([0.0, body.spine_low, 0.0]))
    j[:, 20] = j[:, 1] + _apply(r_torso, np.array([0.0, body.spine_high, 0.0]))
    j[:, 2] = j[:, 20] + _apply(r_torso, np.array([0.0, body.neck, 0.0]))
    j[:, 3] = j[:, 2] + _apply(r_torso @ _rot_x(c.nod), np.array([0.0, body.head, 0.0]))

    forward = _apply(r_body, np.array([0.0, 0.0, 1.0]))
    up = np.array([0.0, 1.0, 0.0])
    legs = ((1.0, 12, 13, 14, 15, c.foot_l), (-1.0, 16, 17, 18, 19, c.foot_r))
    for side, hip, knee, ankle, foot, target in legs:
        j[:, hip] = j[:, 0] + _apply(r_hips, np.array([side * body.hip_half, -body.hip_drop, 0.0]))
        pole = forward + 0.15 * side * _apply(r_body, np.array([1.0, 0.0, 0.0]))
        j[:, knee], j[:, ankle] = two_bone_ik(
            j[:, hip], origin + _apply(r_body, target), body.thigh, body.shin, pole
        )
        j[:, foot] = j[:, ankle] + body.foot * _unit(forward - 0.35 * up)

    for side, sh, el, wr, ha, tip, th, t_torso, t_body, w, pole_t in (
        (1.0, 4, 5, 6, 7, 21, 22, c.hand_l, c.hand_l_body, c.w_l, c.pole_l),
        (-1.0, 8, 9, 10, 11, 23, 24, c.hand_r, c.hand_r_body, c.w_r, c.pole_r),
    ):
        shoulder_local = np.array([side * body.shoulder_half, -body.shoulder_drop, -0.01])
        j[:, sh] = j[:, 20] + _apply(r_torso, shoulder_local)
        target = (1 - w)[:, None] * (j[:, 20] + _apply(r_torso, t_torso)) + w[:, None] * (
            origin + _apply(r_body, t_body)
        )
        pole = _apply(r_torso, pole_t)
        j[:, el], j[:, wr] = two_bone_ik(j[:, sh], target, body.upper_arm, body.forearm, pole)
        fore = _unit(j[:, wr] - j[:, el])
        bend = _unit(pole - np.sum(pole * fore, -1, keepdims=True) * fore, fallback=forward)
        j[:, ha] = j[:, wr] + body.hand * fore
        j[:, tip] = j[:, ha] + body.hand_tip * _unit(fore - 0.3 * bend)
        thumb_dir = _unit(np.cross(fore, bend), fallback=forward) * side
        j[:, th] = j[:, wr] + body.thumb * _unit(fore + 0.8 * thumb_dir)
    return j


# --------------------------------------------------------------------------------------------------
# Motion building blocks (t is the frame number as float, T frames)


def _smooth(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _ramp(t: np.ndarray, t0: float, t1: float) -> np.ndarray:
    return _smooth((t - t0) / max(t1 - t0, 1e-6))


def _bump(t: np.ndarray, t0: float, t1: float, ramp: float) -> np.ndarray:
    """0 -> 1 over [t0, t0+ramp], 1 until t1-ramp, back to 0 at t1."""
    ramp = max(1.0, min(ramp, (t1 - t0) / 2))
    return _ramp(t, t0, t0 + ramp) * (1.0 - _ramp(t, t1 - ramp, t1))


def _keyframes(t: np.ndarray, times: Sequence[float], values: Sequence) -> np.ndarray:
    """Piecewise smoothstep interpolation through (time, value) knots; values scalar or vector."""
    vals = np.asarray(values, dtype=float)
    times = np.asarray(times, dtype=float)
    idx = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    span = np.maximum(times[idx + 1] - times[idx], 1e-6)
    w = _smooth((t - times[idx]) / span)
    if vals.ndim == 1:
        return vals[idx] + (vals[idx + 1] - vals[idx]) * w
    return vals[idx] + (vals[idx + 1] - vals[idx]) * w[:, None]


def _osc(t: np.ndarray, hz: float, phase: float) -> np.ndarray:
    return np.sin(2 * np.pi * hz * t / FPS + phase)


def _blend(a: np.ndarray, b, w: np.ndarray) -> np.ndarray:  # a [T,3], b [T,3] or [3], w [T]
    return a + (np.asarray(b) - a) * w[:, None]


def _rest_hand(body: BodyShape, side: float) -> np.ndarray:
    """Torso-frame wrist target of a relaxed, hanging arm."""
    return np.array([side * (body.shoulder_half + 0.04), -body.shoulder_drop - 0.96 * body.arm, 0.04])


def _standing(rng: np.random.Generator, T: int, body: BodyShape) -> Controls:
    """A relaxed standing body with a little postural sway."""
    t = np.arange(T, dtype=float)
    sway = rng.uniform(0.004, 0.015) * _osc(t, rng.uniform(0.15, 0.5), rng.uniform(0, 2 * np.pi))
    pelvis = np.zeros((T, 3))
    pelvis[:, 0] = sway
    pelvis[:, 1] = body.stand_pelvis
    stance = body.hip_half + rng.uniform(0.0, 0.05)
    foot_l = np.tile([stance, body.ankle_height, 0.03], (T, 1))
    foot_r = np.tile([-stance, body.ankle_height, 0.03], (T, 1))
    drift = 0.02 * _osc(t, rng.uniform(0.1, 0.4), rng.uniform(0, 2 * np.pi))
    hand_l = np.tile(_rest_hand(body, 1.0), (T, 1))
    hand_r = np.tile(_rest_hand(body, -1.0), (T, 1))
    hand_l[:, 2] += drift
    hand_r[:, 2] += drift
    return Controls(
        pelvis=pelvis,
        pitch=np.full(T, rng.uniform(0.0, 0.08)) + 0.01 * _osc(t, rng.uniform(0.1, 0.3), rng.uniform(0, 6)),
        roll=np.full(T, rng.uniform(-0.03, 0.03)),
        twist=np.full(T, rng.uniform(-0.05, 0.05)),
        nod=np.full(T, rng.uniform(-0.1, 0.15)),
        foot_l=foot_l, foot_r=foot_r, hand_l=hand_l, hand_r=hand_r,
        hand_l_body=np.zeros((T, 3)), hand_r_body=np.zeros((T, 3)), w_l=np.zeros(T), w_r=np.zeros(T),
        pole_l=np.array([0.6, -0.6, -0.5]), pole_r=np.array([-0.6, -0.6, -0.5]),
        yaw=float(np.pi + rng.uniform(-0.25, 0.25)),
    )


def _window(rng: np.random.Generator, T: int, lo: float, hi: float) -> tuple[float, float]:
    """Start and end frame of the active part, leaving random idle time before and after."""
    length = rng.uniform(lo, hi) * T
    start = rng.uniform(0.0, T - length)
    return start, start + length


# --------------------------------------------------------------------------------------------------
# Actions. Each takes (rng, T, bodies) and returns one Controls per body.


def _sit_down(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.35, 0.65)
    q = _ramp(t, t0, t1)  # 0 standing -> 1 seated
    foot_z = rng.uniform(0.05, 0.12)
    seat_y = body.ankle_height + 0.97 * body.shin + body.hip_drop + rng.uniform(0.0, 0.05)
    seat_z = foot_z - 0.92 * body.thigh
    c.foot_l[:, 2] = c.foot_r[:, 2] = foot_z
    c.pelvis[:, 1] = body.stand_pelvis + (seat_y - body.stand_pelvis) * q
    c.pelvis[:, 2] = seat_z * _smooth(1.15 * q)  # the hips go back a little before they go down
    amp = rng.uniform(0.3, 0.6) * body.amplitude
    c.pitch = c.pitch + amp * np.sin(np.pi * q) + rng.uniform(0.0, 0.15) * q
    arms = ((1.0, "hand_l", "hand_l_body", "w_l"), (-1.0, "hand_r", "hand_r_body", "w_r"))
    for side, attr, body_attr, w_attr in arms:
        hand = getattr(c, attr)
        hand[:, 2] += 0.15 * np.sin(np.pi * q)  # arms forward for balance
        setattr(c, body_attr, np.tile([side * (body.hip_half + 0.06), seat_y - body.hip_drop + 0.1,
                                       seat_z + 0.6 * body.thigh], (T, 1)))
        setattr(c, w_attr, _smooth(1.3 * q - 0.3))
    return [c]


def _put_on_hat(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.6, 0.9)
    L = t1 - t0
    # Rise slowly in front of the face, adjust, then drop fast at the sides.
    ta, tb = t0 + rng.uniform(0.5, 0.65) * L, t1 - rng.uniform(0.12, 0.2) * L
    top_y = body.neck + body.head + rng.uniform(0.03, 0.08)
    wiggle = rng.uniform(0.01, 0.025) * _osc(t, rng.uniform(2.0, 3.5), 0.0) * _bump(t, ta, tb, 2)
    rise = _ramp(t, t0, ta)
    drop = _ramp(t, tb, t1)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        rest = _rest_hand(body, side)
        belly = np.array([side * rng.uniform(0.08, 0.12), -body.shoulder_drop - 0.42, rng.uniform(0.22, 0.3)])
        top = np.array([side * rng.uniform(0.07, 0.1), top_y, rng.uniform(0.0, 0.04)])
        up = belly + (top - belly) * rise[:, None]
        up[:, 2] += 0.2 * np.sin(np.pi * rise)  # in front of the face on the way up
        down = top + (rest - top) * drop[:, None]
        down[:, 0] += side * 0.22 * np.sin(np.pi * drop)  # out to the sides on the way down
        hand = np.where((t < tb)[:, None], up, down)
        hand[:, 1] += wiggle
        setattr(c, attr, hand + (getattr(c, attr) - rest))  # keep the idle drift
    c.nod = c.nod + 0.15 * _bump(t, ta - 3, tb + 3, 3)
    c.pole_l, c.pole_r = np.array([0.8, -0.5, 0.0]), np.array([-0.8, -0.5, 0.0])
    return [c]


def _hands_in_front(rng, T, body):
    """Shared set-up of clapping and rubbing hands: where, and the raise/lower envelope."""
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.65, 0.95)
    w = _bump(t, t0, t1, rng.uniform(6, 12) * body.tempo)
    centre = np.array([rng.uniform(-0.04, 0.04), -rng.uniform(0.15, 0.3), rng.uniform(0.28, 0.4)])
    return t, t0, w, centre


def _clapping(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t, t0, w, centre = _hands_in_front(rng, T, body)
    amp, hz = rng.uniform(0.1, 0.32) * body.amplitude, rng.uniform(1.8, 3.2)
    gap = amp * 0.5 * (1 - np.cos(2 * np.pi * hz * (t - t0) / FPS))  # hands touch at t0, then every 1/hz s
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        target = np.tile(centre, (T, 1))
        target[:, 0] += side * (0.03 + gap / 2)
        setattr(c, attr, _blend(getattr(c, attr), target, w))
    c.pole_l, c.pole_r = np.array([0.8, -0.6, 0.0]), np.array([-0.8, -0.6, 0.0])
    return [c]


def _rub_hands(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t, _, w, centre = _hands_in_front(rng, T, body)
    rub = rng.uniform(0.02, 0.05) * body.amplitude * _osc(t, rng.uniform(2.5, 4.5), rng.uniform(0, 6))
    axis = 1 if rng.random() < 0.6 else 2  # up-down or back-forth
    gap = rng.uniform(0.02, 0.05)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        target = np.tile(centre, (T, 1))
        target[:, 0] += side * (0.03 + gap / 2)
        target[:, axis] += side * rub
        setattr(c, attr, _blend(getattr(c, attr), target, w))
    c.pole_l, c.pole_r = np.array([0.8, -0.6, 0.0]), np.array([-0.8, -0.6, 0.0])
    return [c]


def _right_hand_up(rng, T, c, target, ramp):
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.6, 0.95)
    w = _bump(t, t0, t1, ramp)
    c.hand_r = _blend(c.hand_r, target, w)
    c.pole_r = np.array([-1.0, -0.4, -0.1])
    return t, w


def _hand_waving(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    side_out = body.shoulder_half + rng.uniform(0.02, 0.18)
    centre = np.array([-side_out, rng.uniform(0.2, 0.38), rng.uniform(0.05, 0.2)])
    target = np.tile(centre, (T, 1))
    t = np.arange(T, dtype=float)
    amp = rng.uniform(0.06, 0.14) * body.amplitude
    target[:, 0] += amp * _osc(t, rng.uniform(1.5, 3.0), rng.uniform(0, 6))
    _right_hand_up(rng, T, c, target, rng.uniform(6, 12) * body.tempo)
    return [c]


def _salute(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    brow = np.array([-rng.uniform(0.04, 0.09), body.neck + 0.8 * body.head, rng.uniform(0.09, 0.13)])
    t = np.arange(T, dtype=float)
    tremor = 0.006 * np.stack([_osc(t, 5.0, 0.0), _osc(t, 4.0, 1.0), np.zeros(T)], -1)
    _, w = _right_hand_up(rng, T, c, brow + tremor, rng.uniform(5, 10) * body.tempo)
    c.pitch = c.pitch - 0.04 * w  # stand up straight
    return [c]


def _kicking(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.55, 0.85)
    L = t1 - t0
    tb = t0 + rng.uniform(0.25, 0.4) * L  # end of the back-swing
    tk = tb + max(3.0, rng.uniform(0.08, 0.15) * L)  # the kick itself is fast
    th = tk + rng.uniform(0.05, 0.12) * L
    rest = c.foot_r[0].copy()
    back = rest + [0.02, rng.uniform(0.08, 0.2), -rng.uniform(0.15, 0.3)]
    high = np.array([rest[0] * 0.5, body.ankle_height + rng.uniform(0.2, 0.5) * body.amplitude,
                     rng.uniform(0.45, 0.7) * body.amplitude])
    knots = [0, t0, tb, tk, th, t1, T]
    c.foot_r = _keyframes(t, knots, [rest, rest, back, high, high * [1, 0.9, 0.9], rest, rest])
    kick = _keyframes(t, knots, [0, 0.3, 0.6, 1, 0.9, 0, 0])
    c.pelvis[:, 0] += 0.045 * _bump(t, t0 - 4, t1 + 2, 6)  # weight onto the left leg
    c.pitch = c.pitch - 0.15 * kick
    c.hand_l = _blend(c.hand_l, c.hand_l + [0.08, 0.15, 0.2], kick)
    c.hand_r = _blend(c.hand_r, c.hand_r + [-0.05, 0.05, -0.15], kick)
    return [c]


def _jump_up(rng, T, bodies):
    body = bodies[0]
    c = _standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.6, 0.9)
    fr = np.cumsum([0.0, *rng.uniform([0.2, 0.08, 0.12, 0.08, 0.1], [0.3, 0.12, 0.18, 0.12, 0.15])])
    fr = fr / (fr[-1] + rng.uniform(0.1, 0.3))
    knots = [0.0, *(t0 + fr * (t1 - t0)), t1, float(T)]
    crouch = rng.uniform(0.12, 0.25) * body.amplitude
    height = rng.uniform(0.1, 0.3) * body.amplitude
    dy = _keyframes(t, knots, [0, 0, -crouch, 0.02, height, 0.0, -0.6 * crouch, 0, 0])
    c.pelvis[:, 1] += dy
    airborne = np.maximum(dy, 0.0)
    c.foot_l[:, 1] += airborne
    c.foot_r[:, 1] += airborne
    c.pitch = c.pitch + _keyframes(t, knots, [0, 0, 0.35, 0.05, -0.05, 0.1, 0.3, 0, 0])
    back = _keyframes(t, knots, [0, 0, 1, 0, 0, 0, 0.4, 0, 0])
    up = _keyframes(t, knots, [0, 0, 0, 0.7, 1, 0.3, 0, 0, 0])
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        hand = getattr(c, attr)
        hand = _blend(hand, hand + [0.0, 0.12, -0.3], back)
        hand = _blend(hand, [side * 0.2, 0.45, 0.2], up)
        setattr(c, attr, hand)
    return [c]


def _facing_pair(rng, T, bodies, distance):
    """Two standing bodies facing each other along the scene x axis, `distance` apart."""
    a, b = _standing(rng, T, bodies[0]), _standing(rng, T, bodies[1])
    cx, cz = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    a.yaw, a.origin = float(np.pi / 2 + rng.uniform(-0.1, 0.1)), (cx - distance / 2, cz)
    b.yaw, b.origin = float(-np.pi / 2 + rng.uniform(-0.1, 0.1)), (cx + distance / 2, cz)
    return a, b


def _punching(rng, T, bodies):
    d = rng.uniform(0.7, 0.95)
    a, b = _facing_pair(rng, T, bodies, d)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.6, 0.9)
    guard = _bump(t, t0, t1, 6)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        setattr(a, attr, _blend(getattr(a, attr), [side * 0.12, -0.12, 0.25], guard))
    n = int(rng.integers(1, 4))
    hits = np.linspace(t0 + 8, t1 - 8, n + 2)[1:-1]
    strike = np.zeros(T)
    for h in hits:
        ext, ret = rng.uniform(3, 6), rng.uniform(5, 9)
        strike = np.maximum(strike, _keyframes(t, [0, h - ext, h, h + 2, h + 2 + ret, T], [0, 0, 1, 1, 0, 0]))
    slap = rng.random() < 0.4
    aim_x = rng.uniform(-0.1, 0.05)
    face = np.tile([aim_x, bodies[1].head_height * rng.uniform(0.82, 0.95), d - 0.12], (T, 1))
    if slap:  # a sideways swing across the face instead of a straight jab
        face[:, 0] += -0.35 + 0.45 * strike
        face[:, 2] -= 0.1
    a.hand_r_body, a.w_r = face, strike
    a.twist = a.twist + 0.3 * strike
    a.pitch = a.pitch + 0.1 * strike
    recoil = np.concatenate([np.zeros(2), strike[:-2]])
    b.pelvis[:, 2] -= 0.08 * recoil
    b.pitch = b.pitch - 0.2 * recoil
    b.nod = b.nod - 0.3 * recoil
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        setattr(b, attr, _blend(getattr(b, attr), [side * 0.1, 0.1, 0.2], 0.6 * recoil))
    return [a, b]


def _handshaking(rng, T, bodies):
    d = rng.uniform(0.8, 1.05)
    a, b = _facing_pair(rng, T, bodies, d)
    t = np.arange(T, dtype=float)
    t0, t1 = _window(rng, T, 0.6, 0.9)
    reach = rng.uniform(8, 15) * bodies[0].tempo
    w = _bump(t, t0, t1, reach)
    amp = rng.uniform(0.03, 0.07)
    shake = amp * _osc(t - t0 - reach, rng.uniform(2.0, 3.5), 0.0) * _bump(t, t0 + reach, t1 - reach, 3)
    height = rng.uniform(0.9, 1.05) * min(bodies[0].stand_pelvis, bodies[1].stand_pelvis)
    meet = np.stack([np.zeros(T), height + shake, np.full(T, d / 2 - 0.02)], -1)
    for c in (a, b):
        c.hand_r_body, c.w_r = meet, w
        c.pitch = c.pitch + 0.1 * w
        c.twist = c.twist + 0.12 * w
        c.pole_r = np.array([-0.5, -1.0, 0.0])
    return [a, b]


def _walking_towards(rng, T, bodies):
    d0, d1 = rng.uniform(2.2, 3.0), rng.uniform(0.7, 1.0)
    a, b = _facing_pair(rng, T, bodies, d0)
    t = np.arange(T, dtype=float)
    for c, body in ((a, bodies[0]), (b, bodies[1])):
        t0, t1 = _window(rng, T, 0.7, 0.95)
        speed = _bump(t, t0, t1, rng.uniform(5, 10))
        prog = np.cumsum(speed)
        prog = prog / prog[-1] * (d0 - d1) / 2
        stride = rng.uniform(0.9, 1.3) * (body.thigh + body.shin) / 0.82
        phi = 2 * np.pi * prog / stride + rng.uniform(0, 2 * np.pi)
        moving = speed / speed.max()
        swing = stride / 4 * np.sin(phi) * moving
        c.pelvis[:, 2] += prog
        c.pelvis[:, 1] -= 0.02 * np.abs(np.cos(phi)) * moving
        c.foot_l[:, 2] += prog + swing
        c.foot_r[:, 2] += prog - swing
        c.foot_l[:, 1] += 0.07 * np.maximum(0, np.cos(phi)) * moving
        c.foot_r[:, 1] += 0.07 * np.maximum(0, -np.cos(phi)) * moving
        c.hand_l[:, 2] -= 0.6 * swing
        c.hand_r[:, 2] += 0.6 * swing
        c.twist = c.twist + 0.12 * np.sin(phi) * moving
    return [a, b]


@dataclass(frozen=True)
class ActionSpec:
    action: int  # 1-based NTU action ID
    build: Callable  # (rng, T, bodies) -> list[Controls]
    frames: tuple[int, int]  # typical duration range before the subject's tempo
    persons: int = 1
    reversed_: bool = False  # play `build`'s motion backwards (the other half of a time-reversed pair)


ACTION_SPECS: dict[int, ActionSpec] = {
    s.action: s
    for s in (
        ActionSpec(8, _sit_down, (60, 140)),
        ActionSpec(9, _sit_down, (60, 140), reversed_=True),
        ActionSpec(10, _clapping, (45, 120)),
        ActionSpec(20, _put_on_hat, (60, 140)),
        ActionSpec(21, _put_on_hat, (60, 140), reversed_=True),
        ActionSpec(23, _hand_waving, (45, 120)),
        ActionSpec(24, _kicking, (40, 85)),
        ActionSpec(27, _jump_up, (40, 90)),
        ActionSpec(34, _rub_hands, (45, 120)),
        ActionSpec(38, _salute, (45, 110)),
        ActionSpec(50, _punching, (45, 110), persons=2),
        ActionSpec(58, _handshaking, (60, 140), persons=2),
        ActionSpec(59, _walking_towards, (80, 150), persons=2),
        ActionSpec(60, _walking_towards, (80, 150), persons=2, reversed_=True),
    )
}
SYNTHETIC_ACTIONS: tuple[int, ...] = tuple(sorted(ACTION_SPECS))
TIME_REVERSED_PAIRS: tuple[tuple[int, int], ...] = ((8, 9), (20, 21), (59, 60))


# --------------------------------------------------------------------------------------------------
# Scene, sensor and file


def _camera_transform(seed: int, setup: int, camera: int, rng: np.random.Generator):
    """(rotation [3,3], translation [3]) from scene to camera space for this setup and view."""
    geo = np.random.default_rng([seed, 3, setup])  # a setup fixes the rig: heights, distance
    height = geo.uniform(0.75, 1.3)
    distance = geo.uniform(2.8, 3.5)
    tilt = geo.uniform(-0.12, 0.03)
    yaw = np.deg2rad(CAMERA_YAW_DEG[camera] + geo.uniform(-5, 5, size=3)[camera - 1] + rng.uniform(-3, 3))
    rot = _rot_x(np.array([tilt]))[0] @ _rot_y(np.array([yaw]))[0]
    shift = np.array([rng.uniform(-0.3, 0.3), -height, distance + rng.uniform(-0.3, 0.3)])
    return rot, shift


def _body_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        bid = str(KINECT_ID_BASE + int(rng.integers(1000, 5_000_000)))
        if bid not in taken:
            taken.add(bid)
            return bid


def _sensor_noise(rng: np.random.Generator, joints: np.ndarray) -> np.ndarray:
    """Kinect-like jitter: small per-joint noise, larger at hands and feet, rare tracking spikes."""
    sigma = rng.uniform(0.002, 0.007)
    scale = np.ones(NUM_JOINTS)
    scale[[7, 11, 21, 22, 23, 24]] = 2.0
    scale[[15, 19]] = 1.5
    out = joints + rng.normal(0.0, 1.0, joints.shape) * (sigma * scale)[None, :, None]
    if rng.random() < 0.3:
        for _ in range(int(rng.integers(1, 4))):
            f = int(rng.integers(0, joints.shape[0]))
            out[f, rng.choice([7, 11, 21, 23])] += rng.normal(0.0, 0.05, 3)
    return out


def _noise_body(rng: np.random.Generator, main: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(frames [F], joints [F,25,3]) of a spurious body: a short ghost or a flat non-person blob."""
    T = main.shape[0]
    if rng.random() < 0.6:  # ghost: a short-lived, jumpy copy of the person beside them
        length = int(rng.integers(2, 12))  # <= 11 frames, what the length rule drops
        start = int(rng.integers(0, T - length + 1))
        frames = np.arange(start, start + length)
        beside = rng.choice([-1, 1]) * rng.uniform(0.3, 0.9)
        offset = np.array([beside, rng.uniform(-0.1, 0.1), rng.uniform(-0.3, 0.3)])
        return frames, main[frames] + offset + rng.normal(0.0, 0.03, (length, NUM_JOINTS, 3))
    # blob: furniture or a wall edge tracked as a body, much wider than tall
    length = int(rng.integers(max(12, int(0.4 * T)), T + 1))
    start = int(rng.integers(0, T - length + 1))
    frames = np.arange(start, start + length)
    centre = np.array([rng.uniform(-1.2, 1.2), rng.uniform(-0.6, 0.2), rng.uniform(2.4, 4.0)])
    width, height = rng.uniform(0.8, 1.4), rng.uniform(0.15, 0.4)
    shape = rng.uniform(-0.5, 0.5, (NUM_JOINTS, 3)) * [width, height, 0.3]
    return frames, centre + shape + rng.normal(0.0, 0.015, (length, NUM_JOINTS, 3))


@functools.cache
def _missing_sample_ids() -> frozenset[str]:
    """Names the NTU authors list as missing skeletons: the pipeline skips them, so never use them."""
    ref = Path(__file__).resolve().with_name("reference")
    ids: set[str] = set()
    for name in ("ntu60_missing_skeletons.txt", "ntu120_missing_skeletons.txt"):
        ids.update(line.strip() for line in (ref / name).read_text().splitlines() if line.strip())
    return frozenset(ids)


def _slot_name(seed: int, index: int, actions: Sequence[int]) -> tuple[int, int, int, int, int]:
    """(setup, camera, subject, replication, action) of sample `index`, unique across indices."""
    n = len(actions)
    action = actions[index % n]
    k = index // n  # how many samples of this action came before
    group = k % 2  # alternate training / test subjects so every class has both
    camera = 1 + (k // 2) % 3
    m = k // 6
    subjects = NTU60_TRAIN_SUBJECTS if group == 0 else NTU60_TEST_SUBJECTS
    # A seeded order of this (action, group, camera) cell's name slots; sample m takes the m-th.
    perm = np.random.default_rng([seed, 2, action, group, camera]).permutation(_SLOTS_PER_CELL)
    missing = _missing_sample_ids()
    for slot in perm.tolist():
        setup, rest = divmod(slot, 2 * len(subjects))
        fields = (setup + 1, camera, subjects[rest // 2], rest % 2 + 1, action)
        if "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}".format(*fields) in missing:
            continue
        if m == 0:
            return fields
        m -= 1
    raise ValueError(f"sample index {index} too large: each (action, subject group, camera) cell has at "
                     f"most {_SLOTS_PER_CELL} unique names, i.e. about {6 * _SLOTS_PER_CELL * n} samples")


def sample_file_name(index: int, seed: int = 0, actions: Sequence[int] = SYNTHETIC_ACTIONS) -> str:
    """The `.skeleton` file name of synthetic sample `index` (that generate_sample gives it), unique across
    indices, without generating the sample."""
    fields = _slot_name(seed, index, _check_actions(actions))
    return "S{:03d}C{:03d}P{:03d}R{:03d}A{:03d}.skeleton".format(*fields)


def generate_sample(
    index: int, seed: int = 0, actions: Sequence[int] = SYNTHETIC_ACTIONS
) -> tuple[str, SkeletonSequence]:
    """(file name, sequence) of synthetic sample `index`; depends only on (seed, index, actions)."""
    actions = _check_actions(actions)
    setup, camera, subject, replication, action = _slot_name(seed, index, actions)
    name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{action:03d}.skeleton"
    spec = ACTION_SPECS[action]
    rng = np.random.default_rng([seed, 0, index])
    bodies = [subject_body(seed, subject)]
    if spec.persons == 2:
        partner = int(rng.choice([s for s in range(1, 41) if s != subject]))
        bodies.append(subject_body(seed, 1000 + partner))
    speed = rng.uniform(0.8, 1.25) * bodies[0].tempo
    typical = np.exp(rng.uniform(*np.log(spec.frames)))  # log-uniform in the action's range
    num_frames = int(np.clip(round(typical * speed), MIN_FRAMES, MAX_FRAMES))
    lead = trail = 0  # frames with no body before and after the performance
    if rng.random() < EMPTY_FRAMES_RATE:
        lead, trail = int(rng.integers(0, 4)), int(rng.integers(0, 4))
        lead = max(lead, 1 - trail)
    T = num_frames - lead - trail
    gain = rng.uniform(0.9, 1.1)  # this performance's amplitude, on top of the subject's habit
    bodies = [replace(b, amplitude=b.amplitude * gain) for b in bodies]

    controls = spec.build(rng, T, bodies)
    scene = [pose_joints(b, c) for b, c in zip(bodies, controls, strict=True)]  # each [T,25,3]
    if spec.reversed_:
        scene = [j[::-1] for j in scene]
    rot, shift = _camera_transform(seed, setup, camera, rng)
    actors = [_sensor_noise(rng, j @ rot.T + shift) for j in scene]  # camera space [T,25,3]

    taken: set[str] = set()
    # Kinect lists bodies in its own slot order, unrelated to who is the performer.
    tracks = [(np.arange(T), _body_id(rng, taken), actors[i]) for i in rng.permutation(len(actors))]
    if rng.random() < EXTRA_BODY_RATE:
        frames, joints = _noise_body(rng, actors[0])
        tracks.insert(int(rng.integers(0, len(tracks) + 1)), (frames, _body_id(rng, taken), joints))
    return name, _sequence(tracks, num_frames, lead)


def _sequence(tracks, num_frames: int, lead: int) -> SkeletonSequence:
    """Interleave body tracks (frames [F], id, joints [F,25,3]) into file-order body rows."""
    frame = np.concatenate([f for f, _, _ in tracks]) + lead
    slot = np.concatenate([np.full(len(f), i) for i, (f, _, _) in enumerate(tracks)])
    order = np.lexsort((slot, frame))  # frame by frame, bodies in track order
    ids = [bid for f, bid, _ in tracks for _ in range(len(f))]
    joints = np.concatenate([j for _, _, j in tracks]).astype(np.float32)
    return SkeletonSequence(
        num_frames=num_frames,
        frame_index=frame[order].astype(np.int32),
        body_ids=[ids[i] for i in order],
        joints=joints[order],
    )


def _check_actions(actions: Sequence[int]) -> tuple[int, ...]:
    actions = tuple(int(a) for a in actions)
    unknown = [a for a in actions if a not in ACTION_SPECS]
    if not actions or unknown or len(set(actions)) != len(actions):
        raise ValueError(
            f"actions must be distinct IDs among {list(SYNTHETIC_ACTIONS)}, got {list(actions)}"
        )
    return actions


def _write_one(args: tuple[str, int, int, tuple[int, ...]]) -> str:
    out_dir, index, seed, actions = args
    name, seq = generate_sample(index, seed, actions)
    path = os.path.join(out_dir, name)
    write_skeleton(path, seq)
    return path


def generate_dataset(
    out_dir: str,
    num_samples: int,
    seed: int = 0,
    actions: Sequence[int] = SYNTHETIC_ACTIONS,
    workers: int = 1,
) -> list[str]:
    """Write `num_samples` synthetic `.skeleton` files into `out_dir`; returns their paths in index order.

    Samples cycle through `actions`, alternating NTU60 training/test subjects and the three cameras,
    so 6 * len(actions) samples cover every (class, subject group, camera) combination.
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    actions = _check_actions(actions)
    os.makedirs(out_dir, exist_ok=True)
    jobs = [(out_dir, i, seed, actions) for i in range(num_samples)]
    if workers > 1 and num_samples > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(_write_one, jobs, chunksize=16))
    return [_write_one(j) for j in jobs]
