"""The crawl itself: list files, classify them, merge schemas, group files into tables.

Pure functions of the file tree and the classifiers; the service turns the plans into catalog
changes and records the run. Files are sampled (``SampleSize`` files per leaf folder; the rest
share the folder's result) and read only as far as their head or footer.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from sparkglue.crawler import native
from sparkglue.crawler.classifiers import Classifier, Verdict, classify
from sparkglue.crawler.classifiers.base import merge_types
from sparkglue.crawler.globs import ExclusionSet
from sparkglue.crawler.sample import FileSample

__all__ = [
    "FileResult",
    "FolderMemo",
    "PartitionPlan",
    "TablePlan",
    "collections_paused",
    "list_files",
    "list_object_files",
    "plan_tables",
    "scan",
]

SIMILARITY = 0.7  # Glue: schemas at a level are "similar" above 70 %
MAX_SCHEMA_CLUSTERS = 5  # … and a level holds at most 5 different schemas
_HIVE_KEY = re.compile(r"([^=/]+)=(.*)")


@dataclass
class FileResult:
    """What the crawl decided for one file."""

    relative: str
    size: int
    mtime: float
    verdict: Verdict | None = None
    tried: list[Verdict] = field(default_factory=list)
    compression: str | None = None
    sampled: bool = True
    skipped: str | None = None  # why the file was not used (excluded, unreadable, …)
    records: float = 0.0  # estimated records

    @property
    def folder(self) -> str:
        return self.relative.rsplit("/", 1)[0] if "/" in self.relative else ""

    @property
    def classification(self) -> str:
        return self.verdict.classification if self.verdict else "UNKNOWN"

    @property
    def columns(self) -> list[tuple[str, str]]:
        return self.verdict.schema.columns if self.verdict and self.verdict.schema else []

    def decision(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "compression": self.compression,
            "sampled": self.sampled,
            "skipped": self.skipped,
            "classification": self.classification,
            "winner": self.verdict.classifier if self.verdict else None,
            "certainty": self.verdict.certainty if self.verdict else 0.0,
            "tried": [v.as_dict() for v in self.tried],
            "schema": [list(c) for c in self.columns],
            "records_estimate": round(self.records),
        }


@dataclass
class PartitionPlan:
    values: list[str]
    location: str
    files: list[FileResult]


@dataclass
class TablePlan:
    """A table the crawl found: where, what format, which schema, which partitions."""

    name: str
    location: str
    classification: str
    compression: str | None
    columns: list[tuple[str, str]]
    partition_keys: list[str]
    partitions: list[PartitionPlan]
    files: list[FileResult]
    verdict: Verdict
    notes: list[str] = field(default_factory=list)

    def statistics(self, files: Sequence[FileResult] | None = None) -> dict[str, str]:
        chosen = self.files if files is None else files
        size = sum(f.size for f in chosen)
        records = round(sum(f.records for f in chosen))
        return {
            "sizeKey": str(size),
            "objectCount": str(len(chosen)),
            "recordCount": str(records),
            "averageRecordSize": str(size // records if records else 0),
            "compressionType": self.compression or "none",
        }


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@dataclass
class FolderMemo:
    """What an incremental crawl remembers of the folders it looked through: each folder's
    modification time (ns) and the names of its subfolders, keyed by the folder's path
    relative to the crawl root.

    Creating, removing or renaming an entry changes its folder's modification time, so a
    folder whose time is unchanged has the same subfolders and need not be listed again (git's
    untracked cache rests on the same rule). Only times older than ``settled_ns`` are kept: a
    change made within the file system's time resolution after the listing would leave the
    time as it was and go unseen.
    """

    before: Mapping[str, Any] = field(default_factory=dict)
    settled_ns: int = field(default_factory=lambda: time.time_ns() - _SETTLED_NS)
    now: dict[str, list[Any]] = field(default_factory=dict)

    def subfolders(self, folder: str, stamp: int) -> list[str] | None:
        """The folder's subfolder names when its time is the one remembered."""
        known = self.before.get(folder)
        if isinstance(known, list) and len(known) == 2 and known[0] == stamp:
            names = known[1]
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return names
        return None

    def remember(self, folder: str, stamp: int, names: list[str]) -> None:
        if stamp >= self.settled_ns:
            return
        try:
            for name in names:
                name.encode("utf-8")
        except UnicodeEncodeError:
            return  # such a name is reported and skipped each time; the folder is listed
        self.now[folder] = [stamp, names]


