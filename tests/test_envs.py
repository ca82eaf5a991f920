"""Methods in their own environment (harness.api.envs, harness/envs.py): build from a lock, run a script there,
refuse a missing environment before any work, keep the main environment free of the lock's pins."""
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from harness.api import DataError
from harness.api.envs import Environment, EnvironmentMissing, ExternalScriptError, run_script
from harness.envs import build

ROOT = Path(__file__).resolve().parent.parent


def test_build_from_an_empty_lock_then_run_and_fail_a_script(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFLM_ENVS_DIR", str(tmp_path / "envs"))
    lock = tmp_path / "tiny.lock"
    lock.write_text("# nothing pinned: the venv alone\n")
    env = Environment(name="tiny", lock=lock, python=f"{sys.version_info[0]}.{sys.version_info[1]}",
                      check="import json", versions=("pip",))
    with pytest.raises(EnvironmentMissing, match="python -m harness env tiny"):
        env.require("m")
    info = build(env, quiet=True)
    assert env.ready() and info["lock_hash"] == env.lock_hash() and info["versions"]["pip"]
    assert env.root().parent == tmp_path / "envs" and env.root().name == f"tiny-{env.lock_hash()}"
    script = tmp_path / "s.py"
    script.write_text("import sys, pathlib\npathlib.Path(sys.argv[1]).write_text(sys.executable)\nprint('hello')\n")
    run_script(env, script, [tmp_path / "out.txt"], log=tmp_path / "log.txt", quiet=True)
    assert (tmp_path / "out.txt").read_text().startswith(str(env.root()))    # its interpreter, not ours
    assert "hello" in (tmp_path / "log.txt").read_text()
    script.write_text("print('about to fail')\nraise SystemExit(3)\n")
    with pytest.raises(ExternalScriptError, match="(?s)exit 3.*about to fail"):
        run_script(env, script, ["x"], quiet=True)
    lock.write_text("# another lock is another environment\n")
    assert not env.ready()


def test_wrong_python_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DIFFLM_ENVS_DIR", str(tmp_path / "envs"))
    lock = tmp_path / "x.lock"
    lock.write_text("")
    with pytest.raises(DataError, match="resolved for Python 2.7"):
        build(Environment(name="old", lock=lock, python="2.7"))


def test_missing_environment_refused_in_one_line_before_any_work(tmp_path):
    store = tmp_path / "runs"
    env = dict(os.environ, DIFFLM_ENVS_DIR=str(tmp_path / "no-envs"))
    r = subprocess.run([sys.executable, "-m", "harness", "run", "--task", "adult", "--methods",
                        "tabddpm,arf,bayesnet,nflow", "--profile", "cpu", "--seeds", "0", "--store", str(store)],
                       cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "python -m harness env synthcity" in lines[0]
    assert "tabddpm, arf, bayesnet, nflow need the synthcity environment" in lines[0]
    assert not list(store.glob("**/record.json"))
    listing = subprocess.run([sys.executable, "-m", "harness", "env"], cwd=ROOT, capture_output=True, text=True,
                             env=env, timeout=300)
    assert listing.returncode == 0 and "synthcity: not built" in listing.stdout


def test_main_environment_has_none_of_synthcitys_pins():
    """The default install keeps our stack: no synthcity, and the lock's torch/numpy pins are not ours."""
    with pytest.raises(metadata.PackageNotFoundError):
        metadata.version("synthcity")
    lock = dict(line.split("==") for line in (ROOT / "methods/synthcity/synthcity.lock").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    assert lock["synthcity"] == "0.2.12" and lock["opacus"] == "1.5.2"
    assert metadata.version("torch").split("+")[0] != lock["torch"]
    assert "synthcity" not in (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[0]
