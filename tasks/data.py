"""Where the raw UCI files come from: a local data dir, or the UCI origin with a sha256 check.

Lookup order: $HARNESS_DATA_DIR (an explicit choice wins), then a `shared/data` folder beside the checkout
(where the project's verified copies are laid out), then a download cache (~/.cache/difflm-bench/data). Each
dataset's provenance and checksums: docs/data/<name>.md.
"""
from __future__ import annotations

import hashlib
import io
import os
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness.api import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RawFile:
    name: str          # file name inside the dataset folder
    sha256: str        # of the file itself (not of the zip); from the dataset's SOURCE.md
    member: str = ""   # name inside the UCI zip when it differs


@dataclass(frozen=True)
class Source:
    folder: str
    url: str                      # UCI static zip
    files: tuple[RawFile, ...]
    alternatives: tuple[RawFile, ...] = ()   # accepted instead of `files` (Default: xls vs csv export)


SOURCES = {
    "adult": Source("adult", "https://archive.ics.uci.edu/static/public/2/adult.zip", (
        RawFile("adult.data", "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"),
        RawFile("adult.test", "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"))),
    "default": Source("default", "https://archive.ics.uci.edu/static/public/350/default+of+credit+card+clients.zip", (
        RawFile("default of credit card clients.csv",
                "bf15b02eb5a2c34f01f6d071083ecb7b8f4e803a4280a7ef497903d84c791c48"),), alternatives=(
        # the UCI zip holds the original xls; its hash is the one recorded in docs/data/default.md
        RawFile("default of credit card clients.xls",
                "30c6be3abd8dcfd3e6096c828bad8c2f011238620f5369220bd60cfc82700933"),)),
    "magic": Source("magic", "https://archive.ics.uci.edu/static/public/159/magic+gamma+telescope.zip", (
        RawFile("magic04.data", "e9314b7ebd4b4b59a3b3d65f7316663963777b16a46786877651dbbaa640b36a"),)),
    "shoppers": Source("shoppers", "https://archive.ics.uci.edu/static/public/468/"
                       "online+shoppers+purchasing+intention+dataset.zip", (
        RawFile("online_shoppers_intention.csv",
                "b3055ee355f59134d851d32641183cb4a8b45def7124d2f50442a042f358e0d9"),)),
    "beijing": Source("beijing", "https://archive.ics.uci.edu/static/public/381/beijing+pm2+5+data.zip", (
        RawFile("PRSA_data_2010.1.1-2014.12.31.csv",
                "4127f868775e31b3956522adc0ec75af8937dde6a3896e8beed3a376c6d27f1c"),)),
}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def candidate_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HARNESS_DATA_DIR"):
        dirs.append(Path(os.environ["HARNESS_DATA_DIR"]))
    dirs.append(REPO_ROOT.parent / "shared" / "data")      # the verified copies beside a checkout, where present
    return dirs


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "difflm-bench" / "data"


def locate(name: str, *, download: bool = True) -> dict[str, Path]:
    """Paths of a dataset's raw files, downloading (and checking) them if no local copy exists."""
    src = SOURCES[name]
    for base in candidate_dirs() + [cache_dir()]:
        for files in (src.files, src.alternatives):
            paths = {f.name: base / src.folder / f.name for f in files}
            if files and all(p.exists() for p in paths.values()):
                return paths
    if not download:
        raise DataError(f"no local copy of {name!r} in {[str(d) for d in candidate_dirs()]}")
    return fetch(name)


def download(url: str, path: Path, *, sha256_hex: str | None = None, desc: str = "") -> Path:
    """One file from its public origin into `path` (atomically), checked against its sha256 when known."""
    from tqdm import tqdm

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as r, open(tmp, "wb") as f:
            total = int(r.headers.get("Content-Length") or 0)
            with tqdm(total=total, unit="B", unit_scale=True, desc=desc or f"download {path.name}") as bar:
                for block in iter(lambda: r.read(1 << 16), b""):
                    f.write(block)
                    bar.update(len(block))
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise DataError(f"could not download {url}: {e}; put the file at {path} (or in $HARNESS_DATA_DIR) "
                        f"instead") from e
    if sha256_hex and sha256(tmp) != sha256_hex:
        tmp.unlink()
        raise DataError(f"checksum mismatch for {url}")
    tmp.rename(path)
    return path


def fetch(name: str, dest: Path | None = None) -> dict[str, Path]:
    """Download a dataset's UCI zip, extract its files and verify their sha256."""
    from tqdm import tqdm

    src = SOURCES[name]
    dest = (dest or cache_dir()) / src.folder
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with urllib.request.urlopen(src.url, timeout=60) as r:
            total = int(r.headers.get("Content-Length") or 0)
            buf = io.BytesIO()
            with tqdm(total=total, unit="B", unit_scale=True, desc=f"download {name}") as bar:
                for block in iter(lambda: r.read(1 << 16), b""):
                    buf.write(block)
                    bar.update(len(block))
    except OSError as e:
        raise DataError(f"could not download {name} from {src.url}: {e}; "
                        f"put the files in $HARNESS_DATA_DIR/{src.folder}/ instead") from e
    with zipfile.ZipFile(buf) as zf:
        members = {Path(m).name: m for m in zf.namelist()}
        for files in (src.files, src.alternatives):
            if files and all(f.name in members for f in files):
                break
        else:
            raise DataError(f"{src.url} does not hold {[f.name for f in src.files]}")
        out = {}
        for f in files:
            path = dest / f.name
            path.write_bytes(zf.read(members[f.name]))
            if sha256(path) != f.sha256:
                path.unlink()
                raise DataError(f"checksum mismatch for {f.name} from {src.url}")
            out[f.name] = path
    return out
