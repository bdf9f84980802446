"""``corpuslake sample`` and ``corpuslake why``: the parsers and their handlers.

The command line adds them with :func:`add_sample_parser` and :func:`add_why_parser`; errors are
:class:`corpuslake.inspect.scan.InspectError` (one line, exit code 2).
"""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from corpuslake.errors import ServiceNotInstalledError
from corpuslake.inspect.scan import KINDS
from corpuslake.lake_root import require_lake
from corpuslake.settings import load_settings
from corpuslake.store import Lake

if TYPE_CHECKING:
    from corpuslake.inspect.samples import SampleResult
    from corpuslake.inspect.why import WhyReport

_LAKE_HELP = "lake root (default: ./lake, or CORPUSLAKE_LAKE)"


def add_sample_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("sample", help="documents behind one decision: a filter reason, a cluster, a score bucket")
    parser.add_argument("kind", choices=KINDS, help="what the documents share")
    parser.add_argument(
        "value",
        nargs="?",
        help="filter/reason (or reason), a cluster's kept id (none: the largest), LOW:HIGH, a language, a domain",
    )
    parser.add_argument("--table", help="the table sampled (default: rejections, deduplicated, scored, documents)")
    parser.add_argument("--version", type=int, metavar="N", help="the table's Delta version (default: the latest)")
    parser.add_argument("--dump", help="only this dump")
    parser.add_argument("--seed", type=int, default=0, help="the same seed draws the same documents (default 0)")
    parser.add_argument("-n", type=int, default=5, dest="k", help="how many documents (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lake", help=_LAKE_HELP)
    parser.set_defaults(handler=run_sample)


def add_why_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser("why", help="where a document went: kept, dropped by which rule, merged, cut from a pin")
    parser.add_argument("target", metavar="URL_OR_ID")
    parser.add_argument(
        "--pin",
        action="append",
        metavar="corpuslake://NAME@N",
        help="check this pin (repeatable; default: the latest of each name)",
    )
    parser.add_argument("--dump", help="only this dump")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--lake", help=_LAKE_HELP)
    parser.set_defaults(handler=run_why)


def _lake(args: argparse.Namespace) -> Lake:
    """The lake asked for; one that does not exist is an error, not an empty lake where nothing was crawled."""
    return Lake(require_lake(load_settings(lake=args.lake).lake))


def run_sample(args: argparse.Namespace, out: TextIO | None = None) -> int:
    try:  # deferred: the dedup and filter modules need the service's compiled kernels (numba)
        from corpuslake.inspect.samples import SampleQuery, sample
    except ImportError as missing:
        raise ServiceNotInstalledError("sample") from missing
    query = SampleQuery(args.kind, args.value, args.table, args.version, args.dump, args.seed, args.k)
    result = sample(_lake(args), query)
    out = out or sys.stdout
    if args.json:
        print(json.dumps(result.as_json(), ensure_ascii=False, sort_keys=True), file=out)
    else:
        print_sample(result, out)
    return 0


def print_sample(result: "SampleResult", out: TextIO) -> None:
    q = result.query
    where = f", dump {q.dump}" if q.dump else ""
    source = f"{result.table}@v{result.version}{where}, seed {q.seed}"
    print(f"{q.kind} {q.value or '(largest)'}: {len(result.documents)} from {source}", file=out)
    for doc in result.documents:
        decided = doc.get("decision") or doc.get("member") or ""
        print(f"\n{doc['id']}  {doc['dump']}  {decided}  {doc.get('url') or '-'}", file=out)
        if doc.get("detail"):
            print(f"  decided: {doc['detail']}", file=out)
        values = doc["signals"] | {k: doc[k] for k in ("jaccard", "stored_jaccard") if k in doc}
        if values:
            print("  " + ", ".join(f"{k}={v}" for k, v in values.items()), file=out)
        print(f"  | {doc['excerpt'] or '(no text)'}", file=out)


def run_why(args: argparse.Namespace, out: TextIO | None = None) -> int:
    try:  # deferred, as in run_sample
        from corpuslake.inspect.pinned import pin_step, publications
        from corpuslake.inspect.why import follow
    except ImportError as missing:
        raise ServiceNotInstalledError("why") from missing
    lake = _lake(args)
    report = follow(lake, args.target, args.dump)
    entries = publications(lake, args.pin)
    for trail in report.trails:
        if not trail.stopped:
            trail.steps.extend(pin_step(lake, entry, trail) for entry in entries)
    out = out or sys.stdout
    if args.json:
        print(json.dumps(report.as_json(), ensure_ascii=False, sort_keys=True, default=str), file=out)
    else:
        print_why(report, out)
    return 0


def print_why(report: "WhyReport", out: TextIO) -> None:
    if report.never_crawled:
        print(f"{report.target}: never crawled (in no dump's documents, nor dropped while reading one)", file=out)
        return
    for trail in report.trails:
        print(f"{trail.id}  dump {trail.dump}  {trail.url or '-'}", file=out)
        for step in trail.steps:
            print(f"  {step.stage:<14} {step.detail}", file=out)
            for key in ("measured", "thresholds"):
                if key in step.values:
                    print(f"  {'':<14}   {key}: {_pairs(step.values[key])}", file=out)
        print(f"  => {trail.verdict}", file=out)


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "-"
