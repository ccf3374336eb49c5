"""A trained decision tree shown to people: nested rules as text, a drawing as SVG, and charts.

Everything is written in the user's terms: feature names, category names, dates and class
labels, never feature or category indices. ``rules_text`` and ``tree_svg`` need nothing beyond
the standard library; the PNG charts use matplotlib's Agg canvas directly (no pyplot, so the
process-wide backend is left alone) and are written atomically.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape, quoteattr

from sparkglue.ml.predictor import CompiledTree, Feature

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CLASS_COLOURS",
    "confusion_matrix_png",
    "importances_png",
    "rules_lines",
    "rules_text",
    "tree_svg",
]

TASKS = ("classification", "regression")
INDENT = "|   "
ARROW = "→"
UNSEEN = "(unseen)"

#: Leaf fills by class index (cycling): light tints that keep dark text readable.
CLASS_COLOURS = (
    "#aec7e8",
    "#ffbb78",
    "#98df8a",
    "#ff9896",
    "#c5b0d5",
    "#c49c94",
    "#f7b6d2",
    "#c7c7c7",
    "#dbdb8d",
    "#9edae5",
)
_REGRESSION_FILL = "#e3eefa"
_SPLIT_FILL = "#f7f7f7"

_EPOCH_DAY = date(1970, 1, 1)
_EPOCH_SECOND = datetime(1970, 1, 1, tzinfo=UTC)


# ---- words for one node ------------------------------------------------------------------------


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def _feature(tree: CompiledTree, node: int, features: Sequence[Feature]) -> Feature:
    index = tree.feature[node]
    if index >= len(features):
        raise ValueError(
            f"node {node} splits on input column {index}, but only {len(features)} features "
            "were given"
        )
    return features[index]


def _category(feature: Feature, index: int) -> str:
    if index == feature.unseen_index:
        return UNSEEN
    if 0 <= index < len(feature.categories):
        name = feature.categories[index]
        plain = name and name == name.strip() and not any(c in name for c in ',{}"')
        return name if plain else json.dumps(name, ensure_ascii=False)
    return f"(index {index})"


def _threshold_words(feature: Feature, threshold: float) -> tuple[str, str] | None:
    """``(left, right)`` wording for the kinds that read better than a number, else ``None``."""
    if not math.isfinite(threshold):
        return None
    if feature.kind == "boolean" and 0.0 <= threshold < 1.0:
        return f"{feature.name} is false", f"{feature.name} is true"
    try:
        if feature.kind == "date":
            day = (_EPOCH_DAY + timedelta(days=math.floor(threshold))).isoformat()
            return f"{feature.name} <= {day}", f"{feature.name} > {day}"
        if feature.kind == "timestamp":
            moment = _iso_utc(_EPOCH_SECOND + timedelta(seconds=threshold))
            return f"{feature.name} <= {moment}", f"{feature.name} > {moment}"
    except (OverflowError, ValueError):
        return None
    return None


def _iso_utc(moment: datetime) -> str:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def _condition(
    tree: CompiledTree, node: int, features: Sequence[Feature], *, left: bool = True
) -> str:
    """The test that sends a row to the left child (``left=True``) or to the right child."""
    feature = _feature(tree, node, features)
    if tree.categorical[node]:
        names = ", ".join(_category(feature, i) for i in sorted(tree.left_categories[node]))
        return f"{feature.name} {'in' if left else 'not in'} {{{names}}}"
    threshold = float(tree.threshold[node])
    words = _threshold_words(feature, threshold)
    if words is not None:
        return words[0] if left else words[1]
    return f"{feature.name} {'<=' if left else '>'} {threshold!r}"


def _rows_word(rows: int) -> str:
    return f"{rows} row" if rows == 1 else f"{rows} rows"


def _rows(tree: CompiledTree, node: int, task: str) -> int:
    stats = tree.stats[node]
    if task == "classification":
        return round(sum(stats)) if stats else int(tree.count[node])
    if tree.count[node]:
        return int(tree.count[node])
    return round(stats[0]) if stats else 0


def _value(value: float) -> str:
    return f"{value:.6g}"


@dataclass(frozen=True)
class _Leaf:
    label: str  # the predicted class or value
    detail: str  # "p=0.97, 146 rows" or "146 rows"
    class_index: int | None  # classification: which class, for the colour


def _leaf(tree: CompiledTree, node: int, task: str, classes: Sequence[Any]) -> _Leaf:
    rows = _rows(tree, node, task)
    if task == "regression":
        return _Leaf(_value(tree.prediction[node]), _rows_word(rows), None)
    stats = tree.stats[node]
    total = sum(stats)
    if stats and total > 0:
        best = max(range(len(stats)), key=lambda i: (stats[i], -i))
        detail = f"p={stats[best] / total:.2f}, {_rows_word(rows)}"
    else:
        best = int(tree.prediction[node])
        detail = _rows_word(rows)
    label = str(classes[best]) if 0 <= best < len(classes) else f"class {best}"
    return _Leaf(label, detail, best)


# ---- rules as text -----------------------------------------------------------------------------


def rules_lines(
    tree: CompiledTree, features: Sequence[Feature], *, task: str, classes: Sequence[Any]
) -> list[str]:
    """The lines of :func:`rules_text`, without line breaks."""
    _check_task(task)
    out: list[str] = []

    def walk(node: int, depth: int) -> None:
        pad = INDENT * depth
        if tree.is_leaf(node):
            leaf = _leaf(tree, node, task, classes)
            out.append(f"{pad}{ARROW} {leaf.label} ({leaf.detail})")
            return
        out.append(f"{pad}if {_condition(tree, node, features)}:")
        walk(tree.left[node], depth + 1)
        out.append(f"{pad}else ({_condition(tree, node, features, left=False)}):")
        walk(tree.right[node], depth + 1)

    walk(0, 0)
    return out


def rules_text(
    tree: CompiledTree, features: Sequence[Feature], *, task: str, classes: Sequence[Any]
) -> str:
    """The tree as nested if/else rules in the terms of the data, one line per rule.

    Every split prints two branches, each followed by its subtree indented one level with
    ``"|   "``; a leaf prints an arrow and the answer::

        if flipper_length_mm <= 206.5:
        |   if island in {Biscoe, (unseen)}:
        |   |   → Gentoo (p=0.97, 146 rows)
        |   else (island not in {Biscoe, (unseen)}):
        |   |   → Adelie (p=1.00, 12 rows)
        else (flipper_length_mm > 206.5):
        |   → Gentoo (p=0.99, 120 rows)

    Conditions: a number is compared with its threshold in shortest form (``<= 206.5`` left,
    ``> 206.5`` right); a boolean reads ``is false`` / ``is true``; a date is compared with the
    day its threshold falls on (``<= 2008-11-09``); a timestamp with its ISO UTC moment
    (``<= 2008-11-09T12:00:00Z``); a categorical split lists the categories that go left, in
    index order, as ``in {…}`` / ``not in {…}``, where ``(unseen)`` stands for any value not
    seen in training (and a missing one).

    Leaves: for classification, the predicted class (the first class with the largest count),
    its share of the leaf's rows as ``p`` with two decimals, and the leaf's rows; for regression,
    the predicted value with up to six significant digits and the rows. ``task`` is
    ``"classification"`` or ``"regression"``; ``classes`` are the labels by class index. A
    single-leaf tree is one arrow line. The text has no trailing line break.
    """
    return "\n".join(rules_lines(tree, features, task=task, classes=classes))


# ---- the tree as SVG ---------------------------------------------------------------------------

_FONT = 12.0
_CHAR = 0.62 * _FONT  # a generous average advance, so boxes hold their text
_LINE = 16.0
_PAD = 10.0
_BOX_H = 2 * _LINE + 12.0
_GAP_X = 16.0
_GAP_Y = 46.0
_MARGIN = 20.0
_TITLE_FONT = 16.0
_TITLE_H = 36.0
_LEGEND_H = 22.0
_MAX_CHARS = 60  # longer lines are shortened on the drawing; the full text is the tooltip


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def _n(x: float) -> str:
    return f"{x:.1f}"


@dataclass
class _Box:
    node: int
    depth: int
    lines: tuple[str, str]
    fill: str
    leaf: bool
    x: float = 0.0  # centre


def tree_svg(
    tree: CompiledTree,
    features: Sequence[Feature],
    *,
    task: str,
    classes: Sequence[Any],
    title: str,
) -> str:
    """A self-contained SVG drawing of the tree, root at the top.

    A split is a grey rounded box with the condition that leads left (worded as in
    :func:`rules_text`) and its rows; the edge to the left child is labelled ``yes`` and the
    edge to the right child ``no``. A leaf is a box with the predicted class or value and its
    ``p`` and rows, filled with its class's colour (:data:`CLASS_COLOURS`, cycling, with a
    legend under the title) for classification or a light blue for regression. Leaves are
    spaced evenly in left-to-right order, each split is centred over its two children, and
    every level of depth is a row; the canvas is sized to hold the whole tree and the title.
    Lines longer than 60 characters are shortened on the drawing; each box's full text is its
    tooltip.
    """
    _check_task(task)
    boxes: list[_Box] = []
    edges: list[tuple[int, int, bool]] = []  # parent, child, is the left ("yes") child
    leaf_count = 0

    def place(node: int, depth: int) -> _Box:
        nonlocal leaf_count
        if tree.is_leaf(node):
            leaf = _leaf(tree, node, task, classes)
            if leaf.class_index is None:
                fill = _REGRESSION_FILL
            else:
                fill = CLASS_COLOURS[leaf.class_index % len(CLASS_COLOURS)]
            box = _Box(node, depth, (leaf.label, leaf.detail), fill, True, float(leaf_count))
            leaf_count += 1
            boxes.append(box)
            return box
        rows = _rows_word(_rows(tree, node, task))
        box = _Box(node, depth, (_condition(tree, node, features), rows), _SPLIT_FILL, False)
        boxes.append(box)
        left = place(tree.left[node], depth + 1)
        right = place(tree.right[node], depth + 1)
        box.x = (left.x + right.x) / 2
        edges.append((node, left.node, True))
        edges.append((node, right.node, False))
        return box

    place(0, 0)
    depth = max(b.depth for b in boxes)
    longest = max(len(_clip(line)) for b in boxes for line in b.lines)
    box_w = max(80.0, longest * _CHAR + 2 * _PAD)
    slot = box_w + _GAP_X
    tree_w = leaf_count * slot - _GAP_X

    legend: list[tuple[str, str, float]] = []  # name, colour, width
    if task == "classification":
        for i, name in enumerate(classes):
            label = _clip(str(name))
            legend.append((label, CLASS_COLOURS[i % len(CLASS_COLOURS)], 24 + len(label) * _CHAR))
    legend_w = sum(w for _, _, w in legend)
    content_w = max(tree_w, len(title) * _TITLE_FONT * 0.62, min(legend_w, max(tree_w, 600.0)))
    legend_rows: list[list[tuple[str, str, float]]] = []
    for item in legend:
        if not legend_rows or sum(w for _, _, w in legend_rows[-1]) + item[2] > content_w:
            legend_rows.append([])
        legend_rows[-1].append(item)
    content_w = max([content_w, *(sum(w for _, _, w in row) for row in legend_rows)])

    width = content_w + 2 * _MARGIN
    top = _MARGIN + _TITLE_H + len(legend_rows) * _LEGEND_H + (6.0 if legend_rows else 0.0)
    height = top + depth * (_BOX_H + _GAP_Y) + _BOX_H + _MARGIN
    offset = _MARGIN + (content_w - tree_w) / 2 + box_w / 2

    def cx(box: _Box) -> float:
        return offset + box.x * slot

    def y(box: _Box) -> float:
        return top + box.depth * (_BOX_H + _GAP_Y)

    by_node = {b.node: b for b in boxes}
    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-label={quoteattr(title)} '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="{_n(_FONT)}">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
        f'<text x="{_n(width / 2)}" y="{_n(_MARGIN + _TITLE_FONT)}" text-anchor="middle" '
        f'font-size="{_n(_TITLE_FONT)}" font-weight="bold">{escape(title)}</text>',
    ]
    ly = _MARGIN + _TITLE_H
    for row in legend_rows:
        lx = _MARGIN + (content_w - sum(w for _, _, w in row)) / 2
        for label, colour, w in row:
            out.append(
                f'<rect x="{_n(lx)}" y="{_n(ly)}" width="14" height="14" rx="3" '
                f'fill="{colour}" stroke="#555555"/>'
                f'<text x="{_n(lx + 20)}" y="{_n(ly + 11.5)}">{escape(label)}</text>'
            )
            lx += w
        ly += _LEGEND_H

    out.append('<g stroke="#888888" stroke-width="1.2" fill="none">')
    for parent, child, _ in edges:
        p, c = by_node[parent], by_node[child]
        out.append(
            f'<line x1="{_n(cx(p))}" y1="{_n(y(p) + _BOX_H)}" x2="{_n(cx(c))}" y2="{_n(y(c))}"/>'
        )
    out.append("</g>")
    out.append('<g font-size="11" fill="#444444">')
    for parent, child, is_left in edges:
        p, c = by_node[parent], by_node[child]
        mx = (cx(p) + cx(c)) / 2
        my = (y(p) + _BOX_H + y(c)) / 2 + 4
        anchor, dx = ("end", -5.0) if is_left else ("start", 5.0)
        out.append(
            f'<text x="{_n(mx + dx)}" y="{_n(my)}" text-anchor="{anchor}">'
            f"{'yes' if is_left else 'no'}</text>"
        )
    out.append("</g>")

    for box in sorted(boxes, key=lambda b: b.node):
        x0, y0 = cx(box) - box_w / 2, y(box)
        kind = "leaf" if box.leaf else "split"
        first_weight = ' font-weight="bold"' if box.leaf else ""
        out.append(
            f'<g class="{kind}"><title>{escape(" — ".join(box.lines))}</title>'
            f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(box_w)}" height="{_n(_BOX_H)}" rx="7" '
            f'fill="{box.fill}" stroke="{"#555555" if box.leaf else "#999999"}"/>'
            f'<text x="{_n(cx(box))}" y="{_n(y0 + 6 + _LINE - 3)}" text-anchor="middle"'
            f"{first_weight}>{escape(_clip(box.lines[0]))}</text>"
            f'<text x="{_n(cx(box))}" y="{_n(y0 + 6 + 2 * _LINE - 3)}" text-anchor="middle" '
            f'fill="#333333">{escape(_clip(box.lines[1]))}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


# ---- charts as PNG -----------------------------------------------------------------------------


def _save_png(figure: Figure, path: Path, dpi: int) -> Path:
    """Render ``figure`` to ``path`` through a temporary file in the same folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png", dpi=dpi)
        temporary.chmod(0o644)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def _new_figure(width_in: float, height_in: float, dpi: int) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _check_dpi(dpi: int) -> None:
    if isinstance(dpi, bool) or not isinstance(dpi, int) or dpi <= 0:
        raise ValueError(f"dpi must be a positive whole number, got {dpi!r}")


