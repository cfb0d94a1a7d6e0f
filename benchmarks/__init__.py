"""The evaluation suite: datasets, protocols, metrics, result store, executors, leaderboards."""
