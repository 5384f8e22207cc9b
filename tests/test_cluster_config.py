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


def test_mlflow_server_requires_authentication_with_secrets_from_ssm(config):
    cmd = next(c for c in _commands(config, "head_start_ray_commands") if "mlflow server" in c)
    assert re.search(r"mlflow server --app-name[ =]basic-auth\b", cmd)
    # The auth app reads its config (user DB, default permission) from this file; it holds no secret.
    assert "export MLFLOW_AUTH_CONFIG_PATH=" in cmd
    ini_cmd = next(c for c in _commands(config, "head_start_ray_commands") if "basic_auth.ini" in c and "[mlflow]" in c)
    assert "default_permission = NO_PERMISSIONS" in ini_cmd and "admin_password" not in ini_cmd
    # Admin password and CSRF key: fetched from SSM (decrypted) into the server's environment only.
    for var in ("MLFLOW_AUTH_ADMIN_PASSWORD", "MLFLOW_FLASK_SERVER_SECRET_KEY"):
        assert f'print("export {var}=" + shlex.quote(get(' in cmd
    assert 'ssm.get_parameter(Name=n, WithDecryption=True)' in cmd
    # Every node's jobs authenticate with credentials from SSM, written to a mode-600 file.
    for key in ("head_setup_commands", "worker_setup_commands"):
        creds = " ".join(c for c in _commands(config, key) if "MLFLOW_TRACKING_PASSWORD" in c)
        assert "get_parameter(Name=\"/skelmae/mlflow/admin-password\", WithDecryption=True)" in creds, key
        assert "0o600" in creds and "mlflow-auth.env" in creds


def test_no_literal_secret_in_cluster_yaml():
    text = (REPO / "cluster.yaml").read_text()
    assert "password1234" not in text  # MLflow's old default admin password
    # Every assignment of a secret-bearing variable or ini key takes its value from somewhere else.
    for m in re.finditer(r"(MLFLOW_TRACKING_PASSWORD|MLFLOW_AUTH_ADMIN_PASSWORD|MLFLOW_FLASK_SERVER_SECRET_KEY"
                         r"|admin_password|AWS_SECRET_ACCESS_KEY|RAY_AUTH_TOKEN)\s*[=:]\s*(\S+)", text):
        value = m.group(2)
        # a shell/Python expression (`$(...)`, `" + shlex.quote(...)`), never a literal value
        assert value[0] in "$\"'" and not re.fullmatch(r"[\"']?[A-Za-z0-9+/_\-]{6,}[\"']?", value), m.group(0)
    # No credentials inside any URI (redact() would change it).
    from data_pipeline.redact import redact

    assert redact(text) == text


@pytest.mark.slow
def test_basic_auth_server_refuses_anonymous_clients_and_accepts_the_admin(tmp_path):
    """A real `mlflow server --app-name basic-auth` on 127.0.0.1, configured as cluster.yaml configures it."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    import mlflow

    from tests.cluster_box import MLFLOW_SERVER_ENV, free_port

    port = free_port()
    ini = tmp_path / "basic_auth.ini"
    ini.write_text("[mlflow]\ndefault_permission = NO_PERMISSIONS\n"
                   f"database_uri = sqlite:///{tmp_path / 'basic_auth.db'}\nadmin_username = admin\n"
                   "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    password = os.urandom(12).hex()
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": password,
           "MLFLOW_FLASK_SERVER_SECRET_KEY": os.urandom(16).hex(), **MLFLOW_SERVER_ENV}
    env.pop("MLFLOW_TRACKING_USERNAME", None)
    env.pop("MLFLOW_TRACKING_PASSWORD", None)
    log = tmp_path / "server.log"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "mlflow"), "server", "--app-name", "basic-auth", "--host", "127.0.0.1",
         "--port", str(port), "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--serve-artifacts", "--workers", "1"],
        env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300  # a busy 2-core machine: the auth app's DB migrations are slow
        while True:
            assert proc.poll() is None, log.read_text()[-3000:]
            try:
                urllib.request.urlopen(f"{url}/health", timeout=5)
                break
            except urllib.error.HTTPError:
                break  # answering (even 401): up
            except OSError:
                assert time.time() < deadline, log.read_text()[-3000:]
                time.sleep(1)
        # No credentials: refused.
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{url}/api/2.0/mlflow/experiments/search?max_results=1", timeout=10)
        assert e.value.code == 401
        # Wrong password: refused.
        import base64

        req = urllib.request.Request(f"{url}/api/2.0/mlflow/experiments/search?max_results=1", headers={
            "Authorization": "Basic " + base64.b64encode(b"admin:wrong-password").decode()})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 401
        # The admin, with the password from the environment (as the nodes get it): logs a run.
        mp = pytest.MonkeyPatch()
        mp.setenv("MLFLOW_TRACKING_USERNAME", "admin")
        mp.setenv("MLFLOW_TRACKING_PASSWORD", password)
        try:
            client = mlflow.MlflowClient(url)
            exp = client.create_experiment("auth-test")
            run = client.create_run(exp)
            client.log_metric(run.info.run_id, "acc", 0.5)
            client.set_terminated(run.info.run_id)
            assert client.get_run(run.info.run_id).data.metrics == {"acc": 0.5}
        finally:
            mp.undo()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
