"""DMS table mappings: selection, transformation rules, plans and applying them to Arrow data."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sparkglue.errors import InvalidInput
from sparkglue.replication.mappings import (
    OutputColumn,
    SourceColumn,
    SourceTable,
    TableMappings,
    TablePlan,
)

ORDERS = SourceTable(
    schema="public",
    name="src_orders",
    columns=(
        SourceColumn("id", "integer"),
        SourceColumn("cust_name", "text"),
        SourceColumn("Note", "text"),
        SourceColumn("amount", "numeric(10,2)"),
        SourceColumn("qty", "bigint"),
        SourceColumn("created_at", "timestamp without time zone"),
        SourceColumn("created_on", "date"),
    ),
    primary_key=("id",),
)
EVENTS = SourceTable("public", "events", (SourceColumn("kind", "text"),), primary_key=())


def sel(rule_id: int, schema: str, table: str, action: str = "include") -> dict[str, Any]:
    return {
        "rule-type": "selection",
        "rule-id": str(rule_id),
        "rule-name": f"select-{rule_id}",
        "object-locator": {"schema-name": schema, "table-name": table},
        "rule-action": action,
    }


def tr(
    rule_id: int, action: str, target: str, locator: dict[str, str], **keys: Any
) -> dict[str, Any]:
    """A transformation rule; keyword keys use "_" for DMS's "-" (old_value -> old-value)."""
    rule = {
        "rule-type": "transformation",
        "rule-id": str(rule_id),
        "rule-name": f"{action}-{rule_id}",
        "rule-action": action,
        "rule-target": target,
        "object-locator": locator,
    }
    return rule | {k.replace("_", "-"): v for k, v in keys.items()}


def doc(*rules: dict[str, Any]) -> dict[str, Any]:
    """A document selecting every table, plus ``rules``."""
    return {"rules": [sel(1, "%", "%"), *rules]}


def plan_of(*rules: dict[str, Any], table: SourceTable = ORDERS) -> TablePlan:
    return TableMappings.parse(doc(*rules)).plan(table)


def chosen(pattern: str, table: str, schema: str = "s") -> bool:
    mappings = TableMappings.parse({"rules": [sel(1, "%", pattern)]})
    return mappings.selected([(schema, table)]) == [(schema, table)]


SCHEMA = {"schema-name": "public"}
TABLE = {"schema-name": "%", "table-name": "src_orders"}


def col(name: str) -> dict[str, str]:
    return {"schema-name": "%", "table-name": "%", "column-name": name}


SOURCE_NAMES = ["id", "cust_name", "Note", "amount", "qty", "created_at", "created_on"]

