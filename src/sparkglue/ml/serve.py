"""Serve a compiled model over HTTP: JSON in, JSON out, no JVM.

``make_server`` builds a threaded HTTP server around a :class:`Predictor`; ``serve`` runs one
until Ctrl+C. The API:

* ``GET /health`` answers ``{"status": "ok", "model": …, "version": …}``.
* ``GET /`` and ``GET /model`` describe the model: task, label, classes and features.
* ``POST /predict`` (or ``/invocations``) takes one record (``{...}`` or ``{"record": {...}}``)
  or a batch (``{"records": [...]}`` or ``[...]``) and answers the prediction, or
  ``{"predictions": [...]}`` for a batch.

Every answer is JSON and names the model and its version. Errors are
``{"error": "<one line>", "model": …, "version": …}`` with a fitting status: 400 for a body
that is not JSON or not of a shape above, 422 for a record the model cannot read, 411 and 413
for a missing or too large ``Content-Length``, 404 and 405 for a wrong path or method, and 500
(details logged on the server, never sent to the client) for anything unexpected.

Only the standard library is used: serving never starts Spark.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import json
import math
import shlex
import socket
import socketserver
import sys
import time
import traceback
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import urlsplit

from sparkglue.console import Console, NullConsole
from sparkglue.errors import InvalidInput, SparkGlueError
from sparkglue.ml.predictor import InvalidRecord, Predictor

__all__ = ["make_server", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8081
DEFAULT_MAX_BODY_BYTES = 10 * 2**20
DEFAULT_MAX_RECORDS = 10_000

_GET_PATHS = frozenset({"/", "/model", "/health"})
_POST_PATHS = frozenset({"/predict", "/invocations"})
_GET_ALLOW = "GET, HEAD"
_POST_ALLOW = "POST"
_IDLE_SECONDS = 30.0  # a kept-alive connection with no request for this long is closed
_LINGER_SECONDS = 2.0  # how long to drain a body left unread before closing its connection
_SHAPES = 'a record object, {"record": {...}}, {"records": [...]} or an array of records'
_INTERNAL_ERROR = (
    "the server failed while answering this request (the details are in its log); "
    "try again, and report it if it persists"
)


# ---- the server ----------------------------------------------------------------------------------


class _PredictionServer(ThreadingHTTPServer):
    """A threaded HTTP server that holds the predictor and the limits its handlers apply."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        predictor: Predictor,
        *,
        max_body_bytes: int,
        max_records: int,
        console: Console,
    ) -> None:
        self.predictor = predictor
        self.max_body_bytes = max_body_bytes
        self.max_records = max_records
        self.console = console
        self.feature_names = frozenset(f.name for f in predictor.features)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Bind without the reverse DNS look-up ``HTTPServer`` does (it can stall for seconds)."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a failure outside a request handler in one line; a client hanging up is normal."""
        exc = sys.exc_info()[1]
        if exc is None or isinstance(exc, ConnectionError | TimeoutError):
            return
        self.console.warning(f"connection from {client_address[0]}: {_describe_failure(exc)}")


