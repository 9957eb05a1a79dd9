"""The package as an operator installs it: the wheel built from this tree, installed in a
fresh virtual environment outside the source tree, serving the simulator and the Urdu
prompts a caller hears (not Twilio's English <Say> fallback), with no test files inside."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from tests.conftest import TEST_KEY

REPO = Path(__file__).resolve().parents[1]
URDU_PROMPT = "voice_ask_tracking.mp3"  # played when an Urdu caller asks for a status
# Build output and local state that a fresh clone does not have.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "artifacts",
                                    "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy, so that a stale build/ folder of the working tree cannot leak in.
    source = tmp_path_factory.mktemp("source") / "ikhtiyar"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-w", str(out), str(source)],
                   check=True, capture_output=True, timeout=300)
    [built] = out.glob("ikhtiyar-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> Path:
    """A new virtual environment with only the wheel installed; the dependencies come from
    this environment's site-packages (a .pth line), which installing them again would only
    slow down. The source tree is not on its path."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([venv / "bin" / "python", "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "-q", "--no-deps", "--no-compile", "--disable-pip-version-check", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return venv


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read()


def test_the_wheel_ships_what_serve_reads_and_no_test_files(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "fixtures" in n or n.startswith("tests/")]
    for needed in ("config/messages.yaml", "config/districts.yaml", "config/departments.yaml",
                   "config/nlu/intents.yaml", "config/nlu/categories.yaml", "config/nlu/places.yaml",
                   "config/prompts/manifest.json", f"config/prompts/ur/{URDU_PROMPT}",
                   f"config/prompts/ps/{URDU_PROMPT}", "gateway/templates/simulator.html",
                   "gateway/blueprints/dashboard_strings.yaml", "storage/migrations/env.py",
                   "storage/migrations/script.py.mako",
                   "storage/migrations/versions/0001_initial_schema.py"):
        assert needed in names, needed
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)


def test_the_installed_package_serves_the_simulator_and_the_urdu_prompts(installed, tmp_path):
    bin_dir = installed / "bin"
    where = subprocess.run([bin_dir / "python", "-c", "import gateway; print(gateway.__file__)"],
                           cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert where.startswith(str(installed)), where  # the installed copy, not the source tree
    version = subprocess.run([bin_dir / "ikhtiyar", "--version"], cwd=tmp_path, check=True,
                             capture_output=True, text=True).stdout
    assert version.startswith("ikhtiyar, version ")

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IKHTIYAR_", "TWILIO_"))}
    env.update(IKHTIYAR_WEB_LISTEN=f"127.0.0.1:{port}", IKHTIYAR_SMTP_LISTEN=f"127.0.0.1:{_free_port()}",
               IKHTIYAR_DATA_KEY=TEST_KEY)
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen([bin_dir / "ikhtiyar", "serve"], cwd=tmp_path, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(base + "/healthz")
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.3)
        status, _, page = _get(base + "/simulator")
        assert status == 200 and b"<form" in page
        status, content_type, audio = _get(f"{base}/audio/prompts/ur/{URDU_PROMPT}")
        assert (status, content_type) == (200, "audio/mpeg")
        assert audio == (REPO / "config" / "prompts" / "ur" / URDU_PROMPT).read_bytes()
        assert audio[:3] == b"ID3" or audio[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
    assert (tmp_path / "var" / "ikhtiyar.db").exists()  # its state in the working folder