# --- every transformation action -------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        pytest.param(
            tr(2, "rename", "schema", SCHEMA, value="lake"), {"schema": "lake"}, id="rename-schema"
        ),
        pytest.param(
            tr(2, "rename", "table", TABLE, value="orders"), {"table": "orders"}, id="rename-table"
        ),
        pytest.param(
            tr(2, "rename", "column", col("Note"), value="remark"),
            {"columns": ["id", "cust_name", "remark", "amount", "qty", "created_at", "created_on"]},
            id="rename-column",
        ),
        pytest.param(
            tr(2, "convert-lowercase", "column", col("Note")),
            {"columns": [n.lower() for n in SOURCE_NAMES]},
            id="convert-lowercase",
        ),
        pytest.param(
            tr(2, "convert-uppercase", "table", TABLE),
            {"table": "SRC_ORDERS"},
            id="convert-uppercase",
        ),
        pytest.param(
            tr(2, "add-prefix", "schema", SCHEMA, value="pg_"),
            {"schema": "pg_public"},
            id="add-prefix",
        ),
        pytest.param(
            tr(2, "remove-prefix", "table", TABLE, value="src_"),
            {"table": "orders"},
            id="remove-prefix",
        ),
        pytest.param(
            tr(2, "remove-prefix", "table", TABLE, value="zzz_"),
            {"table": "src_orders"},
            id="remove-prefix-absent-leaves-name",
        ),
        pytest.param(
            tr(2, "replace-prefix", "table", TABLE, value="lake_", old_value="src_"),
            {"table": "lake_orders"},
            id="replace-prefix",
        ),
        pytest.param(
            tr(2, "add-suffix", "table", TABLE, value="_v1"),
            {"table": "src_orders_v1"},
            id="add-suffix",
        ),
        pytest.param(
            tr(2, "remove-suffix", "column", col("created_%"), value="_at"),
            {"columns": ["id", "cust_name", "Note", "amount", "qty", "created", "created_on"]},
            id="remove-suffix",
        ),
        pytest.param(
            tr(2, "replace-suffix", "column", col("created_%"), value="_date", old_value="_on"),
            {"columns": ["id", "cust_name", "Note", "amount", "qty", "created_at", "created_date"]},
            id="replace-suffix",
        ),
        pytest.param(
            tr(2, "remove-column", "column", col("cust_name")),
            {"columns": ["id", "Note", "amount", "qty", "created_at", "created_on"]},
            id="remove-column",
        ),
        pytest.param(
            tr(2, "add-column", "column", TABLE, value="source_db", data_type={"type": "string"}),
            {"columns": [*SOURCE_NAMES, "source_db"], "types": {"source_db": pa.string()}},
            id="add-column",
        ),
        pytest.param(
            tr(2, "change-data-type", "column", col("qty"), data_type={"type": "int2"}),
            {"types": {"qty": pa.int16()}},
            id="change-data-type",
        ),
        pytest.param(
            tr(2, "define-primary-key", "table", TABLE, primary_key_def={"columns": ["qty", "id"]}),
            {"key": ("qty", "id")},
            id="define-primary-key",
        ),
    ],
)
def test_each_action_changes_the_plan_as_dms_documents(
    rule: dict[str, Any], expected: dict[str, Any]
) -> None:
    plan = plan_of(rule)
    got = {
        "schema": plan.target_schema,
        "table": plan.target_table,
        "columns": [c.name for c in plan.columns],
        "types": {c.name: c.type for c in plan.columns},
        "key": plan.primary_key,
    }
    for field, want in expected.items():
        if field == "types":
            assert {k: got["types"][k] for k in want} == want
        else:
            assert got[field] == want


def test_without_transformations_the_plan_copies_the_table() -> None:
    plan = plan_of()
    assert (plan.target_schema, plan.target_table, plan.primary_key) == (
        "public",
        "src_orders",
        ("id",),
    )
    assert plan.columns[3] == OutputColumn("amount", pa.decimal128(10, 2), "amount")
    assert [c.source for c in plan.columns] == SOURCE_NAMES


@pytest.mark.parametrize(
    ("data_type", "arrow"),
    [
        ({"type": "int1"}, pa.int8()),
        ({"type": "int8"}, pa.int64()),
        ({"type": "uint4"}, pa.uint32()),
        ({"type": "real4"}, pa.float32()),
        ({"type": "real8"}, pa.float64()),
        ({"type": "numeric", "precision": 12, "scale": 3}, pa.decimal128(12, 3)),
        ({"type": "numeric", "precision": "7", "scale": ""}, pa.decimal128(7, 0)),
        ({"type": "wstring", "length": 50}, pa.string()),
        ({"type": "nclob"}, pa.string()),
        ({"type": "blob"}, pa.binary()),
        ({"type": "date"}, pa.date32()),
        ({"type": "time"}, pa.string()),
        ({"type": "datetime", "precision": 6}, pa.timestamp("us")),
        ({"type": "boolean"}, pa.bool_()),
    ],
)
def test_dms_data_types_map_to_lake_types(data_type: dict[str, Any], arrow: pa.DataType) -> None:
    plan = plan_of(tr(2, "add-column", "column", TABLE, value="extra", data_type=data_type))
    assert plan.columns[-1] == OutputColumn("extra", arrow, None)


def test_added_column_holds_a_constant_expression_cast_to_its_type() -> None:
    rules = [
        tr(
            2, "add-column", "column", TABLE, value="n", expression="42", data_type={"type": "int2"}
        ),
        tr(
            3,
            "add-column",
            "column",
            TABLE,
            value="s",
            expression="'it''s'",
            data_type={"type": "string"},
        ),
        tr(
            4,
            "add-column",
            "column",
            TABLE,
            value="z",
            expression="NULL",
            data_type={"type": "date"},
        ),
    ]
    plan = plan_of(*rules)
    assert plan.columns[-3:] == (
        OutputColumn("n", pa.int16(), None, "42"),
        OutputColumn("s", pa.string(), None, "it's"),
        OutputColumn("z", pa.date32(), None, None),
    )


