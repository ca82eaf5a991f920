"""Task registry. A task owns its data, its splits and its metrics; the runner knows neither's internals.

Third-party packages add tasks through the `difflm_bench.tasks` entry-point group.
"""
from harness.api import Task
from harness.api.registry import Registry

TASKS = Registry("task", entry_point_group="difflm_bench.tasks", base=Task)
for _name in ("adult", "default", "magic", "shoppers", "beijing"):
    TASKS.add(_name, f"tasks.uci:{_name.capitalize()}Task")
TASKS.add("csv", "tasks.csv_task:CSVTask")
TASKS.add("text", "tasks.text:TextTask")
TASKS.add("code", "tasks.code.task:CodeTask")
TASKS.add("tools", "tasks.tools.task:ToolsTask")
