"""Loading a promoted model's files and predicting with it.

Two formats, told apart by the files (then by the model's framework): a Hugging Face model folder
with its tokenizer (the BERT template), whose libraries are imported only here, on first use, and
come with the ``bert`` extra; and one joblib or pickle file of a fitted scikit-learn-style object
(the TF-IDF template's ``Pipeline``, a user's ``SVC``, ...). Anything else is refused naming its
framework: the caller loads it from ``local_path()`` with that framework's own loader.

Predictions come from the object's own ``predict``; probabilities only where it has ``predict_proba``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo._extras import require_extra
from hpo.errors import ConfigError

SKLEARN, HUGGINGFACE = "scikit-learn", "huggingface"

# ClearML's framework names for pickled scikit-learn-style objects (OutputModel, joblib auto-logging).
_PICKLED_FRAMEWORKS = {"scikit-learn", "scikitlearn", "sklearn", "xgboost", "lightgbm", "catboost", "joblib"}
_PICKLED_SUFFIXES = (".joblib", ".pkl", ".pickle")


@dataclass(frozen=True)
class Prediction:
    """One input's predicted label (the model's own ``predict``), and the probability of every label
    where the model gives them (``predict_proba``; None otherwise)."""

    input: Any
    label: Any
    probabilities: dict[str, float] | None = None

    @property
    def text(self) -> str:
        """The input as text (what the text templates classify)."""
        return str(self.input)


def kind_of(framework: str, path: Path) -> str:
    """Which loader reads the model at ``path``.

    Raises:
        ConfigError: Neither a joblib/pickle file nor a Hugging Face folder (the message names the framework).
    """
    if path.is_dir() and (path / "config.json").is_file():
        return HUGGINGFACE
    if path.is_file() and (framework.lower() in _PICKLED_FRAMEWORKS or path.suffix.lower() in _PICKLED_SUFFIXES):
        return SKLEARN
    shape = "folder" if path.is_dir() else "file"
    raise ConfigError(
        f"cannot load the model {shape} {path.name} (framework {framework or 'not recorded'!r}): get_best_model"
        " loads joblib/pickle files of scikit-learn-style objects and Hugging Face model folders; load this one"
        f" with {framework or 'its framework'}'s own loader from BestModel.local_path() ({path})"
    )


def _transformers() -> tuple[Any, Any, Any]:
    torch = require_extra("torch", "bert", "loading a Hugging Face model")
    transformers = require_extra("transformers", "bert", "loading a Hugging Face model")
    return torch, transformers.AutoModelForSequenceClassification, transformers.AutoTokenizer


def load(kind: str, path: Path) -> Any:
    """The unpickled object (scikit-learn and the like) or ``(model, tokenizer)`` (Hugging Face)."""
    if kind == SKLEARN:
        import joblib

        return joblib.load(path)  # reads plain pickles too
    _, model_class, tokenizer_class = _transformers()
    tokenizer = tokenizer_class.from_pretrained(str(path), local_files_only=True)
    model = model_class.from_pretrained(str(path), local_files_only=True).eval()
    return model, tokenizer


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds (JSON-friendly); anything else as is."""
    item = getattr(value, "item", None)
    return item() if callable(item) and getattr(value, "shape", None) == () else value


def predict(kind: str, loaded: Any, inputs: Any, batch_size: int = 32) -> list[Prediction]:
    """Predictions for ``inputs`` (texts for the text templates; any ``X`` the object's ``predict`` takes).

    Raises:
        ConfigError: The object has no ``predict``.
    """
    if len(inputs) == 0:
        return []
    if kind == HUGGINGFACE:
        texts = [str(t) for t in inputs]
        labels, probs = _predict_hf(loaded, texts, batch_size)
        out = []
        for text, row in zip(texts, probs, strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            out.append(Prediction(text, labels[best], dict(zip(labels, row, strict=True))))
        return out
    if not callable(getattr(loaded, "predict", None)):
        raise ConfigError(
            f"the model is a {type(loaded).__name__}, which has no predict(); use BestModel.load() and call it yourself"
        )
    predicted = [_plain(v) for v in loaded.predict(inputs)]
    # hasattr is False where predict_proba is only conditionally there (an SVC without probability=True).
    if not hasattr(loaded, "predict_proba"):
        return [Prediction(x, y) for x, y in zip(inputs, predicted, strict=True)]
    classes = [str(c) for c in getattr(loaded, "classes_", [])]
    probs = [[float(p) for p in row] for row in loaded.predict_proba(inputs)]
    return [
        Prediction(x, y, dict(zip(classes or [str(i) for i in range(len(p))], p, strict=True)))
        for x, y, p in zip(inputs, predicted, probs, strict=True)
    ]


def _predict_hf(loaded: Any, texts: list[str], batch_size: int) -> tuple[list[str], list[list[float]]]:
    torch, _, _ = _transformers()
    model, tokenizer = loaded
    labels = [str(model.config.id2label[i]) for i in range(model.config.num_labels)]
    # Tokenizers often report a huge model_max_length; the position embeddings are the real limit.
    positions = int(getattr(model.config, "max_position_embeddings", 512) or 512)
    max_length = min(int(getattr(tokenizer, "model_max_length", 512) or 512), positions, 512)
    probs: list[list[float]] = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                texts[start : start + batch_size],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            logits = model(**batch).logits
            probs.extend(torch.softmax(logits, dim=-1).tolist())
    return labels, probs


__all__ = ["HUGGINGFACE", "SKLEARN", "Prediction", "kind_of", "load", "predict"]
