"""What a job prints: the platform's own lines by default, Ray's logging only with `--verbose`.

Ray's console noise comes from a few places, each quietened at its source:
- every worker's and actor's stdout/stderr (Ray Train's "Reporting training result" INFO dumps, Ray
  Data's executor lines from the train workers, library warnings) is streamed to the driver unless
  `ray.init(log_to_driver=False)`; it still lands in the session's log folder (`ray_log_dir()`);
- the driver's own `ray` loggers (cluster start, token auth) follow `ray.init(logging_level=...)`;
- DeprecationWarnings raised inside Ray's code are filtered by module (`warnings`), ours stay on.
`--verbose` (or `SKELMAE_VERBOSE=1`) turns all of it back on. User errors print one line
(`JOB: error: ...`, exit 2); a failed training run prints its cause and where the full log is (exit 1).
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Callable

VERBOSE_ENV = "SKELMAE_VERBOSE"
VERBOSE_FLAG = "--verbose"


def is_verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def take_verbose_flag(argv: list[str]) -> list[str]:
    """Remove `--verbose` from a job's arguments; it sets SKELMAE_VERBOSE so every layer sees it."""
    if VERBOSE_FLAG in argv:
        os.environ[VERBOSE_ENV] = "1"
    return [a for a in argv if a != VERBOSE_FLAG]


def setup_console(verbose: bool | None = None) -> None:
    """Logging for a job's process: the platform's INFO lines, Ray and MLflow at WARNING unless verbose."""
    verbose = is_verbose() if verbose is None else verbose
    logging.basicConfig(format="[%(name)s] %(message)s")
    logging.getLogger("skelmae").setLevel(logging.INFO)
    logging.getLogger("data_pipeline").setLevel(logging.INFO)
    if verbose:
        return
    for name in ("ray", "mlflow", "alembic", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # MLflow sets its loggers' level when it is imported, which jobs do after this (once the config is valid).
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    # MLflow's per-download progress bars (checkpoints fetched by run ID) are not the job's progress.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # The banner every local cluster start prints (token auth stays on; `ray start` and `--verbose` say it).
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    quiet_ray_warnings()


def quiet_ray_warnings() -> None:
    """Ray's own deprecation notices (its internals call its deprecated paths) stay off the console; ours
    still show. Again after Ray is imported: importing it puts its own filter for them in front."""
    if is_verbose():
        return
    warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray(\.|$)")
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"ray(\.|$)")


def ray_init_kwargs(verbose: bool | None = None) -> dict:
    """`ray.init` arguments for the console mode: worker output stays in the session's log files."""
    verbose = is_verbose() if verbose is None else verbose
    return {
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.WARNING,
        "configure_logging": True,
    }


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster named by `address`/RAY_ADDRESS (as under `ray job submit`), or start a local one."""
    import ray

    quiet_ray_warnings()
    if ray.is_initialized():
        return
    kwargs = ray_init_kwargs()
    if address:
        kwargs["address"] = address
    if num_cpus:
        kwargs["num_cpus"] = num_cpus
    ray.init(**kwargs)
    quiet_ray_data()


def quiet_ray_data() -> None:
    """Ray Data's console lines (execution plans, progress logged line by line when stdout is not a
    terminal) go to its session log file only; in a terminal its progress bar still shows."""
    import ray.data  # noqa: F401 - importing it installs its logger

    if is_verbose():
        return
    for handler in logging.getLogger("ray.data").handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setLevel(logging.WARNING)


def ray_log_dir() -> str | None:
    """The Ray session's log folder on this machine (workers' stdout/stderr), if Ray runs here."""
    try:
        import ray

        if not ray.is_initialized():
            return None
        from ray._private.worker import _global_node  # the only place Ray exposes its session folder

        return os.path.join(_global_node.get_session_dir_path(), "logs") if _global_node else None
    except Exception:  # noqa: BLE001 - a hint in an error message, never a new error
        return None


def user_error_types() -> tuple[type[BaseException], ...]:
    """Errors a user's input causes (a bad value, path, run ID or checkpoint): one line, no traceback."""
    from data_pipeline.errors import ConfigError
    from skelmae.checkpoint import CheckpointError
    from skelmae.model.mae import EncoderWeightsError

    return (ConfigError, CheckpointError, EncoderWeightsError, FileNotFoundError, NotADirectoryError,
            IsADirectoryError, PermissionError, FileExistsError)


def training_error_types() -> tuple[type[BaseException], ...]:
    from ray.exceptions import RayError
    from ray.train import TrainingFailedError

    return (TrainingFailedError, RayError)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def run_job(job: str, main: Callable[[list[str]], int], argv: list[str]) -> int:
    """Run a job's `main(argv)` in console mode; a user error or failed training is one line on stderr."""
    argv = take_verbose_flag(argv)
    setup_console()
    if "--help" in argv or "-h" in argv:
        try:
            return main(argv)
        finally:
            print(f"\n{VERBOSE_FLAG}: show Ray's own logging and worker output here (or {VERBOSE_ENV}=1)")
    try:
        return main(argv)
    except user_error_types() as e:
        if is_verbose():
            raise
        print(f"{job}: error: {first_line(e)}", file=sys.stderr)
        return 2
    except training_error_types() as e:
        if is_verbose():
            raise
        where = ray_log_dir()
        cause = _root_cause(e)
        print(f"{job}: training failed: {type(cause).__name__}: {first_line(cause)}", file=sys.stderr)
        print(f"{job}: full log: {where or 'Ray session logs'} (rerun with --verbose to see it here)",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{job}: interrupted", file=sys.stderr)
        return 130


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost cause of a wrapped Ray/Train error (the worker's own exception when Ray kept it)."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None) or getattr(exc, "controller_failure", None) or exc.__cause__
        if inner is None:
            errs = getattr(exc, "worker_failures", None)
            inner = next(iter(errs.values()), None) if isinstance(errs, dict) and errs else None
        if not isinstance(inner, BaseException):
            break
        exc = inner
    return exc
