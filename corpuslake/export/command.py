"""``corpuslake export``: the command line of :func:`corpuslake.export.export_pin`."""

import argparse
import sys
import time
from typing import Any

from corpuslake.errors import InterruptedRunError, ServiceNotInstalledError
from corpuslake.export.shards import FORMATS
from corpuslake.export.sidecar import DEFAULT_VALIDATION_FRACTION, DEFAULT_VALIDATION_SEED
from corpuslake.parallel import default_workers

_PROGRESS_SECONDS = 5.0


def add_export_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", lake_help: str) -> None:
    export = sub.add_parser("export", help="write a pin as token shards a trainer reads (Megatron .bin/.idx, .ds)")
    export.add_argument("uri", metavar="PIN_OR_LOCKFILE", help="corpuslake://name@N, or a lock file")
    export.add_argument("--format", choices=FORMATS, default="megatron", help="shard format (default megatron)")
    export.add_argument(
        "--tokenizer",
        help="a tokenizer.json (Hugging Face) or a SentencePiece model (default: mistral-common's tokenizer.model.v1)",
    )
    export.add_argument("--out", required=True, help="the export folder (must not exist, or be empty)")
    export.add_argument(
        "--validation-fraction",
        type=float,
        default=DEFAULT_VALIDATION_FRACTION,
        help=f"share of documents held out by id hash (default {DEFAULT_VALIDATION_FRACTION})",
    )
    export.add_argument("--validation-seed", default=DEFAULT_VALIDATION_SEED, help="keys the id hash")
    export.add_argument(
        "--eos", action=argparse.BooleanOptionalAction, default=True, help="end every document with EOS (default)"
    )
    export.add_argument("--bos", action="store_true", help="start every document with BOS (default: no)")
    export.add_argument("--workers", type=int, default=0, help="tokenizing processes (default: one per core)")
    export.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    export.add_argument("--lake", help=lake_help)
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    # Deferred: the tokenizers are the service's libraries; the client's own commands load without them.
    try:
        from corpuslake.export.pin_export import ExportOptions, export_pin
        from corpuslake.export.tokenizer import TokenPolicy
    except ImportError as missing:
        raise ServiceNotInstalledError("export") from missing

    options = ExportOptions(
        fmt=args.format,
        policy=TokenPolicy(append_eos=args.eos, prepend_bos=args.bos),
        validation_fraction=args.validation_fraction,
        validation_seed=args.validation_seed,
        workers=args.workers or default_workers(),
    )
    progress = _Progress()
    try:
        manifest = export_pin(
            args.uri, args.out, args.tokenizer, options, lake=args.lake, overwrite=args.overwrite, progress=progress
        )
    except KeyboardInterrupt as interrupt:
        raise InterruptedRunError(f"export interrupted: nothing was written to {args.out}") from interrupt
    _print_summary(manifest, args.out)
    return 0


class _Progress:
    """Prints the documents and tokens written so far, at most every few seconds, to stderr."""

    def __init__(self) -> None:
        self._last = time.monotonic()

    def __call__(self, documents: int, tokens: int) -> None:
        now = time.monotonic()
        if now - self._last >= _PROGRESS_SECONDS:
            self._last = now
            print(f"  exported {documents:,} documents, {tokens:,} tokens", file=sys.stderr, flush=True)


def _print_summary(manifest: dict[str, Any], out: str) -> None:
    tokenizer = manifest["tokenizer"]
    print(f"{manifest['pin']} -> {out} ({manifest['format']}, export {manifest['export_id'][:16]})")
    print(f"  tokenizer: {tokenizer['kind']} {tokenizer['name']} sha256:{tokenizer['sha256'][:16]}")
    for name, split in manifest["splits"].items():
        print(
            f"  {name:<10} {split['documents']:>10,} documents {split['tokens']:>14,} tokens  prefix {split['prefix']}"
        )
