"""Benchmark feedletter against Hugo, each figure measured in the same run.

    .venv/bin/python -m benchmarks.run --records 10000 100000

For each size it generates a corpus (``benchmarks.corpus``), then times, as
separate processes: feedletter's cold build (no parse cache, no outputs), a
rebuild with nothing changed, a rebuild after 10 records changed, and one after
1 record was deleted; and Hugo (Debian's ``hugo``) building the equivalent
per-topic RSS from the same files after each of those states (Hugo has no
incremental mode, so each of its builds is a full one). Peak RSS is read from
the kernel (``wait4``) for each process. It prints a table of seconds and the
feedletter / Hugo ratio against the targets, and with ``--digest`` also times
rendering and personalising the digest for 10,000 subscribers over 20 topic sets
and sending it through the real ``send`` path to a local aiosmtpd.

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
TARGETS = {"cold": 0.35, "no change": 0.03, "10 changed": 0.05, "1 deleted": None}
RSS_TARGET = 0.5


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    output: str


def timed(command: list[str], cwd: Path | None = None) -> Run:
    """Run ``command``; wall time and the peak RSS of the process (and its children)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
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


def feedletter(config: Path) -> Run:
    return timed(
        [sys.executable, "-m", "newsletter", "build", "--no-digest", "--config", str(config)]
    )


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


def delete_record(corpus: Path) -> None:
    files = sorted((corpus / "news").rglob("*.md"))
    files[len(files) // 2].unlink()


def bench_size(count: int, with_hugo: bool) -> list[tuple[str, float, float | None]]:
    corpus = generate(count, CORPORA / f"{count}")
    rows: list[tuple[str, float, float | None]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config = feedletter_config(work, corpus)
        hugo_out = work / "hugo-public"
        peaks: dict[str, float] = {}
        for name in TARGETS:
            if name == "10 changed":
                edit_records(corpus, 10)
            elif name == "1 deleted":
                delete_record(corpus)
            ours = feedletter(config)
            theirs = hugo(corpus, hugo_out) if with_hugo else None
            rows.append((name, ours.seconds, theirs.seconds if theirs else None))
            if name == "cold":
                peaks["feedletter"] = ours.peak_rss_mb
                peaks["hugo"] = theirs.peak_rss_mb if theirs else float("nan")
            print(
                f"  {count:>7} {name:<11} feedletter {ours.seconds:7.2f} s"
                + (f"   hugo {theirs.seconds:7.2f} s" if theirs else ""),
                flush=True,
            )
        rows.append(("peak RSS (MB)", peaks["feedletter"], peaks["hugo"] if with_hugo else None))
    return rows


def table(results: dict[int, list[tuple[str, float, float | None]]]) -> str:
    lines = [
        "| records | measure | feedletter | Hugo | ratio | target | met |",
        "| ---: | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for count, rows in results.items():
        for name, ours, theirs in rows:
            target = RSS_TARGET if name.startswith("peak") else TARGETS.get(name)
            unit = "" if name.startswith("peak") else " s"
            ratio = ours / theirs if theirs else None
            met = "" if ratio is None or target is None else ("yes" if ratio <= target else "no")
            lines.append(
                f"| {count:,} | {name} | {ours:.2f}{unit} | "
                + (f"{theirs:.2f}{unit}" if theirs is not None else "–")
                + f" | {ratio:.3f} |"
                if ratio is not None
                else " | – |"
            )
            lines[-1] += f" {'≤ ' + format(target, '.2f') if target else '–'} | {met} |"
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, nargs="+", default=[10_000])
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
    results = {count: bench_size(count, with_hugo) for count in args.records}
    print()
    print(table(results))
    if args.digest:
        from .digest import run as run_digest

        run_digest()


def _memory_gb() -> float:
    with open("/proc/meminfo") as handle:
        kb = int(handle.readline().split()[1])
    return kb / 1024 / 1024


def _hugo_version() -> str:
    return subprocess.run(["hugo", "version"], capture_output=True, text=True).stdout.split()[1]


if __name__ == "__main__":
    main()
