"""What the Kinect adds to a performance: the camera's view of the scene, body IDs, sensor jitter and,
now and then, the spurious bodies the real preprocessing has to remove (short ghosts, flat blobs)."""

from __future__ import annotations

import numpy as np

from data_pipeline.ntu import NUM_JOINTS
from data_pipeline.synthetic.kinematics import rot_x, rot_y

CAMERA_YAW_DEG = {1: -45.0, 2: 0.0, 3: 45.0}
KINECT_ID_BASE = 72057594037927936  # 2**56: real Kinect v2 body IDs are this plus a small counter


def camera_transform(seed: int, setup: int, camera: int, rng: np.random.Generator):
    """(rotation [3,3], translation [3]) from scene to camera space for this setup and view."""
    geo = np.random.default_rng([seed, 3, setup])  # a setup fixes the rig: heights, distance
    height = geo.uniform(0.75, 1.3)
    distance = geo.uniform(2.8, 3.5)
    tilt = geo.uniform(-0.12, 0.03)
    yaw = np.deg2rad(CAMERA_YAW_DEG[camera] + geo.uniform(-5, 5, size=3)[camera - 1] + rng.uniform(-3, 3))
    rot = rot_x(np.array([tilt]))[0] @ rot_y(np.array([yaw]))[0]
    shift = np.array([rng.uniform(-0.3, 0.3), -height, distance + rng.uniform(-0.3, 0.3)])
    return rot, shift


def body_id(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        bid = str(KINECT_ID_BASE + int(rng.integers(1000, 5_000_000)))
        if bid not in taken:
            taken.add(bid)
            return bid


def sensor_noise(rng: np.random.Generator, joints: np.ndarray) -> np.ndarray:
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


def noise_body(rng: np.random.Generator, main: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
