"""Users' own quality models, named by path and scored beside ours: the config, identities and scorers.

A model is a fastText ``.bin`` classifier (the score is the probability of one label) or a Hugging Face
sequence-classification directory (loaded with ``local_files_only``; the score is one label's softmax
probability, or the raw output of a one-output regression head such as FineWeb-Edu's). Each model's
identity (name, kind, path, sha256 of its files, parameters) goes into the lineage of the table it scores.
Nothing here downloads: a directory that lacks a file is an error, never a hub request.
"""

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import yaml

from corpuslake.lineage import plain

ModelKind = Literal["fasttext", "hf", "ours"]
KINDS: tuple[str, ...] = get_args(ModelKind)
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class UserModelError(ValueError):
    """A user model cannot be used: its path, kind, label or file is wrong (one line says which)."""


@dataclass(frozen=True)
class UserModel:
    """One user model and how to read a score from it."""

    name: str = ""
    """Short name: the table's columns are ``score_<name>`` and ``bucket_<name>`` (lowercase, digits, _)."""
    kind: ModelKind = "fasttext"
    """``fasttext`` (a .bin classifier), ``hf`` (a sequence-classification directory) or ``ours`` (the
    ``quality_score`` already in ``scored``; no path)."""
    path: str = ""
    """The model file (fasttext) or directory (hf)."""
    label: str = ""
    """The label whose probability is the score. fastText: default ``__label__hq``. hf: a name of the
    model's ``id2label`` or an index; default index 1 of two labels, or the raw output of a one-output head."""
    max_length: int = 512
    """hf: tokens per document (longer texts are truncated)."""
    batch_size: int = 16
    """hf: documents per forward pass."""


@dataclass(frozen=True)
class ModelScoresConfig:
    """Which user models score each dump into ``model_scores``."""

    models: tuple[UserModel, ...] = ()
    """The models, in order; several are combined into ``quality_bucket`` (the maximum of their buckets)."""
    models_file: str = ""
    """A YAML file with a ``models:`` list of the same fields, added after ``models`` (default: the
    ``CORPUSLAKE_USER_MODELS`` variable; empty: none)."""
    batch_rows: int = 256
    """Documents per batch a worker scores."""
    job_rows: int = 1_024
    """Rows a scoring job gathers (whole row groups). Smaller than the other stages' 8,192: a model is
    costly per document, and a dump of a few row groups must still spread over every worker."""
    torch_threads: int = 1
    """hf: torch threads per worker (the workers already use the cores)."""


@dataclass(frozen=True)
class Identity:
    """What a table version records about one model."""

    name: str
    kind: ModelKind
    path: str
    sha256: str
    parameters: Mapping[str, Any]


def resolve(config: ModelScoresConfig, environ: Mapping[str, str] | None = None) -> tuple[UserModel, ...]:
    """The configured models (inline, then the YAML file's), checked: names, kinds and paths."""
    env = os.environ if environ is None else environ
    models = list(config.models)
    models_file = config.models_file or env.get("CORPUSLAKE_USER_MODELS", "")
    if models_file:
        models += load_file(Path(models_file))
    names = [m.name for m in models]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise UserModelError(f"user model names must be unique: {', '.join(duplicated)}")
    return tuple(check(m) for m in models)


def load_file(path: Path) -> list[UserModel]:
    """The ``models:`` list of a YAML file; relative model paths are relative to the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UserModelError(f"user models file {path} cannot be read: {error}") from None
    entries = data.get("models") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise UserModelError(f"user models file {path} needs a 'models:' list")
    known = {f.name for f in fields(UserModel)}
    models = []
    for entry in entries:
        unknown = sorted(set(entry) - known) if isinstance(entry, dict) else ["(not a mapping)"]
        if unknown:
            raise UserModelError(f"user models file {path}: unknown field(s) {', '.join(map(str, unknown))}")
        model = UserModel(**entry)
        if model.path and not Path(model.path).is_absolute():
            model = replace(model, path=str(path.parent / model.path))
        models.append(model)
    return models


def check(model: UserModel) -> UserModel:
    """The model unchanged, or a one-line error: bad name, unknown kind, missing or wrong path."""
    if not _NAME.fullmatch(model.name):
        raise UserModelError(f"user model name {model.name!r}: use a-z, digits and _ (at most 40, a letter first)")
    if model.kind not in KINDS:
        raise UserModelError(f"user model {model.name}: unknown kind {model.kind!r} (use {', '.join(KINDS)})")
    if model.kind == "ours":
        return model
    path = Path(model.path)
    if not model.path or not path.exists():
        raise UserModelError(f"user model {model.name}: path not found: {model.path or '(empty)'}")
    if model.kind == "fasttext" and not path.is_file():
        raise UserModelError(f"user model {model.name}: a fasttext model is a .bin file, not {path}")
    if model.kind == "hf" and not (path / "config.json").is_file():
        raise UserModelError(f"user model {model.name}: an hf model is a directory with config.json: {path}")
    if model.max_length < 1 or model.batch_size < 1:
        raise UserModelError(f"user model {model.name}: max_length and batch_size must be positive")
    return model


def files_sha256(path: Path) -> str:
    """sha256 of a model file, or of a directory's files (each relative name and content hash, sorted)."""
    if path.is_file():
        return _file_sha256(path)
    digest = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(f"{item.relative_to(path).as_posix()}\0{_file_sha256(item)}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def identity(model: UserModel, ours_hash: str = "") -> Identity:
    """The model's identity for lineage; ``ours`` is named by the hash of the model that scored the dump."""
    parameters = {k: v for k, v in plain(model).items() if k not in ("name", "kind", "path")}
    if model.kind == "ours":
        return Identity(model.name, model.kind, "scored.quality_score", ours_hash, {})
    return Identity(model.name, model.kind, model.path, files_sha256(Path(model.path)), parameters)


class Scorer:
    """A loaded model: ``score(texts)`` gives one float per text."""

    def score(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class FastTextScorer(Scorer):
    def __init__(self, model: UserModel) -> None:
        import fasttext

        try:
            self.model = fasttext.load_model(model.path)
        except (ValueError, RuntimeError) as error:
            raise UserModelError(f"user model {model.name}: fastText cannot load {model.path}: {error}") from None
        self.label = model.label or "__label__hq"
        labels = self.model.get_labels()
        if self.label not in labels:
            raise UserModelError(f"user model {model.name}: label {self.label!r} is not one of {labels}")

    def score(self, texts: Sequence[str]) -> np.ndarray:
        # every label's probability (k=-1): the wanted one is read whatever its rank
        names, probabilities = self.model.predict([" ".join(t.split()) for t in texts], k=-1)
        return np.array(
            [dict(zip(n, p, strict=True)).get(self.label, 0.0) for n, p in zip(names, probabilities, strict=True)],
            np.float64,
        )


def load_scorer(model: UserModel, torch_threads: int = 1) -> Scorer:
    """Load one model (in the worker that scores with it)."""
    if model.kind == "fasttext":
        return FastTextScorer(model)
    if model.kind == "hf":
        from corpuslake.quality.hf_scorer import HFScorer

        return HFScorer(model, torch_threads)
    raise UserModelError(f"user model {model.name}: kind {model.kind!r} is read from scored, not loaded")
