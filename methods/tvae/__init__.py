"""`tvae`: the CTGAN library's TVAE, with the library defaults for `cpu`/`paper` (300 epochs)."""
from __future__ import annotations

import torch

from methods.ctgan_family import CTGANFamily, show_progress


class TVAEMethod(CTGANFamily):
    name = "tvae"
    _library_class = "TVAE"
    profiles = {"smoke": {"epochs": 2, "batch_size": 50}, "cpu": {}, "gpu": {}, "paper": {}}
    # adult, 2 CPU cores: fit 9-10 min in two of three seeds (the third ran 33 min on a loaded machine)
    # per job, for cluster executors (harness/executors)
    resources = {"cpu": {"cpus": 2, "memory_gb": 4}, "gpu": {"cpus": 2, "gpus": 1, "memory_gb": 8}}
    cost = {"smoke": "seconds", "cpu": "~10 min on adult, 2 cores", "gpu": "minutes on one GPU (the cpu profile's params)",
            "paper": "~10 min on adult, 2 cores (the cpu profile's params)"}

    def __init__(self, epochs: int = 300, batch_size: int = 500, embedding_dim: int = 128,
                 compress_dims: tuple = (128, 128), decompress_dims: tuple = (128, 128), seed: int = 0):
        self.epochs, self.batch_size, self.embedding_dim = epochs, batch_size, embedding_dim
        self.compress_dims, self.decompress_dims, self.seed = compress_dims, decompress_dims, seed

    def _make(self, cls):
        return cls(epochs=self.epochs, batch_size=self.batch_size, embedding_dim=self.embedding_dim,
                   verbose=show_progress(), compress_dims=tuple(self.compress_dims), decompress_dims=tuple(self.decompress_dims),
                   enable_gpu=torch.cuda.is_available())
