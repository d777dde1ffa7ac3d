"""pypi_site/gunicorn.py's part in Prometheus multi-process mode (the real gunicorn runs in
tests/e2e/test_metrics.py)."""

from __future__ import annotations

import os
from types import SimpleNamespace

from pypi_site import gunicorn


def quiet_server() -> SimpleNamespace:
    return SimpleNamespace(log=SimpleNamespace(info=lambda *args: None))


def test_metrics_directory_defaults_under_data_dir_and_starts_empty(
    settings, tmp_path, monkeypatch
):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    settings.DATA_DIR = tmp_path
    stale = tmp_path / "prometheus" / "counter_4242.db"
    stale.parent.mkdir()
    stale.write_bytes(b"counts of a process that is gone")
    try:
        gunicorn._prepare_metrics_directory(quiet_server())
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(tmp_path / "prometheus")
        assert not stale.exists()
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)


def test_a_configured_metrics_directory_is_used(tmp_path, monkeypatch):
    chosen = tmp_path / "elsewhere"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(chosen))
    gunicorn._prepare_metrics_directory(quiet_server())
    assert chosen.is_dir()
    assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(chosen)
