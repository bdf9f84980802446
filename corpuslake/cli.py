"""The ``corpuslake`` command line."""

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from corpuslake.catalog import Catalog, CatalogEntry
from corpuslake.consumers_cli import add_consumers_parser
from corpuslake.coverage import coverage_lines, proportion_lines
from corpuslake.domains.cli import add_domains_parser
from corpuslake.errors import CorpuslakeError, one_line
from corpuslake.export.command import add_export_parser
from corpuslake.input_files import dump_inputs, input_lines
from corpuslake.inspect.cli import add_sample_parser, add_why_parser
from corpuslake.lineage_tree import lineage_tree, render_json, render_text
from corpuslake.maintenance import collect_garbage, gc_lines
from corpuslake.mixsearch.cli import add_search_parser
from corpuslake.perplexity.cli import add_perplexity_parser
from corpuslake.pin_cli import add_pin_parsers
from corpuslake.plots.cli import add_plots_parser
from corpuslake.quarantine import quarantined
from corpuslake.settings import load_settings
from corpuslake.store import Lake
from corpuslake.summary import lake_summary
from corpuslake.trace_cli import add_trace_parser
from corpuslake.verdicts import blocked_attempts

Commands = Callable[["argparse._SubParsersAction[argparse.ArgumentParser]"], None]


def main(argv: Sequence[str] | None = None, more_commands: Commands | None = None) -> int:
    """Run one command. ``more_commands`` adds the commands that drive the Dagster graph (``run``,
    ``publish``): they live with the orchestration (``orchestration.cli``), which the engine never imports."""
    parser = _parser(more_commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("corpuslake").setLevel(logging.INFO)
    try:
        return int(args.handler(args))
    except CorpuslakeError as exc:  # one line with its cause, and the exit code of its kind
        print(f"corpuslake: error: {one_line(exc)}", file=sys.stderr)
        return exc.exit_code
    except (LookupError, ValueError, FileNotFoundError) as exc:
        print(f"corpuslake: error: {exc}", file=sys.stderr)
        return 2


def _parser(more_commands: Commands | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpuslake", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")
    if more_commands is not None:
        more_commands(sub)

    lineage = sub.add_parser(
        "lineage", help="print every table version, dump and input file behind a pin or a table version"
    )
    lineage.add_argument(
        "target", metavar="PIN|TABLE[@VERSION]", help="e.g. corpuslake://web-en@1, documents or documents@3"
    )
    lineage.add_argument("--lake", help=LAKE_HELP)
    lineage.add_argument("--json", action="store_true", help="print the tree as JSON (nodes with their upstream ids)")
    lineage.set_defaults(handler=_lineage)

    summary = sub.add_parser("summary", help="documents per dump and language, rejections by reason")
    summary.add_argument("--lake", help=LAKE_HELP)
    summary.set_defaults(handler=_summary)

    snapshots = sub.add_parser("snapshots", help="list the published snapshots and mixtures")
    snapshots.add_argument("name", nargs="?", help="only this name")
    snapshots.add_argument("--lake", help=LAKE_HELP)
    snapshots.set_defaults(handler=_snapshots)

    add_pin_parsers(sub, LAKE_HELP)

    gc = sub.add_parser("gc", help="vacuum old table versions; every published version stays readable")
    gc.add_argument("--lake", help=LAKE_HELP)
    gc.add_argument(
        "--retention-hours", type=int, default=168, help="keep files removed less than this ago (default 168)"
    )
    gc.add_argument("--dry-run", action="store_true", help="list what would be removed")
    gc.add_argument(
        "--release-unheld",
        action="store_true",
        help="also release published versions no registered consumer holds (each name's latest stays)",
    )
    gc.set_defaults(handler=_gc)

    add_export_parser(sub, LAKE_HELP)
    add_trace_parser(sub)
    add_sample_parser(sub)
    add_why_parser(sub)
    add_plots_parser(sub)
    add_consumers_parser(sub)
    add_domains_parser(sub)
    add_perplexity_parser(sub)
    add_search_parser(sub, LAKE_HELP)

    validate = sub.add_parser("validate", help="check every snapshot definition and mixture recipe, publish nothing")
    validate.add_argument("--datasets", help="definitions folder (default: samples/datasets, or CORPUSLAKE_DATASETS)")
    validate.set_defaults(handler=_validate)
    return parser


LAKE_HELP = "lake root (default: ./lake, or CORPUSLAKE_LAKE)"


def _lineage(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    tree = lineage_tree(lake, args.target)
    print(render_json(tree) if args.json else "\n".join(render_text(tree)))
    return 0


def _summary(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    print(lake_summary(lake))
    print_input_files(lake)
    print_quarantine(lake)
    return 0


def print_input_files(lake: Lake, dumps: Sequence[str] | None = None) -> None:
    """Each dump's input files read, rejected and empty (of ``dumps`` only, if given): the end of ``run``
    prints it after the lake summary, as ``summary`` does."""
    for line in input_lines(dump_inputs(lake, dumps)):
        print(line)


def print_quarantine(lake: Lake) -> None:
    """The dumps whose latest versions failed a blocking check, with the checks: publications leave them out."""
    for dump, reasons in quarantined(lake).items():
        print(f"QUARANTINED  dump {dump} (snapshots leave it out until its blocking checks pass):")
        for reason in reasons:
            print(f"           {reason}")


def print_entries(entries: Sequence[CatalogEntry]) -> None:
    if not entries:
        print("no snapshot has been published yet")
        return
    print(
        f"{'pin':<34} {'kind':<8} {'documents':>9} {'tokens':>11}  {'table version':<26} "
        f"{'published (UTC)':<19}  manifest"
    )
    for e in entries:
        print(
            f"{e.uri:<34} {e.kind:<8} {e.documents:>9,} {e.tokens:>11,}  {e.table + '@v' + str(e.delta_version):<26} "
            f"{e.published_at:%Y-%m-%d %H:%M:%S}  {e.manifest_sha256[:16]}"
        )
        for line in [*coverage_lines(e, partial_only=True), *proportion_lines(e)]:
            print(f"    {line}")


def _snapshots(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    entries = Catalog(lake).entries(args.name)
    print_entries(entries)
    print_quarantine(lake)
    print_blocked(lake, entries, args.name)
    return 0


def print_blocked(lake: Lake, entries: Sequence[CatalogEntry], name: str | None) -> None:
    """Blocked publications newer than the name's latest number: why it did not get a new one."""
    latest = {e.name: e.published_at for e in entries}
    for attempt in blocked_attempts(lake, name):
        published = latest.get(attempt["name"])
        if published is not None and attempt["attempted_at"] <= published:
            continue
        print(f"BLOCKED  {attempt['name']} at {attempt['attempted_at']:%Y-%m-%d %H:%M:%S} (run {attempt['run_id']}):")
        for reason in attempt["reasons"]:
            print(f"           {reason}")


def _gc(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    results = collect_garbage(lake, args.retention_hours, args.dry_run, release_unheld=args.release_unheld)
    for line in gc_lines(results, args.dry_run):
        print(line)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from corpuslake.validate import validate_definitions  # deferred: the recipe parser loads the mixture engine

    result = validate_definitions(load_settings(datasets=args.datasets).datasets)
    for problem in result.problems:
        print(problem)
    counts = f"{len(result.snapshots)} snapshot definition(s) and {len(result.mixtures)} mixture recipe(s) valid"
    print(f"{result.folder}: {counts}, {len(result.problems)} problem(s)", file=sys.stderr)
    return 0 if result.valid else 2


if __name__ == "__main__":
    sys.exit(main())
