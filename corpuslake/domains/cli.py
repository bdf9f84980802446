"""``corpuslake domains``: train the domain model (when asked, or when none is registered) and label dumps."""

import argparse
import os

from corpuslake.errors import ServiceNotInstalledError
from corpuslake.lake_lock import lake_lock
from corpuslake.settings import load_settings
from corpuslake.store import Lake


def add_domains_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    domains = sub.add_parser("domains", help="train the domain model and label every scored document's domain")
    domains.add_argument("--train", action="store_true", help="train a new model even if one is registered")
    domains.add_argument("--k", type=int, default=16, help="domains of a new model (default: 16)")
    domains.add_argument("--seed", type=int, default=1, help="seed of a new model (default: 1)")
    domains.add_argument("--dump", action="append", help="label only this dump (repeatable; default: every dump)")
    domains.add_argument("--workers", type=int, default=0, help="worker processes (default: one per core)")
    domains.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    domains.set_defaults(handler=run_domains)


def run_domains(args: argparse.Namespace) -> int:
    try:  # deferred: scikit-learn is the service's; the client's commands load without it
        from corpuslake.domains.model import DomainModelConfig
        from corpuslake.domains.run import code_version, current_model, label_dump, train_model
    except ImportError as missing:
        raise ServiceNotInstalledError("domains") from missing

    root = load_settings(lake=args.lake).lake
    lake = Lake(root)
    if lake.version("scored") is None:
        raise LookupError(f"no scored table in {root}: run `corpuslake run` first")
    with lake_lock(root, command="domains"):
        if args.train or lake.version("domain_models") is None:
            _, model, digest = train_model(lake, "cli", DomainModelConfig(k=args.k, seed=args.seed), code_version())
            print(f"domain model {digest[:16]}: {model.header['training']['documents']:,} training documents")
            for domain in model.domains:
                print(f"  {domain.domain}  {domain.documents:>7,}  {domain.name}")
        else:
            print(f"domain model {current_model(lake)[1]['model_hash'][:16]} (registered)")
        workers = args.workers or os.cpu_count() or 1
        for dump in args.dump or lake.dumps("scored"):
            report = label_dump(lake, dump, "cli", workers, code_version())
            print(f"domains@v{report.version} [{dump}]: {report.rows:,} documents")
    return 0
