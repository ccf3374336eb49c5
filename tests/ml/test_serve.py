"""The HTTP server around a compiled predictor: routes, answers and every error status."""

from __future__ import annotations

import http.client
import json
import math
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import pytest

from sparkglue.console import NullConsole
from sparkglue.errors import InvalidInput
from sparkglue.ml.predictor import CompiledTree, Feature, Predictor
from sparkglue.ml.serve import make_server, serve

NAN = math.nan

# x <= 2.0 ? (c in {"u"} ? leaf 3 : leaf 4) : leaf 2
TREE = CompiledTree(
    feature=(0, 1, -1, -1, -1),
    threshold=(2.0, NAN, NAN, NAN, NAN),
    categorical=(False, True, False, False, False),
    left_categories=(frozenset(), frozenset({0}), frozenset(), frozenset(), frozenset()),
    left=(1, 3, -1, -1, -1),
    right=(2, 4, -1, -1, -1),
    prediction=(0.0, 0.0, 1.0, 0.0, 1.0),
    impurity=(0.5, 0.4, 0.44, 0.32, 0.375),
    gain=(0.1, 0.2, 0.0, 0.0, 0.0),
    count=(23, 14, 9, 10, 4),
    stats=((11.0, 12.0), (9.0, 5.0), (3.0, 6.0), (8.0, 2.0), (1.0, 3.0)),
)
FEATURES = (
    Feature("x", "numeric", "double", fill=1.5),
    Feature("c", "categorical", "string", categories=("u", "v")),
)
RECORDS = [
    {"x": 1.0, "c": "u"},  # leaf 3: a
    {"x": 1.0, "c": "v"},  # leaf 4: b
    {"x": 7.5, "c": "u"},  # leaf 2: b
    {"x": None, "c": "w"},  # x filled with 1.5, c unseen: leaf 4
    {"x": 2.0, "c": None, "ignored": "yes"},  # leaf 4
]


def toy_predictor(task: str = "classification", tree: CompiledTree = TREE) -> Predictor:
    return Predictor(
        name="toy",
        version=3,
        task=task,
        label="species",
        label_type="string",
        classes=("a", "b") if task == "classification" else (),
        features=FEATURES,
        tree=tree,
    )


class RecordingConsole(NullConsole):
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def message(self, text: str) -> None:
        self.lines.append(("message", text))

    def step(self, text: str) -> None:
        self.lines.append(("step", text))

    def warning(self, text: str) -> None:
        self.lines.append(("warning", text))


