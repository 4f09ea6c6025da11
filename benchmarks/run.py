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

At 1,000,000 records (``--records 100000 1000000``) it times the cold and the
10-edited build only, without Hugo, and reports how cost grows: the cold build's
time per record against the 100,000-record run's (target ≤ 1.2×) and its peak
RSS (target ≤ 1.5 GB). A corpus is generated once and reused while unchanged
(``corpus.ensure``); the edited records are put back after each run.

It never runs in the test suite: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .corpus import ROOT, ensure, touching, untouched

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
# from this size on only the cold and the 10-edited build are timed, without Hugo
LARGE = 1_000_000
# how cost grows (issue 22): a large run's cold time per record over the 100,000
# run's, and its peak RSS in MB
GROWTH_TARGET = 1.2
LARGE_RSS_MB = 1500


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


@contextlib.contextmanager
def edited_records(corpus: Path, records: int, layout: str, count: int = 10) -> Iterator[None]:
    """``count`` records spread over ``corpus`` (of ``records``, in ``layout``) edited
    for the ``with`` block, then put back, and the corpus marked pristine again
    (``corpus.touching`` / ``untouched``: an interrupted run leaves it to be made anew)."""
    files = sorted((corpus / "news").rglob("*.md"))
    step = max(1, len(files) // count)
    touching(corpus)
    before: dict[Path, str] = {}
    try:
        for path in files[::step][:count]:
            text = before[path] = path.read_text(encoding="utf-8")
            path.write_text(text.replace('title: "', 'title: "Edited: ', 1), encoding="utf-8")
        yield
    finally:
        for path, text in before.items():
            path.write_text(text, encoding="utf-8")
        untouched(corpus, records, layout)


def bench_size(count: int, layout: str, with_hugo: bool) -> list[tuple[str, float, float | None]]:
    corpus = ensure(count, CORPORA / f"{count}-{layout}", layout)
    large = count >= LARGE
    rows: list[tuple[str, float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = feedletter_config(work, corpus)
        hugo_run = hugo(corpus, work / "hugo-public") if with_hugo and not large else None
        hugo_seconds = hugo_run.seconds if hugo_run else None
        runs: dict[str, Run] = {}
        runs["cold build --no-digest"] = feedletter(config)
        if not large:
            runs["no-change build --no-digest"] = feedletter(config)
        with edited_records(corpus, count, layout):
            runs["10 edited, build --no-digest"] = feedletter(config)
        if not large:
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
            limit = target(count, name) if count < LARGE else None  # see growth()
            unit = "" if name.startswith("peak") else " s"
            ratio = ours / theirs if theirs else None
            met = "" if ratio is None or limit is None else ("yes" if ratio <= limit else "no")
            hugo = f"{theirs:.2f}{unit}" if theirs is not None else "–"
            lines.append(
                f"| {count:,} | {layout} | {name} | {ours:.2f}{unit} | {hugo} | "
                f"{format(ratio, '.3f') if ratio is not None else '–'} | "
                f"{'≤ ' + format(limit, '.2f') if limit else '–'} | {met} |"
            )
    return "\n".join(lines)


def growth(results: Results) -> list[dict[str, object]]:
    """How cost grows from 100,000 records to each large run of the same layout."""
    found = []
    for (count, layout), rows in results.items():
        base = results.get((100_000, layout))
        if count < LARGE or base is None:
            continue
        values = {name: ours for name, ours, _ in rows}
        small = {name: ours for name, ours, _ in base}
        name = "cold build --no-digest"
        per_record, per_record_small = values[name] / count * 1e6, small[name] / 100_000 * 1e6
        found.append(
            {
                "records": count,
                "layout": layout,
                "measure": "cold µs per record / at 100,000",
                "value": round(per_record, 1),
                "reference": round(per_record_small, 1),
                "ratio": round(per_record / per_record_small, 3),
                "target": GROWTH_TARGET,
                "met": per_record / per_record_small <= GROWTH_TARGET,
            }
        )
        rss = values["peak RSS, cold (MB)"]
        found.append(
            {
                "records": count,
                "layout": layout,
                "measure": "peak RSS, cold (MB)",
                "value": round(rss, 1),
                "reference": None,
                "ratio": None,
                "target": LARGE_RSS_MB,
                "met": rss <= LARGE_RSS_MB,
            }
        )
    return found


def growth_table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| records | layout | measure | feedletter | at 100,000 | ratio | target | met |",
        "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for row in rows:
        reference, ratio = row["reference"], row["ratio"]
        lines.append(
            f"| {row['records']:,} | {row['layout']} | {row['measure']} | {row['value']} | "
            f"{reference if reference is not None else '–'} | "
            f"{ratio if ratio is not None else '–'} | ≤ {row['target']} | "
            f"{'yes' if row['met'] else 'no'} |"
        )
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
    grown = growth(results)
    if grown:
        print()
        print(growth_table(grown))
    write_json(args.json, results, grown)
    if args.digest:
        from .digest import run as run_digest

        run_digest()


def write_json(path: Path, results: Results, grown: list[dict[str, object]]) -> None:
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
                    "target": target(count, name) if count < LARGE else None,
                }
            )
    document = {"machine": _machine(), "rows": rows, "growth": grown}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
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
