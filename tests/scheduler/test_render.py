"""Layers, text drawing and SVG drawing of workflow graphs."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

import pytest

from sparkglue.scheduler.render import GraphEdge, GraphNode, graph_svg, graph_text, layers

SVG = "{http://www.w3.org/2000/svg}"


def chain() -> tuple[list[GraphNode], list[GraphEdge]]:
    """The demo's workflow: a crawler, then a conditional trigger that starts a job."""
    nodes = [
        GraphNode("trigger:start", "TRIGGER", "start", "ON_DEMAND", "FIRED"),
        GraphNode("crawler:raw", "CRAWLER", "penguins_raw", state="SUCCEEDED"),
        GraphNode("trigger:after_raw", "TRIGGER", "after_raw", "CONDITIONAL AND", "FIRED"),
        GraphNode("job:curated", "JOB", "penguins_curated", state="RUNNING"),
    ]
    edges = [
        GraphEdge("trigger:start", "crawler:raw"),
        GraphEdge("crawler:raw", "trigger:after_raw"),
        GraphEdge("trigger:after_raw", "job:curated"),
    ]
    return nodes, edges


def diamond() -> tuple[list[GraphNode], list[GraphEdge]]:
    """A trigger starts two jobs; a conditional trigger waits for both, then starts a third."""
    nodes = [
        GraphNode("job:report", "JOB", "report"),
        GraphNode("trigger:both", "TRIGGER", "both", "CONDITIONAL (AND)"),
        GraphNode("job:b", "JOB", "b", state="FAILED"),
        GraphNode("job:a", "JOB", "a", state="SUCCEEDED"),
        GraphNode("trigger:start", "TRIGGER", "start", "ON_DEMAND", "FIRED"),
    ]
    edges = [
        GraphEdge("trigger:start", "job:a"),
        GraphEdge("trigger:start", "job:b"),
        GraphEdge("job:a", "trigger:both", "SUCCEEDED"),
        GraphEdge("job:b", "trigger:both", "SUCCEEDED"),
        GraphEdge("trigger:both", "job:report"),
    ]
    return nodes, edges


def ids(rows: list[list[GraphNode]]) -> list[list[str]]:
    return [[n.id for n in row] for row in rows]


def test_a_chain_has_one_node_per_layer_in_order() -> None:
    nodes, edges = chain()
    assert ids(layers(list(reversed(nodes)), edges)) == [
        ["trigger:start"],
        ["crawler:raw"],
        ["trigger:after_raw"],
        ["job:curated"],
    ]


def test_a_diamond_puts_both_jobs_in_one_layer_in_input_order() -> None:
    nodes, edges = diamond()
    assert ids(layers(nodes, edges)) == [
        ["trigger:start"],
        ["job:b", "job:a"],
        ["trigger:both"],
        ["job:report"],
    ]


def test_a_layer_is_ordered_by_its_parents_positions() -> None:
    nodes = [GraphNode(i, "JOB", i) for i in ("r1", "r2", "c2", "c1")]
    edges = [GraphEdge("r1", "c1"), GraphEdge("r2", "c2")]
    assert ids(layers(nodes, edges)) == [["r1", "r2"], ["c1", "c2"]]


def test_the_longest_path_decides_the_layer() -> None:
    nodes = [GraphNode(i, "JOB", i) for i in "abc"]
    edges = [GraphEdge("a", "c"), GraphEdge("a", "b"), GraphEdge("b", "c")]
    assert ids(layers(nodes, edges)) == [["a"], ["b"], ["c"]]


def test_cycles_are_broken_without_hanging() -> None:
    nodes = [GraphNode(i, "JOB", i) for i in ("start", "x", "y", "p", "q")]
    edges = [
        GraphEdge("start", "x"),
        GraphEdge("x", "y"),
        GraphEdge("y", "x"),  # closes a cycle reachable from a root
        GraphEdge("p", "q"),
        GraphEdge("q", "p"),  # a cycle with no root at all
        GraphEdge("q", "q"),
    ]
    assert ids(layers(nodes, edges)) == [["start", "p"], ["x", "q"], ["y"]]


def test_duplicate_ids_and_dangling_edges_are_ignored() -> None:
    nodes = [GraphNode("a", "JOB", "first"), GraphNode("a", "JOB", "second")]
    edges = [GraphEdge("a", "missing"), GraphEdge("ghost", "a")]
    assert [[n.name for n in row] for row in layers(nodes, edges)] == [["first"]]
    assert graph_text(nodes, edges) == ["[JOB] first"]
    assert layers([], []) == []
    assert graph_text([], []) == []


