"""Real services for the tests, on 127.0.0.1 in temporary directories, stopped by PID.

PostgreSQL, an MLflow tracking server (optionally with basic auth) and a single-node SLURM
cluster. Each needs Debian packages that ``.ci/services`` installs: without them a test
skips and says which package is missing, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

#: tests do not phone home; the server needs no background job runners
SERVER_ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def closed_port() -> int:
    """A port nothing listens on (bound, then released): connecting to it is refused."""
    return free_port()


def require(executables: dict[str, str] = (), modules: dict[str, str] = ()) -> None:
    """Skip (fail under CI=true) unless every executable and Python module is there.

    ``executables``: path or glob -> Debian package; ``modules``: module -> pip package.
    """
    missing = [pkg for exe, pkg in dict(executables).items()
               if not (glob.glob(exe) if "/" in exe else shutil.which(exe))]
    missing += [f"{pkg} (pip)" for mod, pkg in dict(modules).items()
                if importlib.util.find_spec(mod) is None]
    if missing:
        skip_or_fail(f"needs {', '.join(sorted(set(missing)))}: run .ci/services, "
                     "pip install -e '.[test]'")


def skip_or_fail(reason: str) -> None:
    """Skip a service test that cannot run here, saying why; under CI=true, fail instead:
    CI must run every service test."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Stop a process we started (and its process group) by its PID."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_until(ready, what: str, proc: subprocess.Popen | None, log: Path | None,
               timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not start:\n{tail}")
        time.sleep(0.3)


def _as_user(user: str) -> dict:
    """Popen arguments that run a command as ``user`` (only root can; others run as self)."""
    if os.geteuid() != 0:
        return {}
    pw = pwd.getpwnam(user)
    return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}


