"""``corpuslake search-mixture``: the command line of :func:`corpuslake.mixsearch.search.run_search`."""

import argparse
import sys
import uuid

from corpuslake.errors import InputError, InterruptedRunError, ServiceNotInstalledError
from corpuslake.settings import load_settings
from corpuslake.store import Lake

TORCH_INSTALL = "pip install torch (the CPU build is enough)"


def add_search_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]", lake_help: str) -> None:
    search = sub.add_parser(
        "search-mixture",
        help="find mixture weights by proxy runs (RegMix-style) and publish them as a mixture",
    )
    search.add_argument("search", metavar="SEARCH_YAML", help="a search definition (samples/datasets/searches/)")
    search.add_argument("--lake", help=lake_help)
    search.add_argument(
        "--no-resume",
        dest="resume",
        action="store_false",
        help="train every proxy again, even those this search already recorded in proxy_runs",
    )
    search.set_defaults(handler=run_search_command)


def run_search_command(args: argparse.Namespace) -> int:
    # Deferred: torch and scikit-learn are the service's libraries; the client's commands load without them.
    try:
        from corpuslake.mixsearch.config import load_search
        from corpuslake.mixsearch.report import comparison
        from corpuslake.mixsearch.search import run_search
    except ImportError as missing:
        if missing.name == "torch":  # the service leaves torch to its users, as training jobs do
            raise InputError(f"`corpuslake search-mixture` trains its proxies with torch: {TORCH_INSTALL}") from missing
        raise ServiceNotInstalledError("search-mixture") from missing

    definition = load_search(args.search)
    lake = Lake(load_settings(lake=args.lake).lake)
    try:
        result = run_search(lake, definition, f"cli-{uuid.uuid4().hex[:12]}", progress=_say, resume=args.resume)
    except KeyboardInterrupt as interrupt:
        raise InterruptedRunError(
            f"search {definition.name} interrupted: every finished proxy run is in proxy_runs, "
            "nothing was published; run it again to continue"
        ) from interrupt
    losses = comparison(result)
    print(
        f"{definition.name}: {result.publication.entry.uri} (search {result.search_id}, "
        f"proxy_runs@v{result.proxy_runs_version})"
    )
    weights = result.runs["predicted"].weights
    for uri in result.sources:
        print(f"  {uri:<40} weight {weights[uri]:.4f}")
    print("  proxy target loss: " + ", ".join(f"{name} {loss:.4f}" for name, loss in losses.items()))
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
