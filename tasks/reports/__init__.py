"""Leaderboard sections owned by task families (called by `harness leaderboard` through the task classes)."""