def service_dir(prefix: str, owner: str | None = None) -> Path:
    """A temporary directory that ``owner`` can use (pytest's tmp dirs are root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix=f"gdlab-{prefix}-"))
    if owner and os.geteuid() == 0:
        pw = pwd.getpwnam(owner)
        os.chown(path, pw.pw_uid, pw.pw_gid)
    return path


# --------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------

PG_BIN = "/usr/lib/postgresql/*/bin"


class Postgres:
    """A PostgreSQL cluster in a temporary directory, on 127.0.0.1 (trust auth, local only)."""

    def __init__(self, root: Path, port: int, proc: subprocess.Popen, bindir: Path):
        self.root, self.port, self.proc, self.bindir = root, port, proc, bindir

    def createdb(self, name: str) -> str:
        """A new database; returns its SQLAlchemy URI (psycopg2)."""
        subprocess.run([str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", name], check=True, capture_output=True)
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{name}"


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    require({PG_BIN + "/postgres": "postgresql"}, {"psycopg2": "psycopg2-binary"})
    bindir = Path(sorted(glob.glob(PG_BIN))[-1])
    user = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name
    root = service_dir("postgres", user)
    data, port = root / "data", free_port()
    subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                    "--no-sync", "-E", "UTF8"], check=True, capture_output=True,
                   **_as_user(user))
    log = root / "postgres.log"
    with open(log, "w") as out:
        os.chown(log, *(lambda pw: (pw.pw_uid, pw.pw_gid))(pwd.getpwnam(user)))
        # the postmaster itself (no pg_ctl in between): its PID is the one we stop
        proc = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-h", "127.0.0.1", "-p", str(port),
             "-k", str(root), "-c", "fsync=off", "-c", "max_connections=200"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **_as_user(user))
    try:
        wait_until(lambda: subprocess.run(
            [str(bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]
        ).returncode == 0, "postgres", proc, log)
        yield Postgres(root, port, proc, bindir)
    finally:
        stop(proc, signal.SIGINT)  # SIGINT: PostgreSQL's fast shutdown
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------
# MLflow tracking server
# --------------------------------------------------------------------------------------


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextlib.contextmanager
def mlflow_server(root: Path, backend_uri: str | None = None, *, port: int | None = None,
                  admin_password: str | None = None, workers: int = 1) -> Iterator[str]:
    """``mlflow server`` with proxied artifacts under ``root``; yields its URL.

    ``backend_uri``: SQLite in ``root`` unless given. ``admin_password``: basic auth (user
    ``admin``, its user store in ``root``), configured through MLFLOW_AUTH_CONFIG_PATH.
    """
    root.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    env = {**os.environ, **SERVER_ENV}
    cmd = [sys.executable, "-m", "mlflow", "server",
           "--backend-store-uri", backend_uri or f"sqlite:///{root / 'server.db'}",
           "--artifacts-destination", str(root / "artifacts"),
           "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if admin_password is not None:
        require(modules={"flask_wtf": "flask-wtf"})  # mlflow[auth]
        ini = root / "basic_auth.ini"
        ini.write_text("[mlflow]\ndefault_permission = READ\n"
                       f"database_uri = sqlite:///{root / 'basic_auth.db'}\n"
                       "admin_username = admin\n"
                       f"admin_password = {admin_password}\n"
                       "authorization_function = "
                       "mlflow.server.auth:authenticate_request_basic_auth\n"
                       # checking a password (PBKDF2) costs ~1 s a request on a busy
                       # machine: cache the result for a minute
                       "auth_cache_ttl_seconds = 60\n")
        env["MLFLOW_AUTH_CONFIG_PATH"] = str(ini)
        # the auth app's CSRF protection signs with it; the server refuses to start without
        env["MLFLOW_FLASK_SERVER_SECRET_KEY"] = secrets.token_hex(16)
        cmd += ["--app-name", "basic-auth"]
    log = root / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), "mlflow server", proc, log, timeout=120)
        yield url
    finally:
        stop(proc)  # the server and its workers: our process group


# --------------------------------------------------------------------------------------
# SLURM: munge, slurmctld, slurmd on one node
# --------------------------------------------------------------------------------------

SLURM_PACKAGES = {"slurmctld": "slurmctld", "slurmd": "slurmd", "sbatch": "slurm-client",
                  "munged": "munge", "/usr/lib/x86_64-linux-gnu/slurm-wlm/select_cons_tres.so":
                  "slurm-wlm-basic-plugins"}


def _stale_test_link(conf: Path) -> bool:
    """Whether ``conf`` is the link an earlier test session made to its own cluster's
    configuration (in a ``gdlab-slurm-*`` service directory) and that cluster's slurmctld
    is gone: the session was killed before it could remove the link."""
    if not conf.is_symlink():
        return False
    target = Path(os.readlink(conf))
    if not target.parent.name.startswith("gdlab-slurm-") or target.name != "slurm.conf":
        return False
    try:
        pid = int((target.parent / "slurmctld.pid").read_text())
    except (OSError, ValueError):
        return True  # no pid recorded, or the directory is gone: nothing runs there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _munge_works() -> bool:
    enc = subprocess.run(["munge", "-n"], capture_output=True)
    return enc.returncode == 0 and subprocess.run(
        ["unmunge"], input=enc.stdout, capture_output=True).returncode == 0


def _mem_mib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("no MemTotal in /proc/meminfo")


def slurm_conf(root: Path, cpus: int, mem_mib: int) -> str:
    return f"""\