_SETTLED_NS = 5_000_000_000  # coarser than any file system's time resolution (FAT: 2 s)


def list_files(
    root: Path,
    exclusions: ExclusionSet,
    on_skip: Callable[[str, str], None] | None = None,
    folders: Callable[[str], bool] | None = None,
    memo: FolderMemo | None = None,
) -> Iterator[tuple[str, str]]:
    """Files under ``root`` as (relative path, path) in name order, without excluded or hidden
    ones; what is passed over is reported to ``on_skip`` with the reason.

    Names starting with ``.`` or ``_`` (``_SUCCESS``, ``.crc``) are skipped, as Spark skips them
    when it reads a table. Symbolic links to folders are not followed. With ``folders``, only
    the files of the folders it accepts (given relative to ``root``, ``""`` for ``root``) are
    listed; the others are only looked through for subfolders (an incremental crawl's new
    folders may be anywhere, and its old ones may hold many files). With ``memo``, each
    folder's subfolders are remembered in ``memo.now``, and a folder not accepted by
    ``folders`` that is unchanged since ``memo.before`` is not listed again.
    """

    def skip(relative: str, why: str) -> None:
        if on_skip:
            on_skip(relative, why)

    def named(prefix: str, name: str) -> str | None:
        """The entry's path relative to the root; None (reported) when its name rules it out."""
        relative = f"{prefix}{name}"
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            skip(_printable(relative), "the name is not valid UTF-8; rename it")
            return None
        if name.startswith((".", "_")):
            skip(relative, "hidden file (name starts with . or _)")
            return None
        return relative

    def enter(relative: str, folder: str) -> Iterator[tuple[str, str]]:
        if exclusions and exclusions.excludes_folder(relative):
            skip(relative + "/", "excluded folder")
            return
        yield from walk(relative + "/", folder)

    def walk(prefix: str, folder: str) -> Iterator[tuple[str, str]]:
        key = prefix.rstrip("/")
        if folders is not None and not folders(key):
            yield from look_through(prefix, folder, key)
            return
        stamp = _stamp(folder) if memo is not None else None
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            skip(prefix or ".", f"unreadable folder: {exc.strerror}")
            return
        if memo is not None and stamp is not None:
            memo.remember(key, stamp, [e.name for e in entries if _is_folder(e)])
        for entry in entries:
            relative = named(prefix, entry.name)
            if relative is None:
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                is_file = not is_dir and entry.is_file()
            except OSError as exc:
                skip(relative, f"unreadable entry: {exc.strerror}")
                continue
            if is_dir:
                yield from enter(relative, entry.path)
            elif is_file:
                if exclusions and exclusions.excludes(relative):
                    skip(relative, "excluded")
                    continue
                yield relative, entry.path  # a str: a Path per file costs more than listing
            else:
                skip(relative, "a link to a folder, or a broken link: not followed")

    def look_through(prefix: str, folder: str, key: str) -> Iterator[tuple[str, str]]:
        """A folder whose files are not wanted: only its subfolders are walked."""
        stamp = _stamp(folder) if memo is not None else None
        names = memo.subfolders(key, stamp) if memo is not None and stamp is not None else None
        if names is None:
            try:
                names = sorted(e.name for e in os.scandir(folder) if _is_folder(e))
            except OSError as exc:
                skip(prefix or ".", f"unreadable folder: {exc.strerror}")
                return
        if memo is not None and stamp is not None:
            memo.remember(key, stamp, names)
        for name in names:
            relative = named(prefix, name)
            if relative is not None:
                yield from enter(relative, os.path.join(folder, name))  # noqa: PTH118 (as scandir)

    yield from walk("", str(root))


def _stamp(folder: str) -> int | None:
    try:
        return os.stat(folder, follow_symlinks=False).st_mtime_ns  # noqa: PTH116 (a str path)
    except OSError:
        return None


