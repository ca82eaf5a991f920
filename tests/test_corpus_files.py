"""A user's text or code corpus in the shapes people actually have: JSON lines, a JSON array (the paper's
Flytech set), a folder of files, a BOM from Windows, the wrong field name, a plain file where records span
lines. Each reads right or fails with one line that says what to do."""
import json

import pytest

from harness.api import DataError
from tasks.text import read_corpus

PROGRAMS = [f"def f{i}(a):\n    return a + {i}\n" for i in range(3)]


def test_jsonl_array_and_bom_read_the_same(tmp_path):
    records = [{"instruction": "add", "output": p} for p in PROGRAMS]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (tmp_path / "c.json").write_text(json.dumps(records, indent=2))
    (tmp_path / "bom.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8-sig")
    (tmp_path / "lines.json").write_text("".join(json.dumps(r) + "\n" for r in records))   # JSONL named .json
    for name in ("c.jsonl", "c.json", "bom.jsonl", "lines.json"):
        assert read_corpus(tmp_path / name, "output", lines_are_texts=False) == PROGRAMS, name


def test_a_folder_is_one_text_per_file_in_path_order(tmp_path):
    for i, p in enumerate(PROGRAMS):
        (tmp_path / "pkg" / f"sub{i}").mkdir(parents=True)
        (tmp_path / "pkg" / f"sub{i}" / f"m{i}.py").write_text(p)
    (tmp_path / "pkg" / "README.md").write_text("not code")
    assert read_corpus(tmp_path / "pkg", "text", file_glob="*.py") == PROGRAMS
    with pytest.raises(DataError, match=r"no \*\.txt files"):
        read_corpus(tmp_path / "pkg", "text")


def test_plain_text_is_one_record_a_line_unless_records_span_lines(tmp_path):
    (tmp_path / "c.txt").write_text("one\n\ntwo\n")
    assert read_corpus(tmp_path / "c.txt", "text") == ["one", "two"]
    with pytest.raises(DataError, match="records span several lines"):
        read_corpus(tmp_path / "c.txt", "text", lines_are_texts=False, file_glob="*.py")


@pytest.mark.parametrize("content,field,needle", [
    ('{"output": "x"}\n', "text", "c.jsonl:1: no string field 'text' (its fields: output); use --text-field"),
    ('{"text": 5}\n', "text", "no string field 'text'"),
    ('{"text": "x"}\nnot json\n', "text", "c.jsonl:2: not JSON"),
])
def test_bad_jsonl_names_the_line_and_the_fix(tmp_path, content, field, needle):
    (tmp_path / "c.jsonl").write_text(content)
    with pytest.raises(DataError) as e:
        read_corpus(tmp_path / "c.jsonl", field)
    assert needle in str(e.value)


def test_bad_json_array_and_missing_paths(tmp_path):
    (tmp_path / "obj.json").write_text('{"data": [{"text": "x"}]}')
    with pytest.raises(DataError, match="expected a JSON array of records, found an object with keys data"):
        read_corpus(tmp_path / "obj.json", "text")
    (tmp_path / "arr.json").write_text('[{"text": "x"}, {"body": "y"}]')
    with pytest.raises(DataError, match="arr.json: item 1: no string field 'text'"):
        read_corpus(tmp_path / "arr.json", "text")
    with pytest.raises(DataError, match="data file not found"):
        read_corpus(tmp_path / "missing.jsonl", "text")
    (tmp_path / "latin.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="cannot read .* as UTF-8"):
        read_corpus(tmp_path / "latin.txt", "text")
