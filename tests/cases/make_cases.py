"""Writes the golden crawler cases: one folder per case, with its input file(s) and
``expected.json`` (classification, columns, records, compression). Run it to regenerate:
``.venv/bin/python tests/cases/make_cases.py``. The outputs are committed."""

from __future__ import annotations

import bz2
import gzip
import json
import shutil
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent

CSV_ROWS = "id,name,score,passed\n1,ada,91.5,true\n2,bob,78.0,false\n3,cy,88.25,true\n"
CSV_COLUMNS = [["id", "bigint"], ["name", "string"], ["score", "double"], ["passed", "boolean"]]
APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326',
    '192.168.1.20 - - [11/Oct/2000:14:01:02 -0700] "POST /login HTTP/1.1" 302 -',
    'example.com - bob [12/Oct/2000:09:00:00 +0000] "GET /index.html HTTP/1.1" 200 512',
]
COMBINED = [line + ' "http://example.com/start" "Mozilla/5.0 (X11)"' for line in APACHE]
KERNEL = [
    "Nov 23 01:02:03 vm kernel: [    1.234567] usb 1-1: new high-speed USB device",
    "Nov 23 01:02:04 vm kernel: [    2.000001] EXT4-fs (vda1): mounted filesystem",
    "Nov 23 01:05:00 vm kernel: Linux version 6.1.0 (gcc 12.2.0)",
]
REDIS = [
    "[4018] 14 Nov 07:01:22.119 * Background saving terminated with success",
    "4018:M 14 Nov 2019 07:01:23.001 # Server initialized",
    "4018:C 14 Nov 2019 07:01:23.500 - DB saved on disk",
]
REDISMON = [
    '1339518083.107412 [0 127.0.0.1:60866] "keys" "*"',
    '1339518087.877697 [0 127.0.0.1:60866] "dbsize"',
    '1339518090.420270 [0 127.0.0.1:60866] "set" "x" "6"',
]
LOG_COLUMNS = {
    "apache": [
        "clientip",
        "ident",
        "auth",
        "timestamp",
        "verb",
        "request",
        "httpversion",
        "rawrequest",
        "response",
        "bytes",
    ],
    "linux_kernel": ["timestamp", "hostname", "uptime", "message"],
    "redislog": ["pid", "role", "timestamp", "level", "message"],
    "redismonlog": ["timestamp", "database", "client", "port", "command", "params"],
}
LOG_COLUMNS["combined_apache"] = [*LOG_COLUMNS["apache"], "referrer", "agent"]


def case(name: str, files: dict[str, bytes | str], expected: dict[str, Any]) -> None:
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "data").mkdir(parents=True)
    for file_name, content in files.items():
        data = content.encode() if isinstance(content, str) else content
        (folder / "data" / file_name).write_bytes(data)
    (folder / "expected.json").write_text(json.dumps(expected, indent=2) + "\n")


def strings(names: list[str]) -> list[list[str]]:
    return [[n, "string"] for n in names]


