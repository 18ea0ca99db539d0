"""The tests' plugins (``tests/kit``): both databases, an app per test, a small world of users
and phones, a real server process, and a PostgreSQL server of their own to restart."""

pytest_plugins = [
    "kit.databases",
    "kit.world",
    "kit.reporting",
    "kit.live",
    "kit.pg_cluster",
    "kit.chaos_report",
]
