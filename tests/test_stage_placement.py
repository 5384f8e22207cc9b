"""The preprocessing stage's placement group: every CPU at once, nothing left behind, context restored."""

from __future__ import annotations

from data_pipeline.stage_placement import all_cpus_for_stage


def test_stage_runs_in_a_group_holding_every_cpu_and_leaves_nothing(ray_local):
    ray = ray_local
    ctx = ray.data.DataContext.get_current()
    before = ctx.scheduling_strategy, ctx.scheduling_strategy_large_args
    with all_cpus_for_stage(ray, started_here=True) as placed:
        assert placed
        strategy = ctx.scheduling_strategy
        group = strategy.placement_group
        assert ctx.scheduling_strategy_large_args is strategy  # Ray Data takes the budget from both
        bundles = group.bundle_specs
        assert sum(b["CPU"] for b in bundles) == ray.cluster_resources()["CPU"]
        assert all(b.get("object_store_memory", 0) > 0 for b in bundles)  # else one task after the first outputs
        rows = ray.data.range(8, override_num_blocks=4).map_batches(lambda b: b, batch_size=2, num_cpus=1).take_all()
        assert sorted(r["id"] for r in rows) == list(range(8))  # tasks run inside the group
    assert (ctx.scheduling_strategy, ctx.scheduling_strategy_large_args) == before
    assert ray.util.placement_group_table(group)["state"] == "REMOVED"


def test_a_ray_not_started_here_is_left_to_ray_data(ray_local):
    ctx = ray_local.data.DataContext.get_current()
    before = ctx.scheduling_strategy
    with all_cpus_for_stage(ray_local, started_here=False) as placed:
        assert not placed
        assert ctx.scheduling_strategy == before
