"""Progress: the counters kept by deltas, targets, the reads pages use, and verify's recount."""
