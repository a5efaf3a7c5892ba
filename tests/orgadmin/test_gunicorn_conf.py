"""gunicorn.conf.py: long SCIM filters reach orgadmin instead of gunicorn's HTML 414."""

import http.client
import os
import runpy
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from gunicorn.config import Config

CONF = Path(settings.BASE_DIR) / "gunicorn.conf.py"


def gunicorn_config() -> Config:
    """The file read as gunicorn reads it: each module-level name set on its Config."""
    config = Config()
    for name, value in runpy.run_path(str(CONF)).items():
        if name in config.settings:
            config.set(name, value)
    return config


def test_the_config_accepts_request_lines_up_to_gunicorns_maximum():
    config = gunicorn_config()
    assert config.limit_request_line == 8190
    assert config.max_requests == 10000 and config.max_requests_jitter == 1000


def test_workers_threads_and_bind_come_from_the_environment(monkeypatch):
    assert gunicorn_config().address == [("127.0.0.1", 8000)]
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9001")
    config = gunicorn_config()
    assert (config.workers, config.threads) == (3, 4)
    assert config.address == [("127.0.0.1", 9001)]


def test_gunicorn_passes_a_6000_character_scim_filter_to_orgadmin(tmp_path):
    # A listening socket on a free port, handed to gunicorn: nothing to wait for, since
    # the connection queues until the worker accepts it.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    environment = {
        **os.environ,
        "DJANGO_SECRET_KEY": "gunicorn-test-only",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "1",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "orgadmin.wsgi",
            "--bind",
            f"fd://{listener.fileno()}",
        ],
        cwd=settings.BASE_DIR,  # gunicorn reads ./gunicorn.conf.py, as in production
        env=environment,
        pass_fds=[listener.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    listener.close()
    try:
        scim_filter = 'userName eq "' + "a" * 5986 + '"'
        assert len(scim_filter) == 6000
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", f"/scim/v2/Users?filter={quote(scim_filter)}")
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=60)
    assert response.status == 401, (body, errors)
    assert response.getheader("Content-Type").startswith("application/scim+json")
    assert '"status":"401"' in body
