"""redact() masks the secret part of URIs (tracking URIs, data paths) and keeps everything else."""

from __future__ import annotations

import pytest

from data_pipeline.redact import redact


@pytest.mark.parametrize(
    "text, expected",
    [
        ("https://alice:tok3n@mlflow.example.com:5000", "https://alice:***@mlflow.example.com:5000"),
        ("s3://AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG@bucket/ntu/processed", "s3://AKIAEXAMPLE:***@bucket/ntu/processed"),
        ("https://ghp_abcdef0123456789@host/path", "https://***@host/path"),  # a lone token in the user slot
        ("postgresql://mlflow:p%40ss@db.internal/mlflow", "postgresql://mlflow:***@db.internal/mlflow"),
        ("https://host/model?token=abc123&x=1", "https://host/model?token=***&x=1"),
        ("s3://b/k?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F", "s3://b/k?X-Amz-Signature=***&X-Amz-Credential=***"),
        ("run at https://u:pw@h:5000 failed; retry https://u:pw2@h2", "run at https://u:***@h:5000 failed; retry https://u:***@h2"),
    ],
)
def test_credentials_are_masked(text, expected):
    out = redact(text)
    assert out == expected


@pytest.mark.parametrize(
    "text",
    ["http://127.0.0.1:5000", "sqlite:////home/me/mlflow.db", "/data/ntu/processed", "s3://bucket/ntu/processed",
     "runs:/0123abcd/model", "models:/skelmae-classifier@champion", "file:///tmp/x?page=2"],
)
def test_uris_without_credentials_are_unchanged(text):
    assert redact(text) == text


def test_predict_error_messages_hide_the_tracking_password(tmp_path):
    """jobs/predict.py's model error names the URI it could not load, masked."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    model = "https://alice:s3cr3t-t0ken@127.0.0.1:9/model"
    p = subprocess.run([sys.executable, str(repo / "jobs/predict.py"), "--model", model, "x.skeleton"],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path,
                       env={**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'm.db'}",
                            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"})
    assert p.returncode == 2
    assert "s3cr3t-t0ken" not in p.stderr + p.stdout
    assert "https://alice:***@127.0.0.1:9/model" in p.stderr


def test_resolve_pretrained_error_hides_the_tracking_password(monkeypatch):
    from skelmae.track.conventions import resolve_pretrained

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    # Nothing listens on port 9: the run lookup fails and the message names the (masked) store.
    with pytest.raises(FileNotFoundError) as e:
        resolve_pretrained("no-such-run-or-file", "http://alice:s3cr3t@127.0.0.1:9")
    assert "s3cr3t" not in str(e.value)
    assert "http://alice:***@127.0.0.1:9" in str(e.value)
