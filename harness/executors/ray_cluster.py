"""`--executor ray`: one Ray task per job on a Ray cluster (`--ray-address`, default `auto`), or on an embedded
local Ray when no cluster is running. Each task asks for the method's declared resources of its profile
(num_cpus, num_gpus, memory) and runs the job's worker process on whatever node Ray picks; the store must be on a
filesystem every node mounts at the same path. When a node is lost mid-job, Ray runs the task again elsewhere
(`max_retries`); the lost worker dies with its Ray worker (harness/executors/process.py) and its lease goes stale,
so the retry takes the job over and resumes it from its saved state, and the record is written by one attempt.
"""
from __future__ import annotations

import os
from pathlib import Path

from harness.api import DataError
from harness.executors.base import Outcome, missing_extra
from harness.executors.process import run_worker

MAX_RETRIES = 3


def _job(spec_path: str, timeout_s, threads) -> dict:
    import ray

    os.environ["HARNESS_RAY_NODE_ID"] = ray.get_runtime_context().get_node_id()
    return run_worker(spec_path, executor="ray", timeout_s=timeout_s, threads=threads)


class RayExecutor:
    name = "ray"

    def __init__(self, options):
        if "RAY_AUTH_MODE" not in os.environ and (Path.home() / ".ray" / "auth_token").exists():
            os.environ["RAY_AUTH_MODE"] = "token"    # a cluster started with Ray's default token auth (read at import)
        try:
            import ray  # noqa: F401
        except ImportError:
            raise DataError(missing_extra("ray", "ray")) from None
        self.options = options
        self.started_here = False

    def connect(self):
        import ray

        if ray.is_initialized():
            return
        address = self.options.ray_address or os.environ.get("RAY_ADDRESS") or "auto"
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")]))}}
        try:
            ray.init(address=address, runtime_env=env, log_to_driver=False)
        except ConnectionError:
            if self.options.ray_address:          # the user named a cluster: do not start another one silently
                raise DataError(f"no Ray cluster at {address}") from None
            ray.init(runtime_env=env, log_to_driver=False, include_dashboard=False)   # embedded, this machine
            self.started_here = True

    def describe(self) -> str:
        self.connect()
        import ray

        where = "an embedded local Ray" if self.started_here else f"the Ray cluster at {ray.get_runtime_context().gcs_address}"
        cpus = ray.cluster_resources().get("CPU", 0)
        return f"{where} ({len(ray.nodes())} node{'s' * (len(ray.nodes()) != 1)}, {cpus:.0f} CPUs)"

    def run(self, works, on_done):
        import ray

        self.connect()
        remote = ray.remote(_job)
        refs, alive = {}, [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        most = {k: max((n.get(k, 0) for n in alive), default=0) for k in ("CPU", "GPU")}
        for w in works:
            r = dict(w.resources)
            if r["gpus"] > most["GPU"]:
                raise DataError(f"{w.label} needs {r['gpus']} GPU(s) and no node of this Ray cluster has one")
            if r["cpus"] > most["CPU"]:       # a laptop's small nodes: run it on the largest rather than never
                print(f"{w.label}: asks for {r['cpus']} CPUs, the largest node has {most['CPU']:.0f}; using that",
                      flush=True)
                r["cpus"] = most["CPU"]
            opts = {"num_cpus": r["cpus"], "num_gpus": r["gpus"], "max_retries": MAX_RETRIES}
            if r.get("memory_gb"):
                opts["memory"] = int(r["memory_gb"] * 2**30)
            threads = self.options.threads or r["cpus"]
            refs[remote.options(**opts).remote(str(w.spec_path), self.options.job_timeout_s, threads)] = w
        outcomes, pending = [], list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                w = refs[ready[0]]
                try:
                    res = ray.get(ready[0])
                    outcome = Outcome(w, res["status"], res["seconds"], res)
                except ray.exceptions.RayError as e:   # retries spent (node lost every time), or cancelled
                    from harness.executors.process import mark_ended
                    status = mark_ended(w.spec_path, f"Ray task failed: {type(e).__name__}")
                    outcome = Outcome(w, status, 0.0, {"reason": f"{type(e).__name__}: {str(e).splitlines()[0]}"})
                outcomes.append(outcome)
                on_done(outcome)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            if self.started_here:
                ray.shutdown()
        return outcomes