# --- rule order ----------------------------------------------------------------------------


def test_name_rules_compose_in_rule_id_order_not_document_order() -> None:
    prefix = tr(5, "add-prefix", "table", TABLE, value="p_")
    upper = tr(6, "convert-uppercase", "table", TABLE)
    assert plan_of(prefix, upper).target_table == "P_SRC_ORDERS"
    assert plan_of(upper, prefix).target_table == "P_SRC_ORDERS"
    upper_first = tr(4, "convert-uppercase", "table", TABLE)
    assert plan_of(prefix, upper_first).target_table == "p_SRC_ORDERS"


def test_locators_match_source_names_even_after_a_rename() -> None:
    plan = plan_of(
        tr(2, "rename", "column", col("qty"), value="quantity"),
        tr(3, "add-suffix", "column", col("quantity"), value="_x"),  # matches no source column
        tr(4, "add-prefix", "column", col("qty"), value="n_"),
    )
    assert [c.name for c in plan.columns if c.source == "qty"] == ["n_quantity"]


def test_highest_rule_id_wins_for_change_data_type() -> None:
    plan = plan_of(
        tr(7, "change-data-type", "column", col("qty"), data_type={"type": "int4"}),
        tr(3, "change-data-type", "column", col("qty"), data_type={"type": "int2"}),
    )
    assert [c.type for c in plan.columns if c.name == "qty"] == [pa.int32()]


def test_added_columns_come_last_in_rule_id_order_and_ignore_column_rules() -> None:
    plan = plan_of(
        tr(9, "add-column", "column", TABLE, value="b", data_type={"type": "int4"}),
        tr(5, "add-column", "column", TABLE, value="a", data_type={"type": "int4"}),
        tr(6, "convert-uppercase", "column", col("%")),
    )
    assert [c.name for c in plan.columns][-3:] == ["CREATED_ON", "a", "b"]


def test_transformations_apply_only_to_tables_their_locator_matches() -> None:
    mappings = TableMappings.parse(doc(tr(2, "rename", "table", TABLE, value="orders")))
    other = SourceTable("public", "src_items", ORDERS.columns, ("id",))
    assert mappings.plan(other).target_table == "src_items"


# --- primary keys and plan errors ----------------------------------------------------------


def test_defined_primary_key_uses_source_names_and_reports_target_names() -> None:
    plan = plan_of(
        tr(2, "rename", "column", col("kind"), value="event_kind"),
        tr(
            3,
            "define-primary-key",
            "table",
            {"schema-name": "public", "table-name": "events"},
            primary_key_def={"name": "pk", "origin": "primary-key", "columns": ["kind"]},
        ),
        table=EVENTS,
    )
    assert plan.primary_key == ("event_kind",)


def test_source_key_is_mapped_to_target_names() -> None:
    assert plan_of(tr(2, "convert-uppercase", "column", col("id"))).primary_key == ("ID",)


