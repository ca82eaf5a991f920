"""difflm-bench: benchmark harness for LLM-driven synthetic data generation."""
__version__ = "0.1.0"
