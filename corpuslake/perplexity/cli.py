"""``corpuslake perplexity``: the perplexity and bucket of every scored document, dump by dump."""

import argparse
import os

from corpuslake.errors import ServiceNotInstalledError
from corpuslake.lake_lock import lake_lock
from corpuslake.settings import load_settings
from corpuslake.store import Lake


def add_perplexity_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = sub.add_parser("perplexity", help="score every scored document's perplexity and CCNet bucket")
    command.add_argument("--dump", action="append", help="score only this dump (repeatable; default: every dump)")
    command.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    command.add_argument("--model-dir", default="", help="where models are cached (default: the temporary folder)")
    command.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    command.set_defaults(handler=run_perplexity)


def run_perplexity(args: argparse.Namespace) -> int:
    try:  # deferred: kenlm is the service's; the client's commands load without it
        from corpuslake.perplexity.stage import PerplexityConfig, score_perplexity
    except ImportError as missing:
        raise ServiceNotInstalledError("perplexity") from missing

    root = load_settings(lake=args.lake).lake
    lake = Lake(root)
    if lake.version("scored") is None:
        raise LookupError(f"no scored table in {root}: run `corpuslake run` first")
    config = PerplexityConfig(model_dir=args.model_dir)
    workers = args.workers or os.cpu_count() or 1
    with lake_lock(root, command="perplexity"):
        for dump in args.dump or lake.dumps("scored"):
            report = score_perplexity(lake, dump, "cli", config, workers)
            c = report.counters
            buckets = ", ".join(f"{b} {c.get(f'bucket.{b}', 0):,}" for b in ("head", "middle", "tail", "none"))
            print(f"perplexity@v{report.version} [{dump}]: {report.rows:,} documents ({buckets})")
    return 0