def test_table_without_any_key_is_an_error_saying_what_to_do() -> None:
    with pytest.raises(InvalidInput) as err:
        plan_of(table=EVENTS)
    assert str(err.value) == (
        "table mappings: table public.events has no primary key; add one in PostgreSQL, define "
        "one with a define-primary-key rule, or exclude the table"
    )


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            [tr(2, "remove-column", "column", col("id"))],
            r"rule 2 \('remove-column-2'\): removes key column public\.src_orders\.id",
        ),
        (
            [tr(2, "define-primary-key", "table", TABLE, primary_key_def={"columns": ["nope"]})],
            r"rule 2 .*: key column public\.src_orders\.nope does not exist",
        ),
        (
            [tr(2, "rename", "column", col("qty"), value="id")],
            r"table public\.src_orders has two columns named 'id'",
        ),
        (
            [tr(2, "add-column", "column", TABLE, value="Note", data_type={"type": "string"})],
            "two columns named 'Note'",
        ),
        (
            [tr(2, "remove-prefix", "table", TABLE, value="src_orders")],
            r"rule 2 .*: leaves table public\.src_orders without a name",
        ),
        (
            [tr(2, "change-data-type", "column", col("created_on"), data_type={"type": "boolean"})],
            r"cannot change public\.src_orders\.created_on from date32\[day\] to bool",
        ),
    ],
)
def test_plan_errors_name_the_rule_and_column(rules: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        plan_of(*rules)


def test_planning_a_table_no_rule_selects_is_an_error() -> None:
    mappings = TableMappings.parse({"rules": [sel(1, "sales", "%")]})
    with pytest.raises(InvalidInput, match=r"table public\.src_orders is not selected"):
        mappings.plan(ORDERS)


# --- selection -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "table", "matches"),
    [
        ("orders", "orders", True),
        ("orders", "Orders", False),  # case-sensitive, as in DMS
        ("order_", "orders", True),
        ("order_", "order", False),
        ("order_", "orderss", False),
        ("o%s", "os", True),
        ("o%s", "orders", True),
        ("o%s", "ordersx", False),
        ("%", "", True),
        ("tmp[_]%", "tmp_1", True),
        ("tmp[_]%", "tmpx1", False),
        ("[a-c]x", "bx", True),
        ("[a-c]x", "dx", False),
        ("[ab]x", "bx", True),
        ("a.b", "axb", False),  # regex characters are literal
        ("a*", "aaa", False),
    ],
)
def test_include_patterns_use_dms_wildcards(pattern: str, table: str, matches: bool) -> None:
    assert chosen(pattern, table) is matches


@pytest.mark.parametrize("exclude_first", [True, False])
def test_exclude_wins_over_include_whatever_the_order(exclude_first: bool) -> None:
    rules = [sel(1, "public", "%"), sel(2, "public", "tmp%", "exclude")]
    mappings = TableMappings.parse({"rules": rules[::-1] if exclude_first else rules})
    tables = [("public", "tmp_a"), ("public", "orders"), ("sales", "orders"), ("public", "tmp")]
    assert mappings.selected(tables) == [("public", "orders")]


def test_selected_keeps_input_order() -> None:
    mappings = TableMappings.parse({"rules": [sel(1, "%", "b%"), sel(2, "%", "a%")]})
    tables = [("s", "b1"), ("s", "c"), ("s", "a1"), ("s", "b0")]
    assert mappings.selected(tables) == [("s", "b1"), ("s", "a1"), ("s", "b0")]


def test_explicit_selects_exactly_one_named_table_taking_underscore_literally() -> None:
    mappings = TableMappings.parse({"rules": [sel(1, "public", "order_items", "explicit")]})
    tables = [("public", "order_items"), ("public", "orderXitems"), ("other", "order_items")]
    assert mappings.selected(tables) == [("public", "order_items")]


def test_exclude_also_wins_over_explicit() -> None:
    rules = [sel(1, "public", "orders", "explicit"), sel(2, "%", "%", "exclude")]
    assert TableMappings.parse({"rules": rules}).selected([("public", "orders")]) == []


# --- bad documents -------------------------------------------------------------------------

LOC = {"schema-name": "public", "table-name": "orders"}


