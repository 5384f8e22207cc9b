"""NTU RGB+D names: the sample-name parser (SsssCcccPpppRrrrAaaa), the field counts of a `.skeleton`
file's lines (its joint count is `data_pipeline.ntu.NUM_JOINTS`), and the error both raise for what is
not valid."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

BODY_INFO_FIELDS = 10
JOINT_FIELDS = 12

SAMPLE_NAME_RE = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})")


class SkeletonFormatError(ValueError):
    """A file that is not a valid `.skeleton` file; the message says what is wrong."""


@dataclass(frozen=True)
class SampleName:
    sample_id: str  # e.g. S001C002P003R002A013
    setup: int
    camera: int
    subject: int  # the performer
    replication: int
    action: int  # 1-based, as in the file name

    @property
    def label(self) -> int:
        return self.action - 1


def parse_sample_name(name: str) -> SampleName:
    """Parse `SsssCcccPpppRrrrAaaa` from a file name or path (extension optional)."""
    base = os.path.basename(str(name))
    m = SAMPLE_NAME_RE.fullmatch(base.split(".", 1)[0])
    if m is None:
        raise SkeletonFormatError(f"file name {base!r} is not of the form SsssCcccPpppRrrrAaaa.skeleton")
    setup, camera, subject, replication, action = (int(g) for g in m.groups())
    if min(setup, camera, subject, replication, action) < 1:
        raise SkeletonFormatError(f"file name {base!r} has a zero field")
    return SampleName(m.group(0), setup, camera, subject, replication, action)
