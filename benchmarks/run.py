"""Benchmark feedletter against Hugo, each figure measured in the same run.

    .venv/bin/python -m benchmarks.run --records 10000 100000 --layouts flat nested

For each size and layout (``flat``: one folder, as Jekyll's ``_news/``;
``nested``: 1,000 records per folder) it generates a corpus
(``benchmarks.corpus``), then times, as separate processes: Hugo (Debian's
``hugo``) building the equivalent per-topic RSS from the same files (cold; it has
no incremental mode), and feedletter's cold ``build --no-digest`` (no parse
cache, no outputs), a no-change ``build --no-digest``, a ``build --no-digest``
after 10 records were edited, and a no-change ``build`` with the digest (after
one untimed ``build`` has rendered the issue due now). Peak RSS is read from the
kernel (``wait4``). Every ratio is feedletter's time over Hugo's cold time from
the same run. It prints the table, and writes it as JSON (``--json``); with
``--digest`` it also times rendering and personalising the digest for 10,000
subscribers over 20 topic sets and sending it through the real ``send`` path to
a local aiosmtpd.

It never runs in the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .corpus import ROOT, generate

HUGO_SITE = ROOT / "benchmarks" / "hugo"
CORPORA = ROOT / "benchmarks" / ".corpus"
# the targets of issue 22, as feedletter's time over Hugo's cold build, by corpus size
TARGETS = {
    100_000: {
        "cold build --no-digest": 0.35,
        "no-change build --no-digest": 0.03,
        "10 edited, build --no-digest": 0.05,
        "no-change build (with digest)": 0.03,
    },
    10_000: {
        "cold build --no-digest": 0.5,
        "no-change build --no-digest": 0.10,
        "10 edited, build --no-digest": 0.15,
        "no-change build (with digest)": 0.10,
    },
}
RSS_TARGET = 0.5


def target(count: int, measure: str) -> float | None:
    """The target ratio of ``measure`` at ``count`` records (None: no target)."""
    if measure.startswith("peak"):
        return RSS_TARGET
    return TARGETS.get(count, {}).get(measure)


# the measured processes run as an installed feedletter does: with bytecode caches
# (a shell that sets PYTHONDONTWRITEBYTECODE would make every run compile its sources)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    output: str


def timed(command: list[str], cwd: Path | None = None) -> Run:
    """Run ``command``; wall time and the peak RSS of the process (and its children)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output}")
    # wait4's ru_maxrss: the largest resident set of the process or of any of its
    # own (waited-for) children, e.g. feedletter's parse workers
    return Run(seconds, usage.ru_maxrss / 1024, output)


def feedletter_config(work: Path, corpus: Path) -> Path:
    config = work / "config.yaml"
    config.write_text(
        f"""site: {{title: Benchmark, base_url: "https://bench.example.org"}}
content: {{news: {corpus / "news"}, topics: {corpus / "topics"}}}
templates: {ROOT / "templates"}
output: {work / "output"}
cache: {work / "var" / "parse-cache.sqlite3"}
rules: {{min_quality: 70, max_items: 50}}
state: {{database: {work / "var" / "state.sqlite3"}}}
"""
    )
    return config


def feedletter(config: Path, digest: bool = False) -> Run:
    command = [sys.executable, "-m", "newsletter", "build", "--config", str(config)]
    return timed(command if digest else [*command, "--no-digest"])


def hugo(corpus: Path, destination: Path) -> Run:
    shutil.rmtree(destination, ignore_errors=True)
    return timed(
        [
            "hugo",
            "--quiet",
            "--source",
            str(HUGO_SITE),
            "--contentDir",
            str(corpus / "news"),
            "--destination",
            str(destination),
        ]
    )


