"""The layers hold: plugins import only the kernel of the harness, the kernel imports no plugin or app module,
no method imports a task or another method's package, no task imports a method, and no import cycle exists
anywhere in the project, imports inside functions (lazy) included. Read from the source, nothing imported."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "methods", "tasks")
KERNEL = "harness.api"
SHARED_METHOD_HELPERS = {"methods.edm", "methods.backbones", "methods.ctgan_family"}


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imports_of(name: str) -> set[str]:
    """Project modules `name` imports anywhere in its file; `from pkg import sub` counts as pkg.sub when sub is
    a module of the project."""
    tree = ast.parse(MODULES[name].read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                       for a in node.names]
        else:
            assert not (isinstance(node, ast.ImportFrom) and node.level), f"{name}: relative import"
            continue
        out |= {t for t in targets if t.split(".")[0] in PACKAGES}
    return out


def test_plugins_import_only_the_kernel_of_the_harness():
    bad = [(m, t) for m in MODULES if m.split(".")[0] in ("methods", "tasks")
           for t in imports_of(m) if t.startswith("harness") and not (t == KERNEL or t.startswith(KERNEL + "."))]
    assert not bad, bad


def test_the_kernel_imports_no_app_or_plugin_module():
    bad = [(m, t) for m in MODULES if m == KERNEL or m.startswith(KERNEL + ".")
           for t in imports_of(m) if not (t == KERNEL or t.startswith(KERNEL + "."))]
    assert not bad, bad


def test_methods_and_tasks_keep_apart():
    bad = []
    for m in MODULES:
        top = m.split(".")
        for t in imports_of(m):
            if top[0] == "methods" and t.startswith("tasks"):
                bad.append((m, t))
            if top[0] == "tasks" and t.startswith("methods"):
                bad.append((m, t))
            if (top[0] == "methods" and len(top) > 1 and t.startswith("methods.") and t not in SHARED_METHOD_HELPERS
                    and t.split(".")[1] != top[1] and m not in SHARED_METHOD_HELPERS):
                bad.append((m, t))          # one method's package reaching into another's
    assert not bad, bad


def test_no_import_cycle_anywhere():
    graph = {m: imports_of(m) & set(MODULES) for m in MODULES}
    index, low, stack, on, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v):                       # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1 or v in graph[v]:
                cycles.append(sorted(comp))

    for m in sorted(graph):
        if m not in index:
            visit(m)
    assert not cycles, cycles
