"""``corpuslake trace``: which documents a range of an export's tokens or samples consumed.

The target is an export folder, or a pin (or lock file) whose export the lake records (``corpuslake
export`` records each export it writes). Documents are printed as they are found, so the output of a long
range streams; the totals follow them.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from corpuslake import client
from corpuslake.export.registry import exports
from corpuslake.pins import SCHEME
from corpuslake.trace import (
    GROUPS,
    ExportSplit,
    Totals,
    TraceError,
    check_range,
    open_split,
    parse_range,
    sample_tokens,
    trace_documents,
)

_LOCK_SUFFIX = ".lock"


def add_trace_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    trace = sub.add_parser("trace", help="which documents a range of training tokens or samples consumed")
    trace.add_argument(
        "target", metavar="PIN_OR_EXPORT_DIR", help="an export folder, or a pin whose export the lake records"
    )
    unit = trace.add_mutually_exclusive_group(required=True)
    unit.add_argument("--tokens", metavar="A:B", help="the tokens [A, B) of the split's token stream")
    unit.add_argument(
        "--samples", metavar="A:B", help="the samples [A, B) of --seq-length tokens, packed as Megatron's GPT dataset"
    )
    trace.add_argument("--seq-length", type=int, metavar="L", help="tokens per sample (with --samples)")
    trace.add_argument("--split", choices=("train", "validation"), default="train", help="default train")
    trace.add_argument("--json", action="store_true", help="print one JSON object: documents and totals")
    trace.add_argument("--lake", help="lake root, for a pin (default: ./lake, or CORPUSLAKE_LAKE)")
    trace.set_defaults(handler=run_trace)


def run_trace(args: argparse.Namespace) -> int:
    split = open_split(export_folder(args.target, args.lake), args.split)
    begin, end, asked = _token_range(args, split)
    head = {
        "export": str(split.folder),
        "export_id": split.manifest.get("export_id"),
        "pin": split.manifest.get("pin"),
        "split": split.split,
        "range": {**asked, "tokens": [begin, min(end, split.tokens)]},
    }
    documents = trace_documents(split, begin, min(end, split.tokens))
    (_print_json if args.json else _print_text)(head, documents, sys.stdout)
    return 0


def export_folder(target: str, lake: str | None) -> Path:
    """The export folder a target names: the folder itself, or the one export the lake records for a pin."""
    if not target.startswith(SCHEME) and not target.endswith(_LOCK_SUFFIX):
        if not Path(target).is_dir():
            raise TraceError(f"{target} is neither a pin nor an export folder")
        return Path(target)
    store, entry = client.resolve(target, lake)
    locations = sorted(
        {r["location"] for r in exports(store, entry.uri) if (Path(r["location"]) / "export.json").is_file()}
    )
    if not locations:
        raise TraceError(
            f"the lake records no export of {entry.uri} that is still on disk: "
            f"run `corpuslake export {entry.uri} --out DIR`, or pass the export folder"
        )
    if len(locations) > 1:
        raise TraceError(f"{entry.uri} has {len(locations)} exports, pass one folder: {', '.join(locations)}")
    return Path(locations[0])


def _token_range(args: argparse.Namespace, split: ExportSplit) -> tuple[int, int, dict[str, Any]]:
    """The tokens ``[begin, end)`` asked for, and how they were asked (tokens, or samples of a length)."""
    if args.tokens is not None:
        if args.seq_length is not None:
            raise TraceError("--seq-length goes with --samples, not --tokens")
        begin, end = parse_range(args.tokens)
        check_range(split, begin, end)
        return begin, end, {"unit": "tokens", "asked": [begin, end]}
    if args.seq_length is None:
        raise TraceError("--samples needs --seq-length L, the tokens per sample")
    first, last = parse_range(args.samples, "samples")
    if args.seq_length < 1:
        raise TraceError(f"--seq-length must be at least 1, not {args.seq_length}")
    check_range(split, first, last, "samples", split.samples(args.seq_length))
    begin, end = sample_tokens(first, last, args.seq_length)
    return begin, end, {"unit": "samples", "asked": [first, last], "seq_length": args.seq_length}


def _print_text(head: dict[str, Any], documents: Any, out: TextIO) -> None:
    asked = head["range"]
    what = f"{asked['unit']} {asked['asked'][0]}:{asked['asked'][1]}"
    if asked["unit"] == "samples":
        what += f" of {asked['seq_length']} tokens (tokens {asked['tokens'][0]}:{asked['tokens'][1]})"
    print(
        f"{head['pin']} {head['split']} split, {what}, export {str(head['export_id'])[:16]} ({head['export']})",
        file=out,
    )
    print(f"  {'document':>10} {'in range':>9}  pin  id  dump  source  url", file=out)
    totals = Totals()
    for document in documents:
        totals.add(document)
        fields = [document[k] or "-" for k in ("pin", "id", "dump", "source", "url")]
        print(f"  {document['document_index']:>10} {document['tokens_in_range']:>9}  " + "  ".join(fields), file=out)
    print(f"{totals.tokens} tokens of {totals.documents} documents", file=out)
    summary = totals.as_json()
    for group in GROUPS:
        print(f"per {group if group != 'quality' else 'quality decile'}:", file=out)
        for key, counts in summary[group].items():
            print(f"  {key:<24} {counts['documents']:>8} documents {counts['tokens']:>12} tokens", file=out)


def _print_json(head: dict[str, Any], documents: Any, out: TextIO) -> None:
    """One JSON object, written as the documents are found: the documents' list is never held whole."""
    out.write(json.dumps(head, sort_keys=True)[:-1] + ', "documents": [')
    totals = Totals()
    for index, document in enumerate(documents):
        totals.add(document)
        out.write(("\n  " if index == 0 else ",\n  ") + json.dumps(document, sort_keys=True))
    out.write('\n], "totals": ' + json.dumps(totals.as_json(), sort_keys=True) + "}\n")
