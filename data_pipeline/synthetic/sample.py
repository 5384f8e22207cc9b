"""One synthetic sample: a performance of its action by its subjects' bodies, seen by its camera,
interleaved into `.skeleton` body rows. Depends only on (seed, sample index, actions)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from data_pipeline.ntu import NTU60_SUBJECTS
from data_pipeline.skeleton_format import SkeletonSequence
from data_pipeline.synthetic.actions import ACTION_SPECS, SYNTHETIC_ACTIONS, check_actions
from data_pipeline.synthetic.body import subject_body
from data_pipeline.synthetic.kinematics import pose_joints
from data_pipeline.synthetic.names import slot_fields
from data_pipeline.synthetic.sensor import body_id, camera_transform, noise_body, sensor_noise

MIN_FRAMES, MAX_FRAMES = 40, 150

# How often the artefacts the NTU denoising deals with appear (per file).
EXTRA_BODY_RATE = 0.08
EMPTY_FRAMES_RATE = 0.05


def generate_sample(
    index: int, seed: int = 0, actions: Sequence[int] = SYNTHETIC_ACTIONS
) -> tuple[str, SkeletonSequence]:
    """(file name, sequence) of synthetic sample `index`; depends only on (seed, index, actions)."""
    actions = check_actions(actions)
    setup, camera, subject, replication, action = slot_fields(seed, index, actions)
    name = f"S{setup:03d}C{camera:03d}P{subject:03d}R{replication:03d}A{action:03d}.skeleton"
    spec = ACTION_SPECS[action]
    rng = np.random.default_rng([seed, 0, index])
    bodies = [subject_body(seed, subject)]
    if spec.persons == 2:
        partner = int(rng.choice([s for s in NTU60_SUBJECTS if s != subject]))
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
    rot, shift = camera_transform(seed, setup, camera, rng)
    actors = [sensor_noise(rng, j @ rot.T + shift) for j in scene]  # camera space [T,25,3]

    taken: set[str] = set()
    # Kinect lists bodies in its own slot order, unrelated to who is the performer.
    tracks = [(np.arange(T), body_id(rng, taken), actors[i]) for i in rng.permutation(len(actors))]
    if rng.random() < EXTRA_BODY_RATE:
        frames, joints = noise_body(rng, actors[0])
        tracks.insert(int(rng.integers(0, len(tracks) + 1)), (frames, body_id(rng, taken), joints))
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
