import pytest

from harness.api.registry import Registry


def test_lazy_get_and_suggestion():
    r = Registry("method")
    r.add("real", "methods.real:RealMethod")
    assert r.get("real").__name__ == "RealMethod"
    with pytest.raises(KeyError, match="did you mean 'real'"):
        r.get("rael")


def test_conflicting_registration_raises():
    r = Registry("method")
    r.add("x", "a:B")
    r.add("x", "a:B")            # same target again is fine
    with pytest.raises(ValueError):
        r.add("x", "c:D")


def test_entry_point_plugins_are_listed(monkeypatch):
    from importlib.metadata import EntryPoint

    import harness.api.registry as reg
    ep = EntryPoint(name="thirdparty", value="methods.real:RealMethod", group="difflm_bench.methods")
    monkeypatch.setattr(reg, "entry_points", lambda group: [ep] if group == "difflm_bench.methods" else [])
    r = Registry("method", entry_point_group="difflm_bench.methods")
    r.add("real", "methods.real:RealMethod")
    assert r.names() == ["real", "thirdparty"]
    assert r.get("thirdparty").__name__ == "RealMethod"


def test_builtin_methods_and_tasks():
    from methods import METHODS
    from tasks import TASKS
    assert {"real", "smote", "ctgan", "tvae"} <= set(METHODS.names())
    assert {"adult", "default", "magic", "shoppers", "beijing", "csv"} <= set(TASKS.names())


def test_entry_point_clashing_with_a_builtin_is_rejected(monkeypatch):
    from importlib.metadata import EntryPoint

    import harness.api.registry as reg
    ep = EntryPoint(name="real", value="mypkg:Other", group="difflm_bench.methods")
    monkeypatch.setattr(reg, "entry_points", lambda group: [ep])
    r = Registry("method", entry_point_group="difflm_bench.methods")
    r.add("real", "methods.real:RealMethod")
    with pytest.raises(reg.PluginError, match="'real' is already registered to methods.real:RealMethod"):
        r.names()


def test_non_subclass_is_rejected():
    from harness.api import Method, Task
    from harness.api.registry import PluginError
    r = Registry("method", base=Method)
    r.add("notamethod", "harness.api:TableMetadata")
    with pytest.raises(PluginError, match="not a subclass of harness.api.Method"):
        r.get("notamethod")
    t = Registry("task", entry_point_group="difflm_bench.tasks", base=Task)
    t.add("text", "tasks.text:TextTask")
    assert t.get("text").modality == "text"


def test_task_entry_point_group(monkeypatch):
    from importlib.metadata import EntryPoint

    import harness.api.registry as reg
    ep = EntryPoint(name="mytexts", value="tasks.text:TextTask", group="difflm_bench.tasks")
    monkeypatch.setattr(reg, "entry_points", lambda group: [ep] if group == "difflm_bench.tasks" else [])
    from harness.api import Task
    r = Registry("task", entry_point_group="difflm_bench.tasks", base=Task)
    assert r.names() == ["mytexts"] and r.get("mytexts").name == "text"