def make_server(
    predictor: Predictor,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS,
    console: Console | None = None,
) -> ThreadingHTTPServer:
    """A server for ``predictor`` listening on ``host:port``, ready for ``serve_forever()``.

    Port 0 picks a free port (``server.server_address`` tells which). Bodies over
    ``max_body_bytes`` are refused with 413 and batches over ``max_records`` with 400.
    ``console`` receives a warning for every request that fails unexpectedly.
    Raises :class:`~sparkglue.errors.InvalidInput` when the address cannot be listened on.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise InvalidInput(
            f"port {port!r} is not a TCP port; give one from 1 to 65535 (0 picks a free port)"
        )
    if max_body_bytes < 1 or max_records < 1:
        raise InvalidInput(
            f"max_body_bytes ({max_body_bytes}) and max_records ({max_records}) must be positive"
        )
    address = _address(host, port)
    try:
        return _PredictionServer(
            (host, port),
            predictor,
            max_body_bytes=max_body_bytes,
            max_records=max_records,
            console=console or NullConsole(),
        )
    except socket.gaierror as exc:
        raise InvalidInput(
            f"cannot listen on {address}: the host name {host!r} does not resolve "
            f"({exc.strerror}); give an address of this machine such as 127.0.0.1 or 0.0.0.0"
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot listen on {address}: {_bind_problem(exc, host)}") from None
    except (UnicodeError, ValueError, OverflowError):
        raise InvalidInput(
            f"cannot listen on {address}: {host!r} is not a host name or IP address; "
            "give one such as 127.0.0.1 or 0.0.0.0"
        ) from None


def _bind_problem(exc: OSError, host: str) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "the port is already in use; stop the program using it or choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"{host} is not an address of this machine; use 127.0.0.1 (this machine only) "
            "or 0.0.0.0 (every interface)"
        )
    if exc.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges); choose a port from 1024 up"
    return f"{exc.strerror or exc}; check the host and port"


def serve(
    predictor: Predictor,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    console: Console | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_records: int = DEFAULT_MAX_RECORDS,
) -> None:
    """Serve ``predictor`` on ``host:port`` until Ctrl+C (KeyboardInterrupt), then stop cleanly.

    Says where it listens and gives a ``curl`` line to try. Raises
    :class:`~sparkglue.errors.InvalidInput` when the address cannot be listened on.
    """
    console = console or NullConsole()
    server = make_server(
        predictor,
        host,
        port,
        max_body_bytes=max_body_bytes,
        max_records=max_records,
        console=console,
    )
    with server:
        bound_host, bound_port = str(server.server_address[0]), int(server.server_address[1])
        url = f"http://{_address(bound_host, bound_port)}"
        console.step(
            f"Serving model {predictor.name} v{predictor.version} at {url} "
            "(POST /predict, GET /model, GET /health; Ctrl+C to stop)"
        )
        if not _is_loopback(bound_host):
            console.warning(
                f"{url} can be reached from other machines and asks for no credentials; "
                "serve on 127.0.0.1 to keep it to this machine"
            )
        local = f"http://{_address(_local_host(bound_host), bound_port)}"
        example = shlex.quote(json.dumps(_example_record(predictor)))
        console.message(
            f"Try: curl -s {local}/predict -H 'Content-Type: application/json' -d {example}"
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever(poll_interval=0.5)
    console.step(f"Stopped serving model {predictor.name} v{predictor.version}")


# ---- one request ---------------------------------------------------------------------------------


class _Refusal(Exception):
    """An answer other than 200, raised while handling a request."""

    def __init__(self, status: HTTPStatus, message: str, allow: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.allow = allow


class _Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1, kept alive between requests)."""

    protocol_version = "HTTP/1.1"
    server_version = "sparkglue"
    timeout = _IDLE_SECONDS
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms stall between

    def setup(self) -> None:
        super().setup()
        self._linger = False
        self._body_read = False

    @property
    def app(self) -> _PredictionServer:
        return cast(_PredictionServer, self.server)

    # -- the methods --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def parse_request(self) -> bool:
        self._body_read = False
        return super().parse_request()

    def handle_expect_100(self) -> bool:
        """Invite the body only when it will be read; otherwise the final answer comes at once."""
        if self.command == "POST" and self._path() in _POST_PATHS:
            try:
                self._declared_length()
            except _Refusal:
                return True  # _handle refuses it the same way, without inviting the body
            return super().handle_expect_100()
        return True

    def _handle(self) -> None:
        allow = None
        try:
            status, payload = self._answer()
        except _Refusal as refusal:
            status, payload, allow = refusal.status, self._error(refusal.message), refusal.allow
        except InvalidRecord as exc:
            status, payload = HTTPStatus.UNPROCESSABLE_ENTITY, self._error(_one_line(str(exc)))
        except SparkGlueError as exc:
            status, payload = HTTPStatus(exc.http_status), self._error(_one_line(str(exc)))
        except ConnectionError:
            self.close_connection = True  # the client hung up: nobody to answer
            return
        except Exception as exc:
            self.app.console.warning(
                f"{self.command} {self._path()} answered 500: {_describe_failure(exc)}"
            )
            status, payload = HTTPStatus.INTERNAL_SERVER_ERROR, self._error(_INTERNAL_ERROR)
        self._reply(status, payload, allow=allow)

    def _answer(self) -> tuple[HTTPStatus, dict[str, Any]]:
        path = self._path()
        predictor = self.app.predictor
        if path in _GET_PATHS:
            if self.command not in ("GET", "HEAD"):
                raise self._wrong_method(path, _GET_ALLOW)
            if path == "/health":
                return HTTPStatus.OK, {"status": "ok", **self._identity()}
            return HTTPStatus.OK, {**self._identity(), **predictor.describe()}
        if path in _POST_PATHS:
            if self.command != "POST":
                raise self._wrong_method(path, _POST_ALLOW)
            return HTTPStatus.OK, self._predict(self._read_body())
        raise _Refusal(
            HTTPStatus.NOT_FOUND,
            f"no such path {_shorten(path)}; use POST /predict, GET /model or GET /health",
        )

    def _wrong_method(self, path: str, allow: str) -> _Refusal:
        return _Refusal(
            HTTPStatus.METHOD_NOT_ALLOWED,
            f"{_shorten(str(self.command))} is not allowed on {path}; use {allow}",
            allow=allow,
        )

    # -- the body -----------------------------------------------------------------------------

    def _declared_length(self) -> int:
        if self.headers.get("Transfer-Encoding") is not None:
            raise _Refusal(
                HTTPStatus.LENGTH_REQUIRED,
                "chunked request bodies are not accepted; send the body with a Content-Length",
            )
        values = [str(v).strip() for v in self.headers.get_all("Content-Length") or []]
        if not values:
            raise _Refusal(
                HTTPStatus.LENGTH_REQUIRED,
                "the request has no Content-Length header; send the JSON body with one",
            )
        text = values[0]
        if len(set(values)) > 1 or not (text.isascii() and text.isdigit()):
            raise _Refusal(
                HTTPStatus.BAD_REQUEST,
                f"Content-Length {_shorten(', '.join(values), 40)} is not one whole number of "
                "bytes; send a single, correct Content-Length",
            )
        limit = self.app.max_body_bytes
        if len(text) > 18 or int(text) > limit:
            raise _Refusal(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body is {_shorten(text, 20)} bytes, more than the limit of {limit}; "
                "send fewer records per request",
            )
        return int(text)

    def _read_body(self) -> bytes:
        length = self._declared_length()
        try:
            data = self.rfile.read(length) if length else b""
        except TimeoutError:
            raise _Refusal(
                HTTPStatus.REQUEST_TIMEOUT,
                f"the body did not arrive within {_IDLE_SECONDS:g} seconds; send it whole",
            ) from None
        if len(data) < length:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST,
                f"the body ended after {len(data)} of the {length} bytes its Content-Length "
                "announced; send the whole body",
            )
        self._body_read = True
        return data

    def _predict(self, data: bytes) -> dict[str, Any]:
        app = self.app
        predictor = app.predictor
        if not data.strip():
            raise _Refusal(
                HTTPStatus.BAD_REQUEST,
                f"the body is empty; send {_SHAPES}, e.g. {json.dumps(_example_record(predictor))}",
            )
        try:
            doc = json.loads(data)
        except RecursionError:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "the JSON body is nested too deeply") from None
        except UnicodeDecodeError:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, "the body is not UTF-8 text; send JSON encoded as UTF-8"
            ) from None
        except json.JSONDecodeError as exc:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST,
                f"the body is not valid JSON ({exc.msg} at line {exc.lineno} column "
                f"{exc.colno}); send {_SHAPES}",
            ) from None
        except ValueError as exc:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, f"the body is not valid JSON ({_one_line(str(exc))})"
            ) from None

        names = app.feature_names
        records: Any
        if isinstance(doc, list):
            records = doc
        elif isinstance(doc, dict):
            # "records" and "record" wrap records unless the model has a feature of that name
            # and the value is a plain feature value rather than a list or an object.
            if "records" in doc and ("records" not in names or isinstance(doc["records"], list)):
                records = doc["records"]
                if not isinstance(records, list):
                    raise _Refusal(
                        HTTPStatus.BAD_REQUEST,
                        f'"records" must be an array of record objects, got {_kind(records)}',
                    )
            elif "record" in doc and ("record" not in names or isinstance(doc["record"], dict)):
                record = doc["record"]
                if not isinstance(record, dict):
                    raise _Refusal(
                        HTTPStatus.BAD_REQUEST,
                        f'"record" must be an object of feature values, got {_kind(record)}',
                    )
                return {**self._identity(), **predictor.predict_one(record)}
            else:
                return {**self._identity(), **predictor.predict_one(doc)}
        else:
            raise _Refusal(HTTPStatus.BAD_REQUEST, f"the body must be {_SHAPES}; got {_kind(doc)}")

        if not records:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "the batch is empty; send at least one record")
        if len(records) > app.max_records:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST,
                f"the batch has {len(records)} records, more than the limit of "
                f"{app.max_records}; split it into smaller batches",
            )
        for i, record in enumerate(records):
            if not isinstance(record, dict):
                raise _Refusal(
                    HTTPStatus.BAD_REQUEST,
                    f"record {i} is {_kind(record)}, not an object of feature values",
                )
        return {**self._identity(), "predictions": predictor.predict(records)}

    # -- the answer ---------------------------------------------------------------------------

    def _identity(self) -> dict[str, Any]:
        return {"model": self.app.predictor.name, "version": self.app.predictor.version}

    def _error(self, message: str) -> dict[str, Any]:
        return {"error": message, **self._identity()}

    def _reply(
        self,
        status: HTTPStatus,
        payload: Mapping[str, Any],
        *,
        allow: str | None = None,
        close: bool = False,
    ) -> None:
        body = _dumps(payload)
        if close or (not self._body_read and self._declares_body()):
            # A body left unread would be taken for the next request: end the connection,
            # after draining what the client still sends so it can read this answer.
            self.close_connection = True
            self._linger = True
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            if allow:
                self.send_header("Allow", allow)
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except ConnectionError:
            self.close_connection = True
            self._linger = False

    def _declares_body(self) -> bool:
        headers = getattr(self, "headers", None)
        if headers is None:
            return True
        length = headers.get("Content-Length")
        return headers.get("Transfer-Encoding") is not None or (
            length is not None and str(length).strip() != "0"
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer the errors ``http.server`` raises itself as JSON, like every other answer."""
        if code == HTTPStatus.NOT_IMPLEMENTED and getattr(self, "path", None) is not None:
            # A method with no do_* handler: the route says 404 or 405 with Allow.
            self._handle()
            return
        if getattr(self, "request_version", None) in (None, "", "HTTP/0.9"):
            # The request line was unreadable: answer with a status line and headers anyway.
            self.request_version = "HTTP/1.0"
        status = HTTPStatus(code)
        text = _one_line(message or status.phrase)
        self._reply(status, self._error(text[:1].lower() + text[1:]), close=True)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: failures are reported through the console instead."""

    def finish(self) -> None:
        super().finish()
        if self._linger:
            _drain(self.connection)

    def _path(self) -> str:
        path = urlsplit(self.path).path
        return path.rstrip("/") or "/"


# ---- helpers ---------------------------------------------------------------------------------


def _drain(sock: socket.socket) -> None:
    """Stop sending, then read and drop what the client still sends, for a short while.

    Closing a socket with unread data makes the kernel reset the connection, which can destroy
    the answer before the client reads it.
    """
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + _LINGER_SECONDS
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return
    except OSError:
        return


def _dumps(payload: Mapping[str, Any]) -> bytes:
    """Strict JSON: NaN and infinities become null rather than invalid JSON."""
    try:
        text = json.dumps(payload, allow_nan=False, default=_plain)
    except ValueError:
        text = json.dumps(_finite(payload), allow_nan=False, default=str)
    return text.encode("utf-8")


def _plain(value: Any) -> Any:
    """A JSON value for what ``json`` cannot encode (NumPy scalars and arrays, sets, others)."""
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    return str(value)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, str | int | bool) or value is None:
        return value
    return _finite(_plain(value))


def _kind(value: Any) -> str:
    """How a JSON value is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "error"


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_failure(exc: BaseException) -> str:
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" (at {last.filename}:{last.lineno})"
    return f"{type(exc).__name__}: {_shorten(_one_line(str(exc)), 300)}{where}"


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _local_host(host: str) -> str:
    """Where this machine reaches a server bound to ``host`` (wildcards mean loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _example_record(predictor: Predictor) -> dict[str, Any]:
    """A record the model accepts, for the examples in messages."""
    record: dict[str, Any] = {}
    for feature in predictor.features:
        value: Any = None
        if feature.kind == "categorical":
            value = feature.categories[0] if feature.categories else None
        elif feature.kind == "boolean":
            value = True
        elif feature.kind == "date":
            value = "2024-01-31"
        elif feature.kind == "timestamp":
            value = "2024-01-31T12:00:00"
        elif feature.kind == "numeric":
            fill = feature.fill if feature.fill is not None and math.isfinite(feature.fill) else 0
            integral = feature.type in ("tinyint", "smallint", "int", "bigint")
            value = round(fill) if integral else round(fill, 4)
        record[feature.name] = value
    return record
