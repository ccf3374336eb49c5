"""Rules text, SVG drawing and PNG charts of hand-built trees (no Spark)."""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from sparkglue.ml.predictor import CompiledTree, Feature
from sparkglue.ml.render import (
    CLASS_COLOURS,
    confusion_matrix_png,
    importances_png,
    rules_lines,
    rules_text,
    tree_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NAN = math.nan


@dataclass(frozen=True)
class N:
    """One node; a node without a feature is a leaf, one with ``cats`` a categorical split."""

    stats: tuple[float, ...] = ()
    feature: int = -1
    threshold: float = NAN
    cats: frozenset[int] | None = None
    left: int = -1
    right: int = -1
    prediction: float = 0.0
    count: int = 0


def _tree(nodes: list[N]) -> CompiledTree:
    """A tree from its nodes in id order."""
    return CompiledTree(
        feature=tuple(n.feature for n in nodes),
        threshold=tuple(n.threshold for n in nodes),
        categorical=tuple(n.cats is not None for n in nodes),
        left_categories=tuple(n.cats or frozenset() for n in nodes),
        left=tuple(n.left for n in nodes),
        right=tuple(n.right for n in nodes),
        prediction=tuple(n.prediction for n in nodes),
        impurity=tuple(0.0 for _ in nodes),
        gain=tuple(0.0 for _ in nodes),
        count=tuple(n.count for n in nodes),
        stats=tuple(tuple(float(s) for s in n.stats) for n in nodes),
    )


PENGUIN_FEATURES = (
    Feature("flipper_length_mm", "numeric", "double", 200.0),
    Feature("island", "categorical", "string", None, ("Biscoe", "Dream", "Torgersen")),
    Feature("sex_known", "boolean", "boolean", 1.0),
    Feature("date_egg", "date", "date", 14000.0),
)
PENGUIN_CLASSES = ("Adelie", "Chinstrap", "Gentoo")


def penguin_tree() -> CompiledTree:
    """A classification tree with continuous, categorical, boolean and date splits."""
    return _tree(
        [
            N(feature=0, threshold=206.5, left=1, right=6, stats=(107, 5, 102)),
            N(feature=1, cats=frozenset({0, 3}), left=2, right=3, stats=(102, 5, 42)),
            N(stats=(2, 0, 40), prediction=2),
            N(feature=2, threshold=0.5, left=4, right=5, stats=(100, 5, 2)),
            N(stats=(10, 5, 0), prediction=0),
            N(stats=(90, 2, 0), prediction=0),
            N(feature=3, threshold=14192.5, left=7, right=8, stats=(6, 5, 60)),
            N(stats=(1, 0, 60), prediction=2),
            N(stats=(5, 5, 0), prediction=0),  # a tie: the first class wins
        ]
    )


PENGUIN_RULES = """\
if flipper_length_mm <= 206.5:
|   if island in {Biscoe, (unseen)}:
|   |   → Gentoo (p=0.95, 42 rows)
|   else (island not in {Biscoe, (unseen)}):
|   |   if sex_known is false:
|   |   |   → Adelie (p=0.67, 15 rows)
|   |   else (sex_known is true):
|   |   |   → Adelie (p=0.98, 92 rows)
else (flipper_length_mm > 206.5):
|   if date_egg <= 2008-11-09:
|   |   → Gentoo (p=0.98, 61 rows)
|   else (date_egg > 2008-11-09):
|   |   → Adelie (p=0.50, 10 rows)"""

MASS_FEATURES = (
    Feature("bill_depth_mm", "numeric", "double", 17.0),
    Feature("recorded_at", "timestamp", "timestamp", 0.0),
)
NOON = 1_226_232_000.0  # 2008-11-09T12:00:00Z


def mass_tree() -> CompiledTree:
    """A regression tree: a timestamp split, then a numeric one."""
    return _tree(
        [
            N(feature=1, threshold=NOON + 0.5, left=1, right=2, count=159),
            N(prediction=4321.5, count=146, stats=(146, 630939.0, 2.8e9)),
            N(feature=0, threshold=0.25, left=3, right=4, count=13),
            N(prediction=10000 / 3, stats=(12, 40000.0, 1.4e8)),  # no raw count
            N(prediction=5210.0, count=1, stats=(1, 5210.0, 5210.0**2)),
        ]
    )


MASS_RULES = """\
if recorded_at <= 2008-11-09T12:00:00.5Z:
|   → 4321.5 (146 rows)
else (recorded_at > 2008-11-09T12:00:00.5Z):
|   if bill_depth_mm <= 0.25:
|   |   → 3333.33 (12 rows)
|   else (bill_depth_mm > 0.25):
|   |   → 5210 (1 row)"""


def single_leaf() -> CompiledTree:
    return _tree([N(stats=(3, 7), prediction=1, count=10)])


def chain(depth: int) -> CompiledTree:
    """A tree ``depth`` splits deep, each split's left child a leaf."""
    nodes: list[N] = []
    for level in range(depth):
        split = len(nodes)
        nodes.append(
            N(
                feature=level % 2,
                threshold=float(level) + 0.5,
                left=split + 1,
                right=split + 2,
                stats=(depth - level + 1, 1),
            )
        )
        nodes.append(N(stats=(1, 0), prediction=0))
    nodes.append(N(stats=(0, 1), prediction=1))
    return _tree(nodes)


# ---- rules -------------------------------------------------------------------------------------


def test_classification_rules_use_names_dates_booleans_and_categories() -> None:
    text = rules_text(
        penguin_tree(), PENGUIN_FEATURES, task="classification", classes=PENGUIN_CLASSES
    )
    assert text == PENGUIN_RULES
    assert "feature" not in text


def test_rules_lines_are_the_lines_of_the_text() -> None:
    tree = penguin_tree()
    lines = rules_lines(tree, PENGUIN_FEATURES, task="classification", classes=PENGUIN_CLASSES)
    assert lines == PENGUIN_RULES.split("\n")
    assert sum(line.lstrip("| ").startswith("→") for line in lines) == 5


def test_regression_rules_show_values_rows_and_iso_timestamps() -> None:
    assert rules_text(mass_tree(), MASS_FEATURES, task="regression", classes=()) == MASS_RULES


def test_single_leaf_tree_is_one_line() -> None:
    text = rules_text(single_leaf(), (), task="classification", classes=(False, True))
    assert text == "→ True (p=0.70, 10 rows)"
    regression = _tree([N(prediction=2.5, count=4, stats=(4, 10.0, 25.0))])
    assert rules_text(regression, (), task="regression", classes=()) == "→ 2.5 (4 rows)"


def test_thresholds_print_in_shortest_form_and_whole_numbers_as_floats() -> None:
    features = (Feature("age", "numeric", "int", 30.0),)
    tree = _tree(
        [
            N(feature=0, threshold=0.1 + 0.2, left=1, right=2, stats=(2, 2)),
            N(stats=(2, 0)),
            N(feature=0, threshold=3.0, left=3, right=4, stats=(0, 2)),
            N(stats=(0, 1)),
            N(stats=(0, 1)),
        ]
    )
    lines = rules_lines(tree, features, task="classification", classes=("a", "b"))
    assert lines[0] == "if age <= 0.30000000000000004:"
    assert lines[3] == "|   if age <= 3.0:"
    assert lines[5] == "|   else (age > 3.0):"


def test_categories_list_in_index_order_and_odd_names_are_quoted() -> None:
    features = (Feature("colour", "categorical", "string", None, ("red", "a, b", "")),)
    tree = _tree(
        [
            N(feature=0, cats=frozenset({3, 2, 1}), left=1, right=2, stats=(1, 1)),
            N(stats=(1, 0)),
            N(stats=(0, 1)),
        ]
    )
    lines = rules_lines(tree, features, task="classification", classes=("x", "y"))
    assert lines[0] == 'if colour in {"a, b", "", (unseen)}:'
    assert lines[2] == 'else (colour not in {"a, b", "", (unseen)}):'


def test_bad_task_and_missing_feature_are_refused() -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        rules_text(single_leaf(), (), task="clustering", classes=())
    with pytest.raises(ValueError, match="only 3 features"):
        rules_text(
            penguin_tree(), PENGUIN_FEATURES[:3], task="classification", classes=PENGUIN_CLASSES
        )


# ---- SVG ---------------------------------------------------------------------------------------


def _svg(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    return root


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def _size(root: ET.Element) -> tuple[float, float]:
    return float(root.attrib["width"]), float(root.attrib["height"])


def _assert_inside(root: ET.Element) -> None:
    width, height = _size(root)
    assert width > 0 and height > 0
    for rect in root.iter(f"{SVG}rect"):
        x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
        assert x >= 0 and y >= 0
        assert x + float(rect.attrib["width"]) <= width + 0.01
        assert y + float(rect.attrib["height"]) <= height + 0.01


def _node_boxes(root: ET.Element) -> list[tuple[float, float, float, float]]:
    boxes = []
    for group in root.iter(f"{SVG}g"):
        if group.attrib.get("class") in ("leaf", "split"):
            rect = group.find(f"{SVG}rect")
            assert rect is not None
            a = rect.attrib
            boxes.append((float(a["x"]), float(a["y"]), float(a["width"]), float(a["height"])))
    return boxes


def _fill(group: ET.Element) -> str:
    rect = group.find(f"{SVG}rect")
    assert rect is not None
    return rect.attrib["fill"]


def _assert_no_overlap(boxes: list[tuple[float, float, float, float]]) -> None:
    for i, (x1, y1, w1, h1) in enumerate(boxes):
        for x2, y2, w2, h2 in boxes[i + 1 :]:
            apart = x1 + w1 <= x2 or x2 + w2 <= x1 or y1 + h1 <= y2 or y2 + h2 <= y1
            assert apart, f"boxes overlap: {(x1, y1, w1, h1)} and {(x2, y2, w2, h2)}"


def test_classification_svg_shows_conditions_leaves_edges_and_colours() -> None:
    svg = tree_svg(
        penguin_tree(),
        PENGUIN_FEATURES,
        task="classification",
        classes=PENGUIN_CLASSES,
        title="penguins <v1> & co",
    )
    root = _svg(svg)
    texts = _texts(root)
    for condition in (
        "flipper_length_mm <= 206.5",
        "island in {Biscoe, (unseen)}",
        "sex_known is false",
        "date_egg <= 2008-11-09",
    ):
        assert condition in texts
    for leaf in ("Gentoo", "Adelie", "p=0.95, 42 rows", "p=0.67, 15 rows", "p=0.50, 10 rows"):
        assert leaf in texts
    assert "214 rows" in texts  # the root's rows
    assert texts.count("yes") == 4 and texts.count("no") == 4
    assert "penguins <v1> & co" in texts
    assert not any("feature 0" in t or "feature" in t.split(" ")[0] for t in texts)
    assert "feature 0" not in svg
    leaves = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "leaf"]
    assert len(leaves) == 5
    fills = {(g.findall(f"{SVG}text")[0].text, _fill(g)) for g in leaves}
    assert fills == {("Gentoo", CLASS_COLOURS[2]), ("Adelie", CLASS_COLOURS[0])}
    legend = [t for t in texts if t in PENGUIN_CLASSES]
    assert "Chinstrap" in legend  # the legend lists every class, even one no leaf predicts
    _assert_inside(root)
    _assert_no_overlap(_node_boxes(root))


def test_parents_are_centred_over_their_children_and_depth_sets_the_row() -> None:
    root = _svg(
        tree_svg(
            penguin_tree(),
            PENGUIN_FEATURES,
            task="classification",
            classes=PENGUIN_CLASSES,
            title="t",
        )
    )
    groups = [g for g in root.iter(f"{SVG}g") if g.attrib.get("class") in ("leaf", "split")]
    centre = {}
    top = {}
    for node, group in enumerate(groups):  # drawn in node order
        rect = group.find(f"{SVG}rect")
        assert rect is not None
        centre[node] = float(rect.attrib["x"]) + float(rect.attrib["width"]) / 2
        top[node] = float(rect.attrib["y"])
    tree = penguin_tree()
    for node in range(tree.node_count):
        if not tree.is_leaf(node):
            left, right = tree.left[node], tree.right[node]
            assert centre[node] == pytest.approx((centre[left] + centre[right]) / 2, abs=0.2)
            assert top[left] == top[right] > top[node]
    leaf_order = sorted((n for n in centre if tree.is_leaf(n)), key=lambda n: centre[n])
    assert leaf_order == [2, 4, 5, 7, 8]  # in-order


def test_regression_svg_uses_values_and_a_light_fill() -> None:
    root = _svg(tree_svg(mass_tree(), MASS_FEATURES, task="regression", classes=(), title="mass"))
    texts = _texts(root)
    for expected in (
        "recorded_at <= 2008-11-09T12:00:00.5Z",
        "bill_depth_mm <= 0.25",
        "4321.5",
        "3333.33",
        "5210",
        "146 rows",
        "12 rows",
        "1 row",
        "159 rows",
    ):
        assert expected in texts
    fills = {_fill(g) for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "leaf"}
    assert len(fills) == 1 and fills.isdisjoint(CLASS_COLOURS)
    _assert_inside(root)


def test_single_leaf_svg() -> None:
    root = _svg(
        tree_svg(single_leaf(), (), task="classification", classes=(False, True), title="one")
    )
    texts = _texts(root)
    assert "True" in texts and "p=0.70, 10 rows" in texts
    assert "yes" not in texts and "no" not in texts
    assert len(_node_boxes(root)) == 1
    _assert_inside(root)


def test_deep_tree_svg_fits_and_nothing_overlaps() -> None:
    tree = chain(12)
    features = (Feature("x", "numeric", "double", 0.0), Feature("y", "numeric", "double", 0.0))
    root = _svg(tree_svg(tree, features, task="classification", classes=("no", "yes"), title="d"))
    boxes = _node_boxes(root)
    assert len(boxes) == tree.node_count == 25
    assert len({y for _, y, _, _ in boxes}) == 13  # one row per depth
    _assert_inside(root)
    _assert_no_overlap(boxes)
    assert "y <= 11.5" in _texts(root)


def test_long_conditions_are_shortened_on_the_drawing_but_kept_in_the_tooltip() -> None:
    names = tuple(f"category_number_{i}" for i in range(8))
    features = (Feature("kind", "categorical", "string", None, names),)
    tree = _tree(
        [
            N(feature=0, cats=frozenset(range(8)), left=1, right=2, stats=(1, 1)),
            N(stats=(1, 0)),
            N(stats=(0, 1)),
        ]
    )
    root = _svg(tree_svg(tree, features, task="classification", classes=("a", "b"), title="x"))
    split = next(g for g in root.iter(f"{SVG}g") if g.attrib.get("class") == "split")
    tooltip = split.find(f"{SVG}title")
    assert tooltip is not None and tooltip.text is not None
    assert "category_number_7" in tooltip.text
    shown = split.findall(f"{SVG}text")[0].text or ""
    assert shown.startswith("kind in {category_number_0") and shown.endswith("…")
    assert len(shown) == 60
    _assert_inside(root)


# ---- PNG ---------------------------------------------------------------------------------------


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def test_confusion_matrix_png(tmp_path: Path) -> None:
    target = tmp_path / "charts" / "confusion.png"
    matrix = [[50, 2, 0], [3, 40, 1], [0, 0, 48]]
    out = confusion_matrix_png(matrix, list(PENGUIN_CLASSES), target, title="confusion")
    assert out == target
    assert _png_size(target) == (500, 500)
    assert [p.name for p in target.parent.iterdir()] == ["confusion.png"]


def test_confusion_matrix_grows_with_classes_and_dpi(tmp_path: Path) -> None:
    classes = [f"class {i}" for i in range(10)]
    matrix = [[(i + j) % 7 for j in range(10)] for i in range(10)]
    target = tmp_path / "big.png"
    confusion_matrix_png(matrix, classes, target, title="ten")
    assert _png_size(target) == (950, 950)
    confusion_matrix_png(matrix, classes, target, title="ten", dpi=50)  # replaces the file
    assert _png_size(target) == (475, 475)
    assert [p.name for p in tmp_path.iterdir()] == ["big.png"]


def test_confusion_matrix_of_the_wrong_shape_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="3 × 3"):
        confusion_matrix_png([[1, 2], [3, 4]], ["a", "b", "c"], tmp_path / "x.png", title="t")
    assert list(tmp_path.iterdir()) == []


def test_importances_png(tmp_path: Path) -> None:
    target = tmp_path / "importances.png"
    out = importances_png(
        [("island", 0.2), ("flipper_length_mm", 0.7), ("sex_known", 0.1)],
        target,
        title="importances",
    )
    assert out == target
    assert _png_size(target) == (800, 300)
    many = [(f"f{i}", i / 20) for i in range(20)]
    importances_png(many, target, title="twenty")
    assert _png_size(target) == (800, 625)
    importances_png([], tmp_path / "none.png", title="nothing")
    assert _png_size(tmp_path / "none.png") == (800, 300)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["importances.png", "none.png"]


def test_importances_must_be_finite(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a finite number"):
        importances_png([("a", math.nan)], tmp_path / "x.png", title="t")
    assert list(tmp_path.iterdir()) == []
