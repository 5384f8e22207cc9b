"""A bounded wait for CPUs that stopped trials still hold, so a sweep never waits silently.

Ray Train's placement-group cleaner frees the workers of trials Tune stops; when it cannot (several Ray
instances on one machine, a lost node) their placement groups keep the CPUs, and a later task that
needs them (the best trial's evaluation) would wait forever without a word.
"""

from __future__ import annotations

import logging
import time

import ray
from ray.util import placement_group_table

log = logging.getLogger(__name__)


def held_placement_groups() -> list[str]:
    """One line per placement group still holding resources: its ID, name, bundles."""
    out = []
    for pg_id, pg in placement_group_table().items():
        if pg.get("state") == "CREATED":
            bundles = list((pg.get("bundles") or {}).values())
            out.append(f"{pg_id} (name {pg.get('name') or '-'}, bundles {bundles})")
    return out


def wait_for_cpus(cpus: float, timeout_s: float, what: str, poll_s: float = 1.0) -> None:
    """Return once `cpus` CPUs are available; after `timeout_s` raise naming what holds them."""
    deadline = time.monotonic() + timeout_s
    warned = False
    while True:
        free = ray.available_resources().get("CPU", 0.0)
        if free + 1e-6 >= cpus:
            return
        if time.monotonic() >= deadline:
            held = held_placement_groups()
            raise RuntimeError(
                f"{what} needs {cpus:g} CPU but only {free:g} of {ray.cluster_resources().get('CPU', 0):g} "
                f"are free after waiting {timeout_s:g} s; placement groups still holding resources: "
                f"{'; '.join(held) or 'none (other tasks or actors hold them)'}. Stopped trials normally "
                f"release theirs; if these belong to finished trials, run one Ray instance per machine "
                f"(Ray Train's cleaner fails with several) or raise sweep.release_timeout_s.")
        if not warned and time.monotonic() + timeout_s / 2 >= deadline:
            log.warning("%s: waiting for %g CPU (%g free) held by stopped trials", what, cpus, free)
            warned = True
        time.sleep(poll_s)
