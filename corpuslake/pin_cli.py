"""The commands that read pins: ``resolve``, ``lock``, ``diff`` and ``verify`` (a pin, a lock file or an
export folder)."""

import argparse
from pathlib import Path

from corpuslake import client
from corpuslake.catalog import Catalog
from corpuslake.coverage import coverage_lines, proportion_lines
from corpuslake.diff import diff_snapshots
from corpuslake.export.manifest import verify_export
from corpuslake.export.registry import exports
from corpuslake.pins import SCHEME, DamagedSnapshotError, parse_pin
from corpuslake.settings import load_settings
from corpuslake.store import Lake


def add_pin_parsers(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", lake_help: str) -> None:
    resolve = sub.add_parser("resolve", help="what a pin reads: table, Delta version, counts, manifest")
    resolve.add_argument("uri", metavar="URI", help="corpuslake://name@N (or @latest), or a lock file")
    resolve.add_argument("--lake", help=lake_help)
    resolve.set_defaults(handler=_resolve)

    lock = sub.add_parser("lock", help="resolve the pins of a training config into a lock file beside it")
    lock.add_argument("config", metavar="CONFIG.yaml")
    lock.add_argument("--lake", help=lake_help)
    lock.add_argument(
        "--consumer", metavar="NAME", help="register the lock as this consumer (default: the config's stem)"
    )
    lock.add_argument("--run-id", default="", help="the training run or job id the lock is for")
    lock.add_argument("--no-register", action="store_true", help="write the lock without registering a consumer")
    lock.set_defaults(handler=_lock)

    diff = sub.add_parser("diff", help="documents added, removed and changed between two pins")
    diff.add_argument("a", metavar="URI_A")
    diff.add_argument("b", metavar="URI_B")
    diff.add_argument("--lake", help=lake_help)
    diff.set_defaults(handler=_diff)

    verify = sub.add_parser("verify", help="check every file of a pin (or an export folder) against its manifest")
    verify.add_argument("uri", metavar="URI", help="a pin, a lock file, or an export folder (with export.json)")
    verify.add_argument("--lake", help=lake_help)
    verify.set_defaults(handler=_verify)


def _resolve(args: argparse.Namespace) -> int:
    if args.uri.startswith(SCHEME):
        lake = Lake(load_settings(lake=args.lake).lake)
        entry = Catalog(lake).resolve(parse_pin(args.uri, allow_latest=True))
    else:
        lake, entry = client.resolve(args.uri, args.lake)
    print(f"{entry.uri}  ({entry.kind}, published {entry.published_at:%Y-%m-%d %H:%M:%S} UTC)")
    print(f"  lake: {lake.root}\n  table: {entry.table}@v{entry.delta_version}")
    print(f"  documents: {entry.documents:,}  tokens: {entry.tokens:,}  tokenizer: {entry.tokenizer}")
    print(f"  content sha256: {entry.content_sha256}\n  manifest sha256: {entry.manifest_sha256}")
    for f in entry.manifest:
        print(f"    {f.path}  {f.size:,} bytes  {f.rows:,} rows  sha256 {f.sha256[:16]}")
    print(f"  upstream: {', '.join(entry.lineage.get('upstream', []))}")
    checks = ", ".join(f"{k}={'passed' if v['passed'] else 'FAILED'}" for k, v in entry.checks.items())
    print(f"  checks: {checks}")
    for line in [*coverage_lines(entry), *proportion_lines(entry, detail=True)]:
        print(f"  {line}")
    for export in exports(lake, entry.uri):
        tokenizer = export["tokenizer"]
        print(
            f"  export {export['export_id'][:16]}  {export['format']}  {tokenizer['name']} "
            f"sha256:{tokenizer['sha256'][:16]}  {export['location']}"
        )
    return 0


def _lock(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    path = client.write_lock(
        args.config, lake, consumer=args.consumer, run_id=args.run_id, register=not args.no_register
    )
    print(f"wrote {path}")
    return 0


def _diff(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    result = diff_snapshots(client.open(args.a, lake), client.open(args.b, lake))
    print(f"{result.a} -> {result.b}")
    counts = f"added {result.added:,}  removed {result.removed:,}  changed {result.changed:,}"
    print(f"  {counts}  unchanged {result.unchanged:,}")
    for title, groups in (("by dump", result.by_dump), ("by language", result.by_language)):
        print(f"  {title}:")
        for key, group in groups.items():
            print(f"    {key:<20} +{group['added']:,} -{group['removed']:,} ~{group['changed']:,}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    if Path(args.uri).is_dir():
        return _verify_export(Path(args.uri))
    lake, entry = client.resolve(args.uri, args.lake)
    snapshot = client.Snapshot(lake, entry)
    problems = []
    try:
        snapshot.check_files()
    except DamagedSnapshotError as error:
        problems += error.problems
    problems += snapshot.verify()
    for problem in problems:
        print(f"DAMAGED  {problem}")
    files = len(entry.manifest)
    print(f"{entry.uri}: {files} file(s), {len(problems)} problem(s)" + ("" if problems else ", intact"))
    return 1 if problems else 0


def _verify_export(folder: Path) -> int:
    problems = verify_export(folder)
    for problem in problems:
        print(f"DAMAGED  {problem}")
    print(f"{folder}: {len(problems)} problem(s)" + ("" if problems else ", intact"))
    return 1 if problems else 0
