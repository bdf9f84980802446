"""Where ``corpuslake run`` spends CPU outside its Dagster steps, phase by phase.

``bench/scale_run.py`` gives one figure for what lies outside every step (the whole tree's CPU minus the
steps'). This script splits it. It runs ``corpuslake run`` on a landing zone into a fresh lake and Dagster
home, measured as a process tree (``bench/measure.py``), with the driver marking its own CPU
(``time.process_time``) at three imports and on entry and exit of every Dagster event it writes. From
those marks, the driver's CPU outside steps is split into:

  start-up      the interpreter and ``import dagster``, ``import orchestration.cli``, ``import
                orchestration.run`` (definitions, assets, checks modules);
  run set-up    from there to the first job's first event: what ``run_landing`` does first (instance,
                definitions, dump choice, lake lock) and the first job's plan;
  event writes  Dagster writing events outside steps (per event type): planned materializations and
                checks, run start and end, hook outcomes...;
  after steps   from a step's success event to the next event: the hooks that release memory;
  between jobs  from a run's end event to the next run's first: settling the run, starting the next;
  end           after ``run_landing`` returned: the CLI's summary of the lake.

The tree's CPU outside steps (the scale_run figure) minus the driver's is what the rest spent there: other
processes (pool workers starting or exiting, Dagster's log tailers) and the driver's own exit (the pool's
shutdown, the interpreter's), after its last mark. ``--commit REV`` measures a clean export of
that commit, as scale_run does. Example:

    python bench/outside_steps.py --landing samples/crawl
    python bench/outside_steps.py --landing /work/bench-data/S/landing --commit HEAD --work /tmp/os
"""

import argparse
import itertools
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured
from scale_run import ROOT, code_environment, dagster_steps, export_commit, warm_cache

_STEP_ENDS = ("STEP_SUCCESS", "STEP_FAILURE")
_CHILD = """
import json, sys, time
marks = open(sys.argv[1], "w", buffering=1)
def mark(kind, **more):
    marks.write(json.dumps({"t": time.time(), "cpu": time.process_time(), "kind": kind, **more}) + "\\n")
mark("start")
import dagster as dg
mark("import dagster")
handle = dg.DagsterInstance.handle_new_event
def marked(self, event, **options):
    kind = event.dagster_event.event_type_value if event.dagster_event else "LOG"
    mark("ev0", ev=kind, step=event.step_key)
    handle(self, event, **options)
    mark("ev1", ev=kind, step=event.step_key)
dg.DagsterInstance.handle_new_event = marked
from orchestration.cli import main
mark("import orchestration.cli")
import orchestration.run
mark("import orchestration.run")
run_landing = orchestration.run.run_landing
def marked_landing(*arguments, **options):
    try:
        return run_landing(*arguments, **options)
    finally:
        mark("run_landing returned")
orchestration.run.run_landing = marked_landing
sys.argv = ["corpuslake", *sys.argv[2:]]
try:
    code = main()
finally:
    mark("end")
sys.exit(code)
"""


_SET_UP = "run set-up (to the first job's first event)"
_AFTER_STEP = "after steps (release hooks, next step's start)"
_BETWEEN = "between jobs (settle, collect, next job's start)"
_END = "end (the CLI's summary of the lake)"
_RUN_ENDS = ("PIPELINE_SUCCESS", "PIPELINE_FAILURE", "PIPELINE_CANCELED")


def phases(marks: list[dict[str, Any]]) -> tuple[dict[str, float], Counter[str], float]:
    """Driver CPU outside steps per phase, event writes outside steps per event type, CPU inside steps."""
    split: dict[str, float] = {}
    writes: Counter[str] = Counter()
    inside = 0.0
    label, in_step = _SET_UP, False
    for before, after in itertools.pairwise(marks):
        spent = after["cpu"] - before["cpu"]
        if after["kind"].startswith("import "):  # the interpreter's own start counts with the first import
            split[f"start-up: {after['kind']}"] = spent
        elif in_step:
            inside += spent
        elif before["kind"] == "ev0":
            writes[before["ev"]] += spent
        else:
            split[label] = split.get(label, 0.0) + spent
        label, in_step = _state(label, in_step, after)
    return split, writes, inside


