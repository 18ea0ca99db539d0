"""Authentication: JWT access tokens, rotating refresh tokens, and who is asking."""
