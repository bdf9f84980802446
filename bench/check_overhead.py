"""Overhead of the data-quality asset checks: the time they add to the stage each one audits.

Target: the checks of a stage add at most 20% to the time of that stage.

In a temporary directory, a fresh lake and Dagster instance, runs the main job on the sample crawl the way
``corpuslake run`` does (``run_dumps``: train the quality model, ingest each sample dump as one in-process
run of ``ingest_dump``, publish), with the usual cache of derived files so the URL blocklist is not
recompiled. Then prints:

- per dump and audited stage, from the step timings the Dagster instance recorded for the ingest run (step
  start to step end, so each figure includes Dagster's own event handling): the stage's seconds, the
  seconds of its Great Expectations check (``<table>_expectations``), the seconds of its other checks
  (balances, unique ids, drift: whatever ``CHECKS`` holds), and checks / stage; then totals over the dumps;
- the one-time cost of ``import great_expectations`` (and of its ephemeral context) in a fresh interpreter,
  and whether the first check of the process paid it;
- steady-state validation, outside Dagster, right after the runs: ``run_suite`` (the id column for the
  sample's cut, one streamed pass for the sample and the exact counts, DuckDB for unique ids, GX on the sample)
  per table and dump, best of 3, against the stage's time;
- peak RSS of each documents check in a process of its own at two partition sizes (bench/check_memory.py:
  synthetic partitions of real text written with the lake API), showing that it no longer grows with the
  partition.

    python bench/check_overhead.py [--workers N] [--memory-rows 30000] [--memory-factor 10] [--memory-only]
"""

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from check_memory import memory_figures  # a sibling script: bench/ is the script's own folder on sys.path

from corpuslake.settings import SAMPLE_DATASETS, SAMPLE_LANDING, Settings
from corpuslake.store import Lake
from orchestration.definitions import ASSETS, CHECKS, INGEST_JOB
from orchestration.run import DumpRun, _instance, run_dumps

REPEATS = 3
TARGET = 0.20
_IMPORT_GX = (
    "import time; t = time.perf_counter(); import great_expectations; i = time.perf_counter() - t; "
    "t = time.perf_counter(); great_expectations.get_context(mode='ephemeral'); "
    "print(i, time.perf_counter() - t)"
)


@dataclass(frozen=True)
class CheckStep:
    asset: str
    name: str

    @property
    def is_suite(self) -> bool:
        return self.name == f"{self.asset}_expectations"


@dataclass
class StageTimes:
    stage: float = 0.0
    suite: float = 0.0
    others: float = 0.0

    @property
    def ratio(self) -> float:
        return (self.suite + self.others) / self.stage if self.stage else float("nan")

    def add(self, other: "StageTimes") -> None:
        self.stage += other.stage
        self.suite += other.suite
        self.others += other.others


def check_steps() -> dict[str, CheckStep]:
    """Step key of each asset check of the code location (its op's name) and the check it runs."""
    steps = {}
    for definition in CHECKS:
        for key in definition.check_keys:
            steps[definition.node_def.name] = CheckStep(key.asset_key.to_user_string(), key.name)
    return steps


def cache_folder() -> str:
    return os.environ.get("CORPUSLAKE_CACHE") or str(Path.home() / ".cache" / "corpuslake")


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def gx_import_cost() -> tuple[float, float]:
    """Seconds to import great_expectations and to create its ephemeral context, in a fresh interpreter."""
    env = {**os.environ, "GX_ANALYTICS_ENABLED": "False"}
    out = subprocess.run([sys.executable, "-c", _IMPORT_GX], capture_output=True, text=True, check=True, env=env)
    imported, context = out.stdout.split()
    return float(imported), float(context)


def step_times(settings: Settings, runs: list[DumpRun], checks: dict[str, CheckStep]) -> dict[str, dict[str, float]]:
    """Seconds of each step of each ingest run, by dump; prints any step that is neither a stage nor a check."""
    stages = {a.key.to_user_string() for a in ASSETS}
    times: dict[str, dict[str, float]] = {}
    unknown: set[str] = set()
    with _instance(settings) as instance:
        for run in runs:
            if run.job != INGEST_JOB:
                continue
            times[run.dump] = {}
            for step in instance.get_run_step_stats(run.run_id):
                if step.start_time is None or step.end_time is None:
                    continue
                times[run.dump][step.step_key] = step.end_time - step.start_time
                if step.step_key not in stages and step.step_key not in checks:
                    unknown.add(step.step_key)
    if unknown:
        print(f"steps neither a stage nor a known check (not counted): {', '.join(sorted(unknown))}")
    return times


