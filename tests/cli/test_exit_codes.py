"""``hpo search`` ends with the exit code a shell or a supervisor expects: 130 after Ctrl-C (SIGINT),
143 after SIGTERM, each after the same cleanup; a real search, real agents, a real server."""

from __future__ import annotations

import re
import signal

import pytest

from tests.support.search import SearchEnv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]


@pytest.mark.parametrize(
    ("sig", "code", "reason"), [(signal.SIGINT, 130, "Ctrl-C"), (signal.SIGTERM, 143, "SIGTERM")], ids=["int", "term"]
)
def test_a_search_ended_by_a_signal_exits_with_128_plus_its_number(
    search_env: SearchEnv, sig: signal.Signals, code: int, reason: str
) -> None:
    space = search_env.slow_space(trials=4, concurrency=1, sleep_s=1.0, iterations=60)
    with search_env.start("search", str(space), "--local-workers", "1", "--study", "sig") as controller:
        controller.until(
            lambda: any(t["attrs"].get("state") == "running" for t in search_env.study_so_far("sig")),
            what="a running trial",
        )
        # no terminal: the plain progress line comes first (a fast start may beat it)
        controller.until_line(r"^sig \[running\] 0/4 done")
        assert controller.stop(sig, timeout=180) == code
    output = controller.output  # stdout and stderr: no terminal
    assert f"stopping ({reason}): dequeuing queued trials, aborting running ones" in output, output[-3000:]
    assert f"sig: stopped ({reason}) after 0/4 trials" in output, output[-3000:]
    # no terminal, so no live view: plain progress lines said what was happening meanwhile
    assert re.search(r"^sig \[running\] 0/4 done \(\d running, \d queued\)", output, re.M), output[-3000:]
    assert search_env.study_attrs("sig")["stop_reason"] == reason
