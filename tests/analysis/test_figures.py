"""The analysis of studies too small to chart says what is missing and shows what it can (pure, real Optuna)."""

from __future__ import annotations

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution

from hpo.analysis import TrialRecord, build_analysis
from hpo.analysis._figures import CONTOUR, HISTORY, IMPORTANCE, INTERMEDIATE, PARETO, SLICE
from hpo.analysis._tables import NOTES, TIMELINE, TRIALS
from hpo.study import Objective

SPACE = {"General/x": FloatDistribution(0.0, 1.0), "General/y": FloatDistribution(0.0, 1.0)}
SCORE = Objective("validation", "score", "max")
COST = Objective("validation", "cost", "min")


def _trial(
    number: int, state: str = "completed", x: float = 0.5, y: float = 0.5, steps: int = 3, objectives: int = 1
) -> TrialRecord:
    value = 1.0 - (x - 0.3) ** 2 - 0.1 * y
    return TrialRecord(
        number=number,
        state=state,
        params={"General/x": x, "General/y": y},
        distributions=dict(SPACE),
        values=[value, x][:objectives] if state == "completed" else None,
        intermediate={i: value * (i + 1) / steps for i in range(steps)},
        task_id=f"task{number}",
        queue="default",
        worker=f"worker-{number % 2}",
        created=1000.0 + number,
        started=1001.0 + number,
        ended=1004.0 + number if state != "running" else None,
        pruned={"step": steps - 1, "reason": "pruned by MedianPruner at step 1"} if state == "pruned" else None,
    )


def _titles(records: list[TrialRecord], objectives: list[Objective] | None = None) -> set[str]:
    return set(build_analysis(records, objectives or [SCORE]).titles)


def _notes(records: list[TrialRecord]) -> str:
    return " | ".join(f"{n.chart}: {n.missing}" for n in build_analysis(records, [SCORE]).notes)


def test_no_trial_at_all_reports_tables_that_say_so() -> None:
    analysis = build_analysis([], [SCORE])
    assert analysis.plots == []
    assert set(analysis.tables) == {TRIALS, "Cost", NOTES}
    notes = _notes([])
    assert "no completed trial yet" in notes and "no trial was launched yet" in notes


def test_no_completed_trial_still_shows_curves_and_timeline() -> None:
    records = [_trial(0, "pruned", steps=2), _trial(1, "running")]
    assert _titles(records) == {INTERMEDIATE, TIMELINE, TRIALS, "Cost", NOTES}
    assert "no completed trial yet" in _notes(records)


def test_one_trial_shows_history_and_says_no_parameter_varied() -> None:
    records = [_trial(0)]
    titles = _titles(records)
    assert HISTORY in titles and IMPORTANCE.format("fANOVA") not in titles and CONTOUR not in titles
    notes = _notes(records)
    assert "General/x never varied" in notes and "fewer than two parameters varied" in notes


def test_a_parameter_that_never_varied_is_left_out_and_named() -> None:
    records = [_trial(n, x=0.1 * n, y=0.5) for n in range(6)]
    records.append(_trial(6, x=1.5, y=0.5))  # outside the space's range (the space was edited): still shown
    analysis = build_analysis(records, [SCORE])
    assert "General/y never varied" in " ".join(n.missing for n in analysis.notes)
    [importance] = [p for p in analysis.plots if p.title == IMPORTANCE.format("fANOVA")]
    assert "General/y" not in str(importance.figure.to_dict()["data"])
    assert CONTOUR not in analysis.titles  # one parameter varied


def test_enough_trials_draw_every_chart_numbered_as_in_the_search() -> None:
    records = [_trial(n, x=0.08 * n, y=0.05 * (n % 5)) for n in range(12) if n != 4]  # trial 4: a duplicate
    records.append(_trial(12, "pruned", x=0.95, steps=2))
    analysis = build_analysis(records, [SCORE])
    for title in (HISTORY, IMPORTANCE.format("fANOVA"), IMPORTANCE.format("PED-ANOVA"), SLICE, CONTOUR, INTERMEDIATE):
        assert title in analysis.titles, [n.missing for n in analysis.notes]
    [history] = [p for p in analysis.plots if p.title == HISTORY]
    [points] = [t for t in history.figure.to_dict()["data"] if t.get("name") == SCORE.label]
    assert list(points["x"]) == [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11]  # trial numbers of the search, with the gap
    [curves] = [p for p in analysis.plots if p.title == INTERMEDIATE]
    [stops] = [t for t in curves.figure.to_dict()["data"] if t.get("name") == "pruned here"]
    assert list(stops["x"]) == [1] and "trial 12: pruned by MedianPruner" in stops["text"][0]
    rows = analysis.tables[TRIALS][1]
    assert rows[0][:3] == ["trial", "General/x", "General/y"]
    assert rows[-1][4] == "pruned" and rows[-1][5] == 1


def test_two_objectives_draw_a_pareto_front_and_one_history_each() -> None:
    records = [_trial(n, x=0.1 * n, y=0.1 * (n % 3), objectives=2) for n in range(6)]
    analysis = build_analysis(records, [SCORE, COST])
    assert PARETO in analysis.titles
    assert {p.series for p in analysis.plots if p.title == HISTORY} == {SCORE.label, COST.label}


def test_categorical_parameters_and_a_failed_importance_fit_become_notes() -> None:
    space = {"General/c": CategoricalDistribution(["a", "b"])}
    records = [
        TrialRecord(n, "completed", {"General/c": c}, dict(space), [float(n)], {}, f"t{n}")
        for n, c in enumerate(["a", "b"])
    ]
    analysis = build_analysis(records, [SCORE])
    assert HISTORY in analysis.titles
    assert isinstance(optuna.__version__, str)
    assert any(n.chart.startswith("Contour") for n in analysis.notes)


def test_timeline_has_a_lane_per_worker_and_dates_plotly_reads() -> None:
    from datetime import datetime

    from hpo.analysis._tables import timeline_figure

    records = [_trial(0), _trial(1), _trial(2, "running"), _trial(3)]
    records[3].started = records[3].ended = records[3].worker = None  # still queued
    fig = timeline_figure(records, now=2000.0)
    traces = {t["name"]: t for t in fig.to_dict()["data"]}
    assert set(traces) == {"queued", "completed", "running"}
    assert set(traces["completed"]["y"]) == {"worker-0", "worker-1"}
    assert "(not started)" in traces["queued"]["y"]
    for trace in traces.values():
        for base in trace["base"]:
            assert "Z" not in base and "T" not in base  # plotly.js takes no time zone: a "Z" date is not drawn
            datetime.strptime(base, "%Y-%m-%d %H:%M:%S.%f")
    assert list(traces["completed"]["x"]) == [3000.0, 3000.0]  # milliseconds from start to end
    assert traces["running"]["x"][0] == (2000.0 - records[2].started) * 1000  # runs until now
