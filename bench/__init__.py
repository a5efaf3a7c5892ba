"""Benchmarks of the SCIM endpoint, run from the command line (see README, Benchmarks)."""
