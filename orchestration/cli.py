"""The ``corpuslake`` command: the engine's commands (``corpuslake.cli``) and the two that drive the
Dagster graph, ``run`` and ``publish``."""

import argparse
from collections.abc import Sequence
from typing import Any

from corpuslake.catalog import Catalog
from corpuslake.cli import LAKE_HELP, print_blocked, print_entries
from corpuslake.cli import main as engine_main
from corpuslake.settings import load_settings
from corpuslake.store import Lake
from corpuslake.summary import lake_summary


def main(argv: Sequence[str] | None = None) -> int:
    return engine_main(argv, graph_commands)


def _graph() -> Any:
    """The graph's runner, imported when a command drives it: ``--help`` and the engine's commands stay
    quick, and Dagster's preview warning is silenced once before the definitions load."""
    import orchestration.run

    return orchestration.run


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
    run.set_defaults(handler=_run)

    publish = sub.add_parser("publish", help="publish every snapshot definition, then every mixture recipe")
    publish.add_argument("--lake", help=LAKE_HELP)
    publish.add_argument("--datasets", help="definitions folder (default: samples/datasets, or CORPUSLAKE_DATASETS)")
    publish.set_defaults(handler=_publish)


def _run(args: argparse.Namespace) -> int:

    settings = load_settings(lake=args.lake, landing=args.landing, datasets=args.datasets, executor=args.executor)
    print(f"landing zone: {settings.landing}\nlake: {settings.lake}\ndagster home: {settings.dagster_home}")
    print(
        f"executor: {settings.executor}"
        + (f" ({settings.ray_address or 'local Ray instance'})" if settings.executor == "ray" else "")
    )
    runs = _graph().run_dumps(settings, args.dump, args.workers)
    for run in runs:
        status = "ok" if run.success else f"FAILED ({', '.join(run.failed_steps)})"
        what = f"dump {run.dump}" if run.dump else run.job
        print(f"run {run.run_id} {what}: {status}")
        if run.settled is not None and run.settled.merged:
            tags = f", tagged {', '.join(run.settled.tags)}" if run.settled.tags else ""
            print(f"  lakeFS: {run.settled.branch} merged into main as {run.settled.commit}{tags}")
        elif run.settled is not None:
            print(f"  lakeFS: {run.settled.branch} kept, main unchanged: {'; '.join(run.settled.reasons)}")
    print(lake_summary(Lake(settings.lake), [r.dump for r in runs if r.dump]))
    entries = Catalog(Lake(settings.lake)).entries()
    print_entries(entries)
    print_blocked(Lake(settings.lake), entries, None)
    return 0 if all(r.landed for r in runs) else 1


def _publish(args: argparse.Namespace) -> int:
    settings = load_settings(lake=args.lake, datasets=args.datasets)
    run = _graph().run_publish(settings)
    print(f"run {run.run_id} publish: {'ok' if run.success else 'FAILED (' + ', '.join(run.failed_steps) + ')'}")
    entries = Catalog(Lake(settings.lake)).entries()
    print_entries(entries)
    print_blocked(Lake(settings.lake), entries, None)
    return 0 if run.success else 1
