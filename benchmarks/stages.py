"""Where a build after 10 edited records spends its time, stage by stage.

    .venv/bin/python -m benchmarks.stages [--records 100000] [--layout flat] [--rounds 2]

On the benchmark's corpus (``benchmarks.corpus``, as ``benchmarks.run`` makes
it) it builds once cold and once more (untimed), then, each round, edits the
same 10 records ``benchmarks.run`` edits (``edited_records``) and runs ``build --no-digest`` in a
process of its own whose main stages are wrapped in wall-clock timers (the
functions themselves, wherever a module imported them by name); the records
are put back and built again, untimed, so that every round sees 10 fresh
changes. It prints each stage's time per round and the whole process's, timed
from outside. Nested stages are inside the ones above them (the scan inside
the replay; the story pairs inside grouping, inside the collector).

The timers cost little (a few calls each), but to have them in place the
measured process imports the wrapped modules before the command starts; the
first row ("imports before the command") is that, with the interpreter's start.
It never runs in the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .corpus import ensure
from .run import CORPORA, ENV, edited_records, feedletter, feedletter_config

# (module, function): the stages timed, outermost first
STAGES = (
    ("newsletter.replay", "replay"),
    ("feeds.reading.scan", "scan"),
    ("newsletter.cli", "main"),
    ("feeds.build.run", "build_feeds"),
    ("feeds.build.uptodate", "fingerprint"),
    ("feeds.build.project", "load_project"),
    ("feeds.reading.corpus", "load_corpus"),
    ("feeds.build.run", "plan_feeds"),
    ("feeds.selection.collector", "collect"),
    ("feeds.selection.stories", "group_stories"),
    ("feeds.selection.pairs", "story_pairs"),
    ("feeds.selection.collector", "memberships"),
    ("feeds.build.outputs", "render_outputs"),
)


def inside(config: str, report: str) -> None:
    """In the measured process: wrap the stages, run the build, write the times."""
    started = time.perf_counter()
    spent: dict[str, float] = {}
    for module_name, name in STAGES:
        original = getattr(importlib.import_module(module_name), name)
        _replace(original, _timer(f"{module_name}.{name}", original, spent))
    import newsletter.__main__ as entry

    spent["imports before the command"] = time.perf_counter() - started
    sys.argv = ["feedletter", "build", "--config", config, "--no-digest"]
    leave = entry.leave

    def report_and_leave(request: SystemExit) -> None:
        spent["in the process, in all"] = time.perf_counter() - started
        Path(report).write_text(json.dumps(spent))
        leave(request)

    entry.leave = report_and_leave
    entry.run()


def _timer(label: str, function: Callable[..., Any], spent: dict[str, float]) -> Any:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

    return timed


def _replace(original: object, wrapped: object) -> None:
    """``wrapped`` wherever a loaded module holds ``original`` by name."""
    for module in list(sys.modules.values()):
        names = getattr(module, "__dict__", None)
        if module is sys.modules.get("__main__") or not isinstance(names, dict):
            continue
        for key, value in list(names.items()):
            if value is original:
                setattr(module, key, wrapped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--layout", choices=("flat", "nested"), default="flat")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--inside", nargs=2, metavar=("CONFIG", "REPORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(*args.inside)
        return
    corpus = ensure(args.records, CORPORA / f"{args.records}-{args.layout}", args.layout)
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = feedletter_config(work, corpus)
        feedletter(config)  # cold
        feedletter(config)  # settled
        for _ in range(args.rounds):
            report = work / "stages.json"
            with edited_records(corpus, args.records, args.layout):
                start = time.perf_counter()
                subprocess.run(
                    [sys.executable, "-m", "benchmarks.stages", "--inside", str(config),
                     str(report)],
                    check=True, env=ENV, stdout=subprocess.DEVNULL,
                )  # fmt: skip
                wall = time.perf_counter() - start
            spent = json.loads(report.read_text())
            spent["the process, timed from outside"] = wall
            rounds.append(spent)
            feedletter(config)  # the originals back in the cache: next round, 10 fresh edits
    print(f"\n{args.records:,} records ({args.layout}), 10 edited, build --no-digest:\n")
    labels = ["the process, timed from outside", "in the process, in all",
              "imports before the command"] + [f"{m}.{n}" for m, n in STAGES]  # fmt: skip
    print("| stage | " + " | ".join(f"round {n + 1}" for n in range(len(rounds))) + " |")
    print("| --- |" + " ---: |" * len(rounds))
    for label in labels:
        cells = [f"{spent[label] * 1000:.0f} ms" if label in spent else "–" for spent in rounds]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    main()
