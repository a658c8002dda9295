"""What the static files cost: their sizes as sent, and the time create_app spends on them.

    .venv/bin/python bench/static_files.py [--repeats N]

Prints each built file's size raw, in brotli and in gzip (app/static_files.py), then the
time of `static_files.init_app` (what create_app adds): a first build in an empty
instance directory, and a build reused (every later process, every test app), as the
median and minimum of N (default 100) runs on each of 5 fresh instance directories.
The login page's first visit in Chromium is measured by tests/e2e/test_first_visit.py
(`pytest -s` prints it).
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask  # noqa: E402

from app import static_files  # noqa: E402

STATIC = Path(__file__).resolve().parent.parent / "app" / "static"


def _init_app(instance: str) -> tuple[float, Flask]:
    app = Flask("app", instance_path=instance, static_folder=str(STATIC))
    app.config.update(ENV="test", TESTING=True)
    start = time.perf_counter()
    static_files.init_app(app)
    return (time.perf_counter() - start) * 1000, app


def main(repeats: int) -> None:
    _, app = _init_app(tempfile.mkdtemp(prefix="forprev-bench-"))
    built = app.extensions["forprev_static"]
    print(f"{'fichier':<40} {'brut':>8} {'brotli':>8} {'gzip':>8}")
    for name, hashed in built.names.items():
        path = built.directory / hashed
        sizes = [path.stat().st_size] + [
            Path(f"{path}{suffix}").stat().st_size if Path(f"{path}{suffix}").exists() else None
            for suffix in (".br", ".gz")
        ]
        print(f"{name:<40} " + " ".join(f"{s if s else '—':>8}" for s in sizes))

    first, reused = [], []
    for _ in range(5):
        instance = tempfile.mkdtemp(prefix="forprev-bench-")
        first.append(_init_app(instance)[0])
        reused += [_init_app(instance)[0] for _ in range(repeats)]
    print(
        f"init_app, première construction : médiane {statistics.median(first):.1f} ms "
        f"(min {min(first):.1f}) ; construction réutilisée : médiane "
        f"{statistics.median(reused):.2f} ms (min {min(reused):.2f})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=100)
    main(parser.parse_args().repeats)
