"""The package's shape: no import circle in tmrl_learning (lazy imports inside functions count too),
no ROS import in it, and the ROS nodes build on the system objects and protocols, not on the
in-process runner."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]


def imports(package_dir: Path, prefix: str) -> dict[str, set[str]]:
    """module -> the modules (of any package) it imports, anywhere in its body."""
    modules = {".".join(p.relative_to(package_dir.parent).with_suffix("").parts).removesuffix(".__init__"): p
               for p in package_dir.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
        graph[name] = found
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state, stack, found = {}, [], []

    def visit(module: str) -> None:
        state[module] = "open"
        stack.append(module)
        for dep in sorted(graph[module] & graph.keys()):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module)
    return found


def test_tmrl_learning_has_no_import_circle_and_no_ros():
    graph = imports(SRC / "tmrl_learning" / "tmrl_learning", "tmrl_learning")
    assert cycles(graph) == []
    ros = {m: sorted(d for d in deps if d.split(".")[0] in ("rclpy", "tmrl_msgs", "tmrl_ros"))
           for m, deps in graph.items()}
    assert {m: d for m, d in ros.items() if d} == {}


def test_the_nodes_build_on_protocols_not_on_the_runner():
    graph = imports(SRC / "tmrl_ros" / "tmrl_ros", "tmrl_ros")
    nodes = {m: deps for m, deps in graph.items() if m.endswith("_node") or m == "tmrl_ros.agent_params"}
    assert nodes, "no node modules found"
    assert {m for m, deps in nodes.items() if "tmrl_learning.tmrl.finetune" in deps} == set()


def test_the_cycle_finder_finds_a_circle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