class Answer:
    def __init__(self, status: int, headers: Any, raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body: dict[str, Any] = json.loads(raw, parse_constant=_refuse_constant) if raw else {}


def _refuse_constant(name: str) -> Any:
    raise AssertionError(f"the server sent {name}, which is not JSON")


Start = Callable[..., str]


@pytest.fixture
def predictor() -> Predictor:
    return toy_predictor()


@pytest.fixture
def start() -> Iterator[Start]:
    """Start a server on a free port in a thread; answer its base URL. Stopped after the test."""
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def _start(predictor: Predictor, **kwargs: Any) -> str:
        server = make_server(predictor, port=0, **kwargs)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        running.append((server, thread))
        host, port = server.server_address[:2]
        return f"http://{host}:{port}"

    yield _start
    for server, thread in running:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def url(start: Start, predictor: Predictor) -> str:
    return start(predictor)


def call(
    url: str,
    path: str,
    body: Any = None,
    *,
    method: str | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request with urllib; checks what every answer must carry."""
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        url + path,
        data=data,
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer = Answer(response.status, response.headers, response.read())
    except urllib.error.HTTPError as exc:
        answer = Answer(exc.code, exc.headers, exc.read())
        exc.close()
    assert answer.headers["Content-Type"] == "application/json"
    if method != "HEAD":
        assert answer.body["model"] == "toy"
        assert answer.body["version"] == 3
    if answer.status >= 400 and method != "HEAD":
        assert set(answer.body) == {"error", "model", "version"}
        assert "\n" not in answer.body["error"]
        assert "Traceback" not in answer.body["error"]
    return answer


# ---- routes ------------------------------------------------------------------------------------


def test_health(url: str) -> None:
    answer = call(url, "/health")
    assert answer.status == 200
    assert answer.body == {"status": "ok", "model": "toy", "version": 3}


@pytest.mark.parametrize("path", ["/", "/model", "/model/", "/model?verbose=1"])
def test_describe(url: str, predictor: Predictor, path: str) -> None:
    answer = call(url, path)
    assert answer.status == 200
    assert answer.body == predictor.describe()
    assert answer.body["features"][1]["categories"] == ["u", "v"]


def test_head_answers_headers_only(url: str) -> None:
    answer = call(url, "/health", method="HEAD")
    assert answer.status == 200
    assert answer.raw == b""
    assert int(answer.headers["Content-Length"]) > 0


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
@pytest.mark.parametrize("record", RECORDS)
def test_one_record_agrees_with_predict_one(
    url: str, predictor: Predictor, path: str, record: dict[str, Any]
) -> None:
    expected = {"model": "toy", "version": 3, **predictor.predict_one(record)}
    assert call(url, path, record).body == expected
    wrapped = call(url, path, {"record": record})
    assert wrapped.status == 200
    assert wrapped.body == expected


def test_the_tree_is_walked_as_built(url: str) -> None:
    answers = [call(url, "/predict", r).body for r in RECORDS]
    assert [a["prediction"] for a in answers] == ["a", "b", "b", "b", "b"]
    assert answers[0]["probability"] == pytest.approx(0.8)
    assert answers[0]["probabilities"] == {"a": pytest.approx(0.8), "b": pytest.approx(0.2)}


@pytest.mark.parametrize(
    "wrap", [lambda rs: {"records": rs}, lambda rs: rs], ids=["object", "array"]
)
def test_batch_agrees_with_predict_one(
    url: str, predictor: Predictor, wrap: Callable[[list[dict[str, Any]]], Any]
) -> None:
    answer = call(url, "/predict", wrap(RECORDS))
    assert answer.status == 200
    assert answer.body == {
        "model": "toy",
        "version": 3,
        "predictions": [predictor.predict_one(r) for r in RECORDS],
    }


def test_a_batch_of_one_is_still_a_batch(url: str, predictor: Predictor) -> None:
    answer = call(url, "/predict", [RECORDS[0]])
    assert answer.body["predictions"] == [predictor.predict_one(RECORDS[0])]


def test_connections_are_kept_alive(url: str, predictor: Predictor) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        for _ in range(3):
            conn.request("GET", "/health")
            assert conn.getresponse().read()
            body = json.dumps(RECORDS[1]).encode()
            conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
            response = conn.getresponse()
            assert response.status == 200
            assert json.loads(response.read())["prediction"] == "b"
        conn.request("GET", "/nowhere")  # an error answer keeps the connection too
        assert conn.getresponse().read()
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()


def test_nan_never_reaches_the_client(start: Start) -> None:
    tree = CompiledTree(
        feature=(-1,),
        threshold=(NAN,),
        categorical=(False,),
        left_categories=(frozenset(),),
        left=(-1,),
        right=(-1,),
        prediction=(NAN,),
        impurity=(0.0,),
        gain=(0.0,),
        count=(1,),
        stats=((1.0, NAN, 1.0),),
    )
    url = start(toy_predictor("regression", tree))
    one = call(url, "/predict", RECORDS[0])  # Answer parses strictly: NaN would fail
    assert one.status == 200
    assert one.body["prediction"] is None
    batch = call(url, "/predict", RECORDS[:2])
    assert batch.body["predictions"] == [{"prediction": None}, {"prediction": None}]


# ---- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"x": 1, ', "not valid JSON"),
        (b"", "empty"),
        (b"   ", "empty"),
        (b"\xff\xfe\xfa", "not"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["garbage", "truncated", "empty", "blank", "not-utf8", "deep"],
)
def test_malformed_json_is_400(url: str, raw: bytes, words: str) -> None:
    answer = call(url, "/predict", raw=raw)
    assert answer.status == 400
    assert words in answer.body["error"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (42, "got a number"),
        ("x", "got a string"),
        (None, "got null"),
        ([], "the batch is empty"),
        ({"records": []}, "the batch is empty"),
        ({"records": 5}, '"records" must be an array'),
        ({"record": [1]}, '"record" must be an object'),
        ([{"x": 1.0, "c": "u"}, 7], "record 1 is a number"),
        ({"records": [[1, 2]]}, "record 0 is an array"),
    ],
)
def test_wrong_shape_is_400(url: str, body: Any, words: str) -> None:
    answer = call(url, "/predict", raw=json.dumps(body).encode())
    assert answer.status == 400
    assert words in answer.body["error"]


def test_too_many_records_is_400(start: Start, predictor: Predictor) -> None:
    url = start(predictor, max_records=2)
    assert call(url, "/predict", RECORDS[:2]).status == 200
    answer = call(url, "/predict", {"records": RECORDS[:3]})
    assert answer.status == 400
    assert "3 records, more than the limit of 2" in answer.body["error"]


@pytest.mark.parametrize(
    ("body", "start_of_message", "words"),
    [
        ({"c": "u"}, "record: ", "missing feature 'x'"),
        ({"x": "big", "c": "u"}, "record: ", "takes a number"),
        ({"record": {"x": 1.0, "c": 3}}, "record: ", "takes a string"),
        ([RECORDS[0], {"x": 1.0}], "record 1: ", "missing feature 'c'"),
        ({"records": [{"x": True, "c": "u"}]}, "record 0: ", "takes a number"),
    ],
)
def test_invalid_record_is_422(url: str, body: Any, start_of_message: str, words: str) -> None:
    answer = call(url, "/predict", body)
    assert answer.status == 422
    assert answer.body["error"].startswith(start_of_message)
    assert words in answer.body["error"]


def test_too_large_body_is_413(start: Start, predictor: Predictor) -> None:
    url = start(predictor, max_body_bytes=200)
    assert call(url, "/predict", RECORDS).status == 200
    answer = call(url, "/predict", RECORDS * 10)
    assert answer.status == 413
    assert "limit of 200" in answer.body["error"]
    assert answer.headers["Connection"] == "close"


def test_length_is_checked_before_the_body_is_read(start: Start, predictor: Predictor) -> None:
    url = start(predictor, max_body_bytes=1000)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        # Announces 1 GB and sends none of it: the answer must come anyway.
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["model"] == "toy"


def test_expect_100_continue_gets_413_without_the_body(start: Start, predictor: Predictor) -> None:
    url = start(predictor, max_body_bytes=1000)
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ")


def test_expect_100_continue_is_honoured(url: str, predictor: Predictor) -> None:
    host, port = url.removeprefix("http://").split(":")
    body = json.dumps(RECORDS[0]).encode()
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            + f"Content-Length: {len(body)}\r\n".encode()
            + b"Expect: 100-continue\r\n\r\n"
        )
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 ")
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, answer = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(answer) == {"model": "toy", "version": 3, **predictor.predict_one(RECORDS[0])}


def test_missing_content_length_is_411(url: str) -> None:
    # An iterable body makes urllib send it chunked, without Content-Length.
    answer = call(url, "/predict", raw=iter([json.dumps(RECORDS[0]).encode()]))  # type: ignore[arg-type]
    assert answer.status == 411
    assert "Content-Length" in answer.body["error"]


def test_no_body_at_all_is_411(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.putrequest("POST", "/predict")
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 411
        assert json.loads(response.read())["version"] == 3
    finally:
        conn.close()


def test_bad_content_length_is_400(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("path", ["/nowhere", "/predict/more", "/healthz"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_unknown_path_is_404(url: str, path: str, method: str) -> None:
    answer = call(url, path, {} if method == "POST" else None, method=method)
    assert answer.status == 404
    assert "no such path" in answer.body["error"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/predict", "POST"),
        ("PUT", "/invocations", "POST"),
        ("POST", "/health", "GET, HEAD"),
        ("DELETE", "/model", "GET, HEAD"),
        ("PATCH", "/", "GET, HEAD"),
        ("BREW", "/health", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(url: str, method: str, path: str, allow: str) -> None:
    answer = call(url, path, {} if method != "GET" else None, method=method)
    assert answer.status == 405
    assert answer.headers["Allow"] == allow
    assert answer.body["error"].startswith(f"{method} is not allowed on {path}")


def test_head_of_a_post_route_is_405_without_body(url: str) -> None:
    answer = call(url, "/predict", method="HEAD")
    assert answer.status == 405
    assert answer.headers["Allow"] == "POST"
    assert answer.raw == b""


def test_unexpected_failure_is_a_logged_500(start: Start, predictor: Predictor) -> None:
    def broken(record: Any) -> dict[str, Any]:
        raise RuntimeError("the tree fell over\nsecond line")

    predictor.predict_one = broken  # type: ignore[method-assign]
    console = RecordingConsole()
    url = start(predictor, console=console)
    answer = call(url, "/predict", RECORDS[0])
    assert answer.status == 500
    assert "fell over" not in answer.body["error"]
    assert "RuntimeError" not in answer.body["error"]
    [(kind, text)] = console.lines
    assert kind == "warning"
    assert "RuntimeError: the tree fell over second line" in text
    assert "\n" not in text
    assert call(url, "/health").status == 200  # the server carries on


def test_a_malformed_request_line_is_answered_in_json(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /health HTTP/9.9\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 505 ")
    assert json.loads(body)["model"] == "toy"


# ---- listening ---------------------------------------------------------------------------------


def test_port_taken_is_one_line_invalid_input(predictor: Predictor) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(InvalidInput) as caught:
            make_server(predictor, port=port)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert "already in use" in message
    assert "another port" in message


def test_port_taken_by_a_running_server(url: str, predictor: Predictor) -> None:
    port = int(url.rsplit(":", 1)[1])
    with pytest.raises(InvalidInput, match=f"127.0.0.1:{port}: the port is already in use"):
        make_server(predictor, port=port)


@pytest.mark.parametrize(
    ("host", "port", "words"),
    [
        ("192.0.2.1", 0, "not an address of this machine"),
        ("no-such-host.invalid", 0, "does not resolve"),
        ("127.0.0.1", 70000, "not a TCP port"),
        ("127.0.0.1", -1, "not a TCP port"),
    ],
)
def test_bad_address_is_one_line_invalid_input(
    predictor: Predictor, host: str, port: int, words: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        make_server(predictor, host=host, port=port)
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_port_zero_picks_a_free_port(predictor: Predictor) -> None:
    with make_server(predictor, port=0) as server:
        assert server.server_address[1] > 0


def test_serve_says_where_and_stops_on_ctrl_c(
    predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[ThreadingHTTPServer] = []

    def interrupted(self: ThreadingHTTPServer, poll_interval: float = 0.5) -> None:
        seen.append(self)
        raise KeyboardInterrupt

    monkeypatch.setattr(ThreadingHTTPServer, "serve_forever", interrupted)
    console = RecordingConsole()
    serve(predictor, "127.0.0.1", 0, console)
    [server] = seen
    port = server.server_address[1]
    assert server.socket.fileno() == -1  # closed
    kinds = [kind for kind, _ in console.lines]
    assert kinds == ["step", "message", "step"]
    started = console.lines[0][1]
    assert f"http://127.0.0.1:{port}" in started
    assert "toy" in started
    assert "v3" in started
    curl = console.lines[1][1]
    assert f"curl -s http://127.0.0.1:{port}/predict" in curl
    example = json.loads(curl.rsplit(" -d ", 1)[1].strip("'"))
    assert predictor.predict_one(example)["prediction"] in ("a", "b")
    assert "Stopped" in console.lines[2][1]


def test_serving_imports_no_spark() -> None:
    code = (
        "import sys, sparkglue.ml.serve, sparkglue.ml.predictor; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pyspark', 'py4j')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
