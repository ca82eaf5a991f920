"""Built-in methods, registered lazily by "module:Class" (importing a backend only when named).

Third-party packages add methods through the `difflm_bench.methods` entry-point group.
"""
from harness.api import Method
from harness.api.registry import Registry

METHODS = Registry("method", entry_point_group="difflm_bench.methods", base=Method)
for _name, _target in {
    "real": "methods.real:RealMethod",
    "smote": "methods.smote:SMOTEMethod",
    "ctgan": "methods.ctgan:CTGANMethod",
    "tvae": "methods.tvae:TVAEMethod",
    "tabsyn": "methods.tabsyn:TabSynMethod",
    "great": "methods.great:GReaTMethod",
    "difflm": "methods.difflm:DiffLMMethod",
    "difflm-memory": "methods.difflm:DiffLMMemory",
    "difflm-embed": "methods.difflm:DiffLMEmbed",
    "difflm-cycle": "methods.difflm:DiffLMCycle",
    "difflm-nodiff": "methods.difflm:DiffLMNoDiff",
    # synthcity's plugins, run in synthcity's own environment (`python -m harness env synthcity`)
    "tabddpm": "methods.synthcity.baselines:TabDDPMMethod",
    "arf": "methods.synthcity.baselines:ARFMethod",
    "bayesnet": "methods.synthcity.baselines:BayesNetMethod",
    "nflow": "methods.synthcity.baselines:NFlowMethod",
}.items():
    METHODS.add(_name, _target)
