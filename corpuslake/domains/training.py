"""Training the domain model on a sample of texts (scikit-learn's TF-IDF, TruncatedSVD, MiniBatchKMeans)."""

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from corpuslake.domains.model import FORMAT, TOKENS, DomainModel, DomainModelConfig, DomainModelError, clip


def train(
    texts: list[str | None], urls: list[str | None], config: DomainModelConfig, provenance: Mapping[str, Any]
) -> DomainModel:
    """A model fitted on ``texts`` (in a fixed order: the same texts and seed give the same model);
    ``provenance`` (the training table and version) is written into the file's header."""
    if config.k < 2 or len(texts) < config.k:
        raise DomainModelError(
            f"the domain model needs k >= 2 and at least k documents (k={config.k}, {len(texts)} given)"
        )
    vectorizer = TfidfVectorizer(
        token_pattern=TOKENS,
        max_features=config.vocabulary,
        min_df=config.min_df,
        max_df=config.max_df,
        sublinear_tf=True,
        stop_words="english" if config.english_stop_words else None,
    )
    try:
        weights = vectorizer.fit_transform(clip(texts, config.max_chars))  # sparse CSR rows
    except ValueError as error:  # no term survives min_df / max_df
        raise DomainModelError(f"no vocabulary from {len(texts)} documents: {error}") from error
    terms = vectorizer.get_feature_names_out()
    dims = max(1, min(config.dims, len(terms) - 1, len(texts) - 1))
    svd = TruncatedSVD(n_components=dims, random_state=config.seed)
    svd.fit(weights)
    arrays = {
        "terms": np.asarray(terms, dtype=str),
        "idf": vectorizer.idf_.astype(np.float64),
        "components": svd.components_.astype(np.float32),
    }
    partial = DomainModel(arrays | {"centroids": np.zeros((config.k, dims))}, _header(config, provenance, []))
    embedded = partial.embed(texts)
    kmeans = MiniBatchKMeans(n_clusters=config.k, random_state=config.seed, n_init=3, batch_size=4096)
    raw = kmeans.fit_predict(embedded)
    # Domains numbered by size in the sample (ties by k-means' own index): c00 is the largest.
    sizes = np.bincount(raw, minlength=config.k)
    order = sorted(range(config.k), key=lambda c: (-int(sizes[c]), c))
    centroids = kmeans.cluster_centers_[order].astype(np.float64)
    model = DomainModel(arrays | {"centroids": centroids}, _header(config, provenance, []))
    labels = model.nearest(embedded)
    domains = _describe(model, weights, embedded, labels, urls)
    return DomainModel(arrays | {"centroids": centroids}, _header(config, provenance, domains))


def _describe(
    model: DomainModel, weights: Any, embedded: np.ndarray, labels: np.ndarray, urls: list[str | None]
) -> list[dict[str, Any]]:
    """Each domain's name (its top terms by mean TF-IDF weight) and the URLs nearest its centre."""
    config, described = model.config, []
    for index in range(config.k):
        members = np.flatnonzero(labels == index)
        mean = np.asarray(weights[members].mean(axis=0)).ravel() if len(members) else np.zeros(len(model.terms))
        top = [str(model.terms[t]) for t in np.argsort(-mean, kind="stable")[: config.name_terms] if mean[t] > 0]
        closeness = embedded[members] @ model.centroids[index]
        nearest = members[np.argsort(-closeness, kind="stable")]
        examples = [u for u in (urls[i] for i in nearest[: 4 * config.example_urls]) if u][: config.example_urls]
        described.append(
            {"domain": f"c{index:02d}", "name": ", ".join(top), "documents": len(members), "urls": examples}
        )
    return described


def _header(config: DomainModelConfig, provenance: Mapping[str, Any], domains: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "config": asdict(config), "training": dict(provenance), "domains": domains}
