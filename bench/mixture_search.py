"""A mixture search on the bench corpus: 16+ proxies, the predicted mixture's proxy loss against the
uniform and natural mixtures', and what the whole search cost.

Input: a lake with published pins (e.g. a copy of an S run's lake: ``web-en@1``, ``web-en-hq@1``, and
more sources published from it, such as one snapshot per dump). The search runs as a child process
(``python -m corpuslake.mixsearch``) measured by ``bench/measure.py``: CPU seconds of the whole tree
(user+sys), wall time, peak RSS of the largest process. Then ``proxy_runs`` and the catalog are read
back: every run's weights and target loss, the regression's leave-one-out error, and the losses of the
predicted, natural, uniform and best sampled mixtures. Figures only: nothing is asserted.

    python bench/mixture_search.py --lake LAKE [--sources PIN PIN ...] [--target PIN ...]
        [--candidates 16] [--proxy-tokens 150000] [--work DIR] [--no-resume]
"""

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT))

from measure import run_measured  # noqa: E402

from corpuslake.catalog import Catalog  # noqa: E402
from corpuslake.mixsearch.runs import read_runs  # noqa: E402
from corpuslake.store import Lake  # noqa: E402

GPT2 = ROOT / "samples" / "tokenizers" / "gpt2" / "tokenizer.json"


def _search(args: argparse.Namespace) -> dict[str, object]:
    return {
        "name": args.name,
        "sources": args.sources,
        "target_pins": args.target,
        "tokenizer": str(args.tokenizer),
        "candidates": args.candidates,
        "proxy_tokens": args.proxy_tokens,
        "target_tokens": args.target_tokens,
        "validation_fraction": args.validation_fraction,
        "seed": args.seed,
        "recipe_tokens": args.recipe_tokens,
        "proxy": {"layers": 2, "d_model": 128, "heads": 4, "context": 128, "vocab": args.vocab, "threads": 1},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lake", required=True)
    parser.add_argument("--name", default="bench-search")
    parser.add_argument(
        "--sources",
        nargs="+",
        default=["corpuslake://web-en-d10@1", "corpuslake://web-en-d18@1", "corpuslake://web-en-hq@1"],
    )
    parser.add_argument("--target", nargs="+", default=["corpuslake://web-en-hq@1"])
    parser.add_argument("--tokenizer", default=GPT2)
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--proxy-tokens", type=int, default=150_000)
    parser.add_argument("--target-tokens", type=int, default=30_000)
    parser.add_argument("--validation-fraction", type=float, default=0.02)
    parser.add_argument("--vocab", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--recipe-tokens", type=int, default=1_000_000)
    parser.add_argument("--work", default="/tmp/mixture-search-bench")
    parser.add_argument("--no-resume", action="store_true")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    definition = work / f"{args.name}.yaml"
    definition.write_text(yaml.safe_dump(_search(args)), encoding="utf-8")
    log = work / f"{args.name}.log"
    command = [sys.executable, "-m", "corpuslake.mixsearch", str(definition), "--lake", args.lake]
    measured = run_measured(command + (["--no-resume"] if args.no_resume else []), cwd=str(ROOT), log=log)
    text = log.read_text(encoding="utf-8", errors="replace")
    if measured.returncode != 0:
        raise SystemExit(f"search failed ({measured.returncode}):\n{text[-3000:]}")
    search_id = re.search(r"\(search ([0-9a-f]{16})", text)
    assert search_id is not None, text[-2000:]
    lake = Lake(args.lake)
    runs = read_runs(lake, search_id[1])
    latest = Catalog(lake).latest(f"{args.name}-found")
    assert latest is not None
    report = {
        "command": " ".join(command),
        "search_id": search_id[1],
        "pin": latest.uri,
        "upstream": latest.lineage["upstream"],
        "cpu_seconds": round(measured.cpu_seconds, 1),
        "wall_seconds": round(measured.wall_seconds, 1),
        "peak_rss_mb": round(measured.largest.peak_rss / 2**20, 1),
        "proxies": len(runs),
        "proxy_cpu_seconds": round(sum(r.cpu_seconds for r in runs.values()), 1),
        "losses": {name: round(runs[name].target_loss, 4) for name in ("predicted", "natural", "uniform")}
        | {"best_candidate": round(min(r.target_loss for r in runs.values() if r.kind == "candidate"), 4)},
        "predicted_weights": {u: round(w, 4) for u, w in runs["predicted"].weights.items()},
        "natural_weights": {u: round(w, 4) for u, w in runs["natural"].weights.items()},
        "fit": [line for line in text.splitlines() if line.startswith("fit:")],
        "runs": [
            {
                "candidate": r.candidate,
                "weights": [round(w, 3) for w in r.weights.values()],
                "loss": round(r.target_loss, 4),
            }
            for r in sorted(runs.values(), key=lambda r: r.candidate)
        ],
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
