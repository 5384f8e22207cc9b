"""A synthetic subject's body: bone lengths and movement habits, fixed per (seed, subject)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
