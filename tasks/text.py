"""`text`: a user's own text corpus, one record per line (.txt) or per JSON line (.jsonl, --text-field).

The smallest record-modality task: it checks that a generator can learn and sample free text through the
same runner, records and leaderboard as a table. Scored by deterministic proxies (tasks/metrics/text.py),
not by a model or a judge. Split: seeded 80/10/10 (sklearn train_test_split, random_state=42).
"""
from __future__ import annotations

import json
from pathlib import Path

from sklearn.model_selection import train_test_split

from harness.api import DataError, Option, RecordMetadata, Scores, Splits, Task
from tasks.metrics.text import text_metrics

MIN_RECORDS = 20


def read_corpus(path: Path, text_field: str, *, lines_are_texts: bool = True, file_glob: str = "*.txt") -> list[str]:
    """The non-empty texts of a user's corpus, one of:
    - a folder: each file matching `file_glob` below it is one text (sorted by path, so the split is stable);
    - .jsonl: one JSON object per line (its `text_field`) or one JSON string per line;
    - .json: a JSON array of such objects or strings (JSON lines saved under a .json name are read too);
    - any other file: one text per non-empty line, where `lines_are_texts` (multi-line records such as
      programs need JSON or a folder, so the code task refuses a plain file rather than split it by line)."""
    return [t for t in _all_texts(path, text_field, lines_are_texts, file_glob) if t.strip()]


def _all_texts(path: Path, text_field: str, lines_are_texts: bool, file_glob: str) -> list[str]:
    if path.is_dir():
        files = sorted(f for f in path.rglob(file_glob) if f.is_file())
        if not files:
            raise DataError(f"{path} is a folder with no {file_glob} files (one file is one text)")
        return [_read_utf8(f) for f in files]
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    text = _read_utf8(path)
    if path.suffix == ".json":
        try:
            items = json.loads(text)
        except json.JSONDecodeError:
            items = None                             # maybe JSON lines under a .json name: read below
        if isinstance(items, dict):
            raise DataError(f"{path}: expected a JSON array of records, found an object with keys "
                            f"{', '.join(list(items)[:8])}")
        if isinstance(items, list):
            return [_text_of(obj, text_field, f"{path}: item {i}") for i, obj in enumerate(items)]
    elif path.suffix != ".jsonl":
        if not lines_are_texts:
            raise DataError(f"{path}: this task's records span several lines; give JSON lines (.jsonl with "
                            f"--text-field NAME), a JSON array (.json) or a folder of {file_glob} files")
        return text.splitlines()
    texts = []
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{i}: not JSON ({e.msg})") from e
        texts.append(_text_of(obj, text_field, f"{path}:{i}"))
    return texts


def _read_utf8(path: Path) -> str:
    try:                                             # utf-8-sig: files saved on Windows often start with a BOM
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"cannot read {path} as UTF-8 text: {e}") from e


def _text_of(obj, text_field: str, where: str) -> str:
    value = obj if isinstance(obj, str) else obj.get(text_field) if isinstance(obj, dict) else None
    if not isinstance(value, str):
        fields = f" (its fields: {', '.join(list(obj)[:8])})" if isinstance(obj, dict) else ""
        raise DataError(f"{where}: no string field {text_field!r}{fields}; use --text-field NAME")
    return value


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
    report = "tasks.reports.latent:sections"
    user_data = True
    headline = ("unigram_tvd", "copy_rate")

    options = (
        Option("data", help="the corpus: .txt (one text per line), .jsonl or .json, or a folder of files (one a record)"),
        Option("text_field", help="the JSON field holding each record (default: text)"),
        Option("limit", "int", "use at most this many rows/records per split"))

    def __init__(self, data: str | None = None, text_field: str = "text", limit: int | None = None):
        self.data, self.text_field, self.limit = data, text_field, limit

    def load(self) -> Splits:
        if not self.data:
            raise DataError("the text task needs --data PATH (.txt: one text per line; .jsonl/.json: --text-field; "
                            "or a folder of .txt files)")
        path = Path(self.data)
        train, val, test = split_80_10_10(read_corpus(path, self.text_field), str(path), self.limit)
        info = {"split": "80/10/10, random_state=42", "file": str(path)}
        return Splits(train, val, test, RecordMetadata(kind="text").check(train), info)

    def metrics(self, metadata) -> dict[str, bool]:
        return {"copy_rate": False, "distinct_2": True, "unigram_tvd": False, "length_ks": False}

    def score(self, synthetic, splits: Splits, *, seed: int = 0, work_dir=None, cache_dir=None,
              quiet: bool = False) -> Scores:
        texts = [t if isinstance(t, str) else json.dumps(t) for t in synthetic]
        return Scores({"n_synthetic": len(texts), **text_metrics(texts, splits.train, splits.test)})
