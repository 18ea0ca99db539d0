"""Who may do what: users, devices, API keys, scopes, password hashing and login throttles."""
