"""Help texts: what they say in brackets ("[default: ...]") is shown, not taken for Rich markup."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from hpo.cli import app


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["stop"], "[default: $HPO_STORAGE, else sqlite under $HPO_HOME]"),
        (["search"], "[default: the space's]"),
        (["server", "start"], "[default: $HPO_HOME/server]"),
        (["data", "add"], "[default: env, clearml.conf, else the embedded server]"),
        (["best"], "[default: whichever has a champion]"),
    ],
)
def test_bracketed_defaults_are_shown(command: list[str], fragment: str) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert fragment in result.output, result.output


@pytest.mark.parametrize("command", [[], ["search"], ["server", "start"], ["promote"]])
def test_yes_no_flags_take_no_value_in_help(command: list[str]) -> None:
    """A flag is shown as `--debug`, never as `--debug <bool>`: it takes no value."""
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output, result.output
    flag_lines = [line for line in result.output.splitlines() if "--help" in line]
    assert flag_lines and all("<" not in line for line in flag_lines), flag_lines


# Every command that talks to a ClearML server (the SDK, agents, the API) takes --api-host; the ones
# left out read only the study storage (status, studies, dashboard) or manage local processes.
SERVER_COMMANDS = [
    ["search"],
    ["stop"],
    ["promote"],
    ["best"],
    ["predict"],
    ["register"],
    ["data", "demo"],
    ["data", "add"],
    ["data", "list"],
    ["agent", "start"],
    ["agent", "status"],
    ["template", "add"],
    ["template", "list"],
    ["space", "init"],
]


@pytest.mark.parametrize("command", SERVER_COMMANDS, ids=" ".join)
def test_commands_that_talk_to_a_server_take_api_host(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "--api-host" in result.output, result.output