def _state(label: str, in_step: bool, mark: dict[str, Any]) -> tuple[str, bool]:
    """The phase after ``mark``: a step runs from its start event's write to its end event."""
    kind, event = mark["kind"], mark.get("ev")
    if kind == "ev1" and event == "STEP_START":
        return label, True
    if kind == "ev0" and event in _STEP_ENDS:
        return _AFTER_STEP, False
    if kind == "ev1" and event in _RUN_ENDS:
        return _BETWEEN, in_step
    if kind == "run_landing returned":
        return _END, False
    return label, in_step


def measure(landing: Path, work: Path, code: Path, datasets: str, workers: int) -> dict[str, Any]:
    """One measured ``corpuslake run`` into ``work``: tree CPU, the driver's marks, the steps' CPU."""
    cache = str(work / "cache")
    warm_cache(code, cache)  # the compiled URL blocklist, as on any machine after its first run
    marks_file, home = work / "marks.jsonl", work / "dagster"
    command = [sys.executable, "-c", _CHILD, str(marks_file), "run", "--datasets", datasets]
    command += ["--workers", str(workers)] if workers else []
    env = code_environment(code) | {
        "CORPUSLAKE_LANDING": str(landing),
        "CORPUSLAKE_LAKE": str(work / "lake"),
        "DAGSTER_HOME": str(home),
        "CORPUSLAKE_CACHE": cache,
    }
    measured = run_measured(command, env=env, cwd=str(code), log=work / "run.log")
    steps = dagster_steps(home)
    tree_inside = sum(measured.cpu_between(float(s["start"]), float(s["end"])) for s in steps)
    marks = [json.loads(line) for line in marks_file.read_text().splitlines()]
    split, writes, inside = phases(marks)
    return {
        "returncode": measured.returncode,
        "tree_cpu_seconds": measured.cpu_seconds,
        "tree_outside_steps": measured.cpu_seconds - tree_inside,
        "driver_cpu_seconds": marks[-1]["cpu"],
        "driver_inside_steps": inside,
        "driver_outside": split,
        "event_writes": dict(writes.most_common()),
        "steps": len(steps),
        "wall_seconds": measured.wall_seconds,
    }


def report(label: str, figures: dict[str, Any]) -> None:
    writes = sum(figures["event_writes"].values())
    driver = sum(figures["driver_outside"].values()) + writes
    print(f"== {label}: exit {figures['returncode']}, {figures['steps']} steps, wall {figures['wall_seconds']:.0f} s")
    print(f"  tree CPU {figures['tree_cpu_seconds']:.1f} s, outside steps {figures['tree_outside_steps']:.1f} s")
    print(f"  driver CPU {figures['driver_cpu_seconds']:.1f} s, inside steps {figures['driver_inside_steps']:.1f} s")
    print("  driver CPU outside steps, by phase:")
    for phase, seconds in figures["driver_outside"].items():
        print(f"    {seconds:7.2f} s  {phase}")
    print(f"    {writes:7.2f} s  Dagster event writes outside steps:")
    for kind, seconds in figures["event_writes"].items():
        print(f"        {seconds:7.2f} s  {kind}")
    print(f"    {driver:7.2f} s  driver total outside steps")
    print(f"    {figures['tree_outside_steps'] - driver:7.2f} s  other processes outside steps (tree - driver)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--landing", type=Path, default=ROOT / "samples" / "crawl", help="landing zone")
    parser.add_argument("--commit", help="measure this commit (a clean export) instead of the working tree")
    parser.add_argument("--datasets", help="definitions folder (default: samples/datasets of the measured code)")
    parser.add_argument("--workers", type=int, default=0, help="corpuslake workers (default: one per core)")
    parser.add_argument("--work", default=None, help="folder for the fresh lake and Dagster home")
    args = parser.parse_args()
    code, label = (ROOT, "work tree") if args.commit is None else export_commit(args.commit)
    work = Path(tempfile.mkdtemp(prefix="outside-steps-", dir=args.work))
    started = time.strftime("%Y%m%d-%H%M%S")
    figures = measure(
        args.landing.resolve(), work, code, args.datasets or str(code / "samples" / "datasets"), args.workers
    )
    figures |= {"landing": str(args.landing), "code": label, "work": str(work)}
    report(f"{args.landing} at {label}", figures)
    out = ROOT / "bench" / "out" / f"outside_steps-{started}.json"
    out.write_text(json.dumps(figures, indent=1))
    print(f"figures: {out}")


if __name__ == "__main__":
    main()
