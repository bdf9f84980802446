"""A user's Hugging Face sequence-classification model as a scorer: offline, CPU, batched, truncated.

Imported only when an ``hf`` model is configured: torch and transformers are then needed (users install
them, as for the torch dataset). ``local_files_only`` and ``HF_HUB_OFFLINE`` keep every load on disk.
"""

import os
from collections.abc import Sequence

import numpy as np

from corpuslake.quality.user_models import Scorer, UserModel, UserModelError

# A document's first characters are enough for ``max_length`` tokens: the tokenizer never walks a whole
# 100 kB page to keep its first 512 tokens (no tokenizer makes 16 tokens of one character of prose).
CHARS_PER_TOKEN = 16


class HFScorer(Scorer):
    def __init__(self, model: UserModel, torch_threads: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        import transformers
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        transformers.utils.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
        torch.set_num_threads(max(1, torch_threads))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model.path, local_files_only=True)
            self.model = AutoModelForSequenceClassification.from_pretrained(model.path, local_files_only=True)
        except (OSError, ValueError, KeyError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise UserModelError(f"user model {model.name}: cannot load {model.path} offline: {first}") from None
        self.model.eval()
        self.torch = torch
        self.max_length, self.batch_size = model.max_length, model.batch_size
        self.index = output_index(model, dict(self.model.config.id2label), self.model.config.num_labels)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty(len(texts), np.float64)
        # by length, so a batch pads to similar lengths; scores go back to the texts' order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        limit = self.max_length * CHARS_PER_TOKEN
        for start in range(0, len(order), self.batch_size):
            chosen = order[start : start + self.batch_size]
            encoded = self.tokenizer(
                [texts[i][:limit] for i in chosen],
                truncation=True,
                max_length=self.max_length,
                padding=True,
                return_tensors="pt",
            )
            with self.torch.inference_mode():
                logits = self.model(**encoded).logits.float()
            values = logits[:, 0] if self.index is None else logits.softmax(-1)[:, self.index]
            out[chosen] = values.numpy().astype(np.float64)
        return out


def output_index(model: UserModel, id2label: dict[int, str], num_labels: int) -> int | None:
    """Which output is the score: a label's index, or None for the raw value of a one-output head."""
    if model.label:
        names = {str(name): int(index) for index, name in id2label.items()}
        if model.label in names:
            return names[model.label]
        if model.label.isdigit() and int(model.label) < num_labels:
            return int(model.label)
        raise UserModelError(f"user model {model.name}: label {model.label!r} is not one of {sorted(names)}")
    if num_labels == 1:
        return None
    if num_labels == 2:
        return 1
    raise UserModelError(f"user model {model.name}: {num_labels} labels; name the label to score with 'label'")
