"""The lead's review queue: reading it, and the decisions and corrections that change counts."""
