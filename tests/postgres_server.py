"""A throwaway PostgreSQL server for tests, started by the test session itself.

The session fixture :func:`postgres_server` (made visible to every test folder by
``tests/conftest.py``) starts one server on first use: ``initdb`` into a temporary folder, then
``pg_ctl start`` on a free TCP port on 127.0.0.1, with the unix socket in that folder too, so
nothing of the machine's own PostgreSQL is touched. Each test folder then asks for its own
database::

    @pytest.fixture(scope="session")
    def my_url(postgres_server: PostgresServer) -> str:
        return postgres_server.create_database("my_tests")  # a postgresql+psycopg:// URL

Tests that run on both databases take :data:`BACKENDS` as their fixture's ``params``: the
PostgreSQL run carries the ``postgres`` mark, so ``-m "not postgres"`` (``make test-unit``) runs
the SQLite half alone, with no server to install or start.

The binaries are found on PATH, else in Debian's ``/usr/lib/postgresql/<version>/bin``. When
there are none the tests that need the server FAIL, saying to install ``postgresql`` (``make
system-deps``); set ``HANDOFF_TEST_SKIP_POSTGRES=1`` to skip them instead. ``initdb`` refuses to
run as root, so under root the server runs as the ``postgres`` user (else ``nobody``).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

SKIP_ENV = "HANDOFF_TEST_SKIP_POSTGRES"
# The two backends a store test runs on; ``request.param`` is the plain name.
BACKENDS = ("sqlite", pytest.param("postgresql", marks=pytest.mark.postgres, id="postgresql"))
INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl) were not found on PATH nor in "
    "/usr/lib/postgresql/*/bin. Install them with `make system-deps` (or "
    "`apt-get install postgresql`), or set HANDOFF_TEST_SKIP_POSTGRES=1 to skip the "
    "PostgreSQL tests."
)
SUPERUSER = "postgres"
_DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_postgres_bindir() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``."""
    on_path = shutil.which("initdb")
    candidates: list[Path] = []
    if on_path:
        # /usr/local/bin/initdb is often a link into the versioned folder: use that folder,
        # so pg_ctl and postgres come from the same version.
        candidates.append(Path(on_path).resolve().parent)
    versioned = sorted(
        Path("/").glob(_DEBIAN_GLOB.lstrip("/")),
        key=lambda folder: _version_key(folder.parent.name),
        reverse=True,
    )
    candidates.extend(versioned)
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


class PostgresServer:
    """One running server; :meth:`create_database` gives each user its own database."""

    def __init__(self, bindir: Path, base_dir: Path, run_as: str | None) -> None:
        self.bindir = bindir
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir
        self.log_file = base_dir / "server.log"
        self.run_as = run_as
        self.host = "127.0.0.1"
        self.port = 0

    def url(self, database: str = "postgres") -> str:
        """A SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` (dropping one left over) and return its URL."""
        import psycopg

        if not _IDENTIFIER.fullmatch(name):
            raise ValueError(f"not a plain database name: {name!r}")
        dsn = f"host={self.host} port={self.port} user={SUPERUSER} dbname=postgres"
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def start(self) -> None:
        """``initdb`` and start the server; raises ``RuntimeError`` with its log on failure."""
        self._run(
            "initdb",
            "--pgdata",
            str(self.data_dir),
            "--username",
            SUPERUSER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",
        )
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between the probe and the bind
            self.port = _free_port()
            options = (
                f"-p {self.port} -h {self.host} -k {self.socket_dir} "
                # Durability is worthless for a throwaway test database; speed is not.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            )
            try:
                self._run(
                    "pg_ctl",
                    "--pgdata",
                    str(self.data_dir),
                    "--log",
                    str(self.log_file),
                    "--options",
                    options,
                    "--wait",
                    "--timeout",
                    "60",
                    "start",
                )
                return
            except RuntimeError as exc:
                last_error = str(exc)
        raise RuntimeError(last_error)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        try:
            if (self.data_dir / "postmaster.pid").exists():
                self._run("pg_ctl", "--pgdata", str(self.data_dir), "--mode", "fast", "stop")
        finally:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command: Sequence[str] = [str(self.bindir / program), *args]
        extra: dict[str, object] = {}
        if self.run_as is not None:
            account = pwd.getpwnam(self.run_as)
            extra = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=self.base_dir,
            env={**os.environ, "HOME": str(self.base_dir), "LC_ALL": "C"},
            timeout=120,
            check=False,
            **extra,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            log = (
                self.log_file.read_text(errors="replace")[-3000:] if self.log_file.exists() else ""
            )
            raise RuntimeError(
                f"{program} failed ({result.returncode}): {result.stderr.strip()}"
                + (f"\n--- server log ---\n{log}" if log else "")
            )


def start_postgres_server(bindir: Path) -> PostgresServer:
    """Start a server from ``bindir`` in a new temporary folder (the caller stops it)."""
    run_as = _unprivileged_user() if os.geteuid() == 0 else None
    # Not under pytest's tmp folder: under root that one is private to root, and the socket
    # path must stay short (unix sockets allow about 100 bytes).
    base_dir = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
    if run_as is not None:
        account = pwd.getpwnam(run_as)
        os.chown(base_dir, account.pw_uid, account.pw_gid)
    server = PostgresServer(bindir, base_dir, run_as)
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole test session, started on first use."""
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"PostgreSQL tests skipped ({SKIP_ENV}=1)")
    bindir = find_postgres_bindir()
    if bindir is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    try:
        server = start_postgres_server(bindir)
    except RuntimeError as exc:
        pytest.fail(f"cannot start a test PostgreSQL server from {bindir}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def _unprivileged_user() -> str:
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError("running as root and no 'postgres' or 'nobody' user to run initdb as")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _version_key(name: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)
