"""`text`: a user's own text corpus, one record per line (.txt) or per JSON line (.jsonl, --text-field).

The smallest record-modality task: it checks that a generator can learn and sample free text through the
same runner, records and leaderboard as a table. Scored by deterministic proxies (tasks/metrics/text.py),
not by a model or a judge. Split: seeded 80/10/10 (sklearn train_test_split, random_state=42).
"""
from __future__ import annotations

import json
from pathlib import Path

from sklearn.model_selection import train_test_split

from harness.api import DataError, RecordMetadata, Scores, Splits, Task
from tasks.metrics.text import text_metrics

MIN_RECORDS = 20


def read_corpus(path: Path, text_field: str) -> list[str]:
    """Texts from a .jsonl (the field `text_field` of each object, or each line if it is a JSON string) or
    from any other file, one text per non-empty line."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise DataError(f"cannot read {path} as UTF-8 text: {e}") from e
    if path.suffix != ".jsonl":
        return [line for line in lines if line.strip()]
    texts = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{i}: not JSON ({e.msg})") from e
        value = obj if isinstance(obj, str) else obj.get(text_field) if isinstance(obj, dict) else None
        if not isinstance(value, str):
            raise DataError(f"{path}:{i}: no string field {text_field!r} (use --text-field NAME)")
        texts.append(value)
    return texts


def split_80_10_10(texts: list, source: str, limit: int | None = None) -> tuple[list, list, list]:
    """The record tasks' split: seeded 80/10/10 (random_state=42), each part cut to `limit` if given."""
    if len(texts) < MIN_RECORDS:
        raise DataError(f"{source} has {len(texts)} non-empty texts; at least {MIN_RECORDS} are needed "
                        f"for an 80/10/10 split")
    train, rest = train_test_split(texts, test_size=0.2, random_state=42)
    val, test = train_test_split(rest, test_size=0.5, random_state=42)
    if limit:
        train, val, test = train[:limit], val[:limit], test[:limit]
    return list(train), list(val), list(test)


class TextTask(Task):
    name = "text"
    modality = "text"
    family = "text"
    user_data = True
    headline = ("unigram_tvd", "copy_rate")

    def __init__(self, data: str | None = None, text_field: str = "text", limit: int | None = None):
        self.data, self.text_field, self.limit = data, text_field, limit

    def load(self) -> Splits:
        if not self.data:
            raise DataError("the text task needs --data PATH (.txt: one text per line; .jsonl: --text-field)")
        path = Path(self.data)
        train, val, test = split_80_10_10([t for t in read_corpus(path, self.text_field) if t.strip()], str(path),
                                          self.limit)
        info = {"split": "80/10/10, random_state=42", "file": str(path)}
        return Splits(train, val, test, RecordMetadata(kind="text").check(train), info)

    def metrics(self, metadata) -> dict[str, bool]:
        return {"copy_rate": False, "distinct_2": True, "unigram_tvd": False, "length_ks": False}

    def score(self, synthetic, splits: Splits, *, seed: int = 0, work_dir=None, cache_dir=None,
              quiet: bool = False) -> Scores:
        texts = [t if isinstance(t, str) else json.dumps(t) for t in synthetic]
        return Scores({"n_synthetic": len(texts), **text_metrics(texts, splits.train, splits.test)})