def main() -> None:
    import fastavro
    import lz4.frame
    import pyarrow as pa
    import pyarrow.orc as orc
    import pyarrow.parquet as pq
    import zstandard

    case(
        "csv_header",
        {"scores.csv": CSV_ROWS},
        {"classification": "csv", "columns": CSV_COLUMNS, "records": 3},
    )
    for delim, name in (("|", "pipe"), ("\t", "tab"), (";", "semicolon"), ("\u0001", "ctrl_a")):
        case(
            f"csv_{name}",
            {"scores.txt": CSV_ROWS.replace(",", delim)},
            {
                "classification": "csv",
                "columns": CSV_COLUMNS,
                "records": 3,
                "serde_parameters": {"field.delim": delim},
            },
        )
    case(
        "csv_all_strings_no_header",
        {"names.csv": "first,last\nada,lovelace\nalan,turing\n"},
        {
            "classification": "csv",
            "columns": [["col0", "string"], ["col1", "string"]],
            "records": 3,
        },
    )
    case(
        "csv_quoted",
        {"q.csv": 'id,stage,mass\n1,"Adult, 1 Egg",3750\n2,"Adult, 2 Eggs",NA\n'},
        {
            "classification": "csv",
            "records": 2,
            "serde": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
            "columns": [["id", "bigint"], ["stage", "string"], ["mass", "string"]],
        },
    )
    case("csv_single_column", {"one.csv": "value\n1\n2\n3\n"}, {"classification": "UNKNOWN"})
    case(
        "json_lines",
        {
            "events.json": "\n".join(
                json.dumps(r)
                for r in [
                    {"id": 1, "user": {"name": "ada", "tags": ["a", "b"]}, "ok": True},
                    {"id": 2, "user": {"name": "bob", "tags": []}, "ok": False, "score": 1.5},
                    {"id": 3, "user": {"name": "cy", "tags": ["c"]}, "ok": None, "score": 2},
                ]
            )
            + "\n"
        },
        {
            "classification": "json",
            "records": 3,
            "columns": [
                ["id", "bigint"],
                ["user", "struct<name:string,tags:array<string>>"],
                ["ok", "boolean"],
                ["score", "double"],
            ],
        },
    )
    case(
        "json_array",
        {"items.json": json.dumps([{"sku": "a1", "qty": 2}, {"sku": "b2", "qty": 5}], indent=2)},
        {"classification": "json", "records": 2, "columns": [["sku", "string"], ["qty", "bigint"]]},
    )
    case(
        "xml_rows",
        {
            "books.xml": (
                '<?xml version="1.0"?>\n<catalog>\n'
                '  <book id="b1"><title>Dune</title><year>1965</year><price>9.99</price></book>\n'
                '  <book id="b2"><title>Emma</title><year>1815</year><price>4.5</price></book>\n'
                '  <book id="b3"><title>Ulysses</title><year>1922</year><price>12</price></book>\n'
                "</catalog>\n"
            )
        },
        {
            "classification": "xml",
            "records": 3,
            "columns": [
                ["_id", "string"],
                ["title", "string"],
                ["year", "bigint"],
                ["price", "double"],
            ],
        },
    )
    for name, lines in (
        ("combined_apache", COMBINED),
        ("apache", APACHE),
        ("linux_kernel", KERNEL),
        ("redislog", REDIS),
        ("redismonlog", REDISMON),
    ):
        case(
            f"log_{name}",
            {f"{name}.log": "\n".join(lines) + "\n"},
            {"classification": name, "records": 3, "columns": strings(LOG_COLUMNS[name])},
        )

    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["a", "b", "c"],
            "price": pa.array([1.5, 2.0, 3.25]),
            "day": pa.array([1, 2, 3], pa.int32()),
            "tags": pa.array([["x"], [], ["y", "z"]]),
        }
    )
    columnar = [
        ["id", "bigint"],
        ["name", "string"],
        ["price", "double"],
        ["day", "int"],
        ["tags", "array<string>"],
    ]
    folder = HERE / "parquet"
    case("parquet", {}, {"classification": "parquet", "records": 3, "columns": columnar})
    pq.write_table(table, folder / "data" / "part-0.parquet")
    case("orc", {}, {"classification": "orc", "records": 3, "columns": columnar})
    orc.write_table(table, str(HERE / "orc" / "data" / "part-0.orc"))
    case(
        "avro",
        {},
        {
            "classification": "avro",
            "records": 3,
            "columns": [
                ["id", "bigint"],
                ["name", "string"],
                ["price", "double"],
                ["tags", "array<string>"],
            ],
        },
    )
    schema = {
        "type": "record",
        "name": "Item",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "name", "type": "string"},
            {"name": "price", "type": ["null", "double"]},
            {"name": "tags", "type": {"type": "array", "items": "string"}},
        ],
    }
    with (HERE / "avro" / "data" / "part-0.avro").open("wb") as fh:
        fastavro.writer(
            fh,
            schema,
            [
                {"id": i, "name": n, "price": p, "tags": t}
                for i, n, p, t in [(1, "a", 1.5, ["x"]), (2, "b", None, []), (3, "c", 3.25, ["y"])]
            ],
        )

    codecs = {
        "gzip": ("scores.csv.gz", gzip.compress(CSV_ROWS.encode())),
        "bzip2": ("scores.csv.bz2", bz2.compress(CSV_ROWS.encode())),
        "zstd": ("scores.csv.zst", zstandard.ZstdCompressor().compress(CSV_ROWS.encode())),
        "lz4": ("scores.csv.lz4", lz4.frame.compress(CSV_ROWS.encode())),
    }
    for codec, (file_name, blob) in codecs.items():
        case(
            f"compressed_{codec}",
            {file_name: blob},
            {"classification": "csv", "records": 3, "columns": CSV_COLUMNS, "compression": codec},
        )

    case(
        "custom_grok",
        {"app.log": "2026-11-01 ERROR 503 db down\n2026-11-01 INFO 200 ok\n"},
        {
            "classification": "applog",
            "records": 2,
            "columns": [["day", "string"], ["level", "string"], ["code", "int"], ["msg", "string"]],
            "classifier": {
                "Name": "applog",
                "Classification": "applog",
                "GrokPattern": "%{DAY8:day} %{LOGLEVEL:level} %{NUMBER:code:int} %{GREEDYDATA:msg}",
                "CustomPatterns": "DAY8 \\d{4}-\\d{2}-\\d{2}\nLOGLEVEL [A-Z]+",
            },
        },
    )
    case(
        "custom_csv",
        {"hash.txt": "1#ada\n2#bob\n"},
        {
            "classification": "csv",
            "records": 2,
            "columns": [["id", "bigint"], ["who", "string"]],
            "classifier": {
                "Name": "hashes",
                "Delimiter": "#",
                "ContainsHeader": "ABSENT",
                "Header": ["id", "who"],
            },
        },
    )
    case(
        "custom_json",
        {
            "doc.json": json.dumps(
                {"meta": {"n": 2}, "items": [{"k": "a", "v": 1}, {"k": "b", "v": 2}]}
            )
        },
        {
            "classification": "json",
            "records": 2,
            "columns": [["k", "string"], ["v", "bigint"]],
            "classifier": {"Name": "items", "JsonPath": "$.items[*]"},
        },
    )
    case(
        "custom_xml",
        {
            "feed.xml": "<feed><meta><v>1</v></meta><entry><t>a</t></entry>"
            "<entry><t>b</t></entry><entry><t>c</t></entry></feed>"
        },
        {
            "classification": "feedxml",
            "records": 3,
            "columns": [["t", "string"]],
            "classifier": {"Name": "feed", "Classification": "feedxml", "RowTag": "entry"},
        },
    )


if __name__ == "__main__":
    main()
