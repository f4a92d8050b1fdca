"""Endpoint registration and the server's runtime settings: pure units."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo.errors import ConfigError
from hpo.server import DEFAULT_PORT, runtime_config
from hpo.server import routes as routes_package
from hpo.server._router import Call, Router


def _handler(call: Call) -> None:
    return None


def test_registering_an_endpoint_twice_in_a_router_raises() -> None:
    router = Router()
    router.endpoint("tasks.get_all")(_handler)
    with pytest.raises(ValueError, match="tasks.get_all is registered twice"):
        router.endpoint("tasks.get_all")(_handler)


def test_two_routers_with_one_endpoint_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = Router(), Router()
    first.endpoint("queues.get_all")(_handler)
    second.endpoint("queues.get_all")(_handler)
    monkeypatch.setattr(routes_package, "ROUTERS", [first, second])
    with pytest.raises(ValueError, match="queues.get_all is registered twice"):
        routes_package.handlers()


def test_the_real_routes_register_each_endpoint_once() -> None:
    assert len(routes_package.handlers()) == sum(len(r.handlers) for r in routes_package.ROUTERS)


def test_runtime_config_is_the_same_for_every_way_of_serving(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HPO_SERVER_TASK_TIMEOUT", "7")
    config = runtime_config(tmp_path / "d")
    assert (config.port, config.task_timeout_s, config.watchdog_period_s) == (DEFAULT_PORT, 7.0, 1.75)
    assert config.data_dir == (tmp_path / "d").resolve()
    assert runtime_config(tmp_path, task_timeout_s=40).watchdog_period_s == 5.0


@pytest.mark.parametrize(("port", "timeout", "needle"), [(99999, None, "99999 is not a TCP port"), (-1, None, "-1"),
                                                        (8008, 0.0, "must be positive")])  # fmt: skip
def test_runtime_config_names_the_bad_value(tmp_path: Path, port: int, timeout: float | None, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        runtime_config(tmp_path, port=port, task_timeout_s=timeout)
