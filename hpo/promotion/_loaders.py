"""Loading a promoted model's files and predicting with it.

Two formats, told apart by the model's framework (then by the files): ``scikit-learn`` is one
joblib file of a fitted ``Pipeline`` (the TF-IDF template); ``PyTorch`` is a Hugging Face model
folder with its tokenizer (the BERT template), whose libraries are imported only here, on first
use, and come with the ``bert`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo.errors import ConfigError

SKLEARN, HUGGINGFACE = "scikit-learn", "huggingface"


@dataclass(frozen=True)
class Prediction:
    """One text's predicted label and the probability of every label."""

    text: str
    label: str
    probabilities: dict[str, float]


def kind_of(framework: str, path: Path) -> str:
    """Which loader reads the model at ``path``.

    Raises:
        ConfigError: Neither a joblib file nor a Hugging Face folder.
    """
    if path.is_dir() and (path / "config.json").is_file():
        return HUGGINGFACE
    if path.is_file() and (framework.lower() == SKLEARN or path.suffix in (".joblib", ".pkl")):
        return SKLEARN
    raise ConfigError(
        f"cannot load model files at {path} (framework {framework!r}): expected a joblib file of a scikit-learn"
        " pipeline or a Hugging Face model folder; load them yourself from local_path()"
    )


def _transformers() -> tuple[Any, Any, Any]:
    try:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer
    except ImportError as err:
        raise ConfigError(
            f"this model needs torch and transformers ({err}); install them with pip install 'clearml-hpo[bert]'"
        ) from err
    return torch, AutoModelForSequenceClassification, AutoTokenizer


def load(kind: str, path: Path) -> Any:
    """The fitted pipeline (scikit-learn) or ``(model, tokenizer)`` (Hugging Face)."""
    if kind == SKLEARN:
        import joblib

        return joblib.load(path)
    _, model_class, tokenizer_class = _transformers()
    tokenizer = tokenizer_class.from_pretrained(str(path), local_files_only=True)
    model = model_class.from_pretrained(str(path), local_files_only=True).eval()
    return model, tokenizer


def predict(kind: str, loaded: Any, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
    """Labels and probabilities for ``texts`` from a model returned by :func:`load`."""
    texts = [str(t) for t in texts]
    if not texts:
        return []
    if kind == SKLEARN:
        labels = [str(c) for c in loaded.classes_]
        rows = loaded.predict_proba(texts)
        probs = [[float(p) for p in row] for row in rows]
    else:
        labels, probs = _predict_hf(loaded, texts, batch_size)
    out = []
    for text, row in zip(texts, probs, strict=True):
        best = max(range(len(row)), key=row.__getitem__)
        out.append(Prediction(text, labels[best], dict(zip(labels, row, strict=True))))
    return out


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
