"""The five UCI tables as tasks (see tasks/tabular.py for reading and splitting)."""
from tasks.base import TabularTask
from tasks.tabular import load_uci


class _UCITask(TabularTask):
    def load(self):
        return load_uci(self.name, split=self.split, limit=self.limit)


class AdultTask(_UCITask):
    name = "adult"


class DefaultTask(_UCITask):
    name = "default"


class MagicTask(_UCITask):
    name = "magic"


class ShoppersTask(_UCITask):
    name = "shoppers"


class BeijingTask(_UCITask):
    name = "beijing"