def _is_folder(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def list_object_files(
    filesystem: Any,
    base: str,
    exclusions: ExclusionSet,
    on_skip: Callable[[str, str], None] | None = None,
) -> tuple[list[tuple[str, str]], dict[str, tuple[int, float]]]:
    """``list_files`` for a pyarrow filesystem (S3): one recursive listing of ``base``
    (``bucket/prefix``); returns the (relative path, path) pairs and each path's size and
    modification time, which the listing already carries."""
    from pyarrow import fs

    def skip(relative: str, why: str) -> None:
        if on_skip:
            on_skip(relative, why)

    infos = filesystem.get_file_info(fs.FileSelector(base, recursive=True))
    files: list[tuple[str, str]] = []
    stats: dict[str, tuple[int, float]] = {}
    passed_folders: set[str] = set()
    prefix_len = len(base.rstrip("/")) + 1
    for info in sorted(infos, key=lambda i: i.path):
        if info.type != fs.FileType.File:
            continue
        relative = info.path[prefix_len:]
        parts = relative.split("/")
        folders = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
        if any(f in passed_folders for f in folders):
            continue
        hidden = next((f for f in folders if f.rsplit("/", 1)[-1].startswith((".", "_"))), None)
        if hidden is not None:
            passed_folders.add(hidden)
            skip(hidden, "hidden file (name starts with . or _)")
            continue
        excluded = next((f for f in folders if exclusions and exclusions.excludes_folder(f)), None)
        if excluded is not None:
            passed_folders.add(excluded)
            skip(excluded + "/", "excluded folder")
            continue
        if parts[-1].startswith((".", "_")):
            skip(relative, "hidden file (name starts with . or _)")
            continue
        if exclusions and exclusions.excludes(relative):
            skip(relative, "excluded")
            continue
        files.append((relative, info.path))
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        stats[info.path] = (info.size or 0, mtime)
    return files, stats


def _join(root: str, relative: str) -> str:
    """A location under a root: a local path or an ``s3://`` URL alike."""
    return f"{root.rstrip('/')}/{relative}" if relative else root


def scan(
    root: Path | str,
    exclusions: ExclusionSet,
    custom: Sequence[Classifier],
    *,
    sample_size: int | None = None,
    only_folders: Callable[[str], bool] | None = None,
    progress: Callable[[int], None] | None = None,
    listing: Sequence[tuple[str, str]] | None = None,
    skipped_in_listing: Sequence[tuple[str, str]] = (),
    filesystem: Any = None,
    stats: Mapping[str, tuple[int, float]] | None = None,
) -> tuple[list[FileResult], list[FileResult]]:
    """Classify the files under ``root``; returns (results, skipped files).

    ``listing`` (with what listing skipped) saves walking the tree again when the caller
    already listed it. With a pyarrow ``filesystem`` (S3), ``listing`` and ``stats`` (size and
    modification time per path) come from ``list_object_files``.
    """
    skipped: list[FileResult] = []

    def skip(relative: str, why: str) -> None:
        skipped.append(FileResult(relative, 0, 0.0, skipped=why))

    for relative, why in skipped_in_listing:
        skip(relative, why)

    results: list[FileResult] = []
    per_folder: dict[str, list[FileResult]] = {}
    todo: list[tuple[FileResult, str]] = []
    sampled_in: dict[str, int] = {}
    listed = listing if listing is not None else list_files(Path(root), exclusions, skip)
    for relative, path in listed:
        folder = relative.rsplit("/", 1)[0] if "/" in relative else ""
        if only_folders is not None and not only_folders(folder):
            continue
        if stats is not None:
            size, mtime = stats[path]
        else:
            try:
                stat = os.stat(path)  # noqa: PTH116 (no Path per listed file: the hot loop)
            except OSError as exc:
                skip(relative, f"unreadable: {exc.strerror}")
                continue
            size, mtime = stat.st_size, stat.st_mtime
        result = FileResult(relative, size, mtime)
        siblings = per_folder.setdefault(folder, [])
        if sample_size is not None and sampled_in.get(folder, 0) >= sample_size:
            result.sampled = False  # takes the verdict of its folder's sampled files
            if progress:
                progress(1)
        else:
            todo.append((result, path))
            if result.size > 0:  # an empty file does not use up the folder's sample
                sampled_in[folder] = sampled_in.get(folder, 0) + 1
        siblings.append(result)
        results.append(result)
    classified = _classify_all(todo, custom, progress, filesystem)
    for (result, _), done in zip(todo, classified, strict=True):
        result.verdict, result.tried = done.verdict, done.tried
        result.compression, result.skipped, result.records = (
            done.compression,
            done.skipped,
            done.records,
        )
    for siblings in per_folder.values():
        _adopt_folder_verdict(siblings)
    return results, skipped


_PARALLEL_FROM = 256  # below this many files, worker processes cost more than they save
_ARROW_FROM = 64  # below this many files, loading Arrow's CSV reader costs more than it saves
_OBJECT_STORE_THREADS = 16  # object reads wait on the network, not on a core
_worker_classifiers: Sequence[Classifier] = ()


def _worker_init(custom: Sequence[Classifier]) -> None:
    global _worker_classifiers
    _worker_classifiers = custom


def _pool_worker_init(custom: Sequence[Classifier]) -> None:
    _worker_init(custom)
    gc.enable()  # a worker's garbage is its own: what it inherited is frozen (see below)


@contextlib.contextmanager
def collections_paused() -> Iterator[None]:
    """No cyclic garbage collection in this process while a crawl runs.

    A crawl keeps one result per file until its end and makes next to no reference cycles,
    so the collector would only walk an ever longer list of live objects, again and again.
    Reference counting still frees what the crawl lets go of. A collector the caller had
    turned off stays off.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _classify_path(item: tuple[FileResult, str]) -> FileResult:
    result, path = item
    sample = FileSample(path, result.relative, result.size, result.mtime)
    _classify_one(result, sample, _worker_classifiers)
    return result


def _classify_all(
    todo: list[tuple[FileResult, str]],
    custom: Sequence[Classifier],
    progress: Callable[[int], None] | None,
    filesystem: Any = None,
) -> Iterator[FileResult]:
    """Classify files, on every core when there are many (each file is independent); objects
    of a remote filesystem on threads (a forked process must not inherit the S3 client)."""
    if len(todo) >= _ARROW_FROM:
        # Before any fork: the compiled typer types CSV and JSON Lines samples, and Arrow's
        # CSV reader the CSV samples it leaves to Python (or all, when it cannot be built).
        native.load()
        with contextlib.suppress(ImportError):
            import pyarrow.csv  # noqa: F401
    if filesystem is not None:
        from concurrent.futures import ThreadPoolExecutor

        def one(item: tuple[FileResult, str]) -> FileResult:
            result, path = item
            sample = FileSample(
                path, result.relative, result.size, result.mtime, filesystem=filesystem
            )
            _classify_one(result, sample, custom)
            return result

        threads = ThreadPoolExecutor(_OBJECT_STORE_THREADS)
        try:
            for result in threads.map(one, todo):
                yield result
                if progress:
                    progress(1)
        finally:
            threads.shutdown(wait=True, cancel_futures=True)
        return
    workers = min(os.cpu_count() or 1, 8)
    if workers < 2 or len(todo) < _PARALLEL_FROM:
        _worker_init(custom)
        for item in todo:
            yield _classify_path(item)
            if progress:
                progress(1)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    # What a forked worker inherits is left out of its collections (Python's advice for
    # fork): they stay quick, and the collector does not write to the pages the worker
    # shares with this process.
    # Objects this process had frozen already (its own choice) stay frozen afterwards.
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=_pool_worker_init, initargs=(tuple(custom),)
    )
    try:
        for result in pool.map(_classify_path, todo, chunksize=32):
            yield result
            if progress:
                progress(1)
    finally:
        # On a stop (or any error) pending work is dropped instead of finished.
        pool.shutdown(wait=True, cancel_futures=True)
        if not frozen_before:
            gc.unfreeze()


def _classify_one(result: FileResult, sample: FileSample, custom: Sequence[Classifier]) -> None:
    if sample.size == 0:
        result.skipped = "empty file"
        return
    try:
        result.compression = sample.compression
        verdict, tried = classify(sample, custom)
    except OSError as exc:
        result.skipped = f"unreadable: {exc.strerror or exc}"
        return
    result.tried = tried
    result.verdict = verdict
    if verdict is None:
        result.skipped = "no classifier recognised it (UNKNOWN)"
        return
    inferred = verdict.schema
    if inferred is not None and inferred.records is not None:
        if inferred.records_exact:
            result.records = float(inferred.records)
        elif inferred.file_bytes_read:  # a reader that read the stored bytes itself (Avro)
            result.records = inferred.records * sample.size / inferred.file_bytes_read
        else:
            result.records = inferred.records / sample.head_fraction


def _adopt_folder_verdict(siblings: list[FileResult]) -> None:
    sampled = [f for f in siblings if f.sampled and f.verdict is not None]
    if not sampled:
        for f in siblings:
            if not f.sampled:
                f.skipped = "not sampled, and no sampled file of its folder was recognised"
        return
    reference = sampled[0]
    bytes_per_record = sum(f.size for f in sampled) / max(sum(f.records for f in sampled), 1.0)
    for f in siblings:
        if not f.sampled:
            f.verdict = reference.verdict
            f.compression = reference.compression
            f.records = f.size / bytes_per_record if bytes_per_record else 0.0


# ---- grouping ---------------------------------------------------------------------------------


def _similarity(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def _compatible(files: Sequence[FileResult], combine: bool) -> tuple[bool, str]:
    kinds = {(f.classification, f.compression) for f in files}
    if len(kinds) > 1:
        shown = ", ".join(sorted(f"{c}/{z or 'none'}" for c, z in kinds))
        return False, f"different formats ({shown})"
    depths = {f.relative.count("/") for f in files}
    if len(depths) > 1:
        return False, "files at different folder depths"
    if combine:
        return True, "compatible formats (CombineCompatibleSchemas)"
    schemas = Counter(frozenset(name.lower() for name, _ in f.columns) for f in files)
    if len(schemas) > MAX_SCHEMA_CLUSTERS:
        return False, f"{len(schemas)} different schemas (more than {MAX_SCHEMA_CLUSTERS})"
    reference = schemas.most_common(1)[0][0]
    for schema in schemas:
        score = _similarity(schema, reference)
        if score < SIMILARITY:
            return False, f"schemas only {score:.0%} similar (below {SIMILARITY:.0%})"
    return True, "similar schemas"


def table_name(text: str) -> str:
    """A folder or file name as a catalog table name (lower case, ``[a-z0-9_]``)."""
    name = re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")
    return name or "table"


def _merge_columns(files: Sequence[FileResult]) -> tuple[list[tuple[str, str]], list[str]]:
    merged: dict[str, str] = {}
    seen_in: dict[str, str] = {}
    notes: list[str] = []
    for f in files:
        if not f.sampled:
            continue
        for name, typ in f.columns:
            key = name.lower()
            if key not in merged:
                merged[key] = typ
                seen_in[key] = f.relative
                continue
            before = merged[key]
            after = merge_types(before, typ) or "string"
            if after != before:
                verb = "widened" if after != "string" else "conflicting types, using string:"
                notes.append(
                    f"column {name}: {before} in {seen_in[key]}, {typ} in {f.relative}; "
                    f"{verb} {after}"
                )
                merged[key] = after
    names: dict[str, str] = {}
    for f in files:
        for name, _ in f.columns:
            names.setdefault(name.lower(), name)
    return [(names[k], t) for k, t in merged.items()], notes


def _partition_keys(files: Sequence[FileResult], root_depth: int) -> list[str]:
    """Partition key names, one per folder level between the table root and its files (all
    files are at one depth: grouping makes sure of it)."""
    levels = files[0].relative.count("/") - root_depth
    keys = []
    for level in range(levels):
        parts = {f.relative.split("/")[root_depth + level] for f in files}
        matches = [_HIVE_KEY.fullmatch(p) for p in parts]
        names = {m.group(1).lower() for m in matches if m}
        if all(matches) and len(names) == 1:
            keys.append(table_name(names.pop()))
        else:
            keys.append(f"partition_{level}")
    used: Counter[str] = Counter()
    unique = []
    for key in keys:
        used[key] += 1
        unique.append(key if used[key] == 1 else f"{key}_{used[key]}")
    return unique


def _plan(
    name: str, root: str, relative_root: str, files: list[FileResult], is_file: bool = False
) -> TablePlan:
    root_depth = 0 if not relative_root else relative_root.count("/") + 1
    keys = [] if is_file else _partition_keys(files, root_depth)
    hive_levels = [not re.fullmatch(r"partition_\d+(_\d+)?", k) for k in keys]
    columns, notes = _merge_columns(files)
    partition_names = {k for k in keys}
    columns = [(n, t) for n, t in columns if n.lower() not in partition_names]
    partitions: dict[tuple[str, ...], PartitionPlan] = {}
    if keys:
        for f in files:
            parts = f.relative.split("/")[root_depth : root_depth + len(keys)]
            values = tuple(
                unquote(m.group(2)) if hive and (m := _HIVE_KEY.fullmatch(p)) else p
                for p, hive in zip(parts, hive_levels, strict=True)
            )
            folder = "/".join(f.relative.split("/")[: root_depth + len(keys)])
            plan = partitions.setdefault(
                values, PartitionPlan(list(values), _join(root, folder), [])
            )
            plan.files.append(f)
    location = _join(root, relative_root)
    reference = next(f for f in files if f.verdict is not None)
    assert reference.verdict is not None
    return TablePlan(
        name=name,
        location=location,
        classification=reference.classification,
        compression=reference.compression,
        columns=columns,
        partition_keys=keys,
        partitions=sorted(partitions.values(), key=lambda p: p.values),
        files=files,
        verdict=reference.verdict,
        notes=notes,
    )


def plan_tables(
    root: Path | str,
    results: Sequence[FileResult],
    *,
    table_level: int | None = None,
    combine_compatible: bool = False,
) -> tuple[list[TablePlan], list[str]]:
    """Group recognised files into tables; returns the plans and the grouping decisions made.

    ``table_level`` (Glue's TableLevelConfiguration) fixes where tables start, counted from the
    include path (its sub-folders are level 1). Otherwise a folder whose files are compatible
    (same format and compression, same depth, similar schemas) is one table whose sub-folders
    are partitions; an incompatible folder splits into its sub-folders, and files lying directly
    in it become tables of their own.
    """
    usable = [f for f in results if f.verdict is not None and f.skipped is None]
    decisions: list[str] = []
    plans: list[TablePlan] = []
    root = str(root)
    root_name = table_name(root.rstrip("/").rsplit("/", 1)[-1])

    def name_for(relative: str) -> str:
        return table_name(relative.rsplit("/", 1)[-1]) if relative else root_name

    if table_level is not None:
        groups: dict[str, list[FileResult]] = {}
        for f in usable:
            parts = f.relative.split("/")
            if len(parts) - 1 < table_level:
                plans.append(_plan(table_name(Path(f.relative).stem), root, f.relative, [f], True))
                decisions.append(
                    f"{f.relative}: above table level {table_level}, a table of its own"
                )
                continue
            groups.setdefault("/".join(parts[:table_level]), []).append(f)
        for relative, files in sorted(groups.items()):
            depths = Counter(f.relative.count("/") for f in files)
            for depth, _ in depths.most_common():
                at_depth = [f for f in files if f.relative.count("/") == depth]
                plans.append(_plan(name_for(relative), root, relative, at_depth))
            how = "" if len(depths) == 1 else f" ({len(depths)} tables: files at different depths)"
            decisions.append(f"{relative or '.'}: table at level {table_level}{how}")
    else:

        def visit(relative: str, files: list[FileResult]) -> None:
            ok, why = _compatible(files, combine_compatible)
            if ok:
                plans.append(_plan(name_for(relative), root, relative, files))
                decisions.append(f"{relative or '.'}: one table ({why})")
                return
            decisions.append(f"{relative or '.'}: split ({why})")
            depth = relative.count("/") + 1 if relative else 0
            direct = [f for f in files if f.relative.count("/") == depth]
            for f in direct:
                plans.append(_plan(table_name(Path(f.relative).stem), root, f.relative, [f], True))
                decisions.append(f"{f.relative}: a table of its own")
            children: dict[str, list[FileResult]] = {}
            for f in files:
                if f.relative.count("/") > depth:
                    child = "/".join(f.relative.split("/")[: depth + 1])
                    children.setdefault(child, []).append(f)
            for child, child_files in sorted(children.items()):
                visit(child, child_files)

        if usable:
            visit("", list(usable))

    decisions.extend(dedupe_table_names(plans))
    return plans, decisions


def dedupe_table_names(plans: Sequence[TablePlan]) -> list[str]:
    """Give every plan whose name another plan shares a suffix from its location's hash."""
    import hashlib

    taken = Counter(plan.name for plan in plans)
    decisions = []
    for plan in plans:
        if taken[plan.name] > 1:
            suffix = hashlib.sha1(plan.location.encode()).hexdigest()[:8]
            decisions.append(
                f"{plan.location}: name {plan.name} is taken, using {plan.name}_{suffix}"
            )
            plan.name = f"{plan.name}_{suffix}"
    return decisions
