"""A real PostgreSQL server for the store's tests: initdb and pg_ctl in a temp folder.

Debian's ``postgresql`` package puts the binaries in /usr/lib/postgresql/<major>/bin.
initdb refuses to run as root, so as root the server runs as the ``postgres`` user the
package creates. It listens on 127.0.0.1 only, on a free port, with trust
authentication for the local test user; it is stopped at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

USER = "voisin"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields the server's URL (database ``postgres``); raises RuntimeError with the
    reason when no server can be started here."""
    bin_dir = _binaries()
    if bin_dir is None:
        raise RuntimeError("no PostgreSQL binaries (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="voisin-pg-"))
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    prefix: list[str] = []
    if os.geteuid() == 0:
        runner = shutil.which("runuser")
        if runner is None:
            raise RuntimeError("running as root and no runuser to drop to the postgres user")
        prefix = [runner, "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = _free_port()
    log = root / "server.log"

    def run(*args: str) -> None:
        done = subprocess.run([*prefix, *args], capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-300:]}")

    try:
        run(str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust", "--no-sync")
        if prefix:
            shutil.chown(root, "postgres")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} -c fsync=on"
        run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start")
    except (RuntimeError, OSError, LookupError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(str(exc)) from None
    try:
        yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


def new_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """The URL of a new database ``name`` on the server at ``server_url`` (replacing one
    of that name), empty or a copy of database ``template`` (which nobody may be
    connected to)."""
    import psycopg

    copied = f' TEMPLATE "{template}"' if template else ""
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"{copied}')
    return server_url.rsplit("/", 1)[0] + "/" + name
