"""The controller's analysis refreshes: throttled, in the background, and never fatal (real Optuna storage)."""

from __future__ import annotations

import logging

import optuna
import pytest

from hpo.analysis import AnalysisRefresher
from hpo.study import StudyAttr, TrialAttr, TrialLabel


def _study(objectives: bool = True) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", storage=optuna.storages.InMemoryStorage())
    if objectives:
        study.set_user_attr(StudyAttr.OBJECTIVES, [["validation", "score", "max"]])
    return study


def _end_a_trial(study: optuna.Study) -> None:
    # never launched (no task): the analysis reads no server, yet the trial counts as ended
    trial = study.ask()
    trial.set_user_attr(TrialAttr.STATE, TrialLabel.FAILED)
    study.tell(trial, state=optuna.trial.TrialState.FAIL)


def test_a_refresh_runs_when_a_trial_ended_and_the_period_passed() -> None:
    study = _study()
    refresher = AnalysisRefresher(study, task=None, period_s=3600.0, backoff=0.0, check_s=0.0)
    refresher.maybe()  # nothing ended yet: no analysis
    assert refresher.runs == 0
    _end_a_trial(study)
    refresher.maybe()  # the first trial that ended: analysed at once, whatever the period
    refresher.final()
    assert refresher.runs == 2 and study.user_attrs[StudyAttr.COST]["compute_s"] == 0
    _end_a_trial(study)
    refresher.maybe()  # within the period of the last refresh: skipped
    assert refresher.runs == 2
    refresher.period_s = 0.0
    refresher.maybe()
    refresher.final()
    assert refresher.runs == 4


def test_a_failing_analysis_is_a_warning_not_an_error(caplog: pytest.LogCaptureFixture) -> None:
    study = _study(objectives=False)  # analysis needs the objectives: it fails
    refresher = AnalysisRefresher(study, task=None, period_s=0.0)
    with caplog.at_level(logging.WARNING, logger="hpo.analysis"):
        refresher.final()
    assert refresher.runs == 0
    assert "cannot report the search's analysis" in caplog.text
