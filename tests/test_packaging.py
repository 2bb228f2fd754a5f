"""The package as it is shipped: a wheel built from this checkout, installed
in a fresh virtual environment away from the source tree, serves its pages,
its static files and its migrations (``moderation run``), and the sdist
carries what the wheel is built from."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest
from server import ROOT, free_port, server_env, wait_until

pytestmark = pytest.mark.server

SHIPPED = ("moderation/templates/base.html", "moderation/static/js/live.js", "moderation/static/favicon.svg",
           "moderation/static/vendor/socket.io/socket.io.min.js", "moderation/migrations/env.py",
           "moderation/migrations/script.py.mako", "moderation/migrations/versions/0001_initial_schema.py")


def source_copy(into: Path) -> Path:
    """The checkout's files that git knows or would add (not .venv, build
    output or other ignored files), copied: building writes into its source
    folder, and must not write into the checkout."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        if (ROOT / name).is_file() and not name.startswith("tests/"):
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    return into


def build(kind: str, source: Path, into: Path) -> Path:
    """``pip wheel`` (setuptools from the package index, as any build) or setuptools' sdist."""
    if kind == "wheel":
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(into), str(source)]
    else:
        command = [sys.executable, "-c", "import setuptools.build_meta as b, sys; b.build_sdist(sys.argv[1])",
                   str(into)]
    done = subprocess.run(command, cwd=source, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return next(into.glob("*.whl" if kind == "wheel" else "*.tar.gz"))


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    return source_copy(tmp_path_factory.mktemp("source"))


@pytest.fixture(scope="module")
def wheel(source, tmp_path_factory) -> Path:
    return build("wheel", source, tmp_path_factory.mktemp("dist"))


def test_the_wheel_and_the_sdist_carry_pages_static_files_and_migrations(source, wheel, tmp_path):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in SHIPPED if name not in names]
    assert not missing, f"not in the wheel: {missing}"
    in_checkout = {p.relative_to(ROOT).as_posix() for folder in ("templates", "static")
                   for p in (ROOT / folder).rglob("*") if p.is_file()}
    assert {f"moderation/{name}" for name in in_checkout} <= names, "every template and static file"
    sdist = build("sdist", source, tmp_path)
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert in_checkout <= members, "the sdist has the top-level templates/ and static/"
    assert {"run.py", "setup.cfg", "moderation/migrations/versions/0001_initial_schema.py"} <= members


def test_an_installed_wheel_serves_pages_and_static_files(wheel, tmp_path):
    """Installed in a fresh virtual environment (its dependencies from the
    package index, pip's cache welcome), started with ``moderation run`` from
    a folder that is not the checkout: the schema is created from the
    wheel's migrations, and pages, static files and /healthz answer."""
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              str(wheel)], capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    env = server_env(tmp_path / "instance")
    env.pop("PYTHONPATH", None)
    located = subprocess.run([str(python), "-c", "import moderation; print(moderation.__file__)"],
                             cwd=workdir, env=env, capture_output=True, text=True, timeout=60)
    assert str(env_dir) in located.stdout, located  # the installed package, not the checkout
    moderation = env_dir / "bin" / "moderation"
    upgraded = subprocess.run([str(moderation), "db", "upgrade"], cwd=workdir, env=env, capture_output=True,
                              text=True, timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    port = free_port()
    log = open(tmp_path / "server.log", "wb")
    server = subprocess.Popen([str(moderation), "run", "--port", str(port), "--demo"], cwd=workdir, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def get(path: str) -> tuple[int, bytes, str]:
        with urllib.request.urlopen(base + path, timeout=5) as response:
            return response.status, response.read(), response.headers.get("Content-Type", "")

    def healthy() -> bool:
        assert server.poll() is None, (tmp_path / "server.log").read_text(errors="replace")
        try:
            return get("/healthz")[0] == 200
        except OSError:
            return False

    try:
        wait_until(healthy, 60, "the installed server to answer /healthz")
        status, body, kind = get("/")
        assert status == 200 and kind.startswith("text/html") and b"<html" in body.lower()
        status, body, kind = get("/static/js/live.js")
        assert status == 200 and b"export function send" in body
        status, body, _kind = get("/static/vendor/socket.io/socket.io.min.js")
        assert status == 200 and len(body) > 10_000
    finally:
        server.terminate()
        server.wait(15)
        log.close()
    output = (tmp_path / "server.log").read_text(errors="replace")
    assert "Traceback" not in output and "Warning" not in output, output
