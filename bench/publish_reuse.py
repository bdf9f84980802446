"""Publishing every snapshot definition of a lake, with a cold and then a warm text cache: CPU and memory.

Input: a lake after ingestion (e.g. ``corpuslake run --landing <copy of /work/bench-data/S/landing>
--lake /tmp/lake``; its publications are ignored: the catalog, the published tables and the text cache
are removed from each copy). For each pass, the lake is copied into a scratch folder and a child process
(measured by ``bench/measure.py``: CPU seconds of the whole process tree, pool workers included; peak RSS
per role) publishes each definition of ``--datasets`` in name order with ``publish_snapshot``:

  cold   an empty text cache (a first publication: only a subset snapshot reuses counts);
  warm   the cache the cold pass left, the catalog and published tables removed again (a publication
         after a new dump, for the documents of the earlier ones, or a re-publication: nothing is counted).

Each publication prints its pin, documents, tokens and content hash: the two passes must print the same.

    python bench/publish_reuse.py --lake /tmp/lake [--datasets samples/datasets] [--workers 2] [--root DIR]

``--root`` measures another checkout of the code (e.g. a ``git archive`` of an older commit). Figures
only: nothing is asserted.
"""

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import run_measured  # noqa: E402

_CHILD = """
import sys, time
sys.path.insert(0, sys.argv[1])
from corpuslake.datasets import load_definitions, publish_snapshot
from corpuslake.store import Lake

def main() -> None:
    lake = Lake(sys.argv[2])
    for definition in sorted(load_definitions(sys.argv[3]).snapshots, key=lambda d: d.name):
        start = time.process_time()
        entry = publish_snapshot(lake, definition, "bench", workers=int(sys.argv[4])).entry
        print(f"  {entry.uri:<28} {entry.documents:>9,} docs {entry.tokens:>13,} tokens "
              f"content {entry.content_sha256[:16]}  publisher CPU {time.process_time() - start:.1f} s", flush=True)

if __name__ == "__main__":
    main()
"""


def _clear(lake: Path, cache: bool) -> None:
    for folder in ("catalog", "snapshots", "_staging") + (
        ("_cache/token_counts", "_cache/exact_keys") if cache else ()
    ):
        shutil.rmtree(lake / folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", type=Path, required=True)
    parser.add_argument("--datasets", type=Path, default=ROOT / "samples" / "datasets")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout whose corpuslake is measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="publish-reuse-") as scratch:
        lake, child = Path(scratch) / "lake", Path(scratch) / "child.py"
        child.write_text(_CHILD)
        shutil.copytree(args.lake, lake)
        _clear(lake, cache=True)
        for name in ("cold", "warm"):
            log = Path(scratch) / f"{name}.log"
            command = [sys.executable, str(child), str(args.root), str(lake), str(args.datasets), str(args.workers)]
            measured = run_measured(command, env=dict(os.environ), log=log)
            peaks = {role: f"{rss / 2**20:.0f} MB" for role, rss in measured.peak_by_role().items()}
            print(f"{name}: CPU {measured.cpu_seconds:.1f} s (tree), wall {measured.wall_seconds:.1f} s, peaks {peaks}")
            print("\n".join(line for line in log.read_text().splitlines() if line.startswith("  ")))
            if measured.returncode:
                print(log.read_text()[-2000:])
                return
            _clear(lake, cache=False)


if __name__ == "__main__":
    main()