def test_the_text_drawing_of_the_demo_chain() -> None:
    assert graph_text(*chain()) == [
        "[TRIGGER] start (ON_DEMAND) · FIRED",
        "  └─▶ [CRAWLER] penguins_raw · SUCCEEDED",
        "        └─▶ [TRIGGER] after_raw (CONDITIONAL AND) · FIRED",
        "              └─▶ [JOB] penguins_curated · RUNNING",
    ]


def test_a_node_reached_twice_is_written_once_then_referred_back_to() -> None:
    assert graph_text(*diamond()) == [
        "[TRIGGER] start (ON_DEMAND) · FIRED",
        "  ├─▶ [JOB] a · SUCCEEDED",
        "  │     └─[SUCCEEDED]▶ [TRIGGER] both (CONDITIONAL (AND))",
        "  │           └─▶ [JOB] report",
        "  └─▶ [JOB] b · FAILED",
        "        └─[SUCCEEDED]▶ ↺ both (see above)",
    ]


def test_nodes_in_a_cycle_without_a_root_are_still_written() -> None:
    nodes = [GraphNode("p", "JOB", "p"), GraphNode("q", "CRAWLER", "q", state="CANCELLED")]
    edges = [GraphEdge("p", "q", "SUCCEEDED"), GraphEdge("q", "p", "FAILED")]
    assert graph_text(nodes, edges) == [
        "[JOB] p",
        "  └─[SUCCEEDED]▶ [CRAWLER] q · CANCELLED",
        "        └─[FAILED]▶ ↺ p (see above)",
    ]


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def node_groups(root: ET.Element) -> dict[str, ET.Element]:
    return {g.attrib["data-id"]: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def box(group: ET.Element) -> tuple[float, float]:
    rects = group.findall(f"{SVG}rect")
    assert len(rects) == 1
    return float(rects[0].attrib["x"]), float(rects[0].attrib["y"])


def fill(group: ET.Element) -> str:
    rect = group.find(f"{SVG}rect")
    assert rect is not None
    return rect.attrib["fill"]


def texts(group: ET.Element) -> list[str]:
    return [t.text or "" for t in group.findall(f"{SVG}text")]


def test_the_svg_has_a_coloured_box_per_node_with_its_text() -> None:
    nodes, edges = diamond()
    root = parse(graph_svg(nodes, edges, title="nightly"))
    groups = node_groups(root)
    assert set(groups) == {n.id for n in nodes}
    assert {key: fill(g) for key, g in groups.items()} == {
        "trigger:start": "#ffecc2",
        "job:a": "#d9f2dc",
        "job:b": "#fbdada",
        "trigger:both": "#ffffff",
        "job:report": "#ffffff",
    }
    assert texts(groups["trigger:both"]) == ["TRIGGER", "both", "CONDITIONAL (AND)", "not run"]
    assert texts(groups["job:b"]) == ["JOB", "b", "", "FAILED"]
    assert groups["job:b"].attrib["data-state"] == "FAILED"
    assert "data-state" not in groups["job:report"].attrib
    assert root.findtext(f"{SVG}title") == "nightly"
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert texts(legend) == ["succeeded", "failed", "running", "stopped", "fired", "not run"]


@pytest.mark.parametrize(
    ("state", "colour"),
    [
        ("RUNNING", "#dbe8fb"),
        ("STARTING", "#dbe8fb"),
        ("TIMEOUT", "#fbdada"),
        ("ERROR", "#fbdada"),
        ("STOPPED", "#e4e4e4"),
        ("CANCELLED", "#e4e4e4"),
    ],
)
def test_the_fill_follows_the_state(state: str, colour: str) -> None:
    root = parse(graph_svg([GraphNode("j", "JOB", "j", state=state)], []))
    assert fill(node_groups(root)["j"]) == colour


def test_the_svg_has_an_arrow_and_label_per_edge() -> None:
    nodes, edges = diamond()
    root = parse(graph_svg(nodes, edges))
    marker = root.find(f"{SVG}defs/{SVG}marker")
    assert marker is not None
    assert marker.attrib["id"] == "arrow"
    paths = [p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]
    assert len(paths) == len(edges)
    assert all(p.attrib["marker-end"] == "url(#arrow)" for p in paths)
    assert all(p.attrib["d"].startswith("M") for p in paths)
    labels = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "edge-labels")
    assert texts(labels) == ["SUCCEEDED", "SUCCEEDED"]


