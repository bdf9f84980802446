"""Speed of quality scoring and the classifier's held-out quality.

Reads a lake with documents and a registered quality model (``make demo`` builds both) and prints:
- scoring, docs/s on one core: the registered fastText model over the extracted sample-crawl texts in
  batches of 1,000 (newlines joined, P(hq) kept), after loading the model (target: at least 5,000);
- the held-out precision, recall and AUC recorded with the model, and its training time when retrained
  here with the same settings in a fresh process.

    python bench/quality_scoring.py [--lake lake]
"""

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from corpuslake.quality.model import ModelConfig, QualityScorer, train
from corpuslake.quality.run import current_model
from corpuslake.store import Lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lake", default="lake")
    args = parser.parse_args()
    lake = Lake(str(Path(args.lake).resolve()))
    if lake.version("quality_models") is None or lake.version("documents") is None:
        raise SystemExit(f"no documents or quality model in {args.lake}: run `make demo` first")
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} cores, Python {platform.python_version()}")
    _, model = current_model(lake)
    texts = lake.read("documents", columns=["text"])["text"].to_pylist()
    started = time.perf_counter()
    scorer = QualityScorer(lake.local_path(model["path"]))
    loading = time.perf_counter() - started
    started = time.perf_counter()
    scores = np.concatenate([scorer.score(texts[at : at + 1_000]) for at in range(0, len(texts), 1_000)])
    seconds = time.perf_counter() - started
    size = lake.local_path(model["path"]).stat().st_size / 2**20
    print(f"model {model['model_hash'][:16]} ({size:.0f} MiB, loaded in {loading:.2f}s)")
    print(f"scoring {len(texts)} documents (mean {np.mean([len(t) for t in texts]):,.0f} chars), one core:")
    share = np.mean(scores >= 0.5)
    print(f"  {len(texts) / seconds:,.0f} docs/s (target >= 5,000); mean P(hq) {scores.mean():.3f}, {share:.0%} >= 0.5")
    print(
        f"held-out ({model['heldout']} examples): precision {model['precision']:.3f}, recall {model['recall']:.3f}, "
        f"AUC {model['auc']:.3f}"
    )
    config = ModelConfig(**json.loads(model["config"]))
    table = lake.read("quality_training_set", int(model["training_set_version"]))
    with tempfile.TemporaryDirectory() as scratch:
        started = time.perf_counter()
        _, digest, _ = train(table, config, Path(scratch))
        print(
            f"retrained here in {time.perf_counter() - started:.1f}s (one thread, fresh process): "
            f"{'the same model' if digest == model['model_hash'] else 'a DIFFERENT model'} ({digest[:16]})"
        )


if __name__ == "__main__":
    main()
