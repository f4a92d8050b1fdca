"""Fixtures for promotion tests: one server per session holding real trained TF-IDF trials (see
:mod:`tests.support.promotion`), and the same world stripped of earlier tests' promotion marks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from hpo import local_server
from tests.support.data import add_reviews, hpo_cli, write_reviews
from tests.support.promotion import CLONE, FINISH, TRIALS, Trial, World, check, run_clone
from tests.support.server import Env, free_port, sdk_env


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("promotion")
    data_dir = root / "server"
    server, _ = local_server.start(data_dir, port=free_port())
    try:
        env = Env(server, root, sdk_env(server, root))
        reviews = write_reviews(root / "reviews.csv", reviews=40)
        check(add_reviews(env.vars, reviews, version="1.0.0"))
        check(add_reviews(env.vars, write_reviews(root / "reviews2.csv", reviews=50, seed=1), version="2.0.0"))
        registered = hpo_cli(env.vars, "register", "tfidf", "--json")
        check(registered)
        template = registered.json()[0]["id"]
        clones = env.run(CLONE, template, json.dumps(TRIALS)).result
        with ThreadPoolExecutor(max_workers=2) as pool:
            runs = list(pool.map(lambda n: run_clone(env, n, clones[n]["id"], clones[n]["code"]), clones))
        for run in runs:
            assert run.returncode == 0, run.stdout + run.stderr
        finished = env.run(FINISH, json.dumps({n: c["id"] for n, c in clones.items()})).result
        trials = {
            n: Trial(n, f["task_id"], f["model_id"], f["status"], f["accuracy"], TRIALS[n][0], f["cv"], f["folds"])
            for n, f in finished.items()
        }
        yield World(env, trials, f"sqlite:///{root / 'studies.db'}")
    finally:
        local_server.stop(data_dir)


@pytest.fixture
def fresh(world: World) -> World:
    """The world with no promotion marks left by an earlier test."""
    world.reset()
    return world