@pytest.mark.parametrize("graph", [chain, diamond])
def test_deeper_layers_lie_further_right(
    graph: Callable[[], tuple[list[GraphNode], list[GraphEdge]]],
) -> None:
    nodes, edges = graph()
    root = parse(graph_svg(nodes, edges))
    at = {key: box(g) for key, g in node_groups(root).items()}
    column = {n.id: i for i, row in enumerate(layers(nodes, edges)) for n in row}
    for edge in edges:
        assert at[edge.target][0] > at[edge.source][0]
    for a in nodes:
        for b in nodes:
            if column[a.id] == column[b.id]:
                assert at[a.id][0] == at[b.id][0]
    width, height = float(root.attrib["width"]), float(root.attrib["height"])
    assert all(0 < x < width - 200 and 0 < y < height - 74 for x, y in at.values())


def test_nodes_of_one_layer_are_stacked_in_layer_order() -> None:
    at = {key: box(g) for key, g in node_groups(parse(graph_svg(*diamond()))).items()}
    assert at["job:b"][1] < at["job:a"][1]
    # A lone node in a layer is centred on the taller layers' span.
    assert at["trigger:start"][1] == (at["job:a"][1] + at["job:b"][1]) / 2


def test_the_canvas_grows_with_the_graph() -> None:
    one = parse(graph_svg([GraphNode("a", "JOB", "a")], []))
    nodes = [GraphNode(str(i), "JOB", str(i)) for i in range(8)]
    edges = [GraphEdge(str(i), str(i + 1)) for i in range(7)]
    long = parse(graph_svg(nodes, edges))
    fan = parse(graph_svg(nodes, [GraphEdge("0", str(i)) for i in range(1, 8)]))
    assert float(long.attrib["width"]) > float(one.attrib["width"])
    assert float(fan.attrib["height"]) > float(one.attrib["height"])
    assert long.attrib["viewBox"] == f"0 0 {long.attrib['width']} {long.attrib['height']}"


def test_text_is_escaped_and_long_names_are_shortened() -> None:
    long_name = "a_really_long_job_name_that_does_not_fit"
    nodes = [
        GraphNode('job:<&>"', "JOB", "x<y & z>w", "cron(<&>)", "SUCCEEDED"),
        GraphNode("job:long", "JOB", long_name),
    ]
    edges = [GraphEdge('job:<&>"', "job:long", "<&>")]
    svg = graph_svg(nodes, edges, title="A & <B>")
    assert "x<y" not in svg
    assert "x&lt;y &amp; z&gt;w" in svg
    root = parse(svg)
    groups = node_groups(root)
    odd = groups['job:<&>"']
    assert texts(odd)[1:3] == ["x<y & z>w", "cron(<&>)"]
    assert odd.findtext(f"{SVG}title") == "x<y & z>w"
    shown = texts(groups["job:long"])[1]
    assert shown.endswith("…")
    assert len(shown) < len(long_name)
    assert long_name.startswith(shown[:-1])
    assert groups["job:long"].findtext(f"{SVG}title") == long_name
    assert root.findtext(f"{SVG}title") == "A & <B>"
    assert "A & <B>" in [t.text for t in root.iter(f"{SVG}text")]
    assert "<&>" in [t.text for t in root.iter(f"{SVG}text")]


def test_a_cycle_draws_with_a_loop_under_the_graph() -> None:
    nodes = [GraphNode("p", "JOB", "p"), GraphNode("q", "JOB", "q")]
    edges = [GraphEdge("p", "q"), GraphEdge("q", "p"), GraphEdge("q", "q")]
    acyclic = parse(graph_svg(nodes, edges[:1]))
    root = parse(graph_svg(nodes, edges))
    assert len([p for p in root.iter(f"{SVG}path") if p.get("class") == "edge"]) == 3
    assert float(root.attrib["height"]) > float(acyclic.attrib["height"])
    assert float(root.attrib["width"]) == float(acyclic.attrib["width"])


def test_an_empty_graph_is_still_a_document() -> None:
    root = parse(graph_svg([], [], title="empty"))
    assert node_groups(root) == {}
    assert float(root.attrib["width"]) > 0
