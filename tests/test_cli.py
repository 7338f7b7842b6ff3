"""The paddle-roformer command."""
import subprocess
import sys

import pytest

from paddle_roformer import cli


def test_list(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 10 and out[0].startswith("roformer-chinese-base ")


def test_unknown_command_and_missing_arguments():
    with pytest.raises(SystemExit) as err:
        cli.main(["train"])
    assert err.value.code == 2
    with pytest.raises(SystemExit):
        cli.main(["convert"])


def test_help_runs_as_a_module():
    out = subprocess.run([sys.executable, "-m", "paddle_roformer.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "convert" in out.stdout
