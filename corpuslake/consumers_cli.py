"""``corpuslake consumers``: who reads each pin (lock files, exports), and retiring one explicitly.

``corpuslake consumers`` lists the active consumers; ``corpuslake consumers PIN`` (or a snapshot name)
those of one pin; ``--all`` adds the retired ones. ``corpuslake consumers retire NAME|ID`` retires the
consumers of that name (or the one whose id starts with it): ``gc --release-unheld`` may then remove
what only they held.
"""

import argparse
import json
import sys

from corpuslake.consumers import Consumer, consumers, retire
from corpuslake.errors import InputError
from corpuslake.settings import load_settings
from corpuslake.store import Lake

_LAKE_HELP = "lake root (default: ./lake, or CORPUSLAKE_LAKE)"


def add_consumers_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser(
        "consumers",
        help="list who reads each pin (lock files, exports); `consumers retire NAME|ID` retires one",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "words", nargs="*", metavar="PIN | retire NAME|ID", help="a pin or snapshot name to list, or: retire NAME|ID"
    )
    parser.add_argument("--all", action="store_true", help="also list retired consumers")
    parser.add_argument("--json", action="store_true", help="print the consumers as JSON")
    parser.add_argument("--lake", help=_LAKE_HELP)
    parser.set_defaults(handler=run_consumers)


def run_consumers(args: argparse.Namespace) -> int:
    lake = Lake(load_settings(lake=args.lake).lake)
    words: list[str] = list(args.words)
    if words and words[0] == "retire":
        if len(words) != 2:
            raise InputError("write `corpuslake consumers retire NAME|ID`: one consumer name or id")
        for c in retire(lake, words[1]):
            print(f"retired {c.name} ({c.consumer_id}): {', '.join(c.pins)} may now be released by gc")
        return 0
    if len(words) > 1:
        raise InputError("list one pin (or snapshot name) at a time, or write `consumers retire NAME|ID`")
    found = consumers(lake, words[0] if words else None, active_only=not args.all)
    if args.json:
        json.dump([c.as_json() for c in found], sys.stdout, indent=2, sort_keys=True)
        print()
        return 0
    print_consumers(found)
    return 0


def print_consumers(found: list[Consumer]) -> None:
    if not found:
        print("no registered consumer")
        return
    print(f"{'id':<16}  {'name':<24} {'kind':<6} {'run':<16} {'registered (UTC)':<19}  state    pins")
    for c in found:
        state = "active" if c.active else "retired"
        print(
            f"{c.consumer_id:<16}  {c.name:<24} {c.kind:<6} {c.run_id or '-':<16} "
            f"{c.registered_at:%Y-%m-%d %H:%M:%S}  {state:<7}  {', '.join(c.pins)}"
        )
        if c.location:
            print(f"{'':<18}{c.location}  lock sha256 {c.lock_sha256[:16]}")
