"""The quality classifier's training set: labelled examples from configured sources, balanced, split.

Sources are JSONL files (gzip or plain) of ``{"text", "label", "source"}`` with labels ``hq`` and
``cc``. The held-out split is decided by a hash of the text, so an example stays on its side whatever
else is added; balancing drops examples of the larger class at random with the configured seed.
"""

import gzip
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

SAMPLE_EXAMPLES = Path(__file__).resolve().parent.parent.parent / "samples" / "quality" / "examples.jsonl.gz"
LABELS = ("hq", "cc")

TRAINING_SET = pa.schema(
    [
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),  # hq (keep-worthy prose) or cc (ordinary web text)
        pa.field("source", pa.string(), nullable=False),  # where the example came from
        pa.field("split", pa.string(), nullable=False),  # train or heldout
    ]
)


class TrainingSetError(ValueError):
    """The configured sources cannot make a training set (missing file, bad line, an empty class)."""


@dataclass(frozen=True)
class TrainingSetConfig:
    """Where the labelled examples come from and how they are balanced and split."""

    sources: tuple[str, ...] = (str(SAMPLE_EXAMPLES),)
    """JSONL files (optionally gzip) of {"text", "label": "hq"|"cc", "source"}; the default is the
    sample set in samples/quality (prose against spam and ordinary mail, see samples/ATTRIBUTION)."""
    heldout_fraction: float = 0.2
    """Share of examples held out for precision, recall and AUC (chosen by a hash of the text)."""
    balance: bool = True
    """Drop examples of the larger class at random until both classes are the same size."""
    seed: int = 1
    """Seed of the balancing draw."""
    min_chars: int = 50
    """Examples shorter than this are skipped."""


def load_examples(config: TrainingSetConfig) -> list[dict[str, str]]:
    examples: list[dict[str, str]] = []
    for source in config.sources:
        path = Path(source)
        if not path.is_file():
            raise TrainingSetError(f"training source not found: {path}")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    row = json.loads(line)
                    text, label = str(row["text"]), str(row["label"])
                except (json.JSONDecodeError, KeyError, TypeError) as error:
                    raise TrainingSetError(f"{path}:{number}: not an example ({error})") from None
                if label not in LABELS:
                    raise TrainingSetError(f"{path}:{number}: label {label!r} is not one of {', '.join(LABELS)}")
                if len(text.strip()) >= config.min_chars:
                    examples.append({"text": text, "label": label, "source": str(row.get("source", path.name))})
    return examples


def build_training_set(config: TrainingSetConfig) -> pa.Table:
    """The balanced, split training set as a table (sorted, so the same inputs give the same bytes)."""
    examples = load_examples(config)
    by_label = {
        label: sorted((e for e in examples if e["label"] == label), key=lambda e: e["text"]) for label in LABELS
    }
    empty = [label for label, rows in by_label.items() if not rows]
    if empty:
        raise TrainingSetError(
            f"no {' or '.join(empty)} examples in {', '.join(config.sources)}: both classes are needed"
        )
    if config.balance:
        size = min(len(rows) for rows in by_label.values())
        rng = random.Random(config.seed)
        by_label = {label: rng.sample(rows, size) for label, rows in by_label.items()}
    rows = [e | {"split": _split(e["text"], config.heldout_fraction)} for label in LABELS for e in by_label[label]]
    rows.sort(key=lambda r: (r["split"], r["label"], r["text"]))
    return pa.Table.from_pylist(rows, schema=TRAINING_SET)


def _split(text: str, fraction: float) -> str:
    bucket = int.from_bytes(hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()[:8], "big") / 2**64
    return "heldout" if bucket < fraction else "train"