ClusterName=gdlabtest
SlurmctldHost=localhost
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
AuthType=auth/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without it a job with no --mem takes the whole node: jobs would run one at a time
DefMemPerCPU=1000
# squeue (no slurmdbd here) must still see finished jobs when Snakemake asks
MinJobAge=3600
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mib} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
"""


class Slurm:
    def __init__(self, root: Path, conf: Path, procs: list[subprocess.Popen]):
        self.root, self.conf, self.procs = root, conf, procs

    @property
    def env(self) -> dict[str, str]:
        """What the client commands (sbatch, squeue, Snakemake's plugin) need."""
        return {"SLURM_CONF": str(self.conf)}


@contextlib.contextmanager
def slurm_cluster() -> Iterator[Slurm]:
    """A single-node cluster (this machine, every CPU, 90% of memory) until the block ends."""
    require(SLURM_PACKAGES, {"snakemake_executor_plugin_slurm":
                             "snakemake-executor-plugin-slurm"})
    if os.geteuid() != 0:
        skip_or_fail("the SLURM test cluster needs root (slurmd starts jobs as their user)")
    # The jobstep plugin runs each job through srun with every SLURM_* variable but the
    # job's identity removed, SLURM_CONF included: srun must find the configuration in
    # Debian's default place. Link it there for the session, never over a real one.
    default_conf = Path("/etc/slurm/slurm.conf")
    if _stale_test_link(default_conf):  # a killed session's link: no teardown ran
        default_conf.unlink()
    if default_conf.exists() or default_conf.is_symlink():
        skip_or_fail(f"{default_conf} exists: this machine has a SLURM configuration of its own")
    root = service_dir("slurm")
    for sub in ("state", "spool"):
        (root / sub).mkdir()
    conf = root / "slurm.conf"
    conf.write_text(slurm_conf(root, os.cpu_count() or 1, int(_mem_mib() * 0.9)))
    default_conf.parent.mkdir(exist_ok=True)
    default_conf.symlink_to(conf)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    procs: list[subprocess.Popen] = []

    def start(cmd, log_name, **kw):
        with open(root / log_name, "w") as out:
            procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                          start_new_session=True, env=env, **kw))
        return procs[-1]

    try:
        if not _munge_works():  # munge's own key and socket; the package made the key
            run_dir = Path("/run/munge")
            run_dir.mkdir(exist_ok=True)
            shutil.chown(run_dir, "munge", "munge")
            munged = start(["munged", "-F"], "munged.log", **_as_user("munge"))
            wait_until(_munge_works, "munged", munged, root / "munged.log", timeout=30)
        ctld = start(["slurmctld", "-D", "-i", "-f", str(conf)], "slurmctld.out")
        slurmd = start(["slurmd", "-D", "-N", "localhost", "-f", str(conf)], "slurmd.out")

        def idle() -> bool:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True,
                                 text=True, env=env)
            return out.stdout.strip() == "idle"

        wait_until(lambda: idle() or ctld.poll() is not None or slurmd.poll() is not None,
                   "slurm", None, None, timeout=60)
        if not idle():
            raise RuntimeError("slurm did not start:\n" + "\n".join(
                (root / n).read_text(errors="replace")[-2000:]
                for n in ("slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out")
                if (root / n).exists()))
        yield Slurm(root, conf, procs)
    finally:
        for proc in reversed(procs):  # slurmd, slurmctld, then munged
            stop(proc)
        default_conf.unlink(missing_ok=True)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------------------
# The MLflow UI of a project's store, and a browser to look at it
# --------------------------------------------------------------------------------------


@contextlib.contextmanager
def mlflow_ui(project_root: Path, port: int | None = None) -> Iterator[str]:
    """``mlflow ui --backend-store-uri sqlite:///mlflow.db`` in ``project_root``, on
    127.0.0.1, as README tells a user to start it; yields its URL."""
    port = port or free_port()
    log = Path(tempfile.mkdtemp(prefix="gdlab-ui-")) / "ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", "sqlite:///mlflow.db",
             "--host", "127.0.0.1", "--port", str(port)],
            cwd=project_root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **SERVER_ENV})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(url), "mlflow ui", proc, log, timeout=120)
        yield url
    finally:
        stop(proc)
        shutil.rmtree(log.parent, ignore_errors=True)


#: Debian's Chromium, headless, kept off the network it cannot reach here
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


@contextlib.contextmanager
def browser():
    """A page of Debian's Chromium driven by playwright (no browser of playwright's own);
    the UI's assistant panel closed, as a returning user has it."""
    require({"/usr/bin/chromium": "chromium"}, {"playwright": "playwright"})
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport={"width": 1500, "height": 1000})
            context.add_init_script(
                "window.localStorage.setItem('mlflow.assistant.panelOpen_v1', 'false')")
            yield context.new_page()
        finally:
            chromium.close()


@contextlib.contextmanager
def tmpfs(path: Path, size_kib: int, read_only: bool = False) -> Iterator[Path]:
    """A small tmpfs mounted at ``path`` (as root): a disk that fills up, or a read-only
    one, for real. Unmounted at the end."""
    if os.geteuid() != 0:
        skip_or_fail("mounting a tmpfs needs root")
    path.mkdir(parents=True, exist_ok=True)
    opts = f"size={size_kib}k" + (",ro" if read_only else "")
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        skip_or_fail(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)
