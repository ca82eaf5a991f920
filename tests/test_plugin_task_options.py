"""A task from another installed package declares its own options and receives them through `run`'s flags.

The package is installed the way pip leaves one on disk (the module beside a .dist-info folder whose
entry_points.txt names it in the `difflm_bench.tasks` group), on a PYTHONPATH of the test's own."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TASK = '''
import pandas as pd
from harness.api import Option, Scores, Splits, TableMetadata, Task


class HelloTask(Task):
    name = "hello"
    options = (Option("greeting", help="what the task says"), Option("rows", "int", "table size"),
               Option("tags", "names", "labels"))

    def __init__(self, greeting: str = "hi", rows: int = 30, tags: list | None = None):
        self.greeting, self.rows, self.tags = greeting, rows, tags

    def load(self):
        df = pd.DataFrame({"x": [float(i) for i in range(self.rows)], "y": [str(i % 2) for i in range(self.rows)]})
        meta = TableMetadata(columns=["x", "y"], numerical=["x"], categorical=["y"], target="y",
                             task_type="binclass", categories={"y": ["0", "1"]})
        return Splits(df, None, df, meta.check(df))

    def metrics(self, metadata):
        return {"n_rows": True}

    def score(self, synthetic, splits, *, seed=0, work_dir=None, cache_dir=None, quiet=False):
        return Scores({"n_rows": len(synthetic), "greeting_len": len(self.greeting)})
'''


def install(site: Path) -> None:
    (site / "hello_task").mkdir(parents=True)
    (site / "hello_task" / "__init__.py").write_text(TASK)
    info = site / "hello_task-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hello-task\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[difflm_bench.tasks]\nhello = hello_task:HelloTask\n")


def harness(site: Path, *args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)])}
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_a_plugin_tasks_option_reaches_it(tmp_path):
    site = tmp_path / "site"
    install(site)
    assert "--greeting STR" in harness(site, "list").stdout
    help_text = harness(site, "run", "--task", "hello", "--help").stdout
    assert "options of task hello" in help_text and "--greeting" in help_text and "what the task says" in help_text
    r = harness(site, "run", "--task", "hello", "--greeting", "bonjour", "--rows", "12", "--tags", "a,b",
                "--methods", "real", "--profile", "smoke", "--store", str(tmp_path / "runs"), "--quiet")
    assert r.returncode == 0, r.stderr
    rec = json.loads(next((tmp_path / "runs").rglob("*.json")).read_text())
    assert rec["task"]["config"] == {"greeting": "bonjour", "rows": 12, "tags": ["a", "b"]}
    assert rec["metrics"]["greeting_len"] == len("bonjour") and rec["metrics"]["n_rows"] == 12
    bad = harness(site, "run", "--task", "hello", "--target", "y", "--methods", "real")
    assert bad.returncode == 2 and "--target is not an option of task hello" in bad.stderr