def confusion_matrix_png(
    matrix: Sequence[Sequence[int]],
    classes: Sequence[str],
    path: Path,
    *,
    title: str,
    dpi: int = 100,
) -> Path:
    """Draw a confusion matrix as a heatmap PNG at ``path``, and return ``path``.

    ``matrix[i][j]`` counts the rows of actual class ``classes[i]`` predicted as ``classes[j]``:
    actual classes run down the y axis, predicted ones along the x axis, and every cell shows its
    count. The image is square, ``min(20, max(5, 2 + 0.75 × classes))`` inches a side at
    ``dpi`` (500 × 500 pixels for up to four classes at the default 100). The file is written
    to a temporary file in the same folder and then moved into place.
    """
    _check_dpi(dpi)
    n = len(classes)
    if n == 0:
        raise ValueError("a confusion matrix needs at least one class")
    rows = [list(r) for r in matrix]
    if len(rows) != n or any(len(r) != n for r in rows):
        raise ValueError(f"the confusion matrix must be {n} × {n}, one row and column per class")
    import numpy as np

    data = np.asarray(rows, dtype=np.int64)
    side = min(20.0, max(5.0, 2.0 + 0.75 * n))
    figure = _new_figure(side, side, dpi)
    axes = figure.add_subplot()
    top = max(1, int(data.max()))
    image = axes.imshow(data, cmap="Blues", vmin=0, vmax=top)
    names = [str(c) for c in classes]
    long_names = max(len(s) for s in names) > 6 or n > 6
    axes.set_xticks(
        range(n),
        labels=names,
        rotation=45 if long_names else 0,
        ha="right" if long_names else "center",
        rotation_mode="anchor",
    )
    axes.set_yticks(range(n), labels=names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("actual")
    axes.set_title(title)
    size = max(6.0, min(12.0, 110.0 / n))
    for i in range(n):
        for j in range(n):
            value = int(data[i, j])
            axes.text(
                j,
                i,
                str(value),
                ha="center",
                va="center",
                fontsize=size,
                color="white" if value > top / 2 else "black",
            )
    figure.colorbar(image, ax=axes, shrink=0.8)
    return _save_png(figure, path, dpi)


def importances_png(
    importances: Sequence[tuple[str, float]],
    path: Path,
    *,
    title: str,
    dpi: int = 100,
) -> Path:
    """Draw feature importances as a horizontal bar chart PNG at ``path``, and return ``path``.

    Bars are sorted with the largest at the top (equal ones by name) and labelled with their
    values. The image is 8 inches wide and ``min(40, max(3, 1.25 + 0.25 × features))`` inches
    tall at ``dpi`` (800 × 300 pixels for up to seven features at the default 100). An empty
    list draws a chart that says so. The file is written to a temporary file in the same
    folder and then moved into place.
    """
    _check_dpi(dpi)
    items = [(str(name), float(value)) for name, value in importances]
    for name, value in items:
        if not math.isfinite(value):
            raise ValueError(f"the importance of {name} is {value}, not a finite number")
    items.sort(key=lambda kv: (-kv[1], kv[0]))
    height = min(40.0, max(3.0, 1.25 + 0.25 * len(items)))
    figure = _new_figure(8.0, height, dpi)
    axes = figure.add_subplot()
    axes.set_title(title)
    if not items:
        axes.text(0.5, 0.5, "no features", ha="center", va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return _save_png(figure, path, dpi)
    positions = list(range(len(items)))
    values = [v for _, v in items]
    bars = axes.barh(positions, values, color="#4c78a8")
    axes.set_yticks(positions, labels=[name for name, _ in items])
    axes.invert_yaxis()
    axes.bar_label(bars, labels=[f"{v:.3g}" for v in values], padding=3, fontsize=9)
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    axes.set_xlim(low - (0.15 * span if low < 0 else 0.0), high + 0.15 * span)
    axes.set_xlabel("importance")
    axes.spines[["top", "right"]].set_visible(False)
    return _save_png(figure, path, dpi)
