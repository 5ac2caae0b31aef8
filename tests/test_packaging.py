"""The double-click app: icons, the self-test, and a real PyInstaller build of build.spec.

The slow tests build the one-folder app once (about 15-60 s) into a temporary folder and run
the built executable, as a person would, with ``QT_QPA_PLATFORM=offscreen``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtGui import QImage, QImageReader

ROOT = Path(__file__).resolve().parents[1]
ICONS = ROOT / "resources" / "icons"
SIZE_BUDGET = 130 * 1024 * 1024
"""120 MiB until the host's own certificate (desktop/certificate.py) brought in ``cryptography``:
its ``_rust.abi3.so`` is 11.0 MiB already stripped (OpenSSL linked into it statically) and
``_cffi_backend`` 0.3 MiB; measured 116.4 -> 127.7 MiB on Linux."""
OK_LINE = re.compile(
    r"^RoomChat self-test OK: window, server, client, page, history, tls, translations, emoji \((\d+\.\d\d) s\)$"
)


def _load_make_icons():
    spec = importlib.util.spec_from_file_location("make_icons", ICONS / "make_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _images(path: Path) -> list[QImage]:
    reader = QImageReader(str(path))
    images = []
    for index in range(reader.imageCount()):
        assert reader.jumpToImage(index)
        images.append(reader.read())
    return images


def _isolated_env(home: Path) -> dict[str, str]:
    """Offscreen, with every user folder (settings, data, logs) inside ``home``."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", HOME=str(home), USERPROFILE=str(home))
    for variable, folder in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        env[variable] = str(home / folder)
    return env


def _tree(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*")}


# Icons -------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, sizes",
    [
        ("roomchat.ico", [16, 24, 32, 48, 64, 128, 256]),
        ("roomchat.icns", [16, 32, 64, 128, 256, 32, 64, 256]),
    ],
)
def test_icon_containers_hold_every_size_of_the_source_image(qapp, name, sizes):
    source = QImage(str(ICONS / "roomchat.png")).convertToFormat(QImage.Format.Format_ARGB32)
    images = _images(ICONS / name)
    assert [image.width() for image in images] == sizes
    assert all(image.height() == image.width() for image in images)
    largest = images[sizes.index(256)].convertToFormat(QImage.Format.Format_ARGB32)
    assert largest == source, f"{name} is stale: run python resources/icons/make_icons.py"


def test_ico_and_icns_headers_are_well_formed(qapp):
    make_icons = _load_make_icons()
    source = QImage(str(ICONS / "roomchat.png"))
    ico = make_icons.ico_bytes(source, (16, 256))
    assert ico[:6] == b"\0\0\1\0\2\0"
    assert ico[6] == 16 and ico[22] == 0  # width 16, then 0 meaning 256
    icns = make_icons.icns_bytes(source, ((b"icp4", 16),))
    assert icns[:4] == b"icns" and int.from_bytes(icns[4:8], "big") == len(icns)
    assert icns[8:12] == b"icp4" and icns[16:24] == b"\x89PNG\r\n\x1a\n"


# Self-test from source ---------------------------------------------------


def test_self_test_from_source_passes_and_prints_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "desktop", "--self-test"],
        cwd=ROOT,
        env=_isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert OK_LINE.match(result.stdout.strip()), result.stdout


# The built app -----------------------------------------------------------


@pytest.fixture(scope="module")
def built_app(tmp_path_factory) -> Path:
    """``pyinstaller build.spec`` into a temporary folder; the one-folder app's directory."""
    out = tmp_path_factory.mktemp("pyinstaller")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "PyInstaller",
            "build.spec",
            "--distpath",
            str(out / "dist"),
            "--workpath",
            str(out / "build"),
            "--noconfirm",
            "--log-level",
            "WARN",
        ],
        cwd=ROOT,
        check=True,
        timeout=900,
    )
    return out / "dist" / "RoomChat"


def _executable(app: Path) -> Path:
    return app / ("RoomChat.exe" if sys.platform == "win32" else "RoomChat")


def _self_test(app: Path, home: Path, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(_executable(app)), "--self-test"],
        cwd=home,
        env=_isolated_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        **kwargs,
    )


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_built_app_passes_its_self_test_and_writes_nothing_next_to_itself(built_app, tmp_path):
    before = _tree(built_app)
    started = time.perf_counter()
    result = _self_test(built_app, tmp_path)
    wall = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert OK_LINE.match(result.stdout.strip()), result.stdout
    assert _tree(built_app) == before
    print(f"built app self-test: {wall:.2f} s wall, {result.stdout.strip()}")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_built_app_stays_within_the_size_budget(built_app):
    size = sum(
        path.stat().st_size
        for path in built_app.rglob("*")
        if path.is_file() and not path.is_symlink()
    )
    assert size <= SIZE_BUDGET, f"{size / 2**20:.1f} MiB > {SIZE_BUDGET / 2**20:.0f} MiB"
    bundled = _tree(built_app)
    assert not any("platformthemes" in path or "libgtk" in path for path in bundled)
    assert not any(re.search(r"QtQml|QtQuick|QtPdf|QtNetwork", path) for path in bundled)


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="closes file descriptors 1 and 2")
def test_built_app_without_stdout_logs_to_the_user_log_folder(built_app, tmp_path):
    """A windowed start has no stdout/stderr: the line goes to the log file in the user's log folder."""
    result = _self_test(built_app, tmp_path, preexec_fn=lambda: (os.close(1), os.close(2)))
    assert result.returncode == 0
    logs = list((tmp_path / ".local" / "state").rglob("roomchat.log"))
    assert len(logs) == 1, logs
    assert OK_LINE.match(logs[0].read_text(encoding="utf-8").strip().splitlines()[-1])


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_built_app_self_test_fails_with_the_reason_when_a_resource_is_missing(built_app, tmp_path):
    translation = next(built_app.rglob("roomchat_zh_CN.qm"))
    hidden = translation.with_suffix(".hidden")
    translation.rename(hidden)
    try:
        result = _self_test(built_app, tmp_path)
    finally:
        hidden.rename(translation)
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "RoomChat self-test FAILED: translation file roomchat_zh_CN.qm is missing" in result.stderr
    )
