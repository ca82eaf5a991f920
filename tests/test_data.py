"""Loader tests against the verified copies in ../shared/data (those skip where that folder is absent), and the
download path's checksum check on a zip made here (always runs)."""
import hashlib
import zipfile

import pytest

from harness.api import DataError
from tasks import data
from tasks.tabular import load_uci

have_data = all(any((d / s.folder).is_dir() for d in data.candidate_dirs()) for s in data.SOURCES.values())
needs_data = pytest.mark.skipif(not have_data, reason="no local copy of the UCI data")


def _zip_source(tmp_path, payload: bytes, recorded: bytes):
    archive = tmp_path / "origin.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("inner/t.data", payload)
    return data.Source("t", archive.as_uri(), (data.RawFile("t.data", hashlib.sha256(recorded).hexdigest()),))


def test_fetch_extracts_and_checks_the_files_sha256(tmp_path, monkeypatch):
    monkeypatch.setitem(data.SOURCES, "t", _zip_source(tmp_path, b"1,2\n", b"1,2\n"))
    out = data.fetch("t", dest=tmp_path / "cache")
    assert out["t.data"].read_bytes() == b"1,2\n"


def test_fetch_refuses_a_file_whose_checksum_differs(tmp_path, monkeypatch):
    monkeypatch.setitem(data.SOURCES, "t", _zip_source(tmp_path, b"1,2\n", b"tampered"))
    with pytest.raises(DataError, match="checksum mismatch"):
        data.fetch("t", dest=tmp_path / "cache")
    assert not (tmp_path / "cache" / "t" / "t.data").exists()

TABLE5 = {"adult": (29304, 3257, 16281), "default": (24000, 3000, 3000), "magic": (15216, 1902, 1902),
          "shoppers": (9864, 1233, 1233), "beijing": (35059, 4382, 4383)}


@needs_data
@pytest.mark.parametrize("name", sorted(TABLE5))
def test_difflm_split_has_table5_sizes(name):
    s = load_uci(name)
    sizes = s.info["split_sizes"]
    assert (sizes["train"], sizes["val"], sizes["test"]) == TABLE5[name]
    assert list(s.train.columns) == s.metadata.columns
    assert s.metadata.target in s.metadata.columns


@needs_data
def test_beijing_drops_missing_targets_after_the_split():
    s = load_uci("beijing")
    assert (len(s.train), len(s.test)) == (33406, 4178)      # spec: tabular_protocol.md §1.3
    assert s.train["pm2.5"].notna().all()
    assert s.metadata.task_type == "regression"
    assert {"year", "month", "day", "hour", "cbwd"} == set(s.metadata.categorical)


@needs_data
def test_adult_test_labels_match_train_labels():
    s = load_uci("adult")
    assert sorted(s.test["income"].unique()) == ["<=50K", ">50K"] == s.metadata.categories["income"]
    assert "?" in s.metadata.categories["workclass"]      # a legitimate category, leading space stripped


@needs_data
def test_shoppers_booleans_are_canonical():
    s = load_uci("shoppers")
    assert s.metadata.categories["Revenue"] == ["False", "True"]
    assert s.metadata.task_type == "binclass"


@needs_data
@pytest.mark.parametrize("name,sizes", [("adult", (32561, 16281)), ("default", (27000, 3000)),
                                        ("magic", (17117, 1902)), ("shoppers", (11097, 1233)),
                                        ("beijing", (37581, 4176))])
def test_tabsyn_split_sizes(name, sizes):
    s = load_uci(name, split="tabsyn")
    assert (len(s.train), len(s.test)) == sizes and s.val is None


@needs_data
def test_checksums_of_local_copies():
    for name, src in data.SOURCES.items():
        for f in src.files:
            path = data.locate(name, download=False).get(f.name)
            if path is not None:
                assert data.sha256(path) == f.sha256, f.name