def edit_records(corpus: Path, count: int) -> None:
    files = sorted((corpus / "news").rglob("*.md"))
    step = max(1, len(files) // count)
    for path in files[::step][:count]:
        text = path.read_text(encoding="utf-8")
        path.write_text(text.replace('title: "', 'title: "Edited: ', 1), encoding="utf-8")


def bench_size(count: int, layout: str, with_hugo: bool) -> list[tuple[str, float, float | None]]:
    corpus = generate(count, CORPORA / f"{count}-{layout}", layout)
    rows: list[tuple[str, float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = feedletter_config(work, corpus)
        hugo_run = hugo(corpus, work / "hugo-public") if with_hugo else None
        hugo_seconds = hugo_run.seconds if hugo_run else None
        runs: dict[str, Run] = {}
        runs["cold build --no-digest"] = feedletter(config)
        runs["no-change build --no-digest"] = feedletter(config)
        edit_records(corpus, 10)
        runs["10 edited, build --no-digest"] = feedletter(config)
        feedletter(config, digest=True)  # renders the issue due now (untimed)
        runs["no-change build (with digest)"] = feedletter(config, digest=True)
        for name, run in runs.items():
            rows.append((name, run.seconds, hugo_seconds))
            print(
                f"  {count:>7} {layout:<6} {name:<30} feedletter {run.seconds:7.2f} s"
                + (f"   hugo {hugo_seconds:7.2f} s" if hugo_seconds else ""),
                flush=True,
            )
        cold = runs["cold build --no-digest"]
        rows.append(
            ("peak RSS, cold (MB)", cold.peak_rss_mb, hugo_run.peak_rss_mb if hugo_run else None)
        )
    return rows


Results = dict[tuple[int, str], list[tuple[str, float, float | None]]]


def table(results: Results) -> str:
    lines = [
        "| records | layout | measure | feedletter | Hugo | ratio | target | met |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for (count, layout), rows in results.items():
        for name, ours, theirs in rows:
            limit = target(count, name)
            unit = "" if name.startswith("peak") else " s"
            ratio = ours / theirs if theirs else None
            met = "" if ratio is None or limit is None else ("yes" if ratio <= limit else "no")
            lines.append(
                f"| {count:,} | {layout} | {name} | {ours:.2f}{unit} | "
                + (f"{theirs:.2f}{unit}" if theirs is not None else "–")
                + f" | {ratio:.3f} |"
                if ratio is not None
                else " | – |"
            )
            lines[-1] += f" {'≤ ' + format(limit, '.2f') if limit else '–'} | {met} |"
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, nargs="+", default=[10_000])
    parser.add_argument(
        "--layouts", nargs="+", choices=["flat", "nested"], default=["flat", "nested"]
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "benchmarks" / "results.json", help="where to write"
    )
    parser.add_argument("--no-hugo", action="store_true", help="skip Hugo (not installed)")
    parser.add_argument(
        "--digest", action="store_true", help="also time the digest for 10,000 subscribers"
    )
    args = parser.parse_args()
    with_hugo = not args.no_hugo
    if with_hugo and shutil.which("hugo") is None:
        raise SystemExit("hugo is not installed: `apt-get install hugo`, or pass --no-hugo")
    print(
        f"machine: {os.cpu_count()} cores, {_memory_gb():.0f} GiB RAM, "
        f"Python {platform.python_version()}, {_hugo_version() if with_hugo else 'no Hugo'}"
    )
    # one untimed start writes the bytecode caches, as installing feedletter does
    subprocess.run(
        [sys.executable, "-m", "newsletter", "--help"],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    results: Results = {
        (count, layout): bench_size(count, layout, with_hugo)
        for count in args.records
        for layout in args.layouts
    }
    print()
    print(table(results))
    write_json(args.json, results)
    if args.digest:
        from .digest import run as run_digest

        run_digest()


def write_json(path: Path, results: Results) -> None:
    """The run as JSON: one object per measure, with its ratio and target."""
    import json

    rows = []
    for (count, layout), measures in results.items():
        for name, ours, theirs in measures:
            rows.append(
                {
                    "records": count,
                    "layout": layout,
                    "measure": name,
                    "feedletter": round(ours, 3),
                    "hugo": round(theirs, 3) if theirs is not None else None,
                    "ratio": round(ours / theirs, 4) if theirs else None,
                    "target": target(count, name),
                }
            )
    path.write_text(json.dumps({"machine": _machine(), "rows": rows}, indent=2) + "\n")
    print(f"wrote {path}")


def _machine() -> dict[str, object]:
    return {"cores": os.cpu_count(), "memory_gib": round(_memory_gb(), 1)}


def _memory_gb() -> float:
    with open("/proc/meminfo") as handle:
        kb = int(handle.readline().split()[1])
    return kb / 1024 / 1024


def _hugo_version() -> str:
    return subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
