"""A warm Python for job runs over Spark Connect.

A run over a cluster's Spark Connect server needs no JVM, but a fresh Python still spends most of
a second importing PySpark's Connect client (pandas, pyarrow, gRPC) and sparkglue's job runtime
before the script's first line. A cluster started with ``--connect`` therefore keeps one *runner*
process that has done those imports once and forks a child per run: the child sets up what
``python SCRIPT ARGS…`` would (a session of its own, the run's environment, folder, arguments
and log) and runs the script. The runner never makes a Spark session, a gRPC channel or a thread
of its own, so that forking it is safe.

The protocol, over a Unix socket only the owner can open: the client sends one JSON line
``{"argv": [script, args…], "env": {…}, "cwd": DIR, "log": FILE}``; the runner answers
``{"pid": N}`` once the child exists, and ``{"exit": CODE}`` when it ends (``{"error": TEXT}`` if
it could not start one). :class:`WarmChild` is the client, shaped like ``subprocess.Popen`` for
the job supervisor; it raises ``OSError`` when no runner answers, and the supervisor falls back to
starting the script the ordinary way.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sparkglue.store import process_alive

# What a job script over Spark Connect imports first; done once in the runner.
PRELOAD = (
    "pyspark.sql.connect.session",
    "pyspark.sql.connect.dataframe",
    "pyspark.sql.connect.functions",
    "pyspark.sql.functions",
    "sparkglue.jobs.runtime",
)

_LINE_LIMIT = 1 << 20  # a request larger than this is not one of ours
_HANDSHAKE_TIMEOUT = 5.0  # seconds either side waits for the other's next line
# What Python and PySpark read once, at start-up: a run that differs in these starts anew.
_START_UP_VARIABLES = ("PYTHON", "SPARK_CONNECT_")


def preload(modules: Sequence[str] = PRELOAD) -> None:
    """Import what runs need, and run PySpark's Connect dependency check once."""
    for module in modules:
        importlib.import_module(module)
    from pyspark.sql.connect.utils import check_dependencies

    check_dependencies("pyspark.sql.connect.session")


def serve(socket_path: Path, *, modules: Sequence[str] = PRELOAD) -> None:
    """Preload, listen on ``socket_path`` and fork a child per request until SIGTERM/SIGINT."""
    own_env = dict(os.environ)
    preload(modules)
    # What the imports themselves set (gRPC names its certificates), as a new Python would.
    imported_env = {k: v for k, v in os.environ.items() if k not in own_env}
    stop = False

    def on_signal(_signum: int, _frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with contextlib.suppress(FileNotFoundError):
        socket_path.unlink()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)  # the socket is the owner's alone: it runs code as the owner
    try:
        listener.bind(str(socket_path))
    finally:
        os.umask(old_mask)
    listener.listen(16)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    children: dict[int, socket.socket | None] = {}
    print(f"runner {os.getpid()} ready on {socket_path}", flush=True)
    try:
        while not stop:
            for key, _ in selector.select(timeout=0.1):
                if key.fileobj is listener:
                    _accept(listener, selector, children, own_env, imported_env)
                else:  # a client went away (or wrote again): its child runs on regardless
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    selector.unregister(conn)
            _reap(children, selector)
    finally:
        selector.close()
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            socket_path.unlink()
        for pid in children:  # runs still going when the cluster ends do not outlive it
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)


def mismatch(env: dict[str, str], own_env: dict[str, str], python: str) -> str | None:
    """Why a run cannot be forked from this runner: it wants another interpreter, or differs in
    what Python and PySpark read once at start-up (``PYTHON*`` and ``SPARK_CONNECT_*``
    variables); None when it can."""
    if os.path.realpath(python) != os.path.realpath(sys.executable):
        return f"the run's Python is {python}, the runner's {sys.executable}"
    for key in sorted(set(env) | set(own_env)):
        if key.startswith(_START_UP_VARIABLES) and env.get(key) != own_env.get(key):
            return f"the run's {key} differs from the runner's"
    return None


def _accept(
    listener: socket.socket,
    selector: selectors.BaseSelector,
    children: dict[int, socket.socket | None],
    own_env: dict[str, str],
    imported_env: dict[str, str],
) -> None:
    try:
        conn, _ = listener.accept()
    except BlockingIOError:
        return
    conn.setblocking(True)
    conn.settimeout(_HANDSHAKE_TIMEOUT)
    try:
        if _peer_uid(conn) not in (None, os.getuid()):
            raise ValueError("the client is another user")
        request = json.loads(_read_line(conn))
        argv = [str(a) for a in request["argv"]]
        env = {str(k): str(v) for k, v in dict(request["env"]).items()}
        env = {**imported_env, **env}
        cwd, log = str(request["cwd"]), str(request["log"])
        if not argv or not Path(argv[0]).is_file():
            raise ValueError(f"no script at {argv[0] if argv else '(none)'}")
        why = mismatch(env, {**own_env, **imported_env}, str(request["python"]))
        if why is not None:
            raise ValueError(why)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        with contextlib.suppress(OSError):
            conn.sendall(_message({"error": str(exc)}))
        conn.close()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns from here
        inherited = [listener.fileno(), conn.fileno(), ready_r, go_w]
        if hasattr(selector, "fileno"):  # epoll's own descriptor
            inherited.append(selector.fileno())
        inherited += [c.fileno() for c in children.values() if c is not None]
        _child(argv, env, cwd, log, ready=ready_w, go=go_r, close=inherited)
    os.close(ready_w)
    os.close(go_r)
    # Two steps, so that a run never starts twice: the client learns the pid once the child
    # leads its own process group (a stop by group cannot miss it), and the child starts the
    # script only when the client has taken it; otherwise the client starts the run anew and
    # this child leaves without running anything.
    with contextlib.suppress(OSError):
        os.read(ready_r, 1)
    os.close(ready_r)
    taken = False
    with contextlib.suppress(OSError, ValueError):
        conn.sendall(_message({"pid": pid}))
        taken = _read_line(conn) == b"go\n"
    if taken:
        with contextlib.suppress(OSError):
            os.write(go_w, b"1")
    os.close(go_w)
    if not taken:
        children[pid] = None  # reaped without a word to anyone
        conn.close()
        return
    children[pid] = conn
    conn.setblocking(False)
    selector.register(conn, selectors.EVENT_READ)


