"""The Data Catalog service: databases, tables with versions, partitions, connections.

Every update of a table keeps the previous version. Read-modify-write (``alter_table``) runs in
one write transaction holding the table's row lock, so concurrent writers in several processes
never lose an update.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as SAConnection

from sparkglue.catalog.diff import TableDiff, diff_tables
from sparkglue.catalog.expressions import compile_filter, partition_row
from sparkglue.catalog.models import (
    Connection,
    ConnectionInput,
    Database,
    DatabaseInput,
    Partition,
    PartitionInput,
    Table,
    TableInput,
    TableVersion,
    check_name,
)
from sparkglue.catalog.types import parse_type
from sparkglue.errors import (
    AlreadyExists,
    ConcurrentModification,
    EntityNotFound,
    InvalidInput,
)
from sparkglue.store import MetadataStore, utc_now
from sparkglue.store import schema as s

__all__ = ["DataCatalog", "split_table_name"]

_REMOTE_SCHEMES = (
    "s3://",
    "s3a://",
    "s3n://",
    "hdfs://",
    "gs://",
    "abfs://",
    "abfss://",
    "wasbs://",
)


def split_table_name(full_name: str) -> tuple[str, str]:
    """``'raw.penguins'`` → ``('raw', 'penguins')``, with a clear error otherwise."""
    parts = full_name.split(".")
    if len(parts) != 2 or not all(parts):
        raise InvalidInput(f"table name '{full_name}' must be DATABASE.TABLE, e.g. raw.penguins")
    return _name("database", parts[0]), _name("table", parts[1])


def _name(kind: str, value: str) -> str:
    try:
        return check_name(kind, value)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None


def _values_key(values: Sequence[str | None]) -> str:
    # JSON keeps nulls apart from text and any separator inside a value apart from the next.
    return json.dumps(list(values), ensure_ascii=False)


# Hive's FileUtils.escapePathName: these characters are %XX-escaped in partition folder names.
_PATH_UNSAFE = set("\"#%'*/:=?\\{[]^") | {chr(c) for c in range(1, 32)} | {"\x7f"}


def escape_path_name(value: str) -> str:
    """A partition value as Hive writes it in a folder name (``a/b`` → ``a%2Fb``)."""
    return "".join(f"%{ord(c):02X}" if c in _PATH_UNSAFE else c for c in value)


@contextmanager
def _name_taken(message: str) -> Iterator[None]:
    """A unique-key violation from a concurrent creator is the same "already exists"."""
    try:
        yield
    except sa.exc.IntegrityError:
        raise AlreadyExists(message) from None


class DataCatalog:
    """Glue's Data Catalog on the metadata store.

    Args:
        store: the metadata store.
        lake_root: relative table and partition locations resolve against it.
        allowed_roots: folders besides the lake that locations may point into.
    """

    def __init__(
        self, store: MetadataStore, *, lake_root: Path, allowed_roots: Sequence[Path] = ()
    ) -> None:
        self.store = store
        self.lake_root = lake_root
        self.allowed_roots = tuple(allowed_roots)

    # ---- locations -------------------------------------------------------------------------

    def resolve_location(self, location: str, *, what: str = "location") -> str:
        """Check a location and make it absolute; remote URIs are kept as they are."""
        if location.startswith(_REMOTE_SCHEMES):
            return location.rstrip("/")
        raw = location[len("file://") :] if location.startswith("file://") else location
        if "://" in raw:
            raise InvalidInput(
                f"{what} '{location}' has an unsupported scheme; use a local path or s3://, "
                "hdfs://, gs://, abfs:// URIs"
            )
        bad = sorted(set(raw) & set("*?[]{}\\"))
        if bad:
            raise InvalidInput(
                f"{what} '{location}' contains {' '.join(bad)}, which Spark reads as a file "
                "pattern; rename the folder"
            )
        path = Path(raw).expanduser()
        path = (self.lake_root / path) if not path.is_absolute() else path
        path = Path(os.path.normpath(path))
        roots = (self.lake_root, *self.allowed_roots)
        if not any(path == root or path.is_relative_to(root) for root in roots):
            shown = ", ".join(str(r) for r in roots)
            raise InvalidInput(
                f"{what} '{location}' is outside the lake and the allowed roots ({shown}); move "
                "the data under the lake or add its folder to allowed_roots in sparkglue.toml"
            )
        return str(path)

    # ---- databases -------------------------------------------------------------------------

    def create_database(self, database: DatabaseInput) -> Database:
        """Create a database; :class:`AlreadyExists` if the name is taken."""
        location = database.location_uri
        if location is not None:
            location = self.resolve_location(location, what="database location")
        now = utc_now()
        taken = f"database '{database.name}' already exists in the catalog"
        with _name_taken(taken), self.store.write() as conn:
            if self._database_id(conn, database.name, required=False) is not None:
                raise AlreadyExists(taken)
            conn.execute(
                s.databases.insert().values(
                    name=database.name,
                    description=database.description,
                    location_uri=location,
                    parameters=database.parameters,
                    created_at=now,
                )
            )
        return Database(**{**database.model_dump(), "location_uri": location, "created_at": now})

    def get_database(self, name: str) -> Database:
        return Database.model_validate(self._get_named(s.databases, "database", name))

    def list_databases(self) -> list[Database]:
        return [Database.model_validate(r) for r in self._list_named(s.databases)]

    def count_tables(self, database: str) -> int:
        """How many tables a database holds."""
        database = _name("database", database)
        with self.store.read() as conn:
            db_id = self._database_id(conn, database)
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(s.tables.c.database_id == db_id)
                ).scalar_one()
            )

    def delete_database(self, name: str, *, cascade: bool = False) -> None:
        """Delete a database; with tables in it only when ``cascade`` is set."""
        name = _name("database", name)
        with self.store.write() as conn:
            db_id = self._database_id(conn, name)
            count = conn.execute(
                sa.select(sa.func.count()).where(s.tables.c.database_id == db_id)
            ).scalar_one()
            if count and not cascade:
                raise InvalidInput(
                    f"database '{name}' still has {count} table(s); delete them first or cascade"
                )
            table_ids = sa.select(s.tables.c.id).where(s.tables.c.database_id == db_id)
            conn.execute(s.partitions.delete().where(s.partitions.c.table_id.in_(table_ids)))
            conn.execute(
                s.table_versions.delete().where(s.table_versions.c.table_id.in_(table_ids))
            )
            conn.execute(s.tables.delete().where(s.tables.c.database_id == db_id))
            conn.execute(s.databases.delete().where(s.databases.c.id == db_id))

    # ---- tables ----------------------------------------------------------------------------

    def create_table(
        self, database: str, table: TableInput, partitions: Iterable[PartitionInput] = ()
    ) -> Table:
        """Create a table at version 1, with its first partitions, in one transaction.

        Raises:
            AlreadyExists: the name is taken.
            InvalidInput: a location or partition is invalid (nothing is written).
        """
        database = _name("database", database)
        table = self._with_location(table)
        full_name = f"{database}.{table.name}"
        prepared = [self._prepare_partition(table, full_name, p) for p in partitions]
        now = utc_now()
        taken = f"table '{full_name}' already exists in the catalog"
        with _name_taken(taken), self.store.write() as conn:
            db_id = self._database_id(conn, database)
            if self._table_row(conn, db_id, table.name, lock=False) is not None:
                raise AlreadyExists(taken)
            inserted = conn.execute(
                s.tables.insert().values(
                    database_id=db_id,
                    name=table.name,
                    current_version=1,
                    deprecated=False,
                    created_at=now,
                    updated_at=now,
                )
            )
            table_id = int(inserted.inserted_primary_key[0])  # type: ignore[index]
            conn.execute(
                s.table_versions.insert().values(
                    table_id=table_id, version=1, definition=table.definition(), created_at=now
                )
            )
            self._insert_partitions(conn, table_id, table, full_name, prepared, if_not_exists=False)
        return _table(database, table.definition(), 1, False, now, now)

    def get_table(self, database: str, name: str) -> Table:
        """The current version of a table; :class:`EntityNotFound` names what is missing."""
        database, name = _name("database", database), _name("table", name)
        query = _current_tables().where(s.databases.c.name == database, s.tables.c.name == name)
        with self.store.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                self._database_id(conn, database)  # a missing database is the better message
                raise EntityNotFound(f"table '{database}.{name}' not found in the catalog")
        return _table(
            database,
            row.definition,
            row.current_version,
            row.deprecated,
            row.created_at,
            row.updated_at,
        )

    def list_tables(self, database: str, *, include_deprecated: bool = True) -> list[Table]:
        database = _name("database", database)
        query = _current_tables().order_by(s.tables.c.name)
        with self.store.read() as conn:
            db_id = self._database_id(conn, database)
            query = query.where(s.tables.c.database_id == db_id)
            if not include_deprecated:
                query = query.where(s.tables.c.deprecated.is_(False))
            rows = conn.execute(query).all()
        return [
            _table(
                database, r.definition, r.current_version, r.deprecated, r.created_at, r.updated_at
            )
            for r in rows
        ]

    def update_table(
        self, database: str, table: TableInput, *, expected_version: int | None = None
    ) -> Table:
        """Replace a table's definition, keeping the old one as a version.

        Args:
            expected_version: when given, fail with :class:`ConcurrentModification` unless the
                table is still at this version (Glue's optimistic ``VersionId``).

        An update that changes nothing creates no version.
        """
        return self.alter_table(
            database, table.name, lambda _current: table, expected_version=expected_version
        )

    def alter_table(
        self,
        database: str,
        name: str,
        change: Callable[[Table], TableInput],
        *,
        expected_version: int | None = None,
    ) -> Table:
        """Read a table, apply ``change`` and store the result, atomically.

        The table's row stays locked between the read and the write, so two processes altering
        the same table one after the other both see each other's change.
        """
        database, name = _name("database", database), _name("table", name)
        with self.store.write() as conn:
            db_id = self._database_id(conn, database)
            row = self._table_row(conn, db_id, name, lock=True)
            if row is None:
                raise EntityNotFound(f"table '{database}.{name}' not found in the catalog")
            if expected_version is not None and row.current_version != expected_version:
                raise ConcurrentModification(
                    f"table '{database}.{name}' is at version {row.current_version}, not "
                    f"{expected_version}; read it again and retry"
                )
            definition = conn.execute(
                sa.select(s.table_versions.c.definition).where(
                    s.table_versions.c.table_id == row.id,
                    s.table_versions.c.version == row.current_version,
                )
            ).scalar_one()
            current = _table(
                database,
                definition,
                row.current_version,
                row.deprecated,
                row.created_at,
                row.updated_at,
            )
            new_input = change(current)
            if new_input.name != name:
                raise InvalidInput(
                    f"table input names '{new_input.name}' but updates '{database}.{name}'; "
                    "renaming is not supported"
                )
            new_input = self._with_location(new_input)
            new_definition = new_input.definition()
            if new_definition == definition:
                return current
            old_keys = [(k.name, k.type) for k in current.partition_keys]
            new_keys = [(k.name, k.type) for k in new_input.partition_keys]
            if old_keys != new_keys:
                count = conn.execute(
                    sa.select(sa.func.count()).where(s.partitions.c.table_id == row.id)
                ).scalar_one()
                if count:
                    raise InvalidInput(
                        f"table '{database}.{name}' has {count} partition(s) under its partition "
                        f"keys ({', '.join(n for n, _ in old_keys)}); delete them before "
                        "changing the partition keys"
                    )
            version = row.current_version + 1
            now = utc_now()
            conn.execute(
                s.table_versions.insert().values(
                    table_id=row.id, version=version, definition=new_definition, created_at=now
                )
            )
            conn.execute(
                s.tables.update()
                .where(s.tables.c.id == row.id)
                .values(current_version=version, updated_at=now)
            )
        return _table(database, new_definition, version, row.deprecated, row.created_at, now)

    def set_deprecated(self, database: str, name: str, deprecated: bool = True) -> None:
        """Mark a table deprecated (Glue's DEPRECATE_IN_DATABASE) or not; not a new version."""
        database, name = _name("database", database), _name("table", name)
        with self.store.write() as conn:
            db_id = self._database_id(conn, database)
            result = conn.execute(
                s.tables.update()
                .where(s.tables.c.database_id == db_id, s.tables.c.name == name)
                .values(deprecated=deprecated, updated_at=utc_now())
            )
            if result.rowcount == 0:
                raise EntityNotFound(f"table '{database}.{name}' not found in the catalog")

    def delete_table(self, database: str, name: str) -> None:
        """Delete a table with its versions and partitions."""
        database, name = _name("database", database), _name("table", name)
        with self.store.write() as conn:
            table_id = self._table_id(conn, database, name)
            conn.execute(s.partitions.delete().where(s.partitions.c.table_id == table_id))
            conn.execute(s.table_versions.delete().where(s.table_versions.c.table_id == table_id))
            conn.execute(s.tables.delete().where(s.tables.c.id == table_id))

    # ---- versions --------------------------------------------------------------------------

    def list_table_versions(self, database: str, name: str) -> list[TableVersion]:
        """Every stored version of a table, oldest first."""
        database, name = _name("database", database), _name("table", name)
        with self.store.read() as conn:
            table_id = self._table_id(conn, database, name)
            rows = conn.execute(
                sa.select(s.table_versions)
                .where(s.table_versions.c.table_id == table_id)
                .order_by(s.table_versions.c.version)
            ).all()
        return [_version(database, name, r) for r in rows]

    def get_table_version(self, database: str, name: str, version: int) -> TableVersion:
        database, name = _name("database", database), _name("table", name)
        with self.store.read() as conn:
            table_id = self._table_id(conn, database, name)
            row = conn.execute(
                sa.select(s.table_versions).where(
                    s.table_versions.c.table_id == table_id, s.table_versions.c.version == version
                )
            ).first()
        if row is None:
            raise EntityNotFound(f"version {version} of table '{database}.{name}' not found")
        return _version(database, name, row)

    def delete_table_version(self, database: str, name: str, version: int) -> None:
        """Delete an old version; the current one cannot be deleted."""
        database, name = _name("database", database), _name("table", name)
        with self.store.write() as conn:
            db_id = self._database_id(conn, database)
            row = self._table_row(conn, db_id, name, lock=True)
            if row is None:
                raise EntityNotFound(f"table '{database}.{name}' not found in the catalog")
            if version == row.current_version:
                raise InvalidInput(
                    f"version {version} is the current version of '{database}.{name}' and "
                    "cannot be deleted"
                )
            result = conn.execute(
                s.table_versions.delete().where(
                    s.table_versions.c.table_id == row.id, s.table_versions.c.version == version
                )
            )
            if result.rowcount == 0:
                raise EntityNotFound(f"version {version} of table '{database}.{name}' not found")

    def diff_table_versions(self, database: str, name: str, old: int, new: int) -> TableDiff:
        """What changed from version ``old`` to version ``new``."""
        before = self.get_table_version(database, name, old)
        after = self.get_table_version(database, name, new)
        return diff_tables(before.table_input, after.table_input, old_version=old, new_version=new)

    # ---- partitions ------------------------------------------------------------------------

    def create_partitions(
        self,
        database: str,
        name: str,
        partitions: Iterable[PartitionInput],
        *,
        if_not_exists: bool = False,
    ) -> int:
        """Add partitions in one transaction; returns how many were added.

        A partition whose values exist already is an error, or skipped with ``if_not_exists``.
        A partition without a location gets ``<table location>/key=value/…``.
        """
        table = self.get_table(database, name)
        prepared = [self._prepare_partition(table, table.full_name, p) for p in partitions]
        with self.store.write() as conn:
            # Lock the table row so concurrent writers of the same partitions take turns.
            row = self._table_row(
                conn, self._database_id(conn, table.database), table.name, lock=True
            )
            if row is None:
                raise EntityNotFound(f"table '{table.full_name}' not found in the catalog")
            table_id = int(row.id)
            return self._insert_partitions(
                conn, table_id, table, table.full_name, prepared, if_not_exists=if_not_exists
            )

    @staticmethod
    def _insert_partitions(
        conn: SAConnection,
        table_id: int,
        table: TableInput,
        full_name: str,
        prepared: list[PartitionInput],
        *,
        if_not_exists: bool,
    ) -> int:
        existing = set(
            conn.execute(
                sa.select(s.partitions.c.values_key).where(s.partitions.c.table_id == table_id)
            ).scalars()
        )
        now = utc_now()
        rows = []
        for part in prepared:
            key = _values_key(part.values)
            if key in existing:
                if if_not_exists:
                    continue
                raise AlreadyExists(
                    f"partition {_show_values(table, part.values)} of '{full_name}' already exists"
                )
            existing.add(key)
            rows.append(
                {
                    "table_id": table_id,
                    "values_key": key,
                    "partition_values": list(part.values),
                    "location": part.location,
                    "parameters": part.parameters,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        if rows:
            conn.execute(s.partitions.insert(), rows)
        return len(rows)

    def create_partition(self, database: str, name: str, partition: PartitionInput) -> None:
        self.create_partitions(database, name, [partition])

    def get_partitions(
        self, database: str, name: str, expression: str | None = None
    ) -> list[Partition]:
        """The partitions of a table, those matching a Glue filter ``expression`` if given."""
        table = self.get_table(database, name)
        keys = [k.name for k in table.partition_keys]
        matcher = None
        if expression is not None and expression.strip():
            matcher = compile_filter(expression, {k.name: k.type for k in table.partition_keys})
        with self.store.read() as conn:
            table_id = self._table_id(conn, table.database, table.name)
            rows = conn.execute(
                sa.select(s.partitions).where(s.partitions.c.table_id == table_id)
            ).all()
        result = [
            _partition(table, r)
            for r in rows
            if matcher is None or matcher.matches(partition_row(keys, r.partition_values))
        ]
        result.sort(key=lambda p: [(v is None, v or "") for v in p.values])
        return result

    def get_partition(self, database: str, name: str, values: Sequence[str | None]) -> Partition:
        table = self.get_table(database, name)
        with self.store.read() as conn:
            table_id = self._table_id(conn, table.database, table.name)
            row = conn.execute(
                sa.select(s.partitions).where(
                    s.partitions.c.table_id == table_id,
                    s.partitions.c.values_key == _values_key(values),
                )
            ).first()
        if row is None:
            raise EntityNotFound(
                f"partition {_show_values(table, values)} of '{table.full_name}' not found"
            )
        return _partition(table, row)

    def update_partition(self, database: str, name: str, partition: PartitionInput) -> None:
        """Replace a partition's location and parameters."""
        table = self.get_table(database, name)
        part = self._prepare_partition(table, table.full_name, partition)
        with self.store.write() as conn:
            table_id = self._table_id(conn, table.database, table.name)
            result = conn.execute(
                s.partitions.update()
                .where(
                    s.partitions.c.table_id == table_id,
                    s.partitions.c.values_key == _values_key(part.values),
                )
                .values(location=part.location, parameters=part.parameters, updated_at=utc_now())
            )
            if result.rowcount == 0:
                raise EntityNotFound(
                    f"partition {_show_values(table, part.values)} of '{table.full_name}' not found"
                )

    def delete_partitions(
        self, database: str, name: str, values_list: Iterable[Sequence[str | None]]
    ) -> int:
        """Delete partitions by their values; returns how many existed."""
        table = self.get_table(database, name)
        keys = [_values_key(v) for v in values_list]
        if not keys:
            return 0
        with self.store.write() as conn:
            table_id = self._table_id(conn, table.database, table.name)
            result = conn.execute(
                s.partitions.delete().where(
                    s.partitions.c.table_id == table_id, s.partitions.c.values_key.in_(keys)
                )
            )
        return int(result.rowcount)

    def _prepare_partition(
        self, table: TableInput, full_name: str, partition: PartitionInput
    ) -> PartitionInput:
        if len(partition.values) != len(table.partition_keys):
            names = ", ".join(k.name for k in table.partition_keys) or "none"
            raise InvalidInput(
                f"partition values {partition.values} of '{full_name}' must give one value "
                f"per partition key ({names})"
            )
        values = [
            None if value is None else _canonical_value(full_name, key.name, key.type, value)
            for key, value in zip(table.partition_keys, partition.values, strict=True)
        ]
        location = partition.location
        if location is None and table.location is not None:
            suffix = "/".join(
                f"{escape_path_name(k.name)}="
                + ("__HIVE_DEFAULT_PARTITION__" if v is None else escape_path_name(v))
                for k, v in zip(table.partition_keys, values, strict=True)
            )
            location = f"{table.location}/{suffix}"
        if location is not None:
            location = self.resolve_location(location, what="partition location")
        return partition.model_copy(update={"values": values, "location": location})

    # ---- connections -----------------------------------------------------------------------

    def create_connection(self, connection: ConnectionInput) -> Connection:
        now = utc_now()
        taken = f"connection '{connection.name}' already exists"
        with _name_taken(taken), self.store.write() as conn:
            exists = conn.execute(
                sa.select(s.connections.c.id).where(s.connections.c.name == connection.name)
            ).first()
            if exists is not None:
                raise AlreadyExists(taken)
            conn.execute(s.connections.insert().values(**connection.model_dump(), created_at=now))
        return Connection(**connection.model_dump(), created_at=now)

    def get_connection(self, name: str) -> Connection:
        return Connection.model_validate(self._get_named(s.connections, "connection", name))

    def list_connections(self) -> list[Connection]:
        return [Connection.model_validate(r) for r in self._list_named(s.connections)]

    def delete_connection(self, name: str) -> None:
        name = _name("connection", name)
        with self.store.write() as conn:
            result = conn.execute(s.connections.delete().where(s.connections.c.name == name))
        if result.rowcount == 0:
            raise EntityNotFound(f"connection '{name}' not found in the catalog")

    @staticmethod
    def resolve_password(connection: Connection) -> str | None:
        """Read a connection's password from where ``password_ref`` points, at use time."""
        ref = connection.password_ref
        if ref is None:
            return None
        kind, _, target = ref.partition(":")
        if kind == "env":
            value = os.environ.get(target)
            if value is None:
                raise InvalidInput(
                    f"connection '{connection.name}' reads its password from ${target}, which is "
                    "not set; export it"
                )
            return value
        path = Path(target).expanduser()
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise InvalidInput(
                f"connection '{connection.name}' reads its password from {path}: {exc.strerror}"
            ) from None

    # ---- helpers ---------------------------------------------------------------------------

    def _with_location(self, table: TableInput) -> TableInput:
        if table.location is None:
            return table
        location = self.resolve_location(table.location, what=f"location of table '{table.name}'")
        return (
            table if location == table.location else table.model_copy(update={"location": location})
        )

    def _get_named(self, table: sa.Table, kind: str, name: str) -> dict[str, Any]:
        name = _name(kind, name)
        with self.store.read() as conn:
            row = conn.execute(sa.select(table).where(table.c.name == name)).first()
        if row is None:
            raise EntityNotFound(f"{kind} '{name}' not found in the catalog")
        return _record(row)

    def _list_named(self, table: sa.Table) -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(sa.select(table).order_by(table.c.name)).all()
        return [_record(r) for r in rows]

    @staticmethod
    def _database_id(conn: SAConnection, name: str, *, required: bool = True) -> int | None:
        db_id = conn.execute(sa.select(s.databases.c.id).where(s.databases.c.name == name)).scalar()
        if db_id is None and required:
            raise EntityNotFound(f"database '{name}' not found in the catalog")
        return db_id

    def _table_row(self, conn: SAConnection, db_id: int | None, name: str, *, lock: bool) -> Any:
        query = sa.select(s.tables).where(s.tables.c.database_id == db_id, s.tables.c.name == name)
        if lock and self.store.dialect == "postgresql":
            query = query.with_for_update()
        return conn.execute(query).first()

    def _table_id(self, conn: SAConnection, database: str, name: str) -> int:
        db_id = self._database_id(conn, database)
        row = self._table_row(conn, db_id, name, lock=False)
        if row is None:
            raise EntityNotFound(f"table '{database}.{name}' not found in the catalog")
        return int(row.id)


def canonical_partition_value(type_text: str, value: str) -> str:
    """A partition value in its one spelling for a key of type ``type_text`` (``01`` and ``1``
    are the same int partition; Spark would keep just one); ValueError when it is not one."""
    kind = parse_type(type_text).name
    if kind in ("tinyint", "smallint", "int", "bigint"):
        return str(int(value))
    if kind in ("float", "double"):
        return repr(float(value))
    if kind == "decimal":
        float(value)
    if kind == "date":
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError(value)
        date.fromisoformat(value)
    if kind == "boolean" and value.lower() not in ("true", "false"):
        raise ValueError(value)
    return value


def _canonical_value(full_name: str, key: str, type_text: str, value: str) -> str:
    """Check a partition value against its key's type; see :func:`canonical_partition_value`."""
    if value == "":
        raise InvalidInput(
            f"partition value for key '{key}' of '{full_name}' is empty; use null for a "
            "missing value"
        )
    try:
        return canonical_partition_value(type_text, value)
    except ValueError:
        raise InvalidInput(
            f"partition value '{value}' for key '{key}' of '{full_name}' is not a {type_text}"
        ) from None


def _show_values(table: TableInput, values: Sequence[str | None]) -> str:
    return (
        "("
        + ", ".join(f"{k.name}={v!r}" for k, v in zip(table.partition_keys, values, strict=False))
        + ")"
    )


def _record(row: Any) -> dict[str, Any]:
    """A named entity's row as model fields (its surrogate id dropped, JSON nulls as {})."""
    data = {k: v for k, v in row._mapping.items() if k != "id"}
    if data.get("parameters") is None:
        data["parameters"] = {}
    return data


def _current_tables() -> sa.Select[Any]:
    """Tables with their database and the definition of their current version."""
    return sa.select(
        s.tables.c.current_version,
        s.tables.c.deprecated,
        s.tables.c.created_at,
        s.tables.c.updated_at,
        s.table_versions.c.definition,
    ).select_from(
        s.tables.join(s.databases, s.databases.c.id == s.tables.c.database_id).join(
            s.table_versions,
            sa.and_(
                s.table_versions.c.table_id == s.tables.c.id,
                s.table_versions.c.version == s.tables.c.current_version,
            ),
        )
    )


def _table(
    database: str,
    definition: dict[str, Any],
    version: int,
    deprecated: bool,
    created_at: str,
    updated_at: str,
) -> Table:
    return Table.model_validate(
        {
            **definition,
            "database": database,
            "version": version,
            "deprecated": bool(deprecated),
            "created_at": created_at,
            "updated_at": updated_at,
        }
    )


def _version(database: str, name: str, row: Any) -> TableVersion:
    return TableVersion(
        database=database,
        table=name,
        version=row.version,
        created_at=row.created_at,
        table_input=TableInput.model_validate(row.definition),
    )


def _partition(table: Table, row: Any) -> Partition:
    return Partition(
        database=table.database,
        table=table.name,
        values=row.partition_values,
        location=row.location,
        parameters=row.parameters or {},
        created_at=row.created_at,
        updated_at=row.updated_at,
    )
