"""What a crawl changes in the catalog: tables created or updated from the crawl's plans,
partitions added or removed, vanished tables deprecated or deleted, under the crawler's
SchemaChangePolicy; and tables of JDBC targets."""

from __future__ import annotations

import json
import time
from typing import Any

from sparkglue.catalog import (
    Column,
    DataCatalog,
    PartitionInput,
    Table,
    TableInput,
    canonical_partition_value,
)
from sparkglue.crawler.engine import TablePlan
from sparkglue.crawler.specs import CrawlerSpec, SchemaChangePolicySpec

__all__ = ["CatalogSync"]


class CatalogSync:
    """Applies crawl results to one catalog."""

    def __init__(self, catalog: DataCatalog) -> None:
        self.catalog = catalog

    def jdbc_tables(self, spec: CrawlerSpec, log: list[str]) -> list[TableInput]:
        from sparkglue.crawler.jdbc import inspect_jdbc_target

        inputs: list[TableInput] = []
        for target in spec.Targets.JdbcTargets:
            connection = self.catalog.get_connection(target.ConnectionName)
            for t in inspect_jdbc_target(connection, target.Path, target.Exclusions):
                name = (
                    spec.TablePrefix
                    + "_".join(part for part in (t.database, t.schema, t.name) if part).lower()
                )
                from sparkglue.crawler.engine import table_name

                location = ".".join(part for part in (t.database, t.schema, t.name) if part)
                inputs.append(
                    TableInput(
                        name=table_name(name),
                        columns=[Column(name=c, type=h) for c, h, _ in t.columns],
                        location=None,
                        table_type="EXTERNAL_TABLE",
                        parameters={
                            "classification": t.classification,
                            "connectionName": connection.name,
                            "typeOfData": "table",
                            "jdbcTable": location,
                            "primaryKeys": ",".join(t.primary_key),
                            "rawTypes": json.dumps({c: raw for c, _, raw in t.columns}),
                            "UPDATED_BY_CRAWLER": spec.Name,
                        },
                    )
                )
                log.append(
                    f"jdbc: {location} -> {name} ({len(t.columns)} columns, "
                    f"primary key {', '.join(t.primary_key) or 'none'})"
                )
        return inputs

    def _table_input(self, spec: CrawlerSpec, plan: TablePlan, exclusions: list[str]) -> TableInput:
        inferred = plan.verdict.schema
        assert inferred is not None
        params = {
            **inferred.parameters,
            **plan.statistics(),
            "classification": plan.classification,
            "UPDATED_BY_CRAWLER": spec.Name,
            "CrawlerSchemaDeserializerVersion": "1.0",
            "CrawlerSchemaSerializerVersion": "1.0",
        }
        if exclusions:
            params["exclusions"] = json.dumps(exclusions)
        return TableInput(
            name=spec.TablePrefix + plan.name,
            columns=[Column(name=n, type=t) for n, t in _safe_columns(plan.columns)],
            partition_keys=[Column(name=k, type="string") for k in plan.partition_keys],
            location=plan.location,
            serde_library=inferred.serde_library,
            serde_parameters=inferred.serde_parameters,
            compressed=plan.compression is not None,
            parameters=params,
        )

    def apply(
        self,
        spec: CrawlerSpec,
        plans: list[tuple[TablePlan, list[str]]],
        jdbc_tables: list[TableInput],
        incremental: bool,
        metrics: dict[str, Any],
        log: list[str],
    ) -> None:
        db = spec.DatabaseName
        policy = spec.SchemaChangePolicy
        existing = {t.name: t for t in self.catalog.list_tables(db)}
        found: set[str] = set()

        for plan, exclusions in plans:
            if incremental:
                owner = self._incremental_owner(existing, plan, spec)
                if owner is not None:
                    self._add_partitions(owner, plan, metrics, log)
                    found.add(owner.name)
                    continue
            table_input = self._table_input(spec, plan, exclusions)
            for note in plan.notes:
                log.append(f"{db}.{table_input.name}: {note}")
            self._upsert(db, table_input, plan, existing, policy, metrics, log)
            found.add(table_input.name)
        for table_input in jdbc_tables:
            self._upsert(db, table_input, None, existing, policy, metrics, log)
            found.add(table_input.name)

        if incremental:
            return
        for name, table in existing.items():
            if name in found or table.parameters.get("UPDATED_BY_CRAWLER") != spec.Name:
                continue
            if policy.DeleteBehavior == "DELETE_FROM_DATABASE":
                self.catalog.delete_table(db, name)
                metrics["TablesDeleted"] += 1
                log.append(f"{db}.{name}: no longer found, deleted (DELETE_FROM_DATABASE)")
            elif policy.DeleteBehavior == "DEPRECATE_IN_DATABASE" and not table.deprecated:
                stamp = str(int(time.time() * 1000))

                def mark(t: Table, stamp: str = stamp) -> TableInput:
                    params = {**t.parameters, "DEPRECATED_BY_CRAWLER": stamp}
                    return t.to_input().model_copy(update={"parameters": params})

                self.catalog.alter_table(db, name, mark)
                self.catalog.set_deprecated(db, name, True)
                metrics["TablesDeleted"] += 1
                log.append(f"{db}.{name}: no longer found, deprecated (DEPRECATE_IN_DATABASE)")
            elif policy.DeleteBehavior == "LOG":
                log.append(f"{db}.{name}: no longer found, kept (LOG)")

    def _incremental_owner(
        self, existing: dict[str, Table], plan: TablePlan, spec: CrawlerSpec
    ) -> Table | None:
        """The table an incremental crawl's new folders are partitions of, if any."""
        for table in existing.values():
            if table.parameters.get("UPDATED_BY_CRAWLER") != spec.Name or not table.location:
                continue
            if not table.partition_keys:
                continue
            prefix = table.location.rstrip("/") + "/"
            if all(p.location.startswith(prefix) for p in plan.partitions) and plan.partitions:
                return table
            if plan.location.startswith(prefix):
                return table
        return None

    def _add_partitions(
        self, table: Table, plan: TablePlan, metrics: dict[str, Any], log: list[str]
    ) -> None:
        """New folders under a table this crawler made become its partitions."""
        from urllib.parse import unquote

        prefix = (table.location or "").rstrip("/") + "/"
        folders = [(p.location, p.files) for p in plan.partitions] or [(plan.location, plan.files)]
        parts = []
        for folder, files in folders:
            relative = folder[len(prefix) :].split("/") if folder.startswith(prefix) else []
            if len(relative) != len(table.partition_keys):
                log.append(
                    f"{table.full_name}: new folder {folder} is not at partition depth; skipped"
                )
                continue
            values = [unquote(p.split("=", 1)[1]) if "=" in p else p for p in relative]
            parts.append(
                PartitionInput(
                    values=values,
                    location=folder,
                    parameters={**plan.statistics(files), "classification": plan.classification},
                )
            )
        added = self.catalog.create_partitions(
            table.database, table.name, parts, if_not_exists=True
        )
        metrics["PartitionsAdded"] += added
        if added:
            metrics["TablesUpdated"] += 1
        log.append(f"{table.full_name}: {added} new partition(s) from new folders")

    def _upsert(
        self,
        db: str,
        table_input: TableInput,
        plan: TablePlan | None,
        existing: dict[str, Table],
        policy: SchemaChangePolicySpec,
        metrics: dict[str, Any],
        log: list[str],
    ) -> None:
        update_behavior, delete_behavior = policy.UpdateBehavior, policy.DeleteBehavior
        name = table_input.name
        current = existing.get(name)
        values: list[list[str | None]] = (
            [list(p.values) for p in plan.partitions] if plan is not None else []
        )
        if current is not None:
            table_input, values = _keep_key_types(current, table_input, values, log)
        partitions = (
            []
            if plan is None
            else [
                PartitionInput(
                    values=v,
                    location=p.location,
                    parameters={**plan.statistics(p.files), "classification": plan.classification},
                )
                for p, v in zip(plan.partitions, values, strict=True)
            ]
        )
        if current is None:
            self.catalog.create_table(db, table_input, partitions)
            metrics["TablesCreated"] += 1
            metrics["PartitionsAdded"] += len(partitions)
            log.append(
                f"{db}.{name}: created ({len(table_input.columns)} columns, "
                f"{len(partitions)} partitions)"
            )
            return
        if current.deprecated:
            self.catalog.set_deprecated(db, name, False)
            log.append(f"{db}.{name}: found again, no longer deprecated")
        keys_changed = [k.name for k in current.partition_keys] != [
            k.name for k in table_input.partition_keys
        ]
        schema_changed = (
            current.columns != table_input.columns
            or keys_changed
            or current.location != table_input.location
            or current.classification != table_input.classification
            or current.serde_library != table_input.serde_library
            or current.serde_parameters != table_input.serde_parameters
            or current.compressed != table_input.compressed
        )
        if schema_changed and update_behavior == "LOG":
            log.append(f"{db}.{name}: schema changed, not applied (UpdateBehavior LOG)")
        elif current.to_input() != table_input:
            if keys_changed:
                old = self.catalog.get_partitions(db, name)
                self.catalog.delete_partitions(db, name, [p.values for p in old])
                metrics["PartitionsRemoved"] += len(old)
            table = self.catalog.update_table(db, table_input)
            if table.version != current.version:
                metrics["TablesUpdated"] += 1
                log.append(f"{db}.{name}: updated to version {table.version}")
        if not partitions and not current.partition_keys:
            return
        if schema_changed and update_behavior == "LOG" and keys_changed:
            return
        known = {tuple(p.values): p for p in self.catalog.get_partitions(db, name)}
        wanted = {tuple(p.values) for p in partitions}
        new = [p for p in partitions if tuple(p.values) not in known]
        added = self.catalog.create_partitions(db, name, new, if_not_exists=True)
        metrics["PartitionsAdded"] += added
        for p in partitions:
            if tuple(p.values) in known and known[tuple(p.values)].parameters != p.parameters:
                self.catalog.update_partition(db, name, p)
        gone = [list(v) for v in known if v not in wanted]
        if gone and delete_behavior == "DELETE_FROM_DATABASE":
            metrics["PartitionsRemoved"] += self.catalog.delete_partitions(db, name, gone)
            log.append(f"{db}.{name}: {len(gone)} vanished partition(s) deleted")
        elif gone:
            log.append(f"{db}.{name}: {len(gone)} vanished partition(s) kept ({delete_behavior})")
        if added:
            log.append(f"{db}.{name}: {added} partition(s) added")


