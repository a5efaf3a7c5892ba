"""The Entra-like sync benchmark runs end to end on a tiny load and verifies its state.

Not a timing test: it checks that bench/entra_sync.py still starts gunicorn on a fresh
PostgreSQL database, speaks SCIM to orgadmin and reads the state back as sent.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.postgres
def test_entra_sync_benchmark_verifies_a_tiny_sync_against_gunicorn():
    completed = subprocess.run(
        [
            sys.executable,
            "bench/entra_sync.py",
            *("--users", "20", "--groups", "2", "--rounds", "1", "--no-floor"),
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, (
        completed.stdout[-3000:] + completed.stderr[-3000:]
    )
    assert "state: verified, every user and group as sent" in completed.stdout
    assert "orgadmin state verified: yes" in completed.stdout
