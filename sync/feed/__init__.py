"""The change feed phones pull from, its positions and cursors, and the pull built on it."""
