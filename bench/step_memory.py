"""Peak RSS of the work a run's own process does for one dump, each piece in a fresh process, on existing lakes.

In ``corpuslake run`` every step of a job runs in one process (Dagster's in-process executor); the
stages hand rows to pool workers, but the checks, previews and commits run there. This measures each of
those pieces alone, on the lake a finished run left (``bench/scale_run.py --keep``), so the pieces of two
lakes of different sizes can be set side by side without running either crawl again:

  the floor   the imports a run's process holds (Dagster, the definitions, Great Expectations);
  suites      ``<table>_expectations`` (GX on the bounded sample, invariants streamed);
  balances    ``documents_account_for_every_record``, ``filtered_``/``deduplicated_accounts_for_every_document``;
  ids         ``documents_ids_unique``;
  drift       ``<stage>_drift``;
  previews    the rows each stage's materialization shows.

Each runs in a fresh interpreter measured by ``bench/measure.py`` (peak RSS of the process, ``VmHWM``;
CPU seconds of its tree). The figure to read is a piece's peak against the floor, and its ratio between
the lakes. Nothing is written to the lakes (verdicts are not recorded), so a lake a run is still writing
can be measured. ``--code DIR`` measures another checkout (a ``git archive`` of an earlier commit).

    python bench/step_memory.py --lake S=/tmp/run-S/lake-run --lake M1=/tmp/run-M1/lake-run \\
        --dump CC-MAIN-2026-10 [--only scored_expectations]
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from measure import run_measured

ROOT = Path(__file__).resolve().parent.parent
_FLOOR = "import orchestration.definitions, quality_checks.expectations"
PIECES: dict[str, str] = {
    "floor (imports)": "pass",
    **{
        f"{t}_expectations": f"from quality_checks.expectations import run_suite\nrun_suite(lake, {t!r}, dump)"
        for t in ("documents", "filtered", "content_signals", "deduplicated", "scored")
    },
    "documents_account_for_every_record": "from quality_checks.documents import documents_balance\n"
    "documents_balance(lake, dump)",
    "documents_ids_unique": "from quality_checks.documents import ids_unique\nids_unique(lake, dump)",
    "filtered_accounts_for_every_document": "from quality_checks.filtered import filtered_balance\n"
    "filtered_balance(lake, dump)",
    "deduplicated_accounts_for_every_document": "from quality_checks.deduplicated import dedup_balance\n"
    "dedup_balance(lake, dump)",
    **{
        f"{s}_drift": "from corpuslake.drift import DriftConfig, drift\n"
        f"earlier = [d for d in lake.dumps({s!r}) if d < dump] if hasattr(lake, 'dumps') else None\n"
        f"drift(lake, {s!r}, dump, DriftConfig(), earlier)"
        for s in ("filtered", "deduplicated", "scored")
    },
    "previews": "from corpuslake.scan import head\n"
    "for t in ('documents', 'filtered', 'deduplicated'):\n"
    "    head(lake.dataset(t), {'dump': dump}, ['id', 'url', 'text'], 10)\n"
    "head(lake.dataset('scored'), {'dump': dump}, ['id', 'url', 'quality_score', 'text'], 1_000)",
}
_CHILD = """
import sys
{floor}
from corpuslake.store import Lake
lake, dump = Lake(sys.argv[1]), sys.argv[2]
{body}
"""


def measure_piece(lake: str, dump: str, name: str, code: Path) -> dict[str, Any]:
    script = _CHILD.format(floor=_FLOOR, body=PIECES[name])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(code), os.environ.get("PYTHONPATH", "")])))
    measured = run_measured([sys.executable, "-c", script, lake, dump], env=env, cwd=str(code), linger=5.0)
    return {"peak_rss": measured.largest.peak_rss, "cpu_seconds": measured.cpu_seconds, "ok": measured.returncode == 0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", action="append", required=True, help="LABEL=PATH (repeatable, smallest first)")
    parser.add_argument("--dump", required=True)
    parser.add_argument("--only", action="append", choices=list(PIECES), help="measure these pieces only")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    args = parser.parse_args()
    lakes = dict(item.split("=", 1) for item in args.lake)
    names = ["floor (imports)", *[n for n in (args.only or PIECES) if n != "floor (imports)"]]
    figures: dict[str, dict[str, Any]] = {name: {} for name in names}
    labels = list(lakes)
    print(f"{'piece':<42}" + "".join(f"{label + ' MiB':>12}{'CPU s':>8}" for label in labels) + "   ratio")
    for name in names:
        for label, path in lakes.items():
            figures[name][label] = measure_piece(path, args.dump, name, args.code.resolve())
        cells = "".join(
            f"{figures[name][lb]['peak_rss'] / 2**20:>12,.0f}{figures[name][lb]['cpu_seconds']:>8.1f}"
            + ("" if figures[name][lb]["ok"] else "!")
            for lb in labels
        )
        first, last = figures[name][labels[0]]["peak_rss"], figures[name][labels[-1]]["peak_rss"]
        print(f"{name:<42}{cells}   {last / first:.2f}x", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"lakes": lakes, "dump": args.dump, "figures": figures}, indent=1))


if __name__ == "__main__":
    main()
