"""The perplexity model of one language: estimated from a reference file, cached by identity, queried
with KenLM; per-document perplexity and CCNet's head/middle/tail buckets.

A reference file is ``<language>.jsonl.gz`` with one ``{"source", "text"}`` row per source document.
Sources whose hash falls in the dev share are not trained on: their passages' perplexities give the bucket cutoffs
(the 30th and 60th percentiles, CCNet's), computed once with the model and stored beside it.
"""

import gzip
import hashlib
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import kenlm  # type: ignore[import-not-found]  # a compiled extension without type stubs
import numpy as np

from corpuslake.perplexity import kneser_ney
from corpuslake.perplexity.text import TOKENIZER_VERSION, lines

ESTIMATOR_VERSION = "kn-1"
"""Changes whenever the estimate from the same reference and parameters would change."""
Bucket = Literal["head", "middle", "tail"]
PERCENTILES = (30.0, 60.0)


@dataclass(frozen=True)
class ModelSpec:
    """What a language's model is estimated from, and how."""

    language: str
    """The language code its documents carry (lid.176's)."""
    reference: str
    """Path of the reference file (``<language>.jsonl.gz``)."""
    order: int = 3
    """Words per n-gram at the highest order."""
    discount: float = 0.75
    """The absolute discount of interpolated Kneser-Ney, every order."""
    dev_share: int = 10
    """One reference source in this many is kept out of training and gives the bucket cutoffs."""

    def identity(self) -> dict[str, Any]:
        """Everything that decides the model's numbers; its hash names the model."""
        reference = hashlib.sha256(Path(self.reference).read_bytes()).hexdigest()
        fields = asdict(self) | {"reference": Path(self.reference).name}
        return fields | {"reference_sha256": reference, "tokenizer": TOKENIZER_VERSION, "estimator": ESTIMATOR_VERSION}

    def key(self) -> str:
        return hashlib.sha256(json.dumps(self.identity(), sort_keys=True).encode()).hexdigest()[:16]


def is_dev(source: str, share: int) -> bool:
    return int(hashlib.sha256(f"dev:{source}".encode()).hexdigest(), 16) % share == 0


def _reference(spec: ModelSpec) -> Iterator[tuple[str, str]]:
    with gzip.open(spec.reference, "rt", encoding="utf-8") as rows:
        for row in rows:
            found = json.loads(row)
            yield found["source"], found["text"]


@dataclass(frozen=True)
class Model:
    """A loaded model: KenLM's query structure plus the facts stored with it."""

    language: str
    lm: Any  # kenlm.Model (untyped extension)
    cutoffs: tuple[float, float]
    info: dict[str, Any]

    def perplexity(self, text: str) -> float | None:
        """CCNet's document perplexity: 10^(-sum of log10 p / tokens) over its lines, each line scored with
        sentence boundaries (``</s>`` counts as a token); None for a document without tokens."""
        log_score, length = 0.0, 0
        for found in lines(text):
            log_score += self.lm.score(" ".join(found), bos=True, eos=True)
            length += len(found) + 1
        return round(10.0 ** (-log_score / length), 1) if length else None

    def bucket(self, perplexity: float | None) -> Bucket | None:
        if perplexity is None:
            return None
        head, middle = self.cutoffs
        return "head" if perplexity < head else "middle" if perplexity < middle else "tail"


def build(spec: ModelSpec, folder: Path) -> Path:
    """Estimate the model into ``folder/<key>/`` (``model.arpa`` and ``model.json``) unless it is there.

    Built in a temporary folder and renamed into place, so processes building the same model at once
    each finish with one complete copy."""
    target = folder / spec.key()
    if (target / "model.json").is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=folder))
    try:
        rows = list(_reference(spec))
        train = [tokens for source, text in rows if not is_dev(source, spec.dev_share) for tokens in lines(text)]
        tables = kneser_ney.estimate(train, spec.order, spec.discount)
        kneser_ney.save_arpa(tables, work / "model.arpa")
        lm = _query(work / "model.arpa")
        # Passages (lines), not whole source files: page-sized documents, as the crawl's are.
        dev = [line for source, text in rows if is_dev(source, spec.dev_share) for line in text.split("\n")]
        scored = Model(spec.language, lm, (0.0, 0.0), {})
        values = [p for p in (scored.perplexity(text) for text in dev) if p is not None]
        cutoffs = [round(float(c), 1) for c in np.percentile(values, PERCENTILES)]
        info = spec.identity() | {
            "key": spec.key(),
            "arpa_sha256": hashlib.sha256((work / "model.arpa").read_bytes()).hexdigest(),
            "ngrams": [len(t) for t in tables],
            "train_tokens": sum(len(t) for t in train),
            "dev_documents": len(values),
            "cutoffs": cutoffs,
            "percentiles": list(PERCENTILES),
        }
        (work / "model.json").write_text(json.dumps(info, indent=1, sort_keys=True), encoding="utf-8")
        try:
            work.rename(target)
        except OSError:  # another process renamed its copy first: the same model
            if not (target / "model.json").is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def facts(place: Path) -> dict[str, Any]:
    """What is stored with a built model: its identity, ARPA hash, sizes and cutoffs."""
    found: dict[str, Any] = json.loads((place / "model.json").read_text(encoding="utf-8"))
    return found


def load(spec: ModelSpec, folder: Path) -> Model:
    """The model of ``spec``, built first if this machine has no copy."""
    place = build(spec, folder)
    info = facts(place)
    head, middle = info["cutoffs"]
    return Model(spec.language, _query(place / "model.arpa"), (head, middle), info)


def _query(arpa: Path) -> Any:
    """KenLM's query structure of an ARPA file, loaded without its progress bar on stderr (each worker
    loads the model once per run)."""
    config = kenlm.Config()
    config.show_progress = False
    return kenlm.Model(str(arpa), config)
