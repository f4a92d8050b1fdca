"""Keep a running search's analysis fresh on its optimizer task, without holding up the controller.

The controller calls :meth:`AnalysisRefresher.maybe` from its wait loop: when a trial ended since
the last analysis and ``period_s`` (or ``backoff`` times what the last analysis took) passed,
one analysis runs in a background thread (never two at once). :meth:`AnalysisRefresher.final`
waits for that thread and runs the last analysis at the end. An analysis that fails is logged as
a warning: it never ends the search.

Threading: ``maybe`` and ``final`` from the controller's thread; the analysis in its own thread
(it reads the study through its own storage, which Optuna's RDB storage allows).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import optuna

from hpo.analysis._report import analyze_study
from hpo.study import FINISHED_LABELS, trial_label

log = logging.getLogger(__name__)

REFRESH_PERIOD_S = 30.0
CHECK_S = 2.0  # how often the study is read for trials that ended (a cheap read, but not every loop)
FINAL_WAIT_S = 60.0  # how long the end of a search waits for a refresh in flight


class AnalysisRefresher:
    """Throttled analysis refreshes of one search.

    Args:
        study: The search's study.
        task: Its optimizer task (a clearml Task).
        period_s: The least time between two refreshes.
        backoff: A refresh also waits this many times what the last one took (fANOVA on 1,000 trials
            takes ~10 s: a large search refreshes less often).
        check_s: How often the study is read for trials that ended.
    """

    def __init__(
        self,
        study: optuna.Study,
        task: Any,
        period_s: float = REFRESH_PERIOD_S,
        backoff: float = 5.0,
        check_s: float = CHECK_S,
    ) -> None:
        self.study = study
        self.task = task
        self.period_s = period_s
        self.backoff = backoff
        self.check_s = check_s
        self.runs = 0
        self._ended_seen = 0
        self._last = float("-inf")  # when the last refresh started
        self._checked = float("-inf")  # when the study was last read for ended trials
        self._thread: threading.Thread | None = None
        self._took = 0.0  # seconds the last analysis took

    def _ended(self) -> int:
        return sum(trial_label(t) in FINISHED_LABELS for t in self.study.get_trials(deepcopy=False))

    def maybe(self) -> None:
        """Start a refresh in the background when a trial ended since the last one and the period passed."""
        if self._thread is not None and self._thread.is_alive():
            return
        now = time.monotonic()
        if now - self._last < max(self.period_s, self.backoff * self._took) or now - self._checked < self.check_s:
            return
        self._checked = now  # a first trial's end is analysed at once, later ones per period
        try:
            ended = self._ended()
        except Exception as err:  # the storage hiccuped: next time
            log.warning("cannot read the study for its analysis: %s", err)
            return
        if ended == self._ended_seen:
            return
        self._ended_seen = ended
        self._last = now
        self._thread = threading.Thread(target=self._run, name="hpo-analysis", daemon=True)
        self._thread.start()

    def final(self) -> None:
        """The last analysis, after any refresh in flight (at the end of the search)."""
        if self._thread is not None:
            self._thread.join(FINAL_WAIT_S)
        self._run()

    def _run(self) -> None:
        began = time.monotonic()
        try:
            analyze_study(self.study, self.task)
            self.runs += 1
            self._took = time.monotonic() - began
        except Exception as err:  # the analysis is a view of the search, never a reason to end it
            log.warning("cannot report the search's analysis: %s", err, exc_info=log.isEnabledFor(logging.DEBUG))


__all__ = ["CHECK_S", "FINAL_WAIT_S", "REFRESH_PERIOD_S", "AnalysisRefresher"]
