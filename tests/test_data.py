"""Loader tests against the verified copies in ../shared/data (skipped where that folder is absent)."""
import pytest

from tasks import data
from tasks.tabular import load_uci

have_data = all(any((d / s.folder).is_dir() for d in data.candidate_dirs()) for s in data.SOURCES.values())
pytestmark = pytest.mark.skipif(not have_data, reason="no local copy of the UCI data")

TABLE5 = {"adult": (29304, 3257, 16281), "default": (24000, 3000, 3000), "magic": (15216, 1902, 1902),
          "shoppers": (9864, 1233, 1233), "beijing": (35059, 4382, 4383)}


@pytest.mark.parametrize("name", sorted(TABLE5))
def test_difflm_split_has_table5_sizes(name):
    s = load_uci(name)
    sizes = s.info["split_sizes"]
    assert (sizes["train"], sizes["val"], sizes["test"]) == TABLE5[name]
    assert list(s.train.columns) == s.metadata.columns
    assert s.metadata.target in s.metadata.columns


def test_beijing_drops_missing_targets_after_the_split():
    s = load_uci("beijing")
    assert (len(s.train), len(s.test)) == (33406, 4178)      # spec: tabular_protocol.md §1.3
    assert s.train["pm2.5"].notna().all()
    assert s.metadata.task_type == "regression"
    assert {"year", "month", "day", "hour", "cbwd"} == set(s.metadata.categorical)


def test_adult_test_labels_match_train_labels():
    s = load_uci("adult")
    assert sorted(s.test["income"].unique()) == ["<=50K", ">50K"] == s.metadata.categories["income"]
    assert "?" in s.metadata.categories["workclass"]      # a legitimate category, leading space stripped


def test_shoppers_booleans_are_canonical():
    s = load_uci("shoppers")
    assert s.metadata.categories["Revenue"] == ["False", "True"]
    assert s.metadata.task_type == "binclass"


@pytest.mark.parametrize("name,sizes", [("adult", (32561, 16281)), ("default", (27000, 3000)),
                                        ("magic", (17117, 1902)), ("shoppers", (11097, 1233)),
                                        ("beijing", (37581, 4176))])
def test_tabsyn_split_sizes(name, sizes):
    s = load_uci(name, split="tabsyn")
    assert (len(s.train), len(s.test)) == sizes and s.val is None


def test_checksums_of_local_copies():
    for name, src in data.SOURCES.items():
        for f in src.files:
            path = data.locate(name, download=False).get(f.name)
            if path is not None:
                assert data.sha256(path) == f.sha256, f.name
