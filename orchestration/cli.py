"""The ``corpuslake`` command: the engine's commands (``corpuslake.cli``) and the two that drive the
Dagster graph, ``run`` and ``publish``."""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from corpuslake import errors
from corpuslake.catalog import Catalog
from corpuslake.cli import LAKE_HELP, print_blocked, print_entries, print_input_files
from corpuslake.cli import main as engine_main
from corpuslake.consumers import behind_lines
from corpuslake.lake_lock import lake_lock
from corpuslake.lake_root import require_lake
from corpuslake.settings import load_settings
from corpuslake.snapshots import DefinitionError
from corpuslake.store import Lake
from corpuslake.summary import lake_summary
from corpuslake.validate import validate_definitions


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        _check_lake(arguments)
    except errors.CorpuslakeError as error:
        print(f"corpuslake: error: {errors.one_line(error)}", file=sys.stderr)
        return error.exit_code
    try:
        return engine_main(arguments, graph_commands)
    except KeyboardInterrupt:  # Ctrl-C outside a run (a run handles its own): no stack trace
        print("corpuslake: interrupted", file=sys.stderr)
        return errors.INTERRUPTED


# Commands that read an existing lake: the default lake when none is named, else the one named. Pins and
# lock files may name their own lake, so those commands are checked only when --lake is given.
_READS_DEFAULT_LAKE = frozenset({"summary", "snapshots", "lineage", "gc", "publish"})
_READS_NAMED_LAKE = frozenset({"resolve", "lock", "diff", "verify"})


def _check_lake(arguments: list[str]) -> None:
    """A lake that does not exist is an error in one line (an existing folder without tables is an
    empty lake, whose commands say so); ``run`` creates its lake."""
    peek = argparse.ArgumentParser(add_help=False)
    peek.add_argument("command", nargs="?")
    peek.add_argument("--lake")
    known, _ = peek.parse_known_args(arguments)
    if known.command in _READS_DEFAULT_LAKE or (known.command in _READS_NAMED_LAKE and known.lake):
        require_lake(load_settings(lake=known.lake).lake)


# This tree's own packages: a module of these missing is a broken install, not a missing extra.
_OWN_PACKAGES = frozenset({"corpuslake", "orchestration", "assets", "quality_checks"})


def _graph(command: str) -> Any:
    """The graph's runner, imported when a command drives it: ``--help`` and the engine's commands stay
    quick (and work in a reader-only install), and Dagster's preview warning is silenced once before the
    definitions load. Without the ``service`` extra, one line says how to add it."""
    try:
        import orchestration.run
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] in _OWN_PACKAGES:
            raise
        raise errors.ServiceNotInstalledError(command) from error
    return orchestration.run


_NO_WAIT = "fail at once, naming the holder, when another run is writing the lake (default: wait for it)"


