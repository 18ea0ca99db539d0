"""Exports headquarters pulls: submissions by feed position, progress and follow-up tables."""
