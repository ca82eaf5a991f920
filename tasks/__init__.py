"""Task registry. A task owns its data, its splits and its metrics; the runner knows neither's internals."""
from harness.registry import Registry

TASKS = Registry("task")
for _name in ("adult", "default", "magic", "shoppers", "beijing"):
    TASKS.add(_name, f"tasks.uci:{_name.capitalize()}Task")
TASKS.add("csv", "tasks.csv_task:CSVTask")
