"""Writing many rows in few statements, upserts and advisory locks: what the hot paths share."""
