"""Real servers for the tests that grade at scale: PostgreSQL and a one-node Slurm cluster.

Both come from Debian's packages (.ci/run installs postgresql, slurmctld, slurmd, slurm-client
and munge as root) and run from a throwaway folder, without systemd, and are stopped whatever
happens. Each context manager raises Unavailable, with the reason, where it cannot start; the
tests turn that into a skip that `pytest -rs` prints.
"""
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
SLURM_PROGRAMS = ("slurmctld", "slurmd", "sbatch", "squeue", "scancel", "scontrol", "sinfo", "munged")


class Unavailable(Exception):
    """A server cannot start here; the message says why."""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def poll(predicate, timeout, interval, stop=None):
    """Call ``predicate`` every ``interval`` seconds until it is true: True; False once ``timeout``
    seconds have passed, or as soon as ``stop()`` is true (e.g. the server being waited for exited).
    Callers build their failure message only when it returns False."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if stop is not None and stop():
            return False
        time.sleep(interval)
    return False


def _root_folder(prefix):
    """A temporary folder other users can enter (pytest's are private to root)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o755)
    return folder


@contextlib.contextmanager
def postgres(databases=("gradebook",)):
    """A PostgreSQL server on a free port; yields {database: URL}, each database created empty."""
    if not PG_BIN:
        raise Unavailable("Debian's postgresql package is not installed (.ci/run installs it as root)")
    if os.geteuid() != 0:
        raise Unavailable("needs root, to run Debian's PostgreSQL as the postgres user")
    folder = _root_folder("rnn-course-pg-")
    data = folder / "data"
    data.mkdir()
    shutil.chown(data, "postgres")
    bin_dir, port = PG_BIN[-1], free_port()
    run_as = ["runuser", "-u", "postgres", "--"]
    started = False
    try:
        subprocess.run(run_as + [f"{bin_dir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True, timeout=60)
        subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data), "-w", "-t", "30", "-l", str(data / "log"),
                                 "-o", f"-p {port} -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200",
                                 "start"], check=True, capture_output=True, timeout=60)
        started = True
        for name in databases:
            subprocess.run(run_as + [f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), name],
                           check=True, capture_output=True, timeout=30)
        yield {name: f"postgresql://postgres@127.0.0.1:{port}/{name}" for name in databases}
    finally:
        if started:
            subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"],
                           capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


SLURM_CONF = """\
# A one-node cluster for the tests (tests/servers.py): no systemd, no cgroups, no accounting.
ClusterName=rnncourse
SlurmctldHost={host}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=600
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Slurm:
    """The running cluster: its environment for sbatch and friends, and a few helpers."""

    def __init__(self, folder, conf):
        self.folder, self.conf = folder, conf
        self.env = dict(os.environ, SLURM_CONF=str(conf))

    def run(self, *cmd, timeout=30, check=True):
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
        return proc.stdout

    def states(self, job):
        """{task id: state} of an array job from squeue (running or pending tasks only)."""
        out = self.run("squeue", "-h", "-r", "-j", str(job), "-o", "%i %T", check=False)
        return dict(line.split() for line in out.splitlines() if line.strip())

    def wait_idle(self, job, timeout):
        """Wait until no task of ``job`` is queued or running; False if ``timeout`` came first."""
        return poll(lambda: not self.states(job), timeout, 0.5)

    def logs(self):
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.folder.glob("*.log")))


def _start(cmd, log, **kw):
    with open(log, "ab") as out:  # the server writes to its own copy of the descriptor
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, **kw)


def _stop(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _wait_for(predicate, timeout, what, procs, folder):
    """Wait for ``predicate``; raise Unavailable, with the servers' logs, if it never came true or
    one of ``procs`` exited first."""
    def exited():
        return [name for name, p in procs.items() if p is not None and p.poll() is not None]

    if poll(predicate, timeout, 0.3, stop=exited):
        return
    dead = exited()
    logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted(folder.glob("*.log")))
    raise Unavailable(f"{what} did not come up within {timeout} s"
                      f"{' (' + ', '.join(dead) + ' exited)' if dead else ''}:\n{logs}")


@contextlib.contextmanager
def slurm(timeout=60):
    """munged, slurmctld and slurmd on this machine, as one node; yields a Slurm."""
    missing = [p for p in SLURM_PROGRAMS if shutil.which(p) is None and not Path("/usr/sbin", p).exists()]
    if missing:
        raise Unavailable(f"Slurm or munge is not installed (missing {', '.join(missing)}; .ci/run installs "
                          "slurmctld, slurmd, slurm-client and munge from Debian's packages as root)")
    if os.geteuid() != 0:
        raise Unavailable("needs root, to start munged as the munge user and slurmd as root")
    folder = _root_folder("rnn-course-slurm-")
    munge_dir = folder / "munge"
    munge_dir.mkdir()
    munge_dir.chmod(0o755)  # munged wants its socket folder searchable by every user
    key = munge_dir / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    for path in (munge_dir, key):
        shutil.chown(path, "munge", "munge")
    for name in ("state", "spool"):
        (folder / name).mkdir()
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, ctld_port=free_port(), slurmd_port=free_port(),
                                      munge_socket=munge_dir / "munge.socket", dir=folder,
                                      cpus=os.cpu_count() or 1, memory=1024))
    cluster = Slurm(folder, conf)
    munged = ctld = slurmd = None
    try:
        munged = _start(["runuser", "-u", "munge", "--", shutil.which("munged") or "/usr/sbin/munged", "-F",
                         f"--socket={munge_dir / 'munge.socket'}", f"--key-file={key}",
                         f"--pid-file={munge_dir / 'munged.pid'}", f"--log-file={munge_dir / 'munged.log'}",
                         f"--seed-file={munge_dir / 'munged.seed'}"], folder / "munged.log")
        _wait_for(lambda: (munge_dir / "munge.socket").exists(), 15, "munged", {"munged": munged}, folder)
        ctld = _start([shutil.which("slurmctld") or "/usr/sbin/slurmctld", "-D", "-i", "-f", str(conf)],
                      folder / "slurmctld.out.log", env=cluster.env)
        slurmd = _start([shutil.which("slurmd") or "/usr/sbin/slurmd", "-D", "-f", str(conf), "-N", host],
                        folder / "slurmd.out.log", env=cluster.env)
        procs = {"munged": munged, "slurmctld": ctld, "slurmd": slurmd}

        def node_idle():
            out = cluster.run("sinfo", "-h", "-N", "-o", "%T", check=False)
            return out.strip().rstrip("*") in ("idle", "mixed")

        _wait_for(node_idle, timeout, "the Slurm node (sinfo idle)", procs, folder)
        yield cluster
    finally:
        for proc in (slurmd, ctld, munged):
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)
