"""The ``corpuslake`` command line."""

import argparse
import logging
import sys
from collections.abc import Sequence

from corpuslake.settings import load_settings
from corpuslake.store import Lake
from corpuslake.summary import lake_summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("corpuslake").setLevel(logging.INFO)
    try:
        return int(args.handler(args))
    except (LookupError, ValueError, FileNotFoundError) as exc:
        print(f"corpuslake: error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="corpuslake", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="materialize every stage for the dumps of a landing zone")
    run.add_argument("--landing", help="landing zone (default: the sample crawl, or CORPUSLAKE_LANDING)")
    run.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    run.add_argument("--dump", action="append", help="only this dump (repeatable; default: all)")
    run.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    run.set_defaults(handler=_run)

    lineage = sub.add_parser("lineage", help="print the chain of table versions back to the WARC files")
    lineage.add_argument("target", metavar="TABLE[@VERSION]", help="e.g. documents or documents@3")
    lineage.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    lineage.set_defaults(handler=_lineage)

    summary = sub.add_parser("summary", help="documents per dump and language, rejections by reason")
    summary.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    summary.set_defaults(handler=_summary)
    return parser


def _run(args: argparse.Namespace) -> int:
    # The one command that drives the Dagster graph reaches the orchestration package at call time;
    # every other command, and the engine itself, stays free of Dagster.
    import warnings

    from orchestration.run import run_dumps

    # Per-partition asset checks are a Dagster preview feature we rely on knowingly; say so once, here.
    warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")

    settings = load_settings(lake=args.lake, landing=args.landing)
    print(f"landing zone: {settings.landing}\nlake: {settings.lake}\ndagster home: {settings.dagster_home}")
    runs = run_dumps(settings, args.dump, args.workers)
    for run in runs:
        status = "ok" if run.success else f"FAILED ({', '.join(run.failed_steps)})"
        what = f"dump {run.dump}" if run.dump else "quality model training"
        print(f"run {run.run_id} {what}: {status}")
    print(lake_summary(Lake(settings.lake), [r.dump for r in runs if r.dump]))
    return 0 if all(r.success for r in runs) else 1


def _lineage(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    table, _, version_text = args.target.partition("@")
    version = int(version_text.removeprefix("v")) if version_text else None
    for hop, (node, lineage) in enumerate(lake.lineage_chain(table, version)):
        indent = "  " if hop else ""
        print(
            f"{indent}{node}  asset={lineage.asset} partition={lineage.partition} "
            f"run={lineage.run_id} code={lineage.code_version} config={lineage.config_fingerprint}"
        )
        if node.table == "crawl_files" and lineage.partition:
            columns = ["path", "sha256", "records", "format"]
            files = lake.read("crawl_files", node.version, dumps=[lineage.partition], columns=columns)
            for row in files.to_pylist():
                print(
                    f"{indent}  {row['path']}  sha256={row['sha256'][:16]}  "
                    f"records={row['records']} format={row['format']}"
                )
    return 0


def _summary(args: argparse.Namespace) -> int:
    print(lake_summary(Lake(load_settings(lake=args.lake).lake)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
