"""The tokenizer an export is made with: a Hugging Face ``tokenizer.json`` or a SentencePiece model, from disk.

A file ending in ``.json`` is loaded with the ``tokenizers`` library, anything else with ``sentencepiece``
(the default is the model the ``mistral-common`` wheel ships, as :mod:`corpuslake.tokens` counts with).
Nothing is downloaded. A tokenizer is identified by its kind, file name and SHA-256; its end-of-text
and start-of-text ids come from the file, and the policy (append EOS, prepend BOS) is explicit and
recorded with every export: the default appends EOS and adds no BOS, as GPT-style pretraining
concatenates documents.
"""

import hashlib
import itertools
import os
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import sentencepiece as spm
from tokenizers import Tokenizer as HFTokenizer

from corpuslake.errors import InputError
from corpuslake.tokens import default_model_path

Kind = Literal["huggingface", "sentencepiece"]
TokenArray = npt.NDArray[np.integer[Any]]

# Special tokens that end (or start) a document, by the names the common vocabularies give them. GPT-2
# has one special token, <|endoftext|>, which its trainers use at both ends.
_EOS_NAMES = ("<|endoftext|>", "</s>", "<|end_of_text|>", "<eos>", "<|eot_id|>")
_BOS_NAMES = ("<s>", "<|begin_of_text|>", "<bos>", "<|endoftext|>")


class ExportTokenizerError(InputError):
    """A tokenizer file that is missing, unreadable, or lacks the special token the policy needs."""


@dataclass(frozen=True)
class TokenPolicy:
    """Which special tokens frame every document of an export."""

    append_eos: bool = True
    """End every document with the tokenizer's end-of-text id (documents are concatenated in training)."""
    prepend_bos: bool = False
    """Start every document with the tokenizer's start-of-text id."""


@dataclass(frozen=True)
class TokenizerIdentity:
    """What an export records about its tokenizer (``export.json``'s ``tokenizer``)."""

    kind: Kind
    name: str
    sha256: str
    vocab_size: int
    eos_id: int | None
    bos_id: int | None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class ExportTokenizer:
    """Encodes batches of texts to one flat token array and each text's length, framed by the policy."""

    def __init__(self, path: str | Path | None = None) -> None:
        file = Path(path) if path else default_model_path()
        if not file.is_file():
            raise ExportTokenizerError(f"tokenizer {file} does not exist (a tokenizer.json or a SentencePiece model)")
        self.path = str(file)
        """The file: workers load their own copy from it."""
        with file.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        try:
            if file.suffix == ".json":
                self._hf: HFTokenizer | None = HFTokenizer.from_file(str(file))
                self._sp: spm.SentencePieceProcessor | None = None
                identity = _hf_identity(self._hf, file.name, digest)
            else:
                self._hf, self._sp = None, spm.SentencePieceProcessor(model_file=str(file))
                identity = _sp_identity(self._sp, file.name, digest)
        except Exception as error:  # both libraries raise their own kinds on a file they cannot parse
            raise ExportTokenizerError(f"{file} is not a tokenizer.json or SentencePiece model: {error}") from error
        self.identity = identity
        self.dtype = np.dtype(np.uint16) if identity.vocab_size < 65_500 else np.dtype(np.int32)
        """The token type of the shards: Megatron's choice (uint16 below 65,500 ids, int32 above)."""

    def check(self, policy: TokenPolicy) -> None:
        """Refuse a policy that needs a special token this tokenizer does not have."""
        for wanted, value, what in (
            (policy.append_eos, self.identity.eos_id, "an end-of-text"),
            (policy.prepend_bos, self.identity.bos_id, "a start-of-text"),
        ):
            if wanted and value is None:
                raise ExportTokenizerError(f"{self.identity.name} has no {what} token: export with the other policy")

    def encode(self, texts: list[str], policy: TokenPolicy) -> tuple[TokenArray, npt.NDArray[np.int32]]:
        """The tokens of every text, concatenated in order, and each text's count (special tokens included)."""
        if self._hf is not None:
            pieces = [e.ids for e in self._hf.encode_batch_fast(texts, add_special_tokens=False)]
        else:
            assert self._sp is not None
            pieces = self._sp.encode(texts, num_threads=1)
        raw = np.fromiter((len(ids) for ids in pieces), np.int64, count=len(pieces))
        flat: TokenArray = np.fromiter(itertools.chain.from_iterable(pieces), self.dtype, count=int(raw.sum()))
        # Special tokens go in with two vectorized inserts rather than a list copy of every document.
        ends = np.cumsum(raw)
        if policy.append_eos and self.identity.eos_id is not None:
            flat = cast(TokenArray, np.insert(flat, ends, self.identity.eos_id))
            ends = ends + np.arange(1, len(ends) + 1)
        if policy.prepend_bos and self.identity.bos_id is not None:
            starts = np.concatenate(([0], ends[:-1]))  # each document starts where the one before ended
            flat = cast(TokenArray, np.insert(flat, starts, self.identity.bos_id))
        lengths = (
            raw
            + int(policy.append_eos and self.identity.eos_id is not None)
            + int(policy.prepend_bos and self.identity.bos_id is not None)
        ).astype(np.int32)
        return flat, lengths

    def decode(self, ids: list[int]) -> str:
        """Text of token ids (special tokens dropped): what the round-trip tests compare."""
        if self._hf is not None:
            return self._hf.decode(ids, skip_special_tokens=True)
        assert self._sp is not None
        return str(self._sp.decode(ids))


def _hf_identity(tokenizer: HFTokenizer, name: str, digest: str) -> TokenizerIdentity:
    # token_to_id per candidate, not get_vocab: building the whole vocabulary as a dict costs a worker
    # a tenth of a second and ~10 MB for nothing.
    eos = next((i for i in map(tokenizer.token_to_id, _EOS_NAMES) if i is not None), None)
    bos = next((i for i in map(tokenizer.token_to_id, _BOS_NAMES) if i is not None), None)
    return TokenizerIdentity("huggingface", name, digest, tokenizer.get_vocab_size(with_added_tokens=True), eos, bos)


def _sp_identity(processor: spm.SentencePieceProcessor, name: str, digest: str) -> TokenizerIdentity:
    eos, bos = int(processor.eos_id()), int(processor.bos_id())  # -1: the model has none
    return TokenizerIdentity(
        "sentencepiece",
        name,
        digest,
        int(processor.get_piece_size()),
        eos if eos >= 0 else None,
        bos if bos >= 0 else None,
    )


@cache
def worker_tokenizer(path: str, sha256: str) -> ExportTokenizer:
    """One tokenizer per worker process and file; a file changed since the export began is refused."""
    # One core per worker: the pool already runs one worker per core, and the tokenizers library would
    # otherwise start a thread per core in every worker.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    tokenizer = ExportTokenizer(path)
    if tokenizer.identity.sha256 != sha256:
        raise ExportTokenizerError(f"{path} changed while the export ran (its SHA-256 differs)")
    return tokenizer