def _reap(children: dict[int, socket.socket | None], selector: selectors.BaseSelector) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        conn = children.pop(pid, None)
        if conn is None:
            continue
        with contextlib.suppress(KeyError, ValueError):
            selector.unregister(conn)
        conn.setblocking(True)
        conn.settimeout(_HANDSHAKE_TIMEOUT)
        with contextlib.suppress(OSError):
            conn.sendall(_message({"exit": os.waitstatus_to_exitcode(status)}))
        conn.close()


def _child(
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    log: str,
    *,
    ready: int,
    go: int,
    close: list[int],
) -> None:
    """Become ``python SCRIPT ARGS…``: own session, the run's environment, folder and log."""
    code = 1
    try:
        os.setsid()  # its own process group: the supervisor stops the whole tree by it
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # as in a new Python
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for fd in close:  # the runner's listener and sockets
            with contextlib.suppress(OSError):
                os.close(fd)
        os.write(ready, b"1")  # from here on, a stop by its pid or group finds it
        os.close(ready)
        if os.read(go, 1) != b"1":  # the client did not take the run: it starts it anew
            os._exit(0)
        os.close(go)
        out = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(null)
        os.close(out)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        sys.argv = list(argv)
        sys.path[0] = str(Path(argv[0]).resolve().parent)
        if "numpy" in sys.modules:  # Python reseeds `random` after a fork; numpy does not
            sys.modules["numpy"].random.seed()
        code = _run_script(argv[0])
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _run_script(script: str) -> int:
    """Run ``script`` as ``__main__`` and end as the interpreter would; the exit code."""
    import atexit
    import runpy
    import threading
    import traceback

    code = 0
    interrupted = False
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        traceback.print_exc()
        interrupted = True
    except BaseException:
        traceback.print_exc()
        code = 1
    threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as at exit
    atexit._run_exitfuncs()  # what the interpreter runs at exit (Connect releases its session)
    if interrupted:  # as Python does: die of the SIGINT
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        code = 130
    return code


def _peer_uid(conn: socket.socket) -> int | None:
    """The user at the other end of a Unix socket (Linux), None where it cannot be told."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = conn.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    return int(struct.unpack("3i", creds)[1])


def _message(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode("utf-8") + b"\n"


def _read_line(conn: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\n"):
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("the request ended early")
        data += chunk
        if len(data) > _LINE_LIMIT:
            raise ValueError("the request is too large")
    return data


class WarmChild:
    """A run forked by a runner: ``pid``, ``poll()`` and ``wait()`` as on ``subprocess.Popen``."""

    def __init__(self, conn: socket.socket, pid: int) -> None:
        self._conn = conn
        self.pid = pid
        self.returncode: int | None = None
        self._buffer = b""

    @classmethod
    def start(
        cls,
        socket_path: Path,
        command: Sequence[str],
        *,
        env: dict[str, str],
        cwd: Path,
        log: Path,
        timeout: float = _HANDSHAKE_TIMEOUT,
    ) -> WarmChild:
        """Ask the runner at ``socket_path`` to run ``command`` (``[python, script, args…]``);
        ``OSError`` when it cannot, and then the script has not started."""
        found = socket_path.stat()  # FileNotFoundError is an OSError too
        if not stat.S_ISSOCK(found.st_mode) or found.st_uid != os.getuid():
            # The run's environment goes to whoever listens: only to a runner of our own.
            raise OSError(f"{socket_path} is not a runner socket of this user")
        python, *argv = command
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(timeout)
        try:
            conn.connect(str(socket_path))
            if _peer_uid(conn) not in (None, os.getuid()):
                raise OSError("it belongs to another user")
            request = {
                "python": python,
                "argv": argv,
                "env": env,
                "cwd": str(cwd),
                "log": str(log),
            }
            conn.sendall(_message(request))
            answer = json.loads(_read_line(conn))
            if "pid" in answer:
                conn.sendall(b"go\n")  # without it the child leaves without running the script
        except (OSError, ValueError) as exc:
            conn.close()
            raise OSError(f"the warm runner at {socket_path} did not answer: {exc}") from None
        if "pid" not in answer:
            conn.close()
            raise OSError(f"the warm runner cannot take the run: {answer.get('error', answer)}")
        conn.setblocking(False)
        return cls(conn, int(answer["pid"]))

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        try:
            chunk = self._conn.recv(4096)
        except BlockingIOError:
            return None
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
            if b"\n" in self._buffer:
                answer = json.loads(self._buffer.split(b"\n", 1)[0])
                self.returncode = int(answer.get("exit", 1))
                self._conn.close()
            return self.returncode
        # The runner went away before telling: the child's end is all there is to wait for
        # (it is no child of ours, so its exit code is lost).
        if process_alive(self.pid):
            return None
        self.returncode = 1
        self._conn.close()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(["warm run", str(self.pid)], timeout or 0.0)
            time.sleep(0.05)
        return code
