"""cluster.yaml validates against the cluster-config schema shipped inside the installed `ray` package,
and keeps its security promises: dashboard on loopback, MLflow on a private address."""

from __future__ import annotations

import copy
import json
import re
import shlex
from pathlib import Path

import jsonschema
import pytest
import ray.autoscaler
import yaml

REPO = Path(__file__).resolve().parents[1]
SCHEMA = Path(ray.autoscaler.__file__).parent / "ray-schema.json"


@pytest.fixture(scope="module")
def config() -> dict:
    return yaml.safe_load((REPO / "cluster.yaml").read_text())


@pytest.fixture(scope="module")
def schema() -> dict:
    assert SCHEMA.is_file(), f"no cluster-config schema at {SCHEMA}"
    return json.loads(SCHEMA.read_text())


def test_cluster_yaml_validates_against_rays_schema(config, schema):
    jsonschema.validate(config, schema)
    # Ray's own check: the schema plus head type / min_workers consistency (what `ray up` runs)
    from ray.autoscaler._private.util import validate_config

    validate_config(config)


@pytest.mark.parametrize(
    "breakage",
    ["misspelled top-level key", "string max_workers", "unknown node-type field", "fractional GPU"],
)
def test_broken_copies_fail_validation(config, schema, breakage):
    bad = copy.deepcopy(config)
    if breakage == "misspelled top-level key":
        bad["setup_comands"] = bad.pop("setup_commands")
    elif breakage == "string max_workers":
        bad["max_workers"] = "eight"
    elif breakage == "unknown node-type field":
        bad["available_node_types"]["ray.worker.gpu"]["max_worker"] = 4
    else:
        bad["available_node_types"]["ray.worker.gpu"]["resources"]["GPU"] = 0.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_provider_and_gpu_workers(config):
    assert config["provider"]["type"] == "aws"
    assert config["provider"]["region"]
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"].get("GPU", 0) == 0
    gpu = [t for name, t in types.items() if name != config["head_node_type"] and t["resources"].get("GPU", 0) > 0]
    assert gpu, "no GPU worker type"
    for t in gpu:
        assert t["min_workers"] == 0  # scale to zero when idle
        assert t["max_workers"] > 0
        assert t["max_workers"] <= config["max_workers"]


def _commands(config: dict, key: str) -> list[str]:
    return [c for c in config.get(key, []) if isinstance(c, str)]


def test_dashboard_is_bound_to_loopback(config):
    starts = [c for c in _commands(config, "head_start_ray_commands") if "ray start --head" in c]
    assert len(starts) == 1
    args = shlex.split(starts[0].split("ray start", 1)[1])
    hosts = [a.split("=", 1)[1] for a in args if a.startswith("--dashboard-host=")]
    assert hosts == ["127.0.0.1"]


def test_mlflow_server_is_bound_privately_with_s3_artifacts(config):
    cmds = _commands(config, "head_start_ray_commands")
    servers = [c for c in cmds if "mlflow server" in c]
    assert len(servers) == 1
    cmd = servers[0]
    host = re.search(r"--host[ =](\S+)", cmd).group(1).strip("'\"")
    assert host not in ("0.0.0.0", "::", "[::]", "")
    if host.startswith("$"):  # a variable: it must hold the head's private address
        var = host.strip("${}")
        assignment = re.search(rf"{var}=(\S.*?)&&", cmd)
        assert assignment and "hostname -I" in assignment.group(1)
        assert "0.0.0.0" not in assignment.group(1)
    else:
        assert re.match(r"(10|172\.(1[6-9]|2\d|3[01])|192\.168)\.", host), host
    assert "--serve-artifacts" in cmd
    assert re.search(r"--artifacts-destination[ =]s3://", cmd)
    assert re.search(r"--backend-store-uri[ =]sqlite:////", cmd)  # absolute path
    # jobs on every node are told where the server is
    head_env = " ".join(_commands(config, "head_setup_commands"))
    worker_env = " ".join(_commands(config, "worker_setup_commands"))
    assert "MLFLOW_TRACKING_URI=http://" in head_env
    assert "MLFLOW_TRACKING_URI=http://$RAY_HEAD_IP:" in worker_env


def test_setup_installs_the_project_with_cuda_torch_first(config):
    assert config["file_mounts"] == {"~/skelmae": "."}
    assert ".venv" in config["rsync_exclude"]  # the local CPU venv is not shipped
    setup = _commands(config, "setup_commands")
    script = [i for i, c in enumerate(setup) if "bash ~/skelmae/setup.sh" in c]
    cuda = [i for i, c in enumerate(setup) if "download.pytorch.org/whl/cu" in c and "nvidia-smi" in c]
    assert len(script) == 1 and len(cuda) == 1
    assert cuda[0] < script[0]
    assert "docker" not in config or not config["docker"]