def overhead_figures(times: dict[str, dict[str, float]], checks: dict[str, CheckStep]) -> dict[str, StageTimes]:
    """Prints per dump and audited stage, then totals; returns each dump's stage times (dump/stage keys)."""
    audited = [
        a.key.to_user_string() for a in ASSETS if any(c.asset == a.key.to_user_string() for c in checks.values())
    ]
    print("checks per audited stage (GX: the Great Expectations suite):")
    for stage in audited:
        names = [f"{c.name}{' (GX)' if c.is_suite else ''}" for c in checks.values() if c.asset == stage]
        print(f"  {stage:16} {', '.join(names)}")
    header = f"  {'stage':16} {'stage s':>8} {'GX check s':>11} {'other checks s':>15} {'checks/stage':>13}"
    per_stage: dict[str, StageTimes] = {}
    totals: dict[str, StageTimes] = defaultdict(StageTimes)
    for dump, steps in times.items():
        print(f"{dump}:")
        print(header)
        dump_total = StageTimes()
        for stage in audited:
            row = StageTimes(stage=steps.get(stage, 0.0))
            for key, check in checks.items():
                if check.asset == stage and key in steps:
                    if check.is_suite:
                        row.suite += steps[key]
                    else:
                        row.others += steps[key]
            per_stage[f"{dump}/{stage}"] = row
            totals[stage].add(row)
            dump_total.add(row)
            print(_row(stage, row))
        print(_row("all audited", dump_total))
    print(f"totals over {len(times)} dumps:")
    print(header)
    everything = StageTimes()
    for stage in audited:
        everything.add(totals[stage])
        print(_row(stage, totals[stage]))
    print(_row("all audited", everything))
    worst = max(audited, key=lambda s: totals[s].ratio)
    verdict = "within" if totals[worst].ratio <= TARGET else "over"
    print(f"  highest ratio: {worst} {totals[worst].ratio:.1%} ({verdict} the {TARGET:.0%} target)")
    return per_stage


def _row(label: str, row: StageTimes) -> str:
    return f"  {label:16} {row.stage:8.2f} {row.suite:11.3f} {row.others:15.3f} {row.ratio:12.1%}"


def steady_state_figures(settings: Settings, dumps: list[str], per_stage: dict[str, StageTimes]) -> None:
    """``run_suite`` called directly on each table and dump (best of REPEATS), against the stage's time."""
    from quality_checks.expectations import run_suite

    lake = Lake(settings.lake, cache=settings.cache)
    tables = sorted({key.split("/", 1)[1] for key in per_stage}, key=[a.key.to_user_string() for a in ASSETS].index)
    suites = [t for t in tables if any(c.is_suite and c.asset == t for c in check_steps().values())]
    print(f"steady-state validation outside Dagster (run_suite, best of {REPEATS}):")
    print(
        f"  {'dump':15} {'table':16} {'rows':>6} {'sampled':>7} {'run_suite s':>12} {'in Dagster s':>13} "
        f"{'stage s':>8} {'run_suite/stage':>16}"
    )
    for dump in dumps:
        for table in suites:
            _, outcome = run_suite(lake, table, dump)
            whole = best_of(REPEATS, partial(run_suite, lake, table, dump))
            row = per_stage[f"{dump}/{table}"]
            verdict = "" if outcome.passed else f"  ({len(outcome.failures)} expectations failed)"
            print(
                f"  {dump:15} {table:16} {outcome.rows:6} {outcome.sampled:7} {whole:12.3f} {row.suite:13.3f} "
                f"{row.stage:8.2f} {whole / row.stage:15.1%}{verdict}"
            )


def overhead(workers: int) -> None:
    """The time figures: the sample crawl through the graph, then the checks' share of each stage."""
    gx_loaded_early = "great_expectations" in sys.modules  # loading the code location must not import it
    imported, context = gx_import_cost()
    checks = check_steps()
    with tempfile.TemporaryDirectory(prefix="check_overhead-") as scratch:
        settings = Settings(
            lake=str(Path(scratch) / "lake"),
            landing=str(SAMPLE_LANDING),
            dagster_home=str(Path(scratch) / "dagster"),
            cache=cache_folder(),
            datasets=str(SAMPLE_DATASETS),
        )
        print(f"input: sample crawl {SAMPLE_LANDING}, workers {workers or 'one per core'}, cache {settings.cache}")
        started = time.perf_counter()
        runs = run_dumps(settings, None, workers=workers)
        print(f"run_dumps (train, ingest every dump, publish): {time.perf_counter() - started:.1f}s")
        failed = [f"{r.job} {r.dump}: {', '.join(r.failed_steps)}" for r in runs if not r.success]
        if failed:
            raise SystemExit(f"runs failed: {'; '.join(failed)}")
        times = step_times(settings, runs, checks)
        per_stage = overhead_figures(times, checks)
        print(
            f"import great_expectations in a fresh interpreter: {imported:.2f}s once per process "
            f"(+ {context:.3f}s for its ephemeral context, made by the first GX check)"
        )
        when = "before any check ran" if gx_loaded_early else "by the first GX check of the process"
        paid = "does not include" if gx_loaded_early else "includes"
        print(f"  here it was imported {when}: the first check's time above {paid} the import")
        steady_state_figures(settings, list(times), per_stage)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=0, help="worker processes per stage (0: one per core)")
    parser.add_argument("--memory-rows", type=int, default=30_000, help="documents of the smaller partition")
    parser.add_argument("--memory-factor", type=int, default=10, help="how much larger the other partition is")
    parser.add_argument("--memory-only", action="store_true", help="only the peak RSS figure")
    args = parser.parse_args()
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    if not args.memory_only:
        overhead(args.workers)
    memory_figures(args.memory_rows, args.memory_factor)


if __name__ == "__main__":
    main()
