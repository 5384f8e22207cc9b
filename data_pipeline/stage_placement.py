"""All of a Ray this job started, for one Ray Data stage, from its first second.

Why: Ray Data (2.60) sizes its CPU budget from its autoscaling coordinator, an actor it starts with
the first dataset. Until that actor answers, the budget is zero and Ray Data runs one task at a time
for liveness (log: "Active & requested resources: 1/0 CPU", "backpressured:tasks(ResourceBudget)").
A new worker process has to start for the actor: traced here, the second core stayed idle for
10-20+ s of a preprocessing run (loaded 2-core machine), its whole length in a benchmark-sized run.
With a placement group as the scheduling strategy Ray Data takes the group's bundles as its budget
at once (no actor to wait for). The bundles also name object-store memory: without it the budget's
object store is zero and Ray Data drops back to one task after the first outputs (measured).

Only when the job itself called ray.init (jobs/preprocess.py): a Ray already initialised in the
process (tests, a notebook, a driver sharing it) keeps Ray Data's own budget. If the group is not
ready in time (the CPUs are busy: a cluster shared with other work), it is removed and the stage runs
on Ray Data's own budget, as before.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

_READY_TIMEOUT_S = 10
_STORE_SHARE = 0.5  # of the object store named in the bundles: the stage's outputs are small summaries


@contextlib.contextmanager
def all_cpus_for_stage(ray, started_here: bool) -> Iterator[bool]:
    """Within the block, datasets created run their tasks in a placement group holding every CPU of the
    Ray; yields whether it does (False: not started here, no CPUs, or not ready in time)."""
    if not started_here:
        yield False
        return
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    total = ray.cluster_resources()
    cpus = int(total.get("CPU", 0))
    if cpus < 1:
        yield False
        return
    bundle = {"CPU": 1}
    store = int(total.get("object_store_memory", 0) * _STORE_SHARE / cpus)
    if store > 0:
        bundle["object_store_memory"] = store
    group = placement_group([dict(bundle) for _ in range(cpus)])
    try:
        ready, _ = ray.wait([group.ready()], timeout=_READY_TIMEOUT_S)
        if not ready:
            yield False
            return
        ctx = ray.data.DataContext.get_current()
        saved = ctx.scheduling_strategy, ctx.scheduling_strategy_large_args
        # Both strategies: Ray Data uses the group's bundles as its budget only when both are the group.
        ctx.scheduling_strategy = ctx.scheduling_strategy_large_args = PlacementGroupSchedulingStrategy(group)
        try:
            yield True
        finally:
            ctx.scheduling_strategy, ctx.scheduling_strategy_large_args = saved
    finally:
        remove_placement_group(group)
