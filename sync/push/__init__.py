"""The push path (``pipeline.run``) and the domains it merges into."""
