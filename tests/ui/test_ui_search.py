"""A real small ``hpo search``: its optimizer task's UI page lists the trials, best first."""

from __future__ import annotations

import re

import httpx
import pytest

from hpo.server.ui import sign_in_link
from tests.support.search import SearchEnv

pytestmark = pytest.mark.slow  # end-to-end: scripts/test --quick leaves it out


def test_optimizer_page_lists_the_trials_of_a_real_search(search_env: SearchEnv) -> None:
    space = search_env.space(trials=3, concurrency=2)
    summary = search_env.search(space, "--local-workers", "2")
    assert summary["counts"]["completed"] == 3, summary
    server = search_env.env.server
    with httpx.Client(base_url=server.url, follow_redirects=True, timeout=30) as client:
        assert client.get(sign_in_link(server.credentials(), server.url)).url.path == "/projects"
        table = client.get("/projects/*/experiments", params={"name": "", "size": "200"}).text
        row = r'href="(/projects/[^/]+/experiments/[0-9a-f]+)/output/log">[^<]+</a></td><td><span[^>]*>\w+</span></td>'
        optimizers = re.findall(row + "<td>optimizer</td>", table)
        assert len(optimizers) == 1, table
        # `hpo search` and `hpo status` name this page: the optimizer task's info tab
        url = summary["optimizer_url"]
        assert url.startswith(server.url) and url.endswith(optimizers[0].split("/experiments/")[1] + "/general")
        assert f"trials in the web UI: {url}" in search_env.hpo("status", summary["study"]).stdout
        page = client.get(url).text
    assert "objective validation/score (max)" in page
    trials = re.findall(r'<td class="num objective"><span title="([\d.]+)">', page)  # the exact value
    values = [float(v) for v in trials]
    assert len(values) == 3 and values == sorted(values, reverse=True)
    assert "Compare top 3" in page
