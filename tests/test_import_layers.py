"""The packages import one way: golden < rtl < behavioral < spice, cocotb_tests < tdsnn, where
spice and cocotb_tests are two branches on one level (a module imports only from its own
package and the levels below it, never sideways), and no two modules import each other in a
circle. Read from the source with ``ast`` (imports inside functions count too)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("golden", "rtl", "behavioral", "spice", "cocotb_tests", "tdsnn")
#: the level of each package: spice and cocotb_tests side by side
LEVEL = {"golden": 0, "rtl": 1, "behavioral": 2, "spice": 3, "cocotb_tests": 3, "tdsnn": 4}
ORDER = "golden < rtl < behavioral < spice, cocotb_tests < tdsnn"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The project modules ``path`` imports (absolute names; ``from a import b`` gives ``a.b``
    when that is a module, else ``a``)."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        found |= {n for n in names if n.split(".")[0] in LAYERS}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for imp in imports(path):
            while imp and imp not in modules:
                imp = imp.rpartition(".")[0]
            if imp and imp != name:
                targets.add(imp)
        edges[name] = targets
    return edges


def against_the_order(edges: dict[str, set[str]]) -> list[str]:
    """The imports of ``edges`` that go up a level or sideways into another package."""
    def package(m):
        return m.split(".")[0]
    return sorted(f"{a} imports {b}" for a, bs in edges.items() for b in bs
                  if package(a) != package(b)
                  and LEVEL[package(b)] >= LEVEL[package(a)])


def test_no_import_goes_up_a_layer_or_sideways():
    bad = against_the_order(graph())
    assert not bad, f"imports against the layer order {ORDER}:\n" + "\n".join(bad)


def test_the_order_check_sees_up_and_sideways():
    assert against_the_order({"cocotb_tests.runner": {"spice.liberty"}}) == [
        "cocotb_tests.runner imports spice.liberty"]
    assert against_the_order({"rtl.area": {"behavioral.td"}}) == ["rtl.area imports behavioral.td"]
    assert against_the_order({"tdsnn.cell_sim": {"spice.liberty", "cocotb_tests.cli"},
                              "spice.pareto": {"spice.liberty", "behavioral.cm"}}) == []


def test_no_import_circle():
    edges = graph()
    state, circles = {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(edges[node]):
            if state.get(nxt) == "open":
                circles.append(" -> ".join(path[path.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(edges):
        if node not in state:
            visit(node, [node])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_see_an_upward_import(tmp_path, monkeypatch):
    """The graph finds an import inside a function (as the project writes its lazy imports)."""
    path = ROOT / "golden" / "pipeline.py"
    assert any(i.startswith("golden.") for i in imports(path))
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from tdsnn.reproduce import TABLE_SUBSTEPS\n")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    assert "tdsnn.reproduce" in imports(probe)
