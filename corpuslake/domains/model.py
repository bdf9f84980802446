"""The domain model: TF-IDF over a bounded vocabulary, TruncatedSVD, then MiniBatchKMeans (scikit-learn).

Training fits the three on a sample of texts with one seed; clusters are numbered by size in the sample
(``c00`` the largest) and named by their top terms (the highest mean TF-IDF weights of their documents)
and the URLs of the documents nearest their centres. The file holds arrays only (terms, idf, the SVD
components, the centres) and a JSON header, in a zip with fixed timestamps: the same training gives the
same bytes, hence the same hash, and loading it runs no pickled code. Labelling recomputes TF-IDF with the
stored terms and idf and takes the nearest centre, so a worker needs numpy and scikit-learn's tokenizer only.
"""

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = 1
TOKENS = r"(?u)\b[^\W\d_]{2,}\b"
"""Words of two letters or more: digits and underscores make clusters of numbers and markup, not topics."""
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class DomainModelError(ValueError):
    """A sample that cannot train a model, or a model file that cannot be read."""


@dataclass(frozen=True)
class DomainModelConfig:
    """How the domain model is trained and how many domains it finds."""

    k: int = 16
    """Number of domains (k-means clusters)."""
    sample_size: int = 50_000
    """At most this many documents train the model, chosen by a hash of dump and id (the same table
    version gives the same sample)."""
    max_chars: int = 3_000
    """Characters of each text read, in training and labelling alike (bounds memory per document)."""
    vocabulary: int = 50_000
    """Terms kept: the most frequent over the sample."""
    min_df: int = 3
    """A term appears in at least this many sample documents."""
    max_df: float = 0.5
    """A term in more than this share of the sample is left out (function words in any language)."""
    english_stop_words: bool = True
    """Leave out scikit-learn's English stop words, which would otherwise name every English domain."""
    dims: int = 64
    """Dimensions of the SVD embedding k-means runs on."""
    seed: int = 1
    """Seed of the SVD and of k-means: the same sample and seed give the same labels."""
    name_terms: int = 6
    """Top terms naming a domain."""
    example_urls: int = 3
    """Example URLs recorded per domain (the documents nearest its centre)."""


@dataclass(frozen=True)
class Domain:
    domain: str
    """Its label: ``c`` and its rank by size in the sample."""
    name: str
    """Its top terms, comma-separated."""
    documents: int
    """Sample documents in it."""
    urls: tuple[str, ...]
    """URLs of the sample documents nearest its centre."""


def clip(texts: list[str | None], max_chars: int) -> list[str]:
    return [(t or "")[:max_chars] for t in texts]


class DomainModel:
    """A trained model: ``label(texts)`` gives each text's domain index (into :attr:`domains`)."""

    def __init__(self, arrays: dict[str, np.ndarray], header: dict[str, Any]) -> None:
        self.terms, self.idf = arrays["terms"], arrays["idf"]
        self.components, self.centroids = arrays["components"], arrays["centroids"]
        self.header = header
        self.config = DomainModelConfig(**header["config"])
        self.domains = tuple(
            Domain(d["domain"], d["name"], d["documents"], tuple(d["urls"])) for d in header["domains"]
        )
        # deferred: the code location imports this module's config, and scikit-learn costs ~3 s to import
        from sklearn.feature_extraction.text import CountVectorizer

        self._counter = CountVectorizer(token_pattern=TOKENS, vocabulary={t: i for i, t in enumerate(self.terms)})

    def embed(self, texts: list[str | None]) -> np.ndarray:
        """Unit-length SVD embeddings of TF-IDF vectors (sublinear term frequency, l2-normalized)."""
        counts = self._counter.transform(clip(texts, self.config.max_chars)).astype(np.float64)
        counts.data = (1.0 + np.log(counts.data)) * self.idf[counts.indices]
        norms = np.sqrt(np.asarray(counts.multiply(counts).sum(axis=1)).ravel())
        weights = counts.multiply(1.0 / np.maximum(norms, 1e-12)[:, None]).tocsr()
        embedded = np.asarray(weights @ self.components.T.astype(np.float64))
        return _unit(embedded)

    def nearest(self, embedded: np.ndarray) -> np.ndarray:
        # Squared distance up to the row's own norm, which does not change the nearest centre.
        distances = -2.0 * embedded @ self.centroids.T + (self.centroids**2).sum(axis=1)
        return np.asarray(distances.argmin(axis=1), dtype=np.int32)

    def label(self, texts: list[str | None]) -> np.ndarray:
        return self.nearest(self.embed(texts))

    def save(self, path: Path) -> None:
        """A zip of ``.npy`` arrays and ``header.json`` with fixed timestamps (same model, same bytes)."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            header = json.dumps(self.header, sort_keys=True, indent=1).encode()
            archive.writestr(zipfile.ZipInfo("header.json", _FIXED_TIME), header)
            for name in ("terms", "idf", "components", "centroids"):
                data = io.BytesIO()
                np.save(data, getattr(self, name), allow_pickle=False)
                archive.writestr(zipfile.ZipInfo(f"{name}.npy", _FIXED_TIME), data.getvalue())
        path.write_bytes(buffer.getvalue())

    @classmethod
    def load(cls, path: Path) -> "DomainModel":
        if not path.is_file():
            raise DomainModelError(f"domain model not found: {path}")
        try:
            with zipfile.ZipFile(path) as archive:
                header = json.loads(archive.read("header.json"))
                arrays = {
                    n: np.load(io.BytesIO(archive.read(f"{n}.npy")), allow_pickle=False)
                    for n in ("terms", "idf", "components", "centroids")
                }
        except (zipfile.BadZipFile, KeyError, ValueError) as error:
            raise DomainModelError(f"{path} is not a domain model: {error}") from error
        if header.get("format") != FORMAT:
            raise DomainModelError(f"{path}: domain model format {header.get('format')} is not {FORMAT}")
        return cls(arrays, header)


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    unit: np.ndarray = rows / np.maximum(norms, 1e-12)
    return unit
