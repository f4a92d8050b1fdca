"""A read-side view of the study storage that ties each trial to its ClearML task.

optuna-dashboard shows a trial's user attributes as text and its note as Markdown. The search
records ``task_id``, ``queue``, ``state`` and ``model_id`` as user attributes; when a ClearML web UI
is configured this view adds a ``clearml_url`` user attribute and, for trials without a note of
their own, a note with a clickable link to the task. Nothing is written: the study stays exactly
as the search wrote it, and a note written in the dashboard replaces the generated one.

optuna-dashboard reads notes from the study's system attributes (``FrozenStudy.system_attrs`` of
``get_all_studies``), so the generated notes are added there, from the trials read at most every
``NOTES_TTL_S`` seconds per study (its own trial cache lives 2-10 s).

Thread-safety: as safe as the wrapped storage (the dashboard serves requests from several threads);
the note cache has its own lock.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Container, Sequence
from typing import Any

from optuna.distributions import BaseDistribution
from optuna.storages import BaseStorage
from optuna.study import StudyDirection
from optuna.study._frozen import FrozenStudy
from optuna.trial import FrozenTrial, TrialState

from hpo.dashboard._links import URL_ATTR, task_url, trial_note
from hpo.study import StudyAttr, TrialAttr

# optuna-dashboard's note layout in study system attributes (optuna_dashboard/_note.py, 0.21).
_NOTE_VER = "dashboard:{trial_id}:note_ver"
_NOTE_STR = "dashboard:{trial_id}:note_str:"
_NOTE_CHUNK = 2045  # its longest system attribute value
NOTES_TTL_S = 5.0
_METRIC_NAMES = "study:metric_names"  # what optuna's Study.set_metric_names writes


class LinkedStorage(BaseStorage):
    """Delegates everything to ``base``; trials read through it carry their ClearML link and note.

    Args:
        base: The study storage the search writes.
        web_host: ClearML's web UI address, or ``None`` for no links (the note still lists the
            trial's ClearML attributes).
    """

    def __init__(self, base: BaseStorage, web_host: str | None) -> None:
        self.base = base
        self.web_host = web_host
        self._notes: dict[int, tuple[float, dict[int, str]]] = {}  # study id -> (read at, notes)
        self._lock = threading.Lock()

    # ---- what is decorated ----------------------------------------------------------------
    def _decorate(self, trial: FrozenTrial) -> FrozenTrial:
        task_id = trial.user_attrs.get(TrialAttr.TASK_ID)
        if not task_id or not self.web_host:
            return trial
        linked = copy.copy(trial)  # the base storage may cache and share its trial objects
        linked.user_attrs = {**trial.user_attrs, URL_ATTR: task_url(self.web_host, str(task_id))}
        return linked

    def get_all_trials(
        self, study_id: int, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        return [self._decorate(t) for t in self.base.get_all_trials(study_id, deepcopy=deepcopy, states=states)]

    def get_trial(self, trial_id: int) -> FrozenTrial:
        return self._decorate(self.base.get_trial(trial_id))

    def get_best_trial(self, study_id: int) -> FrozenTrial:
        return self._decorate(self.base.get_best_trial(study_id))

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return dict(self.get_trial(trial_id).user_attrs)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._with_notes(study_id, self.base.get_study_system_attrs(study_id))

    def get_all_studies(self) -> list[FrozenStudy]:
        studies = []
        # optuna-dashboard sorts RDB studies by id only when it sees an RDBStorage itself.
        for study in sorted(self.base.get_all_studies(), key=lambda s: s._study_id):
            linked = copy.copy(study)
            linked.system_attrs = self._with_notes(study._study_id, study.system_attrs)
            names = _objective_names(study.user_attrs)
            if names and _METRIC_NAMES not in linked.system_attrs:
                linked.system_attrs[_METRIC_NAMES] = names  # plots say "validation/score", not "Objective 0"
            studies.append(linked)
        return studies

    def _with_notes(self, study_id: int, system_attrs: dict[str, Any]) -> dict[str, Any]:
        """``system_attrs`` plus a generated note for each linked trial without a note of its own."""
        attrs = dict(system_attrs)
        if not self.web_host:
            return attrs  # without a web UI the user attributes already say it all
        for trial_id, body in self._trial_notes(study_id).items():
            if _NOTE_VER.format(trial_id=trial_id) not in system_attrs:  # a note written in the dashboard wins
                attrs.update(_note_attrs(trial_id, body))
        return attrs

    def _trial_notes(self, study_id: int) -> dict[int, str]:
        """Trial id -> generated note, re-read at most every ``NOTES_TTL_S`` seconds."""
        with self._lock:
            cached = self._notes.get(study_id)
        if cached is not None and time.monotonic() - cached[0] < NOTES_TTL_S:
            return cached[1]
        notes: dict[int, str] = {}
        for trial in self.base.get_all_trials(study_id, deepcopy=False):
            body = trial_note(trial.user_attrs, self.web_host)
            if body:
                # optuna-dashboard keys notes by the storage's trial id, which only this private field holds.
                notes[trial._trial_id] = body
        with self._lock:
            self._notes[study_id] = (time.monotonic(), notes)
        return notes

    # ---- plain delegation -----------------------------------------------------------------
    def create_new_study(self, directions: Sequence[StudyDirection], study_name: str | None = None) -> int:
        return self.base.create_new_study(directions, study_name)

    def delete_study(self, study_id: int) -> None:
        self.base.delete_study(study_id)

    def set_study_user_attr(self, study_id: int, key: str, value: Any) -> None:
        self.base.set_study_user_attr(study_id, key, value)

    def set_study_system_attr(self, study_id: int, key: str, value: Any) -> None:
        self.base.set_study_system_attr(study_id, key, value)

    def get_study_id_from_name(self, study_name: str) -> int:
        return self.base.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self.base.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list[StudyDirection]:
        return self.base.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self.base.get_study_user_attrs(study_id)

    def create_new_trial(self, study_id: int, template_trial: FrozenTrial | None = None) -> int:
        return self.base.create_new_trial(study_id, template_trial)

    def set_trial_param(
        self, trial_id: int, param_name: str, param_value_internal: float, distribution: BaseDistribution
    ) -> None:
        self.base.set_trial_param(trial_id, param_name, param_value_internal, distribution)

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self.base.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def set_trial_state_values(self, trial_id: int, state: TrialState, values: Sequence[float] | None = None) -> bool:
        return self.base.set_trial_state_values(trial_id, state, values)

    def set_trial_intermediate_value(self, trial_id: int, step: int, intermediate_value: float) -> None:
        self.base.set_trial_intermediate_value(trial_id, step, intermediate_value)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.base.set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        self.base.set_trial_system_attr(trial_id, key, value)

    def get_n_trials(self, study_id: int, state: tuple[TrialState, ...] | TrialState | None = None) -> int:
        return self.base.get_n_trials(study_id, state)

    def remove_session(self) -> None:
        self.base.remove_session()


def _objective_names(study_user_attrs: dict[str, Any]) -> list[str]:
    """``title/series`` of each objective the search recorded (``[[title, series, direction], ...]``)."""
    objectives = study_user_attrs.get(StudyAttr.OBJECTIVES)
    if not isinstance(objectives, list) or not all(isinstance(o, list) and len(o) >= 2 for o in objectives):
        return []
    return [f"{o[0]}/{o[1]}" for o in objectives]


def _note_attrs(trial_id: int, body: str) -> dict[str, Any]:
    """``body`` as optuna-dashboard stores a note: version 0 (never edited) and chunks."""
    prefix = _NOTE_STR.format(trial_id=trial_id)
    chunks = {
        f"{prefix}{i}": body[start : start + _NOTE_CHUNK] for i, start in enumerate(range(0, len(body), _NOTE_CHUNK))
    }
    return {_NOTE_VER.format(trial_id=trial_id): 0, **chunks}


__all__ = ["LinkedStorage"]