def bad_selection(**changes: Any) -> dict[str, Any]:
    return {"rules": [sel(3, "public", "orders") | {"rule-name": "pick"} | changes]}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", r"^table mappings: not valid JSON \(Expecting property name"),
        ("[]", r'must be an object \{"rules": \[\.\.\.\]\}'),
        ({"rule": []}, r'must be an object \{"rules"'),
        ({"rules": [], "version": 1}, "unknown top-level key 'version'"),
        ({"rules": []}, "no selection rule; add one"),
        ({"rules": ["x"]}, r"rule #1 is not a JSON object"),
        ({"rules": [{"rule-type": "selection"}]}, "rule #1 needs a numeric rule-id"),
        ({"rules": [sel(1, "a", "b") | {"rule-id": "one"}]}, "rule #1 needs a numeric rule-id"),
        (
            {"rules": [sel(1, "a", "b"), sel(1, "c", "d")]},
            r"rule 1 \('select-1'\): rule-id is not unique",
        ),
        (
            {"rules": [sel(1, "a", "b"), sel(2, "c", "d") | {"rule-id": "01"}]},
            "rule-id is not unique",
        ),
        (
            {"rules": [sel(1, "a", "b"), sel(2, "c", "d") | {"rule-name": "select-1"}]},
            "rule-name is not unique",
        ),
        (
            bad_selection(**{"rule-action": "renam"}),
            r"^table mappings: rule 3 \('pick'\): unknown rule-action 'renam'; use one of "
            r"include, exclude, explicit$",
        ),
        (bad_selection(**{"rule-type": "selektion"}), "unknown rule-type 'selektion'"),
        (
            bad_selection(**{"rule-type": "table-settings"}),
            "rule-type 'table-settings' is not supported",
        ),
        (bad_selection(**{"rule-actoin": "include"}), r"unknown key 'rule-actoin'; remove it"),
        (
            bad_selection(**{"object-locator": LOC | {"tabel": "x"}}),
            "unknown key 'tabel' in object-locator",
        ),
        (
            bad_selection(**{"object-locator": {"table-name": "x"}}),
            "missing 'object-locator.schema-name'",
        ),
        (bad_selection(**{"object-locator": {"schema-name": "x"}}), "needs table-name"),
        (bad_selection(**{"rule-name": 7}), r"'rule-name': Input should be a valid string"),
        (
            bad_selection(filters=[{"filter-type": "source", "column-name": "id"}]),
            "selection filters are not supported",
        ),
        (bad_selection(**{"load-order": 1}), "load-order is not supported"),
        (
            bad_selection(**{"object-locator": LOC | {"table-type": "view"}}),
            "table-type 'view' is not supported",
        ),
        (
            bad_selection(
                **{
                    "rule-action": "explicit",
                    "object-locator": {"schema-name": "public", "table-name": "o%"},
                }
            ),
            "explicit takes exact names",
        ),
        (bad_selection(value="x"), "'value' does not apply to selection rules"),
        (bad_selection(**{"object-locator": LOC | {"table-name": "[c-a]"}}), r"has a bad \[set\]"),
    ],
)
def test_bad_documents_fail_with_one_line_saying_what_is_wrong(document: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        TableMappings.parse(document)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            tr(5, "renam", "table", TABLE, value="x"),
            r"rule 5 \('renam-5'\): unknown rule-action 'renam'; use one of rename,",
        ),
        (
            tr(5, "data-masking-hash-mask", "column", col("a")),
            "'data-masking-hash-mask' is not supported",
        ),
        (
            tr(5, "remove-column", "table", TABLE),
            "rule-action remove-column needs rule-target column",
        ),
        (tr(5, "define-primary-key", "column", col("a")), "needs rule-target table"),
        (
            tr(5, "rename", "tabel", TABLE, value="x"),
            "unknown rule-target 'tabel'; use one of schema",
        ),
        (
            tr(5, "rename", "table-tablespace", TABLE, value="x"),
            "rule-target table-tablespace is not supported",
        ),
        (tr(5, "rename", "table", TABLE), "rule-action rename needs 'value'"),
        (tr(5, "rename", "table", TABLE, value=""), "must not be empty"),
        (
            tr(5, "rename", "table", TABLE, value="x", old_value="y"),
            "'old-value' does not apply to rule-action rename",
        ),
        (tr(5, "replace-prefix", "table", TABLE, value="x"), "needs 'old-value'"),
        (
            tr(5, "add-column", "column", TABLE, value="x"),
            "rule-action add-column needs 'data-type'",
        ),
        (
            tr(5, "rename", "column", col("a"), value="b", data_type={"type": "int4"}),
            "'data-type' does not apply",
        ),
        (
            tr(
                5,
                "add-column",
                "column",
                TABLE,
                value="x",
                expression="$AR_M_SOURCE_SCHEMA",
                data_type={"type": "string"},
            ),
            r"expression '\$AR_M_SOURCE_SCHEMA' is not supported",
        ),
        (
            tr(
                5,
                "add-column",
                "column",
                TABLE,
                value="x",
                expression="'abc'",
                data_type={"type": "int4"},
            ),
            "expression \"'abc'\" does not fit int32",
        ),
        (
            tr(5, "change-data-type", "column", col("a"), data_type={"type": "int16"}),
            "unknown data-type 'int16'; use one of",
        ),
        (
            tr(5, "change-data-type", "column", col("a"), data_type={"type": "numeric"}),
            "numeric needs a precision",
        ),
        (
            tr(
                5,
                "change-data-type",
                "column",
                col("a"),
                data_type={"type": "numeric", "precision": 0},
            ),
            "numeric needs",
        ),
        (
            tr(
                5,
                "change-data-type",
                "column",
                col("a"),
                data_type={"type": "numeric", "precision": 39},
            ),
            "numeric needs",
        ),
        (
            tr(
                5,
                "change-data-type",
                "column",
                col("a"),
                data_type={"type": "int4", "precision": 3},
            ),
            "int4 takes no precision",
        ),
        (
            tr(5, "change-data-type", "column", col("a"), data_type={"type": "date", "length": 3}),
            "date takes no length",
        ),
        (
            tr(5, "change-data-type", "column", col("a"), data_type={"type": "string", "size": 3}),
            "unknown key 'size' in data-type",
        ),
        (tr(5, "remove-column", "column", TABLE), "needs column-name for column rules"),
        (
            tr(5, "add-column", "column", col("a"), value="x", data_type={"type": "int4"}),
            "needs column-name for column rules, except add-column",
        ),
        (
            tr(5, "rename", "table", {"schema-name": "%"}, value="x"),
            "rule-target table needs table-name",
        ),
        (
            tr(
                5,
                "define-primary-key",
                "table",
                TABLE,
                primary_key_def={"origin": "unique-index", "columns": ["id"]},
            ),
            "origin 'unique-index' is not supported",
        ),
        (
            tr(5, "define-primary-key", "table", TABLE, primary_key_def={"columns": ["id", "id"]}),
            "distinct source column",
        ),
        (
            tr(5, "define-primary-key", "table", TABLE, primary_key_def={"columns": []}),
            "distinct source column",
        ),
        (
            tr(5, "convert-lowercase", "table", TABLE, filters=[]),
            "'filters' does not apply to transformation rules",
        ),
        (
            tr(5, "convert-lowercase", "table", TABLE, before_image_def={}),
            "unknown key 'before-image-def'",
        ),
    ],
)
def test_bad_transformation_rules_fail_naming_the_rule(rule: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        TableMappings.parse(doc(rule))
    assert str(err.value).startswith("table mappings: rule 5 ")


def test_json_text_and_bytes_parse_like_the_decoded_object() -> None:
    document = doc(tr(2, "rename", "table", TABLE, value="orders"))
    text = json.dumps(document)
    assert TableMappings.parse(text) == TableMappings.parse(document)
    assert TableMappings.parse(text.encode()) == TableMappings.parse(document)


def test_as_dict_is_canonical_and_keeps_document_order() -> None:
    document = {
        "rules": [
            tr(
                9,
                "add-column",
                "column",
                TABLE,
                value="x",
                data_type={"type": "string", "length": "5", "scale": ""},
            ),
            sel(1, "%", "%") | {"rule-id": 1, "filters": []},
        ]
    }
    assert TableMappings.parse(document).as_dict() == {
        "rules": [
            tr(
                9,
                "add-column",
                "column",
                TABLE,
                value="x",
                data_type={"type": "string", "length": 5},
            ),
            sel(1, "%", "%") | {"filters": []},
        ]
    }


# --- apply ---------------------------------------------------------------------------------


def orders_data() -> pa.Table:
    return pa.table(
        {
            "qty": pa.array([5, None, 7], pa.int64()),
            "Note": pa.array(["a", None, "c"]),
            "id": pa.array([1, 2, 3], pa.int32()),
            "created_on": pa.array([None, None, None], pa.date32()),
            "amount": pa.array([Decimal("1.50"), None, Decimal("-2.25")], pa.decimal128(10, 2)),
            "cust_name": pa.array(["x", "y", None]),
            "created_at": pa.array([0, None, 1], pa.timestamp("us")),
            "unused": pa.array([0, 0, 0]),
        }
    )


def test_apply_renames_casts_adds_and_drops_columns_keeping_nulls() -> None:
    plan = plan_of(
        tr(2, "rename", "column", col("Note"), value="note"),
        tr(3, "remove-column", "column", col("created_%")),
        tr(4, "change-data-type", "column", col("qty"), data_type={"type": "int2"}),
        tr(5, "change-data-type", "column", col("amount"), data_type={"type": "real8"}),
        tr(
            6,
            "add-column",
            "column",
            TABLE,
            value="src",
            expression="'pg1'",
            data_type={"type": "string"},
        ),
        tr(7, "add-column", "column", TABLE, value="batch", data_type={"type": "int8"}),
    )
    out = plan.apply(orders_data())
    assert out.schema == plan.output_schema()
    assert out.to_pydict() == {
        "id": [1, 2, 3],
        "cust_name": ["x", "y", None],
        "note": ["a", None, "c"],
        "amount": [1.5, None, -2.25],
        "qty": [5, None, 7],
        "src": ["pg1", "pg1", "pg1"],
        "batch": [None, None, None],
    }
    assert out.schema.field("qty").type == pa.int16()


def test_apply_handles_chunked_and_empty_input() -> None:
    plan = plan_of(
        tr(2, "add-column", "column", TABLE, value="n", expression="1", data_type={"type": "int1"})
    )
    data = orders_data()
    chunked = pa.concat_tables([data, data])
    assert plan.apply(chunked).column("n").to_pylist() == [1] * 6
    assert plan.apply(data.slice(0, 0)).num_rows == 0


def test_apply_fails_on_a_value_that_does_not_fit_naming_the_column() -> None:
    plan = plan_of(tr(2, "change-data-type", "column", col("qty"), data_type={"type": "int2"}))
    data = orders_data().set_column(0, "qty", pa.array([1, 70000, None], pa.int64()))
    with pytest.raises(
        InvalidInput, match=r"column public\.src_orders\.qty: cannot change int64 to int16: .*70000"
    ):
        plan.apply(data)


def test_apply_fails_when_a_source_column_is_missing() -> None:
    with pytest.raises(InvalidInput, match="lacks column 'qty'"):
        plan_of().apply(orders_data().drop_columns(["qty"]))


# --- properties ----------------------------------------------------------------------------

names = st.text(max_size=12)
literal_names = st.text(alphabet=st.characters(exclude_characters="%_["), max_size=12)


@given(st.integers(1, 3), names)
def test_percent_only_pattern_matches_every_name(count: int, name: str) -> None:
    assert chosen("%" * count, name)


@given(literal_names, names)
def test_pattern_without_wildcards_matches_only_itself(pattern: str, other: str) -> None:
    assert chosen(pattern, pattern)
    assert chosen(pattern, other) is (other == pattern)


@given(st.integers(0, 6), names)
def test_underscores_match_exactly_that_many_characters(count: int, name: str) -> None:
    assert chosen("_" * count, name) is (len(name) == count)


rule_names = st.text(alphabet="abcXYZ_%0", min_size=1, max_size=6)
data_types = st.sampled_from(
    [
        {"type": "int4"},
        {"type": "string", "length": 20},
        {"type": "numeric", "precision": 9, "scale": 2},
    ]
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    ids = draw(st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True))
    rules = []
    for i, rid in enumerate(ids):
        schema, table = draw(rule_names), draw(rule_names)
        if i == 0 or draw(st.booleans()):
            action = draw(st.sampled_from(["include", "exclude", "explicit"]))
            if action == "explicit":
                schema, table = schema.replace("%", "p"), table.replace("%", "p")
            rules.append(sel(rid, schema, table, action))
            continue
        locator = {"schema-name": schema, "table-name": table}
        rules.append(
            draw(
                st.sampled_from(
                    [
                        tr(rid, "rename", "table", locator, value="t"),
                        tr(
                            rid,
                            "replace-suffix",
                            "column",
                            locator | {"column-name": "c%"},
                            value="a",
                            old_value="b",
                        ),
                        tr(
                            rid,
                            "add-column",
                            "column",
                            locator,
                            value="n",
                            data_type=draw(data_types),
                        ),
                        tr(
                            rid,
                            "change-data-type",
                            "column",
                            locator | {"column-name": "c"},
                            data_type=draw(data_types),
                        ),
                        tr(
                            rid,
                            "define-primary-key",
                            "table",
                            locator,
                            primary_key_def={"columns": ["a", "b"]},
                        ),
                    ]
                )
            )
        )
    return {"rules": draw(st.permutations(rules))}


@given(documents())
def test_as_dict_round_trips_through_parse(document: dict[str, Any]) -> None:
    mappings = TableMappings.parse(document)
    assert mappings.as_dict() == document
    assert TableMappings.parse(mappings.as_dict()) == mappings
    assert TableMappings.parse(json.dumps(mappings.as_dict())) == mappings
