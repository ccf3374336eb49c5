"""A workflow graph shown to people: layers, a terminal drawing as text, and a drawing as SVG.

A workflow is a directed graph of triggers, jobs and crawlers: a trigger points at the jobs and
crawlers it starts, and a job or crawler points at the conditional triggers that watch it. Each
node may carry its state in one workflow run. Only the standard library is used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

__all__ = ["GraphEdge", "GraphNode", "graph_svg", "graph_text", "layers"]


@dataclass(frozen=True)
class GraphNode:
    """One trigger, job or crawler of a workflow graph.

    Attributes:
        id: Unique in the graph, e.g. ``"job:clean"``.
        type: ``"TRIGGER"``, ``"JOB"`` or ``"CRAWLER"``.
        name: The trigger's, job's or crawler's name.
        detail: A short description, e.g. ``"ON_DEMAND"`` or ``"cron(0 * * * ? *)"``.
        state: The state in a workflow run (``"FIRED"`` for a trigger), or None if not run.
    """

    id: str
    type: str
    name: str
    detail: str = ""
    state: str | None = None


@dataclass(frozen=True)
class GraphEdge:
    """A directed edge between two node ids, with an optional label such as ``"SUCCEEDED"``."""

    source: str
    target: str
    label: str = ""


_Graph = tuple[list[GraphNode], list[GraphEdge], dict[str, list[GraphEdge]]]


def _graph(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> _Graph:
    # A repeated id keeps its first node and a dangling edge is dropped, so a partly known
    # workflow (a trigger naming a deleted job) still draws.
    by_id: dict[str, GraphNode] = {}
    for node in nodes:
        by_id.setdefault(node.id, node)
    kept = [e for e in edges if e.source in by_id and e.target in by_id]
    out: dict[str, list[GraphEdge]] = {key: [] for key in by_id}
    for edge in kept:
        out[edge.source].append(edge)
    return list(by_id.values()), kept, out


def _roots(order: list[GraphNode], edges: list[GraphEdge]) -> list[GraphNode]:
    targets = {e.target for e in edges}
    return [n for n in order if n.id not in targets]


def _back_edges(order: list[GraphNode], edges: list[GraphEdge]) -> set[tuple[str, str]]:
    """Edges that close a cycle in a depth-first walk from the roots, then from the rest."""
    children: dict[str, list[str]] = {n.id: [] for n in order}
    for edge in edges:
        children[edge.source].append(edge.target)
    on_stack: set[str] = set()
    done: set[str] = set()
    back: set[tuple[str, str]] = set()
    # Iterative, so a long chain cannot exhaust the interpreter's recursion limit.
    for root in [*_roots(order, edges), *order]:
        if root.id in on_stack or root.id in done:
            continue
        on_stack.add(root.id)
        stack = [(root.id, iter(children[root.id]))]
        while stack:
            node, pending = stack[-1]
            child = next(pending, None)
            if child is None:
                on_stack.discard(node)
                done.add(node)
                stack.pop()
            elif child in on_stack:
                back.add((node, child))
            elif child not in done:
                on_stack.add(child)
                stack.append((child, iter(children[child])))
    return back


def layers(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[list[GraphNode]]:
    """The nodes in layers by the longest path from a node without incoming edges.

    Cycles are broken by ignoring the edges that close them in a depth-first walk from the
    roots in input order. The first layer keeps the input order; every later layer is ordered
    by the mean position of each node's parents, ties broken by input order.

    Args:
        nodes: The nodes; a repeated id keeps its first node.
        edges: The edges; edges naming an unknown node are ignored.

    Returns:
        The layers, first to last, each a non-empty list of nodes.
    """
    order, kept, _ = _graph(nodes, edges)
    back = _back_edges(order, kept)
    forward = [e for e in kept if (e.source, e.target) not in back]
    parents: dict[str, list[str]] = {n.id: [] for n in order}
    for edge in forward:
        parents[edge.target].append(edge.source)
    depth: dict[str, int] = {}

    def depth_of(start: str) -> int:
        # Explicit stack: parents are resolved before their child, memoised in ``depth``.
        stack = [start]
        while stack:
            node = stack[-1]
            missing = [p for p in parents[node] if p not in depth]
            if missing:
                stack.extend(missing)
                continue
            depth[node] = max((depth[p] + 1 for p in parents[node]), default=0)
            stack.pop()
        return depth[start]

    rows: list[list[GraphNode]] = [[] for _ in range(1 + max(map(depth_of, parents), default=-1))]
    for node in order:
        rows[depth[node.id]].append(node)
    index = {n.id: i for i, n in enumerate(order)}
    position: dict[str, int] = {}

    def key(node: GraphNode) -> tuple[float, int]:
        ps = parents[node.id]
        return (sum(position[p] for p in ps) / len(ps) if ps else 0.0, index[node.id])

    for row in rows:
        # Parents always sit in earlier layers, so their positions are already known.
        row.sort(key=key)
        position.update((n.id, i) for i, n in enumerate(row))
    return rows


def _label(node: GraphNode) -> str:
    detail = f" ({node.detail})" if node.detail else ""
    state = f" · {node.state}" if node.state else ""
    return f"[{node.type}] {node.name}{detail}{state}"


def graph_text(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> list[str]:
    """A tree-style drawing of the graph for a terminal, one string per line.

    Each root (a node without incoming edges) starts a tree, and each node's children follow
    its outgoing edges in edge order, indented under it. A node is written in full as
    ``[TYPE] name (detail) · STATE`` the first time it is reached and as
    ``↺ name (see above)`` afterwards. An edge's label is written in its arrow,
    ``─[SUCCEEDED]▶``. Nodes reachable from no root (in a cycle) start trees of their own.

    Args:
        nodes: The nodes; a repeated id keeps its first node.
        edges: The edges; edges naming an unknown node are ignored.

    Returns:
        The lines, without newlines or markup.
    """
    order, kept, out = _graph(nodes, edges)
    by_id = {n.id: n for n in order}
    seen: set[str] = set()
    lines: list[str] = []

    def walk(root: GraphNode) -> None:
        seen.add(root.id)
        lines.append(_label(root))
        # Each frame: the node's pending edges and the indentation its children continue with.
        stack = [(iter(enumerate(out[root.id])), "")]
        while stack:
            pending, indent = stack[-1]
            step = next(pending, None)
            if step is None:
                stack.pop()
                continue
            i, edge = step
            last = i == len(out[edge.source]) - 1
            arrow = f"─[{edge.label}]▶" if edge.label else "─▶"
            prefix = f"{indent}  {'└' if last else '├'}{arrow} "
            child = by_id[edge.target]
            if child.id in seen:
                lines.append(f"{prefix}↺ {child.name} (see above)")
                continue
            seen.add(child.id)
            lines.append(prefix + _label(child))
            stack.append((iter(enumerate(out[child.id])), f"{indent}  {' ' if last else '│'}   "))

    for node in [*_roots(order, kept), *order]:
        if node.id not in seen:
            walk(node)
    return lines


#: Fill and border of a node by its state; an unknown state is drawn like a stopped one.
_STYLES: dict[str | None, tuple[str, str]] = {
    "SUCCEEDED": ("#d9f2dc", "#2e7d32"),
    **dict.fromkeys(("FAILED", "ERROR", "TIMEOUT", "EXPIRED"), ("#fbdada", "#c62828")),
    **dict.fromkeys(("RUNNING", "STARTING", "STOPPING", "WAITING"), ("#dbe8fb", "#1565c0")),
    **dict.fromkeys(("STOPPED", "CANCELLED"), ("#e4e4e4", "#616161")),
    "FIRED": ("#ffecc2", "#e69500"),
    None: ("#ffffff", "#9e9e9e"),
}
_LEGEND = ("SUCCEEDED", "FAILED", "RUNNING", "STOPPED", "FIRED", None)
_BOX_W, _BOX_H = 200.0, 74.0
_GAP_X, _GAP_Y = 90.0, 28.0  # wide enough between layers for an edge label such as SUCCEEDED
_MARGIN, _TITLE_H, _LEGEND_H = 20.0, 34.0, 28.0
_LOOP = 40.0  # room under the drawing for edges that go back against the layering
_CHAR = 6.6  # average advance of the 11px text, generous so labels fit their boxes
_NAME_MAX, _DETAIL_MAX = 22, 28


def _style(state: str | None) -> tuple[str, str]:
    return _STYLES.get(state, _STYLES["STOPPED"])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _n(x: float) -> str:
    return f"{x:.1f}"


def graph_svg(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, title: str = "") -> str:
    """A self-contained SVG drawing of the graph, layers from left to right.

    Each node is a group (``class="node"``, ``data-id``, ``data-type``, ``data-state``) with a
    rounded box coloured by its state, its type as a small caption, its name, its detail and
    its state. Names and details too long for the box are shortened with an ellipsis; the
    full name is the group's ``<title>`` (its tooltip). Each edge is a curve with an
    arrowhead and, if it has one, its label; edges closing a cycle loop under the drawing.
    The canvas holds the title, a legend of state colours and the whole graph.

    Args:
        nodes: The nodes; a repeated id keeps its first node.
        edges: The edges; edges naming an unknown node are ignored.
        title: Written above the drawing and as the document's title, if not empty.

    Returns:
        The SVG document.
    """
    order, kept, _ = _graph(nodes, edges)
    rows = layers(order, kept)
    tall = max((len(r) for r in rows), default=0)
    graph_w = len(rows) * (_BOX_W + _GAP_X) - _GAP_X if rows else 0.0
    graph_h = tall * (_BOX_H + _GAP_Y) - _GAP_Y if rows else 0.0
    words = [(state or "not run").lower() for state in _LEGEND]
    legend = [(w, *_style(s), 34 + len(w) * _CHAR) for w, s in zip(words, _LEGEND, strict=True)]
    legend_w = sum(w for *_, w in legend)
    content_w = max(graph_w, legend_w, len(title) * 16 * 0.62)
    top = _MARGIN + (_TITLE_H if title else 0.0) + _LEGEND_H + 8
    left = _MARGIN + (content_w - graph_w) / 2
    at: dict[str, tuple[float, float]] = {}
    for col, row in enumerate(rows):
        shift = (tall - len(row)) / 2
        for i, node in enumerate(row):
            at[node.id] = (left + col * (_BOX_W + _GAP_X), top + (shift + i) * (_BOX_H + _GAP_Y))
    column = {n.id: col for col, row in enumerate(rows) for n in row}
    loops = any(column[e.target] <= column[e.source] for e in kept)
    width = content_w + 2 * _MARGIN
    height = top + graph_h + (_LOOP if loops else 0.0) + _MARGIN

    out = [
        '<svg xmlns="http://www.w3.org/2000/svg" version="1.1" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'role="img" aria-label={quoteattr(title or "workflow graph")} '
        'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">',
        f"<title>{escape(title or 'workflow graph')}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#666666"/>'
        "</marker></defs>",
        f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="#ffffff"/>',
    ]
    if title:
        out.append(
            f'<text x="{_n(width / 2)}" y="{_n(_MARGIN + 16)}" text-anchor="middle" '
            f'font-size="16" font-weight="bold">{escape(title)}</text>'
        )
    lx, ly = _MARGIN + (content_w - legend_w) / 2, _MARGIN + (_TITLE_H if title else 0.0)
    out.append('<g class="legend">')
    for text, fill, stroke, w in legend:
        out.append(
            f'<rect x="{_n(lx)}" y="{_n(ly)}" width="14" height="14" rx="3" fill="{fill}" '
            f'stroke="{stroke}"/><text x="{_n(lx + 20)}" y="{_n(ly + 11)}">{escape(text)}</text>'
        )
        lx += w
    out.append("</g>")

    out.append('<g class="edges" fill="none" stroke="#666666" stroke-width="1.4">')
    labels: list[str] = []
    for edge in kept:
        (sx, sy), (tx, ty) = at[edge.source], at[edge.target]
        if column[edge.target] > column[edge.source]:
            x0, y0, x3, y3 = sx + _BOX_W, sy + _BOX_H / 2, tx, ty + _BOX_H / 2
            bend = max(30.0, (x3 - x0) / 2)
            x1, y1, x2, y2 = x0 + bend, y0, x3 - bend, y3
        else:
            # Offsets keep a self-loop from collapsing to a point.
            x0, y0, x3, y3 = sx + _BOX_W * 0.6, sy + _BOX_H, tx + _BOX_W * 0.4, ty + _BOX_H
            below = max(y0, y3) + _LOOP
            x1, y1, x2, y2 = x0, below, x3, below
        out.append(
            f'<path class="edge" d="M{_n(x0)},{_n(y0)} C{_n(x1)},{_n(y1)} {_n(x2)},{_n(y2)} '
            f'{_n(x3)},{_n(y3)}" marker-end="url(#arrow)"/>'
        )
        if edge.label:
            mx, my = (x0 + 3 * x1 + 3 * x2 + x3) / 8, (y0 + 3 * y1 + 3 * y2 + y3) / 8
            labels.append(
                f'<text x="{_n(mx)}" y="{_n(my - 4)}" text-anchor="middle">'
                f"{escape(edge.label)}</text>"
            )
    out.append("</g>")
    if labels:
        # A white halo keeps a label readable where it crosses an edge.
        out.append(
            '<g class="edge-labels" font-size="10" fill="#444444" stroke="#ffffff" '
            'stroke-width="3" paint-order="stroke">'
        )
        out.extend(labels)
        out.append("</g>")

    for node in order:
        x, y = at[node.id]
        fill, stroke = _style(node.state)
        state = f" data-state={quoteattr(node.state)}" if node.state else ""
        cx = x + _BOX_W / 2
        out.extend(
            [
                f'<g class="node" data-id={quoteattr(node.id)} data-type={quoteattr(node.type)}'
                f"{state}><title>{escape(node.name)}</title>",
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(_BOX_W)}" height="{_n(_BOX_H)}" '
                f'rx="8" fill="{fill}" stroke="{stroke}" stroke-width="1.5"/>',
                f'<text x="{_n(cx)}" y="{_n(y + 14)}" text-anchor="middle" font-size="9" '
                f'fill="#555555" letter-spacing="1">{escape(node.type)}</text>',
                f'<text x="{_n(cx)}" y="{_n(y + 32)}" text-anchor="middle" font-size="13" '
                f'font-weight="bold">{escape(_clip(node.name, _NAME_MAX))}</text>',
                f'<text x="{_n(cx)}" y="{_n(y + 49)}" text-anchor="middle" fill="#333333">'
                f"{escape(_clip(node.detail, _DETAIL_MAX))}</text>",
                f'<text x="{_n(cx)}" y="{_n(y + 65)}" text-anchor="middle" font-weight="bold" '
                f'fill="{stroke}">{escape(node.state or "not run")}</text>',
                "</g>",
            ]
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"