def graph_commands(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    run = sub.add_parser("run", help="materialize every stage for the dumps of a landing zone")
    run.add_argument("--landing", help="landing zone (default: the sample crawl, or CORPUSLAKE_LANDING)")
    run.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    run.add_argument("--datasets", help="definitions folder (default: samples/datasets, or CORPUSLAKE_DATASETS)")
    run.add_argument("--dump", action="append", help="only this dump (repeatable; default: all)")
    run.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    run.add_argument(
        "--executor",
        choices=["local", "ray"],
        help="local process pool or Ray tasks (default: CORPUSLAKE_EXECUTOR, local)",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="run the chosen dumps even if already ingested from the same files, or not complete yet",
    )
    run.add_argument("--no-wait", action="store_true", help=_NO_WAIT)
    run.set_defaults(handler=_run)

    publish = sub.add_parser("publish", help="publish every snapshot definition, then every mixture recipe")
    publish.add_argument("--lake", help=LAKE_HELP)
    publish.add_argument("--datasets", help="definitions folder (default: samples/datasets, or CORPUSLAKE_DATASETS)")
    publish.add_argument("--no-wait", action="store_true", help=_NO_WAIT)
    publish.set_defaults(handler=_publish)


def _run(args: argparse.Namespace) -> int:
    graph = _graph("run")  # before anything is printed or locked: a reader-only install says so at once
    settings = load_settings(lake=args.lake, landing=args.landing, datasets=args.datasets, executor=args.executor)
    print(f"landing zone: {settings.landing}\nlake: {settings.lake}\ndagster home: {settings.dagster_home}")
    print(
        f"executor: {settings.executor}"
        + (f" ({settings.ray_address or 'local Ray instance'})" if settings.executor == "ray" else "")
    )
    _check_definitions(settings.datasets)
    with lake_lock(settings.lake, command="corpuslake run", wait=not args.no_wait, on_wait=print):
        outcome = graph.run_landing(settings, args.dump, args.workers, force=args.force)
    for dump, why in outcome.skipped.items():
        print(f"skipped dump {dump}: {why}")
    for run in outcome.runs:
        _print_run(run)
    if outcome.interrupted:
        finished = ", ".join(r.dump for r in outcome.runs if r.dump and r.landed) or "no dump"
        print(f"interrupted: finished {finished}; not finished {', '.join(outcome.unfinished) or 'none'}")
        for run in outcome.runs:
            if not run.dump and not run.landed:  # the training or the publication was the one cancelled
                print(f"interrupted: {run.job} did not finish (it runs again with the next `corpuslake run`)")
        print("nothing half-written was left; `corpuslake run` again continues with the dumps not finished")
        return run_exit_code(outcome)
    runs = outcome.runs
    dumps = [*(r.dump for r in runs if r.dump), *outcome.skipped]
    print(lake_summary(Lake(settings.lake), dumps))
    print_input_files(Lake(settings.lake), dumps)
    entries = Catalog(Lake(settings.lake)).entries()
    print_entries(entries)
    print_blocked(Lake(settings.lake), entries, None)
    for dump, reasons in outcome.quarantined.items():
        print(f"QUARANTINED  dump {dump}: {'; '.join(reasons)}")
    return run_exit_code(outcome)


def run_exit_code(outcome: Any) -> int:
    """0: every dump landed and was published; 3: published, some dumps quarantined; 1: anything else
    failed (a dump failed for another reason, training or publication failed); 130: interrupted."""
    if outcome.interrupted:
        return errors.INTERRUPTED
    published = any(r.job == "publish_datasets" and r.landed for r in outcome.runs)
    if not published or not all(r.landed or r.dump in outcome.quarantined for r in outcome.runs):
        return errors.FAILED
    return errors.QUARANTINED if outcome.quarantined else errors.OK


def _check_definitions(folder: str) -> None:
    """Refuse, in one line and before any run starts, a definitions folder with a problem: ``run`` would
    otherwise ingest for an hour and then fail its publication with a stack trace in the run's log."""
    validation = validate_definitions(folder)
    if not validation.valid:
        problems = validation.problems
        raise DefinitionError(
            f"{len(problems)} problem(s) in the definitions under {folder}: {'; '.join(problems)}"
            " (`corpuslake validate` lists them)",
            problems,
        )


def _print_run(run: Any) -> None:
    status = "ok" if run.success else f"FAILED ({', '.join(run.failed_steps)})"
    what = f"dump {run.dump}" if run.dump else run.job
    print(f"run {run.run_id} {what}: {status}")
    if run.settled is not None and run.settled.merged:
        tags = f", tagged {', '.join(run.settled.tags)}" if run.settled.tags else ""
        print(f"  lakeFS: {run.settled.branch} merged into main as {run.settled.commit}{tags}")
    elif run.settled is not None:
        print(f"  lakeFS: {run.settled.branch} kept, main unchanged: {'; '.join(run.settled.reasons)}")


def _publish(args: argparse.Namespace) -> int:
    graph = _graph("publish")
    settings = load_settings(lake=args.lake, datasets=args.datasets)
    require_lake(settings.lake)
    _check_definitions(settings.datasets)
    with lake_lock(settings.lake, command="corpuslake publish", wait=not args.no_wait, on_wait=print):
        run = graph.run_publish(settings)
    print(f"run {run.run_id} publish: {'ok' if run.success else 'FAILED (' + ', '.join(run.failed_steps) + ')'}")
    entries = Catalog(Lake(settings.lake)).entries()
    print_entries(entries)
    print_blocked(Lake(settings.lake), entries, None)
    for name in sorted({e.name for e in entries}):
        for line in behind_lines(Lake(settings.lake), name):
            print(f"STILL ON AN OLDER NUMBER  {line}")
    return errors.OK if run.success else errors.FAILED
