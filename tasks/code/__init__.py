"""`code`: continued pre-training on real vs synthetic Python code, scored on HumanEval / MBPP
(docs/spec/code_and_tool_protocol.md §1)."""
