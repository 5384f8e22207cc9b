"""Synthetic NTU RGB+D data: real-format `.skeleton` files from a 25-joint kinematic body.

Each file is one performance of an NTU action by a forward-kinematic body (torso chain plus two-bone
IK for arms and legs, so bone lengths are exactly those of the subject), seen by one of three Kinect
views, with Kinect-like sensor noise and, now and then, the artefacts the real preprocessing has to
remove: short ghost bodies, flat non-person blobs and empty frames at the ends.

Every file depends only on (seed, sample index): the index fixes action, subject group, camera and
a slot that makes the name unique; the subject's body depends only on (seed, subject).
Coordinates are metres in camera space: x (Kinect: towards the performer's right), y up,
z away from the camera (about 2.5-4 m).

Modules, from the body up: `body` (bone lengths per subject), `kinematics` (joints from controls),
`motions` (building blocks), `actions` (one builder per class, and which classes only time separates),
`sensor` (camera, jitter, spurious bodies), `names` (file name per sample index), `sample` (one
performance as `.skeleton` rows), `writing` (files on disk).
"""

from data_pipeline.synthetic.actions import ACTION_SPECS, SYNTHETIC_ACTIONS, TIME_REVERSED_PAIRS, ActionSpec
from data_pipeline.synthetic.body import BodyShape, subject_body
from data_pipeline.synthetic.names import sample_file_name
from data_pipeline.synthetic.sample import generate_sample
from data_pipeline.synthetic.writing import generate_dataset

__all__ = [
    "ACTION_SPECS",
    "SYNTHETIC_ACTIONS",
    "TIME_REVERSED_PAIRS",
    "ActionSpec",
    "BodyShape",
    "generate_dataset",
    "generate_sample",
    "sample_file_name",
    "subject_body",
]
