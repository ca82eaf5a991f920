"""`ctgan`: the CTGAN library's CTGAN (Xu et al. 2019), wrapped, not rewritten.

Profiles: `cpu`, `gpu` and `paper` use the library defaults (300 epochs, batch 500, dims (256, 256)), so they
are one profile (`Method.resolve_profile`: their runs are `cpu` runs);
`smoke` trains for a couple of epochs. The TabSyn harness's larger CTGAN settings are not known to
have produced the paper's row (spec: tabular_protocol.md §5.2), so we keep the library's.
"""
from __future__ import annotations

import torch

from methods.ctgan_family import CTGANFamily, show_progress


class CTGANMethod(CTGANFamily):
    name = "ctgan"
    _library_class = "CTGAN"
    profiles = {"smoke": {"epochs": 2, "batch_size": 50}, "cpu": {}, "gpu": {}, "paper": {}}
    # adult, 2 CPU cores: fit 24 min in two of three seeds (the third ran 96 min on a loaded machine)
    # per job, for cluster executors (harness/executors)
    resources = {"cpu": {"cpus": 2, "memory_gb": 4}, "gpu": {"cpus": 2, "gpus": 1, "memory_gb": 8}}
    cost = {"smoke": "seconds", "cpu": "~25 min on adult, 2 cores", "gpu": "minutes on one GPU (the cpu profile's params)",
            "paper": "~25 min on adult, 2 cores (the cpu profile's params)"}

    def __init__(self, epochs: int = 300, batch_size: int = 500, embedding_dim: int = 128,
                 generator_dim: tuple = (256, 256), discriminator_dim: tuple = (256, 256), pac: int = 10,
                 seed: int = 0):
        self.epochs, self.batch_size, self.embedding_dim = epochs, batch_size, embedding_dim
        self.generator_dim, self.discriminator_dim, self.pac, self.seed = generator_dim, discriminator_dim, pac, seed

    def _make(self, cls):
        return cls(epochs=self.epochs, batch_size=self.batch_size, embedding_dim=self.embedding_dim,
                   generator_dim=tuple(self.generator_dim), discriminator_dim=tuple(self.discriminator_dim),
                   pac=self.pac, verbose=show_progress(), enable_gpu=torch.cuda.is_available())
