"""``corpuslake plots --dump D``: write a dump's distributions as PNG plots beside the lake and list them."""

import argparse

from corpuslake.errors import ServiceNotInstalledError
from corpuslake.plots import PARTS
from corpuslake.settings import load_settings
from corpuslake.store import Lake


def add_plots_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    plots = sub.add_parser(
        "plots",
        help="histograms of every stored signal (thresholds drawn), domains kept/dropped, the funnel, "
        "perplexity per bucket and by domain label",
    )
    plots.add_argument("--dump", required=True, help="the dump to plot")
    plots.add_argument("--out", help="folder for the plots (default: <lake>/_plots)")
    plots.add_argument(
        "--version",
        action="append",
        default=[],
        metavar="TABLE=N",
        help="read this version of a table (repeatable; default: each table's latest)",
    )
    plots.add_argument(
        "--only",
        action="append",
        choices=PARTS,
        help="plot only this part (repeatable; default: all of them)",
    )
    plots.add_argument("--lake", help="lake root (default: ./lake, or CORPUSLAKE_LAKE)")
    plots.set_defaults(handler=run_plots)


def _versions(pairs: list[str]) -> dict[str, int]:
    versions = {}
    for pair in pairs:
        table, _, number = pair.partition("=")
        if not table or not number.isdigit():
            raise ValueError(f"--version {pair!r}: write TABLE=N, e.g. filtered=3")
        versions[table] = int(number)
    return versions


def run_plots(args: argparse.Namespace) -> int:
    try:  # deferred: matplotlib is the service's; the client's commands load without it
        from corpuslake.plots.report import write_plots
    except ImportError as missing:
        raise ServiceNotInstalledError("plots") from missing
    lake = Lake(load_settings(lake=args.lake).lake)
    parts = tuple(args.only) if args.only else PARTS
    plots = write_plots(lake, args.dump, out=args.out, versions=_versions(args.version), parts=parts)
    for png in plots.pngs:
        print(png)
    print(f"{len(plots.pngs)} plot(s) of dump {args.dump}, with their numbers beside them: {plots.folder / 'index.md'}")
    return 0
