"""The synthcity plugins we run, each with smoke / cpu / paper profiles in synthcity's own parameter names.

cpu profiles are synthcity's defaults unless a line says why; `paper` is the setting the TabSyn repository ran
TabDDPM with on adult where known (baselines/tabddpm/configs/adult.toml: 100k steps at batch 4096, lr 1.8e-3,
weight decay 5e-4, MLP [1024, 2048, 2048, 1024], 1,000 timesteps), and synthcity's defaults elsewhere.
"""
from __future__ import annotations

from methods.synthcity import SynthcityMethod


class TabDDPMMethod(SynthcityMethod):
    """TabDDPM (Kotelnikov et al. 2023): Gaussian diffusion for numbers, multinomial diffusion for categories."""

    name, plugin = "tabddpm", "ddpm"
    profiles = {"smoke": {"n_iter": 2, "num_timesteps": 20, "batch_size": 256, "n_units_hidden": 64},
                "cpu": {},
                # synthcity's MLP has one width: 4 x 1024 stands in for TabSyn's [1024, 2048, 2048, 1024];
                # n_iter counts epochs there, 10k epochs ~ 80k steps on adult at batch 4096
                "paper": {"n_iter": 10_000, "lr": 0.0018, "weight_decay": 5e-4, "batch_size": 4096,
                          "n_layers_hidden": 4, "n_units_hidden": 1024}}
    cost = {"smoke": "seconds", "cpu": "minutes on 2 cores", "paper": "hours on one GPU"}

    def __init__(self, n_iter: int = 1000, lr: float = 0.002, weight_decay: float = 1e-4, batch_size: int = 1024,
                 num_timesteps: int = 1000, n_layers_hidden: int = 3, n_units_hidden: int = 256, seed: int = 0):
        self.n_iter, self.lr, self.weight_decay, self.batch_size = n_iter, lr, weight_decay, batch_size
        self.num_timesteps, self.n_layers_hidden, self.n_units_hidden = num_timesteps, n_layers_hidden, n_units_hidden
        self.seed = seed

    def plugin_params(self) -> dict:
        return {"n_iter": self.n_iter, "lr": self.lr, "weight_decay": self.weight_decay,
                "batch_size": self.batch_size, "num_timesteps": self.num_timesteps,
                "model_params": {"n_layers_hidden": self.n_layers_hidden, "n_units_hidden": self.n_units_hidden,
                                 "dropout": 0.0}}


class ARFMethod(SynthcityMethod):
    """Adversarial random forests (Watson et al. 2023): a forest refined against a discriminator, then density
    estimates per leaf."""

    name, plugin = "arf", "arf"
    profiles = {"smoke": {"num_trees": 5, "max_iters": 2}, "cpu": {}, "paper": {}}
    cost = {"smoke": "seconds", "cpu": "about a minute on 2 cores", "paper": "about a minute on 2 cores"}

    def __init__(self, num_trees: int = 30, max_iters: int = 10, min_node_size: int = 5, seed: int = 0):
        self.num_trees, self.max_iters, self.min_node_size, self.seed = num_trees, max_iters, min_node_size, seed

    def plugin_params(self) -> dict:
        return {"num_trees": self.num_trees, "max_iters": self.max_iters, "min_node_size": self.min_node_size}


class BayesNetMethod(SynthcityMethod):
    """A Bayesian network (pgmpy structure search, tree search with the K2 score) over the table's columns."""

    name, plugin = "bayesnet", "bayesian_network"
    tags = {**SynthcityMethod.tags, "keep_fitted": False}       # fits in seconds
    # numeric_bins: synthcity keeps every distinct number as a state, and an edge between two numeric columns
    # with ~20k values each (default's bill amounts) took 15 GB and growing; 20 quantile bins, each drawn back
    # as a training value from its bin (remote.py), is how Bayesian-network synthesisers (PrivBayes) handle it
    profiles = {"smoke": {"encoder_max_clusters": 3, "numeric_bins": 8}, "cpu": {}, "paper": {}}
    cost = {"smoke": "seconds", "cpu": "about a minute on 2 cores", "paper": "about a minute on 2 cores"}
    params_before = {"numeric_bins": None}     # records from before binning kept every value as a state

    def __init__(self, struct_learning_search_method: str = "tree_search", struct_learning_score: str = "k2",
                 struct_max_indegree: int = 4, encoder_max_clusters: int = 10, numeric_bins: int | None = 20,
                 seed: int = 0):
        self.struct_learning_search_method, self.struct_learning_score = struct_learning_search_method, struct_learning_score
        self.struct_max_indegree, self.encoder_max_clusters, self.seed = struct_max_indegree, encoder_max_clusters, seed
        self.numeric_bins = numeric_bins

    def plugin_params(self) -> dict:
        return {"struct_learning_search_method": self.struct_learning_search_method,
                "struct_learning_score": self.struct_learning_score,
                "struct_max_indegree": self.struct_max_indegree, "encoder_max_clusters": self.encoder_max_clusters}

    def job_options(self) -> dict:
        return {"numeric_bins": self.numeric_bins}


class NFlowMethod(SynthcityMethod):
    """Neural spline flows (Durkan et al. 2019) over synthcity's tabular encoding."""

    name, plugin = "nflow", "nflow"
    # cpu: 100 epochs, where synthcity's own early stopping would first look (n_iter_min); its default 1,000
    # epochs take ~4.5 s each on adult's 26k rows on 2 cores (over an hour)
    profiles = {"smoke": {"n_iter": 2}, "cpu": {}, "paper": {"n_iter": 1000}}
    cost = {"smoke": "seconds", "cpu": "about 10 minutes on 2 cores", "paper": "over an hour on 2 cores"}

    def __init__(self, n_iter: int = 100, batch_size: int = 200, lr: float = 1e-3, n_layers_hidden: int = 1,
                 n_units_hidden: int = 100, num_transform_blocks: int = 1, seed: int = 0):
        self.n_iter, self.batch_size, self.lr, self.n_layers_hidden = n_iter, batch_size, lr, n_layers_hidden
        self.n_units_hidden, self.num_transform_blocks, self.seed = n_units_hidden, num_transform_blocks, seed

    def plugin_params(self) -> dict:
        return {"n_iter": self.n_iter, "batch_size": self.batch_size, "lr": self.lr,
                "n_layers_hidden": self.n_layers_hidden, "n_units_hidden": self.n_units_hidden,
                "num_transform_blocks": self.num_transform_blocks}
