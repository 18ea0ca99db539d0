"""What the tests stand on, loaded as pytest plugins by ``tests/conftest.py``: both databases,
a world of users, phones, a real server process, a lossy proxy and a PostgreSQL to restart."""
