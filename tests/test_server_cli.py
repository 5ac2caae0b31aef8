"""``roomchat-server`` refuses bad options with one line that names the option, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_server(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", "--host", "127.0.0.1", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(("args", "flag", "says"), [
    (("--port", "99999"), "--port", "99999 is not a port number (0 to 65535)"),
    (("--port", "-1"), "--port", "-1 is not a port number (0 to 65535)"),
    (("--port", "http"), "--port", "'http' is not a port number"),
])
def test_bad_port_is_one_line_naming_the_flag(args, flag, says, tmp_path):
    result = run_server(*args, "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"roomchat-server: error: argument {flag}: {says}"]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists(), "nothing was started or created"


def test_data_dir_that_is_a_file_is_one_line_naming_the_flag(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder")
    result = run_server("--port", "0", "--data-dir", str(a_file))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"roomchat-server: error: argument --data-dir: {a_file} is a file, not a folder"]
    assert a_file.read_text() == "not a folder"


def test_unknown_option_is_one_line_too():
    result = run_server("--prot", "8080")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--prot" in result.stderr
