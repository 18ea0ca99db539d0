"""What an admin sets up: org units, campaigns and targets, the audit log, the demo."""