def _keep_key_types(
    current: Table, table_input: TableInput, values: list[list[str | None]], log: list[str]
) -> tuple[TableInput, list[list[str | None]]]:
    """Keep the typed partition keys of an existing table (a job may register ``year`` as
    int) when every crawled folder value is a value of that type: a crawler reads keys from
    folder names, so it only knows them as strings."""
    old, new = current.partition_keys, table_input.partition_keys
    if [k.name for k in old] != [k.name for k in new] or all(
        a.type == b.type for a, b in zip(old, new, strict=True)
    ):
        return table_input, values
    try:
        kept = [
            [
                None if v is None else canonical_partition_value(key.type, v)
                for key, v in zip(old, row, strict=True)
            ]
            for row in values
        ]
    except ValueError:
        return table_input, values
    typed = ", ".join(f"{k.name} {k.type}" for k in old if k.type != "string")
    log.append(f"{current.full_name}: partition key types kept ({typed}); every folder fits")
    return table_input.model_copy(update={"partition_keys": list(old)}), kept


def _safe_columns(columns: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Column names a catalog and Spark can hold: no backquotes or line breaks, not empty,
    not repeated (a suffix tells repeats apart)."""
    seen: dict[str, int] = {}
    safe = []
    for i, (name, typ) in enumerate(columns):
        clean = " ".join(name.replace("`", "_").split())[:255] or f"col{i}"
        seen[clean.lower()] = seen.get(clean.lower(), 0) + 1
        if seen[clean.lower()] > 1:
            clean = f"{clean}_{seen[clean.lower()]}"
        safe.append((clean, typ))
    return safe
