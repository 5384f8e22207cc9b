"""Forward kinematics of the 25-joint body: a torso chain plus two-bone IK for arms and legs, so bone
lengths are exactly those of the subject in every frame."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from data_pipeline.ntu import NUM_JOINTS
from data_pipeline.synthetic.body import BodyShape


def rot_x(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]; positive a tips +y towards +z (lean forward)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(-1, 3, 3)


def rot_y(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]; maps +z to (sin a, 0, cos a)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(-1, 3, 3)


def rot_z(a: np.ndarray) -> np.ndarray:  # [T] -> [T,3,3]
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
    r_body = rot_y(yaw)
    r_torso = rot_y(yaw + c.twist) @ rot_x(c.pitch) @ rot_z(c.roll)
    r_low = rot_y(yaw + 0.5 * c.twist) @ rot_x(0.55 * c.pitch) @ rot_z(0.5 * c.roll)
    r_hips = rot_y(yaw + 0.3 * c.twist)
    origin = np.array([c.origin[0], 0.0, c.origin[1]])

    j = np.zeros((T, NUM_JOINTS, 3))
    j[:, 0] = origin + _apply(r_body, c.pelvis)
    j[:, 1] = j[:, 0] + _apply(r_low, np.array([0.0, body.spine_low, 0.0]))
    j[:, 20] = j[:, 1] + _apply(r_torso, np.array([0.0, body.spine_high, 0.0]))
    j[:, 2] = j[:, 20] + _apply(r_torso, np.array([0.0, body.neck, 0.0]))
    j[:, 3] = j[:, 2] + _apply(r_torso @ rot_x(c.nod), np.array([0.0, body.head, 0.0]))

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
