"""``hpo promote``, ``hpo best`` and ``hpo predict``: the champion model of a template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.markup import escape
from rich.table import Table

from hpo.cli._common import ApiHostOpt, JsonOpt, StorageOpt, console, run, sdk_output_to_stderr
from hpo.cli._format import number, promotion_lines, with_force_command
from hpo.errors import ConfigError

ProjectOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--project", help="Only models of this ClearML project \\[default: any]."),
]
VersionOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--dataset-version", help="Only a model scored on this dataset version."),
]
DatasetOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--dataset", help="Dataset name, when a template has champions for several datasets."),
]


def promote(
    study: Annotated[str, typer.Argument(help="The search's study name (see `hpo studies`).")],
    force: Annotated[
        bool, typer.Option("--force", help="Make it the champion even if it does not beat it (skips the gate).")
    ] = False,
    publish: Annotated[bool, typer.Option("--publish", help="Publish the champion (model and task).")] = False,
    gate: Annotated[
        str,
        typer.Option(
            "--gate",
            help="How a new champion must prove itself on the same folds: auto (corrected-t for K-fold CV folds,"
            " which share training rows; t-test where none are shared), corrected-t (Nadeau & Bengio), t-test"
            " (paired), bootstrap (paired, seeded; too narrow on few folds), or none (the mean values alone).",
        ),
    ] = "auto",
    confidence: Annotated[float, typer.Option("--confidence", help="Confidence of the gate's interval.")] = 0.95,
    min_improvement: Annotated[
        float, typer.Option("--min-improvement", help="The interval's lower end must exceed this (objective units).")
    ] = 0.0,
    top_k: Annotated[int, typer.Option("--top-k", help="How many of the search's best trials are compared.")] = 3,
    queue: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--queue", help="Where to re-run the champion when its folds differ \\[default: the search's]."),
    ] = None,
    rerun_timeout: Annotated[
        float, typer.Option("--rerun-timeout", help="Seconds the champion's re-run may take (an agent must serve it).")
    ] = 600.0,
    storage: StorageOpt = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tag the best completed trial's model `best`; make it the champion if it surely beats the current one."""
    from hpo.connection import connect
    from hpo.promotion import Gate, promote_study

    def work() -> None:
        rule = Gate(gate, confidence, min_improvement, top_k)  # bad values fail before any server work
        with sdk_output_to_stderr():
            connect(api_host)
            result = promote_study(
                study,
                storage=storage,
                force=force,
                publish=publish,
                gate=rule,
                queue=queue,
                rerun_timeout_s=rerun_timeout,
            )
        if as_json:
            console.print_json(json.dumps(result.as_dict(), default=str))
            return
        values = ", ".join(f"{o['name']} {number(float(o['value']))}" for o in result.objectives)
        console.print(f"study {escape(result.study)}: best trial {result.trial} ({values}), model {result.model_id}")
        for line in promotion_lines(result.model_id, result.champion, result.reason, result.study):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        for why in result.refused:
            console.print(f"[yellow]refused[/yellow] {escape(why)}")
        folds = _per_fold(result.evidence or {})
        if folds:
            console.print(f"evidence: {escape(folds)}")
        if result.published:
            console.print(f"published champion {result.published} (model and task)")

    run(work)


def _per_fold(evidence: dict[str, Any]) -> str:
    """``per fold: this 0.96 0.86 ..., champion 0.46 0.62 ...`` (empty when nothing was compared)."""
    champ = evidence.get("champion") or {}
    chosen = next((c for c in evidence.get("candidates", []) if c["trial"] == evidence.get("chosen")), None)
    if not chosen or not champ.get("scores"):
        return ""
    mine = " ".join(number(float(v)) for v in chosen["scores"])
    theirs = " ".join(number(float(v)) for v in champ["scores"])
    return f"per fold: trial {chosen['trial']} {mine}, champion {theirs}"


def evidence_line(evidence: dict[str, Any] | None, study: str | None = None) -> str:
    """The promotion gate's evidence in one line (``hpo best``); a kept challenger's names the command
    that would replace the champion (``hpo promote STUDY --force``) when its ``study`` is known."""
    if not evidence:
        return "- (promoted before the gate existed)"
    folds = _per_fold(evidence)
    reason = with_force_command(str(evidence["reason"]), study)
    return f"{evidence['decision']} ({evidence['rule']}): {reason}" + (f"; {folds}" if folds else "")


def _templates_then_texts(args: list[str], template: str | None) -> tuple[str | None, list[str]]:
    """``[TEMPLATE] TEXT...``: the first argument is a template when it names one and texts follow."""
    from hpo.templates import CATALOG

    if template is None and args and args[0] in CATALOG:
        return args[0], args[1:]
    return template, args


