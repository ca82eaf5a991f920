"""`tools`: DiffLM and baselines write ToolBench-style API records; an OpenAI-compatible judge scores them alone and
against real ones (the paper's Table 3, Figure 2), with deterministic proxies when no judge is configured."""
