"""`--executor local --jobs N`: N worker processes at once on this machine, each with cores/N threads."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed

from harness.executors.base import Outcome, default_threads
from harness.executors.process import run_worker, stop_all


class LocalExecutor:
    name = "local"

    def __init__(self, options):
        self.options = options

    def describe(self) -> str:
        return f"local, {self.options.jobs} at once"

    def run(self, works, on_done):
        """Run every Work; calls on_done(outcome) as each ends (in this thread); returns the outcomes."""
        n = max(1, self.options.jobs)
        threads = self.options.threads or default_threads(n)
        outcomes = []

        def one(w):
            res = run_worker(w.spec_path, executor="local", timeout_s=self.options.job_timeout_s, threads=threads)
            return Outcome(w, res["status"], res["seconds"], res)

        with ThreadPoolExecutor(max_workers=n, thread_name_prefix="harness-job") as pool:
            futures = [pool.submit(one, w) for w in works]
            try:
                for f in as_completed(futures):
                    outcomes.append(f.result())
                    on_done(outcomes[-1])
            except BaseException:          # Ctrl-C: queued jobs never start, running ones stop and say so
                for f in futures:
                    f.cancel()
                stop_all()
                raise
        return outcomes
