"""The Method contract: scikit-learn style params and profiles, fit(train, metadata) -> self, sample(n, seed).
Part of the kernel; import it from harness.api."""
from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar

from harness.api.metadata import Data, DataError, Metadata, modality_noun


class NotFittedError(RuntimeError):
    pass


class TooFewValidError(RuntimeError):
    """`sample` decoded rows but too few were valid (an LLM decoder): a shortfall in quality, not a crash.
    The runner's preflight, whose fit is far too short to write valid rows, counts it as a pass."""


class Method:
    """Base class of every generator: scikit-learn style params, fit(train, metadata) -> self, sample(n, seed).

    Subclasses declare keyword params with defaults in __init__ and store them verbatim. `profiles` maps a
    profile name (smoke / cpu / gpu / paper) to param overrides of __init__'s defaults; `cost` gives a rough
    cost per profile, shown before a run starts. `modalities` says which data the method takes ("table",
    "text", "code", "json").
    """

    name: ClassVar[str] = ""
    modalities: ClassVar[frozenset] = frozenset({"table"})
    # deterministic: the same rows for every sample seed. missing_values: "native" (fit gets NaN as they are)
    # or "indicator" (the runner encodes them with harness.api.missing's policy first; the default).
    # keep_fitted: the runner keeps the fitted method in the job's work_dir until the job is ok, so a failed
    # `sample` is retried without a refit (False for methods that take seconds or resume a fit by themselves).
    tags: ClassVar[dict] = {"deterministic": False, "missing_values": "indicator", "keep_fitted": True}
    profiles: ClassVar[dict[str, dict]] = {}
    # The profile a plain `Cls()` builds: __init__'s defaults equal `from_profile(default_profile)`
    # (tests/test_conformance.py checks it for every registered method).
    default_profile: ClassVar[str] = "cpu"
    cost: ClassVar[dict[str, str]] = {}
    # Overrides of the `smoke` profile for the runner's preflight: a fit + sample on ~200 training rows before a
    # long fit, so that a crash in `sample` shows in seconds. None: no preflight (the whole job takes seconds).
    preflight: ClassVar[dict | None] = {}
    no_preflight_why: ClassVar[str] = ""      # what `run` prints when preflight is None (default: "takes seconds")
    # What one job needs per profile, for executors that place jobs on a cluster (Ray's num_cpus/num_gpus/memory,
    # Slurm's cpus/gpus/mem): {"cpus": int, "gpus": int, "memory_gb": float}; unset keys take RESOURCES.
    resources: ClassVar[dict[str, dict]] = {}
    RESOURCES: ClassVar[dict] = {"cpus": 1, "gpus": 0, "memory_gb": 4}
    # A method whose libraries cannot live in our environment declares the one it runs in (harness.api.envs);
    # the runner refuses it before any work when that environment is not built.
    environment: ClassVar = None
    # A param added after records were made, whose default changes what the method does: the value the code
    # behaved as before the param existed. A stored record without the param counts as that value, not as
    # today's default, so an old record does not pose as a run of today's spec (see harness/rows.py).
    params_before: ClassVar[dict] = {}

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in sig.parameters.values() if p.name != "self" and p.kind in kinds]

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._param_names()}

    @classmethod
    def param_defaults(cls) -> dict:
        """Each param's value when unset (a config dict's fields flattened one level). A record made before a
        param existed ran with this value, unless `params_before` says what it ran with."""
        sig = inspect.signature(cls.__init__).parameters
        return {k: sig[k].default for k in cls._param_names() if sig[k].default is not inspect.Parameter.empty}

    @classmethod
    def profile_params(cls, profile: str) -> dict:
        """The profile's param overrides; a profile the method does not declare is an error naming those it has."""
        if profile not in cls.profiles:
            raise ValueError(f"{cls.name or cls.__name__} has no profile {profile!r}; its profiles: "
                             f"{', '.join(cls.profiles) or 'none'}")
        return dict(cls.profiles[profile])

    @classmethod
    def from_profile(cls, profile: str, **overrides) -> "Method":
        params = cls.profile_params(profile)
        params.update(overrides)
        unknown = set(params) - set(cls._param_names())
        if unknown:
            raise ValueError(f"{cls.name}: unknown params {sorted(unknown)}; params are {cls._param_names()}")
        return cls(**params)

    @classmethod
    def resources_for(cls, profile: str) -> dict:
        return {**cls.RESOURCES, **cls.resources.get(profile, {})}

    @classmethod
    def resolve_profile(cls, profile: str) -> str:
        """Identical profiles are one profile: the name of the first profile (the default one first) that builds
        the same method as `profile`, so that runs of equal models share job ids and leaderboard rows."""
        target = cls.from_profile(profile).get_params()
        for name in dict.fromkeys([cls.default_profile, *cls.profiles]):
            if name in cls.profiles and cls.from_profile(name).get_params() == target:
                return name
        return profile

    @classmethod
    def handles(cls, modality: str) -> bool:
        return modality in cls.modalities

    def fit(self, train: Data, metadata: Metadata, *, work_dir: Path | None = None,
            cache_dir: Path | None = None) -> "Method":
        """Train on `train`. `work_dir` is the same folder for every rerun of the same job (keep resumable
        state there); `cache_dir` is shared by all jobs of a store (state several jobs may reuse). Either
        may be None: keep nothing."""
        raise NotImplementedError

    def sample(self, n: int, *, seed: int = 0) -> Data:
        raise NotImplementedError

    def sample_budget(self, n_default: int) -> int:
        """How many rows to sample when the user did not say (default: as many as the training split).
        LLM decoders on a CPU profile cap this; the record then says n_samples < n_train."""
        return n_default

    def _check_input(self, train: Any, metadata: Metadata) -> None:
        """What every fit starts with: a modality this method handles, and data that fits its metadata."""
        if not self.handles(metadata.modality):
            raise DataError(f"{self.name or type(self).__name__} does not handle {modality_noun(metadata.modality)}")
        metadata.check(train)

    def _check_fitted(self) -> None:
        if not getattr(self, "fitted_", False):
            raise NotFittedError(f"{type(self).__name__}.sample called before fit")

    def extra_record(self) -> dict:
        """Method-specific facts for the run record (losses, valid-row rate, ...)."""
        return {}
