"""The synthetic NTU actions. Each builder takes (rng, T, bodies) and returns one Controls per body.

The classes are built so that only motion over time separates some of them:
- time-reversed pairs: A008 sitting down / A009 standing up, A020 put on a hat / A021 take off a hat,
  A059 walking towards / A060 walking apart (the second of each pair is the first played backwards,
  so any single frame is equally likely in both);
- same limbs, different rhythm: A010 clapping / A034 rubbing hands (hands in front of the chest),
  A023 hand waving / A038 salute (right hand up by the head), A050 punching / A058 handshaking
  (right arm towards the partner).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from data_pipeline.ntu import FPS
from data_pipeline.synthetic.motions import (
    active_window,
    blend,
    bump,
    keyframes,
    osc,
    ramp,
    rest_hand,
    smooth,
    standing,
)


def _sit_down(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.35, 0.65)
    q = ramp(t, t0, t1)  # 0 standing -> 1 seated
    foot_z = rng.uniform(0.05, 0.12)
    seat_y = body.ankle_height + 0.97 * body.shin + body.hip_drop + rng.uniform(0.0, 0.05)
    seat_z = foot_z - 0.92 * body.thigh
    c.foot_l[:, 2] = c.foot_r[:, 2] = foot_z
    c.pelvis[:, 1] = body.stand_pelvis + (seat_y - body.stand_pelvis) * q
    c.pelvis[:, 2] = seat_z * smooth(1.15 * q)  # the hips go back a little before they go down
    amp = rng.uniform(0.3, 0.6) * body.amplitude
    c.pitch = c.pitch + amp * np.sin(np.pi * q) + rng.uniform(0.0, 0.15) * q
    arms = ((1.0, "hand_l", "hand_l_body", "w_l"), (-1.0, "hand_r", "hand_r_body", "w_r"))
    for side, attr, body_attr, w_attr in arms:
        hand = getattr(c, attr)
        hand[:, 2] += 0.15 * np.sin(np.pi * q)  # arms forward for balance
        setattr(c, body_attr, np.tile([side * (body.hip_half + 0.06), seat_y - body.hip_drop + 0.1,
                                       seat_z + 0.6 * body.thigh], (T, 1)))
        setattr(c, w_attr, smooth(1.3 * q - 0.3))
    return [c]


def _put_on_hat(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.6, 0.9)
    L = t1 - t0
    # Rise slowly in front of the face, adjust, then drop fast at the sides.
    ta, tb = t0 + rng.uniform(0.5, 0.65) * L, t1 - rng.uniform(0.12, 0.2) * L
    top_y = body.neck + body.head + rng.uniform(0.03, 0.08)
    wiggle = rng.uniform(0.01, 0.025) * osc(t, rng.uniform(2.0, 3.5), 0.0) * bump(t, ta, tb, 2)
    rise = ramp(t, t0, ta)
    drop = ramp(t, tb, t1)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        rest = rest_hand(body, side)
        belly = np.array([side * rng.uniform(0.08, 0.12), -body.shoulder_drop - 0.42, rng.uniform(0.22, 0.3)])
        top = np.array([side * rng.uniform(0.07, 0.1), top_y, rng.uniform(0.0, 0.04)])
        up = belly + (top - belly) * rise[:, None]
        up[:, 2] += 0.2 * np.sin(np.pi * rise)  # in front of the face on the way up
        down = top + (rest - top) * drop[:, None]
        down[:, 0] += side * 0.22 * np.sin(np.pi * drop)  # out to the sides on the way down
        hand = np.where((t < tb)[:, None], up, down)
        hand[:, 1] += wiggle
        setattr(c, attr, hand + (getattr(c, attr) - rest))  # keep the idle drift
    c.nod = c.nod + 0.15 * bump(t, ta - 3, tb + 3, 3)
    c.pole_l, c.pole_r = np.array([0.8, -0.5, 0.0]), np.array([-0.8, -0.5, 0.0])
    return [c]


def _hands_in_front(rng, T, body):
    """Shared set-up of clapping and rubbing hands: where, and the raise/lower envelope."""
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.65, 0.95)
    w = bump(t, t0, t1, rng.uniform(6, 12) * body.tempo)
    centre = np.array([rng.uniform(-0.04, 0.04), -rng.uniform(0.15, 0.3), rng.uniform(0.28, 0.4)])
    return t, t0, w, centre


def _clapping(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t, t0, w, centre = _hands_in_front(rng, T, body)
    amp, hz = rng.uniform(0.1, 0.32) * body.amplitude, rng.uniform(1.8, 3.2)
    gap = amp * 0.5 * (1 - np.cos(2 * np.pi * hz * (t - t0) / FPS))  # hands touch at t0, then every 1/hz s
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        target = np.tile(centre, (T, 1))
        target[:, 0] += side * (0.03 + gap / 2)
        setattr(c, attr, blend(getattr(c, attr), target, w))
    c.pole_l, c.pole_r = np.array([0.8, -0.6, 0.0]), np.array([-0.8, -0.6, 0.0])
    return [c]


def _rub_hands(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t, _, w, centre = _hands_in_front(rng, T, body)
    rub = rng.uniform(0.02, 0.05) * body.amplitude * osc(t, rng.uniform(2.5, 4.5), rng.uniform(0, 6))
    axis = 1 if rng.random() < 0.6 else 2  # up-down or back-forth
    gap = rng.uniform(0.02, 0.05)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        target = np.tile(centre, (T, 1))
        target[:, 0] += side * (0.03 + gap / 2)
        target[:, axis] += side * rub
        setattr(c, attr, blend(getattr(c, attr), target, w))
    c.pole_l, c.pole_r = np.array([0.8, -0.6, 0.0]), np.array([-0.8, -0.6, 0.0])
    return [c]


def _right_hand_up(rng, T, c, target, edge):
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.6, 0.95)
    w = bump(t, t0, t1, edge)
    c.hand_r = blend(c.hand_r, target, w)
    c.pole_r = np.array([-1.0, -0.4, -0.1])
    return t, w


def _hand_waving(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    side_out = body.shoulder_half + rng.uniform(0.02, 0.18)
    centre = np.array([-side_out, rng.uniform(0.2, 0.38), rng.uniform(0.05, 0.2)])
    target = np.tile(centre, (T, 1))
    t = np.arange(T, dtype=float)
    amp = rng.uniform(0.06, 0.14) * body.amplitude
    target[:, 0] += amp * osc(t, rng.uniform(1.5, 3.0), rng.uniform(0, 6))
    _right_hand_up(rng, T, c, target, rng.uniform(6, 12) * body.tempo)
    return [c]


def _salute(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    brow = np.array([-rng.uniform(0.04, 0.09), body.neck + 0.8 * body.head, rng.uniform(0.09, 0.13)])
    t = np.arange(T, dtype=float)
    tremor = 0.006 * np.stack([osc(t, 5.0, 0.0), osc(t, 4.0, 1.0), np.zeros(T)], -1)
    _, w = _right_hand_up(rng, T, c, brow + tremor, rng.uniform(5, 10) * body.tempo)
    c.pitch = c.pitch - 0.04 * w  # stand up straight
    return [c]


def _kicking(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.55, 0.85)
    L = t1 - t0
    tb = t0 + rng.uniform(0.25, 0.4) * L  # end of the back-swing
    tk = tb + max(3.0, rng.uniform(0.08, 0.15) * L)  # the kick itself is fast
    th = tk + rng.uniform(0.05, 0.12) * L
    rest = c.foot_r[0].copy()
    back = rest + [0.02, rng.uniform(0.08, 0.2), -rng.uniform(0.15, 0.3)]
    high = np.array([rest[0] * 0.5, body.ankle_height + rng.uniform(0.2, 0.5) * body.amplitude,
                     rng.uniform(0.45, 0.7) * body.amplitude])
    knots = [0, t0, tb, tk, th, t1, T]
    c.foot_r = keyframes(t, knots, [rest, rest, back, high, high * [1, 0.9, 0.9], rest, rest])
    kick = keyframes(t, knots, [0, 0.3, 0.6, 1, 0.9, 0, 0])
    c.pelvis[:, 0] += 0.045 * bump(t, t0 - 4, t1 + 2, 6)  # weight onto the left leg
    c.pitch = c.pitch - 0.15 * kick
    c.hand_l = blend(c.hand_l, c.hand_l + [0.08, 0.15, 0.2], kick)
    c.hand_r = blend(c.hand_r, c.hand_r + [-0.05, 0.05, -0.15], kick)
    return [c]


def _jump_up(rng, T, bodies):
    body = bodies[0]
    c = standing(rng, T, body)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.6, 0.9)
    fr = np.cumsum([0.0, *rng.uniform([0.2, 0.08, 0.12, 0.08, 0.1], [0.3, 0.12, 0.18, 0.12, 0.15])])
    fr = fr / (fr[-1] + rng.uniform(0.1, 0.3))
    knots = [0.0, *(t0 + fr * (t1 - t0)), t1, float(T)]
    crouch = rng.uniform(0.12, 0.25) * body.amplitude
    height = rng.uniform(0.1, 0.3) * body.amplitude
    dy = keyframes(t, knots, [0, 0, -crouch, 0.02, height, 0.0, -0.6 * crouch, 0, 0])
    c.pelvis[:, 1] += dy
    airborne = np.maximum(dy, 0.0)
    c.foot_l[:, 1] += airborne
    c.foot_r[:, 1] += airborne
    c.pitch = c.pitch + keyframes(t, knots, [0, 0, 0.35, 0.05, -0.05, 0.1, 0.3, 0, 0])
    back = keyframes(t, knots, [0, 0, 1, 0, 0, 0, 0.4, 0, 0])
    up = keyframes(t, knots, [0, 0, 0, 0.7, 1, 0.3, 0, 0, 0])
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        hand = getattr(c, attr)
        hand = blend(hand, hand + [0.0, 0.12, -0.3], back)
        hand = blend(hand, [side * 0.2, 0.45, 0.2], up)
        setattr(c, attr, hand)
    return [c]


def _facing_pair(rng, T, bodies, distance):
    """Two standing bodies facing each other along the scene x axis, `distance` apart."""
    a, b = standing(rng, T, bodies[0]), standing(rng, T, bodies[1])
    cx, cz = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    a.yaw, a.origin = float(np.pi / 2 + rng.uniform(-0.1, 0.1)), (cx - distance / 2, cz)
    b.yaw, b.origin = float(-np.pi / 2 + rng.uniform(-0.1, 0.1)), (cx + distance / 2, cz)
    return a, b


def _punching(rng, T, bodies):
    d = rng.uniform(0.7, 0.95)
    a, b = _facing_pair(rng, T, bodies, d)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.6, 0.9)
    guard = bump(t, t0, t1, 6)
    for side, attr in ((1.0, "hand_l"), (-1.0, "hand_r")):
        setattr(a, attr, blend(getattr(a, attr), [side * 0.12, -0.12, 0.25], guard))
    n = int(rng.integers(1, 4))
    hits = np.linspace(t0 + 8, t1 - 8, n + 2)[1:-1]
    strike = np.zeros(T)
    for h in hits:
        ext, ret = rng.uniform(3, 6), rng.uniform(5, 9)
        strike = np.maximum(strike, keyframes(t, [0, h - ext, h, h + 2, h + 2 + ret, T], [0, 0, 1, 1, 0, 0]))
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
        setattr(b, attr, blend(getattr(b, attr), [side * 0.1, 0.1, 0.2], 0.6 * recoil))
    return [a, b]


def _handshaking(rng, T, bodies):
    d = rng.uniform(0.8, 1.05)
    a, b = _facing_pair(rng, T, bodies, d)
    t = np.arange(T, dtype=float)
    t0, t1 = active_window(rng, T, 0.6, 0.9)
    reach = rng.uniform(8, 15) * bodies[0].tempo
    w = bump(t, t0, t1, reach)
    amp = rng.uniform(0.03, 0.07)
    shake = amp * osc(t - t0 - reach, rng.uniform(2.0, 3.5), 0.0) * bump(t, t0 + reach, t1 - reach, 3)
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
        t0, t1 = active_window(rng, T, 0.7, 0.95)
        speed = bump(t, t0, t1, rng.uniform(5, 10))
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


def check_actions(actions: Sequence[int]) -> tuple[int, ...]:
    actions = tuple(int(a) for a in actions)
    unknown = [a for a in actions if a not in ACTION_SPECS]
    if not actions or unknown or len(set(actions)) != len(actions):
        raise ValueError(
            f"actions must be distinct IDs among {list(SYNTHETIC_ACTIONS)}, got {list(actions)}"
        )
    return actions
