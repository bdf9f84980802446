"""Token counts with a real tokenizer, loaded from a file on disk (never downloaded).

The default is the LLaMA-style SentencePiece model (32,000 pieces) that ships inside the ``mistral-common``
wheel as ``mistral_common/data/tokenizer.model.v1``. The file is located through the installed package's
folder; ``mistral_common`` itself is never imported. Any other SentencePiece model file can be named
instead. A tokenizer is identified by its file's name and SHA-256, and that identity is recorded with
every count it produced.
"""

import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import sentencepiece as spm

DEFAULT_MODEL = "mistral_common/data/tokenizer.model.v1"
_ENCODE_SLICE = 256


class TokenizerNotFoundError(FileNotFoundError):
    """The tokenizer model file is not on disk (the package that carries it is not installed)."""


def default_model_path() -> Path:
    """Where the installed ``mistral-common`` wheel keeps its SentencePiece v1 model."""
    spec = importlib.util.find_spec("mistral_common")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerNotFoundError(
            "the default tokenizer ships in the mistral-common wheel, which is not installed: "
            "pip install mistral-common, or name a SentencePiece model file"
        )
    path = Path(next(iter(spec.submodule_search_locations))).parent / DEFAULT_MODEL
    if not path.is_file():
        raise TokenizerNotFoundError(f"{path} is missing from the installed mistral-common wheel")
    return path


@dataclass(frozen=True)
class TokenizerInfo:
    """What a count was made with: recorded in the catalog beside the counts."""

    name: str
    sha256: str
    vocab_size: int

    def __str__(self) -> str:
        return f"{self.name} sha256:{self.sha256[:16]} vocab={self.vocab_size}"


class Tokenizer:
    """Counts tokens of texts with one SentencePiece model."""

    def __init__(self, model_path: str | Path | None = None, threads: int = 0) -> None:
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise TokenizerNotFoundError(f"tokenizer model {path} does not exist")
        self.path = str(path)
        """The model file: workers load their own copy of the tokenizer from it."""
        self._processor = spm.SentencePieceProcessor(model_file=str(path))
        self._threads = threads  # 0: SentencePiece's default (all cores)
        name = DEFAULT_MODEL if model_path is None else path.name
        self.info = TokenizerInfo(name, _file_sha256(path), int(self._processor.get_piece_size()))

    def count(self, texts: pa.Array | pa.ChunkedArray | list[str]) -> pa.Array:
        """Tokens per text (no BOS/EOS), as int32; an empty text has 0 tokens."""
        values = texts if isinstance(texts, list) else texts.to_pylist()
        counts: list[int] = []
        # SentencePiece returns every id as a Python int (~36 bytes each with its list slot): encoding
        # a slice at a time keeps that to a few MB instead of ~50 bytes per character of the batch.
        for start in range(0, len(values), _ENCODE_SLICE):
            encoded = self._processor.encode(values[start : start + _ENCODE_SLICE], num_threads=self._threads)
            counts.extend(len(ids) for ids in encoded)
        return pa.array(counts, pa.int32())


@cache
def default_tokenizer() -> Tokenizer:
    """The default tokenizer, loaded once per process."""
    return Tokenizer()


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
