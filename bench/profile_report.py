"""py-spy on the served workers during a sync, and where the request time goes.

`bench/entra_sync.py --profile DIR` serves orgadmin with bench/settings_profile.py,
records every gunicorn worker with `py-spy record --subprocesses --format raw` (on-CPU
samples: the time waiting for PostgreSQL is in the X-Bench-Db-Ms figures) and writes:

- DIR/pyspy.raw: the collapsed stacks (flamegraph.pl or speedscope read them);
- DIR/queries.txt: the SQL of one request of each kind (bench/query_count.py);
- DIR/profile.txt: per view method, the share of samples in each layer
  (authentication, middleware, filter, serializer, actions, audit, request log...),
  each split into Python of its own, the ORM's Python and the database driver
  (psycopg's Python); then the top functions.

    .venv/bin/python bench/profile_report.py DIR/pyspy.raw   # the report again
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

# Innermost match wins: a query run by the audit code is the audit's time.
LAYERS = [
    ("request log", ("scim/request_log.py",)),
    ("audit", ("orgadmin/audit.py", "orgadmin/actions/_audit.py")),
    ("throttle", ("ScimTokenThrottle",)),
    ("authentication", ("scim/authentication.py",)),
    ("filter compiler", ("scim/filters.py",)),
    ("patch parsing", ("scim/patch.py",)),
    ("serializer", ("scim/serializers.py", "scim/resource_schema.py")),
    ("actions", ("orgadmin/actions/",)),
    ("access (fetch)", ("scim/access.py",)),
    ("body parsing", ("scim/parsers.py", "rest_framework/parsers.py")),
    ("rendering", ("scim/renderers.py", "rest_framework/renderers.py")),
    ("view", ("scim/views.py",)),
    ("DRF", ("rest_framework/",)),
    (
        "middleware",
        (
            "django/middleware/",
            "django/contrib/sessions/",
            "django/contrib/messages/",
            "django/contrib/auth/middleware.py",
            "csp/",
            "whitenoise/",
            "allauth/",
        ),
    ),
    ("Django handler, URLs", ("django/core/handlers/", "django/urls/")),
]
DRIVER = ("psycopg/", "psycopg_binary/", "django/db/backends/")
ORM = ("django/db/",)
FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+)(?::\d+)?\)$")
VIEW = re.compile(r"^(?P<view>\w+View)\.(?P<method>get|post|put|patch|delete)$")


def parse(raw: Path) -> list[tuple[list[tuple[str, str]], int]]:
    """The request-handling samples: (frames root first as (function, file), count)."""
    samples = []
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = []
        for part in stack.split(";"):
            match = FRAME.match(part)
            if match:
                frames.append((match["function"], match["file"]))
        if any(f == "WSGIHandler.__call__" for f, _ in frames):
            samples.append((frames, int(count)))
    return samples


def request_type(frames: list[tuple[str, str]]) -> str:
    for function, file in frames:
        match = VIEW.match(function)
        if match and file.endswith("scim/views.py"):
            return f"{match['view']}.{match['method']}"
    if any(f == "ScimView.dispatch" for f, _ in frames):
        return "ScimView.dispatch, outside the method"
    return "middleware/handler, outside the view"


def layer_of(frames: list[tuple[str, str]]) -> tuple[str, str]:
    """(layer, part): the innermost known layer, and whether the time below it is its
    own Python, the ORM's Python or the database driver."""
    for depth in range(len(frames) - 1, -1, -1):
        function, file = frames[depth]
        if file.startswith("bench/"):
            continue  # the query counter wraps every query; it is not a layer
        for layer, markers in LAYERS:
            if any(m in file or m == function.split(".")[0] for m in markers):
                below = [f for _, f in frames[depth + 1 :]]
                if any(f.startswith(DRIVER) for f in below):
                    return layer, "driver"
                if any(f.startswith(ORM) for f in below):
                    return layer, "orm"
                return layer, "python"
    return "other", "python"


def report(raw: Path, rate: int = 100) -> str:
    samples = parse(raw)
    total = sum(count for _, count in samples)
    if not total:
        return "no request-handling samples recorded"
    by_type: dict[str, Counter] = defaultdict(Counter)
    type_totals: Counter = Counter()
    leaves: Counter = Counter()
    inclusive: Counter = Counter()
    for frames, count in samples:
        kind = request_type(frames)
        type_totals[kind] += count
        by_type[kind][layer_of(frames)] += count
        function, file = frames[-1]
        leaves[f"{function} ({file})"] += count
        for function, file in {(f, p) for f, p in frames}:
            if file.startswith(("scim/", "orgadmin/")):
                inclusive[f"{function} ({file})"] += count
    lines = [
        f"{total} on-CPU samples at {rate} Hz in request handling "
        f"({total / rate:.1f} CPU-seconds); shares of each request type's samples",
        "layer: its own Python / the ORM's Python / psycopg",
    ]
    for kind, count in type_totals.most_common():
        lines.append(f"\n{kind}: {count} samples ({count / total:.0%} of all)")
        layers: Counter = Counter()
        for (layer, _), n in by_type[kind].items():
            layers[layer] += n
        for layer, n in layers.most_common():
            parts = by_type[kind]
            split = " / ".join(
                f"{parts[(layer, part)] / count:4.0%}"
                for part in ("python", "orm", "driver")
            )
            lines.append(f"  {layer:<22} {n / count:5.0%}   ({split})")
    lines.append("\nTop functions by own samples (where the CPU or the wait is):")
    for name, n in leaves.most_common(25):
        lines.append(f"  {n / total:5.1%}  {name}")
    lines.append("\nTop project functions by inclusive samples:")
    for name, n in inclusive.most_common(30):
        lines.append(f"  {n / total:5.1%}  {name}")
    return "\n".join(lines)


class PySpy:
    """py-spy recording a gunicorn master and its workers until stop_and_report()."""

    RATE = 100

    def __init__(self, server, directory: Path):
        self.server = server
        self.directory = directory
        self.raw = directory / "pyspy.raw"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def executable() -> str:
        found = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(found).exists():
            sys.exit("--profile needs py-spy: .venv/bin/pip install py-spy")
        return found

    def start(self) -> PySpy:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            self.executable(), "record", "--pid", str(self.server.process.pid),
            "--subprocesses", "--nonblocking", "--format", "raw",
            "--rate", str(self.RATE), "-o", str(self.raw),
        ]  # fmt: skip
        log = (self.directory / "pyspy.log").open("w")
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop_and_report(self, sync=None) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if not self.raw.exists():
            print(f"  py-spy wrote nothing; see {self.directory / 'pyspy.log'}")
            return
        text = report(self.raw, self.RATE)
        (self.directory / "profile.txt").write_text(text + "\n")
        print(f"\nProfile ({self.directory}/profile.txt, queries.txt, pyspy.raw)")
        print(text)


if __name__ == "__main__":
    print(report(Path(sys.argv[1])))
