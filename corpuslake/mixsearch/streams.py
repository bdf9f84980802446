"""The tokens proxies train and are scored on, read from pins through the verifying reader.

Each source is read in its published order (rows are ordered by id, a hash: any prefix is a fair
sample). A document whose id falls in the held-out split (the export's keyed BLAKE2b rule) is never
trained on; the held-out documents of the target pins are what a proxy is scored on. A source is
tokenized only until it has ``proxy_tokens`` training tokens, the most any candidate can ask of it, and
the target until it has ``target_tokens``: memory is the tokens a proxy needs, whatever the pin's size.
Every candidate trains on a prefix of the same per-source streams, so two candidates differ only by
their weights.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from corpuslake.catalog import Catalog, CatalogEntry
from corpuslake.client import Snapshot
from corpuslake.errors import InputError
from corpuslake.export.sidecar import held_out
from corpuslake.export.tokenizer import ExportTokenizer, TokenPolicy
from corpuslake.mixsearch.config import SearchDefinition
from corpuslake.pins import parse_pin
from corpuslake.store import Lake
from corpuslake.verified_source import VerifiedSource

Tokens = npt.NDArray[np.int64]
_BATCH = 256  # documents tokenized at once


@dataclass(frozen=True)
class SearchTokens:
    """Every source's training tokens and the target's tokens, in the proxies' compact vocabulary."""

    sources: dict[str, Tokens]
    """Training tokens per source pin, at most ``proxy_tokens`` each."""
    target: Tokens
    """The tokens the proxies are scored on."""
    entries: dict[str, CatalogEntry]
    """The catalog entry of every pin read (sources and target pins)."""
    tokenizer: str
    """The tokenizer's kind, file name and SHA-256."""


def read_tokens(lake: Lake, search: SearchDefinition) -> SearchTokens:
    """Tokenize what the search's proxies need; ids outside its ``proxy.vocab`` most frequent share one id."""
    tokenizer = ExportTokenizer(search.tokenizer)
    catalog = Catalog(lake)
    pins = sorted(set(search.sources) | (set(search.targets) if search.target_file is None else set()))
    entries = {uri: catalog.resolve(parse_pin(uri)) for uri in pins}
    per_target = search.target_tokens // max(len(search.targets), 1)
    train: dict[str, Tokens] = {}
    held: list[Tokens] = []
    for uri in pins:
        wants_train = search.proxy_tokens if uri in search.sources else 0
        wants_held = per_target if search.target_file is None and uri in search.targets else 0
        got_train, got_held = _read_source(lake, entries[uri], tokenizer, search, (wants_train, wants_held))
        if wants_train:
            if not len(got_train):
                raise InputError(f"search {search.name}: {uri} has no document outside the validation split")
            train[uri] = got_train
        held.append(got_held)
    target = np.concatenate(held) if search.target_file is None else _file_tokens(search, tokenizer)
    if len(target) < search.proxy.context + 1:
        raise InputError(
            f"search {search.name}: the target has {len(target)} tokens, fewer than one proxy context "
            f"({search.proxy.context + 1}): raise validation_fraction or give a target_file"
        )
    keep = compact_vocabulary([*train.values(), target], search.proxy.vocab)
    identity = tokenizer.identity
    return SearchTokens(
        {uri: keep[tokens] for uri, tokens in train.items()},
        keep[target],
        entries,
        f"{identity.kind} {identity.name} sha256:{identity.sha256}",
    )


def _read_source(
    lake: Lake, entry: CatalogEntry, tokenizer: ExportTokenizer, search: SearchDefinition, wanted: tuple[int, int]
) -> tuple[Tokens, Tokens]:
    """A pin's first ``wanted[0]`` training tokens and first ``wanted[1]`` held-out tokens."""
    parts: tuple[list[Tokens], list[Tokens]] = ([], [])
    counts = [0, 0]
    for texts, ids in _documents(VerifiedSource(Snapshot(lake, entry))):
        mask = held_out(ids, search.validation_fraction, search.validation_seed)
        for split, chosen in ((0, ~mask), (1, mask)):
            if counts[split] >= wanted[split] or not chosen.any():
                continue
            flat, _ = tokenizer.encode([t for t, c in zip(texts, chosen, strict=True) if c], TokenPolicy())
            piece = flat[: wanted[split] - counts[split]].astype(np.int64)
            parts[split].append(piece)
            counts[split] += len(piece)
        if counts[0] >= wanted[0] and counts[1] >= wanted[1]:
            break
    empty = np.zeros(0, np.int64)
    return tuple(np.concatenate(p) if p else empty for p in parts)  # type: ignore[return-value]


def _documents(source: VerifiedSource) -> Iterator[tuple[list[str], list[str]]]:
    """``(texts, ids)`` of a pin, ``_BATCH`` documents at a time, in published order."""
    texts: list[str] = []
    ids: list[str] = []
    for _, batch in source.batches(["id", "text"]):
        texts += batch.column("text").to_pylist()
        ids += batch.column("id").to_pylist()
        if len(texts) >= _BATCH:
            yield texts, ids
            texts, ids = [], []
    if texts:
        yield texts, ids


def _file_tokens(search: SearchDefinition, tokenizer: ExportTokenizer) -> Tokens:
    """The evaluation texts of ``target_file`` (JSON lines with ``text``, or one text per line)."""
    assert search.target_file is not None
    path = Path(search.target_file)
    try:
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except OSError as error:
        raise InputError(f"search {search.name}: target_file {path} cannot be read: {error}") from error
    texts = [json.loads(line)["text"] if line.lstrip().startswith("{") else line for line in lines]
    flat, _ = tokenizer.encode(texts, TokenPolicy())
    return flat[: search.target_tokens].astype(np.int64)


def compact_vocabulary(streams: list[Tokens], size: int) -> Tokens:
    """A map from tokenizer id to proxy id: the ``size - 1`` most frequent ids (ties by id) get ids
    0.., every other id the last one."""
    top = int(max((int(s.max()) for s in streams if len(s)), default=0)) + 1
    counts = sum((np.bincount(s, minlength=top) for s in streams), np.zeros(top, np.int64))
    order = np.lexsort((np.arange(top), -counts))[: size - 1]
    order = order[counts[order] > 0]
    mapping = np.full(top, len(order), np.int64)
    mapping[order] = np.arange(len(order))
    return mapping


def mixture_stream(tokens: SearchTokens, weights: dict[str, float], sequences: int, context: int, seed: int) -> Tokens:
    """``sequences`` training windows of ``context + 1`` tokens, split between sources by ``weights``
    (largest remainders), each source's windows taken from the front of its stream (wrapping around when
    it has fewer), then shuffled by ``seed``. Shape ``(sequences, context + 1)``."""
    uris = sorted(tokens.sources)
    share = np.array([weights.get(u, 0.0) for u in uris]) * sequences
    counts = np.floor(share).astype(np.int64)
    for i in np.argsort(-(share - counts), kind="stable")[: sequences - int(counts.sum())]:
        counts[i] += 1
    width = context + 1
    windows = []
    for uri, count in zip(uris, counts, strict=True):
        stream = tokens.sources[uri]
        reps = -(-(int(count) * width) // len(stream)) if count else 0
        flat = np.tile(stream, reps)[: int(count) * width] if count else stream[:0]
        windows.append(flat.reshape(int(count), width))
    rows = np.concatenate(windows)
    return rows[np.random.default_rng(seed).permutation(len(rows))]