def _study_of(tags: list[str]) -> str | None:
    """The study a model was promoted from, by its ``study:<name>`` tag."""
    from hpo.promotion import STUDY_PREFIX

    return next((t.removeprefix(STUDY_PREFIX) for t in tags if t.startswith(STUDY_PREFIX)), None)


def _row(model: Any) -> Table:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    d = model.as_dict()
    objective = ", ".join(f"{o['name']} ({o['direction']}) {number(float(o['value']))}" for o in d["objectives"])
    dataset = d["dataset"]
    rows = [
        ("template", d["template"]),
        ("role", "champion" if d["champion"] else "best on this dataset version (not the champion)"),
        ("model id", d["model_id"]),
        ("task id", d["task_id"]),
        ("objective", objective or "-"),
        *([("dataset", f"{dataset['project']}/{dataset['name']} {dataset['version']}")] if dataset else []),
        ("params", json.dumps(d["params"], sort_keys=True, default=str)),
        ("evidence", evidence_line(d["evidence"], _study_of(d["tags"]))),
        ("tags", ", ".join(d["tags"])),
        ("web", d["web_url"] or "-"),
    ]
    for key, value in rows:
        table.add_row(key, escape(str(value)))
    return table


def best(
    template: Annotated[
        Optional[str],  # noqa: UP045
        typer.Argument(help="Template key (tfidf, bert) \\[default: whichever has a champion]."),
    ] = None,
    dataset_version: VersionOpt = None,
    dataset: DatasetOpt = None,
    project: ProjectOpt = None,
    download: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--download", help="Save the model's files into this folder."),
    ] = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show the champion model: ids, objective, params, tags and its task's page in the web UI."""
    from hpo.promotion import get_best_model

    def work() -> None:
        with sdk_output_to_stderr():
            model = get_best_model(template, project, dataset_version, dataset=dataset, api_host=api_host)
            saved = model.download(download) if download else None
        if as_json:
            console.print_json(json.dumps({**model.as_dict(), "downloaded": str(saved) if saved else None}))
            return
        console.print(_row(model))
        if saved:
            console.print(f"saved to {escape(str(saved))}")

    run(work)


def _text_template(model: Any) -> None:
    """Refuse a champion that is not a text classifier of the shipped templates: say what to use instead."""
    from hpo.templates import CATALOG

    if model.template in CATALOG:
        return
    served = ", ".join(sorted(CATALOG))
    raise ConfigError(
        f"hpo predict classifies texts with the champions of the text templates ({served}); model"
        f" {model.model_id} (template {model.template!r}) is not one; in Python,"
        f" get_best_model({model.template!r}).predict(X) calls the model's own predict, .load() returns the"
        " model object, and `hpo best --download DIR` saves its files"
    )


def predict(
    args: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(help="[TEMPLATE] TEXT...: an optional template key, then the texts to classify."),
    ] = None,
    file: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--file", help="Classify each non-empty line of this file (- for stdin)."),
    ] = None,
    template: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--template", help="Template key, when the first text could be read as one."),
    ] = None,
    dataset_version: VersionOpt = None,
    dataset: DatasetOpt = None,
    project: ProjectOpt = None,
    api_host: ApiHostOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print the champion's label and probabilities for each text.

    Serves the text templates (tfidf, bert). For any other model (your own script's), use Python:
    get_best_model(TEMPLATE, project=...).predict(X), or .load() for the object itself.
    """
    import sys

    from hpo.promotion import get_best_model

    def work() -> None:
        key, texts = _templates_then_texts(list(args or []), template)
        if file is not None:
            source = sys.stdin.read() if str(file) == "-" else file.read_text()
            texts += [line for line in source.splitlines() if line.strip()]
        if not texts:
            raise ConfigError("no text to classify; pass texts as arguments or --file PATH")
        with sdk_output_to_stderr():
            model = get_best_model(key, project, dataset_version, dataset=dataset, api_host=api_host)
            _text_template(model)
            predictions = model.predict(texts)
        if as_json:
            rows = [{"text": p.text, "label": p.label, "probabilities": p.probabilities} for p in predictions]
            console.print_json(json.dumps({"model_id": model.model_id, "predictions": rows}, default=str))
            return
        labels = sorted({label for p in predictions for label in (p.probabilities or {})})
        table = Table("label", *labels, "text")
        for p in predictions:
            shown = p.probabilities or {}
            table.add_row(
                escape(str(p.label)),
                *(number(float(shown[label])) if label in shown else "-" for label in labels),
                escape(p.text),
            )
        console.print(table)

    run(work)
