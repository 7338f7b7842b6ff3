"""The paddle-roformer command."""
import subprocess
import sys

import pytest

from paddle_roformer import cli
from paddle_roformer.registry import list_pretrained


def test_list(capsys):
    assert cli.main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list_pretrained()
    assert all(len(line.split(maxsplit=1)) == 2 for line in lines), "every name has a description"


def test_list_with_a_pattern(capsys):
    assert cli.main(["list", "*sim*"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == list_pretrained("*sim*") and names and all("sim" in n for n in names)


def test_unknown_command_and_missing_arguments():
    with pytest.raises(SystemExit) as err:
        cli.main(["no-such-command"])
    assert err.value.code == 2
    with pytest.raises(SystemExit) as err:
        cli.main(["convert"])
    assert err.value.code == 2


@pytest.mark.parametrize("name", sorted(cli.COMMANDS))
def test_every_command_module_has_arguments_and_run(name):
    import importlib

    command = cli.COMMANDS[name]
    module = importlib.import_module(command.module)
    assert callable(getattr(module, command.add_arguments)) and callable(getattr(module, command.run))
    parser = cli.build_parser(name)
    assert parser.prog == "paddle-roformer"


def test_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "paddle_roformer.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert all(name in out.stdout for name in cli.COMMANDS)


def test_list_does_not_import_paddle():
    code = "import sys; from paddle_roformer import cli; cli.main(['list']); print('paddle' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "False"


def test_version(capsys):
    import paddle_roformer

    with pytest.raises(SystemExit) as err:
        cli.main(["--version"])
    assert err.value.code == 0
    assert capsys.readouterr().out.strip() == f"paddle-roformer {paddle_roformer.__version__}"
