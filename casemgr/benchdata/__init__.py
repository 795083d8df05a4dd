"""Synthetic data at scale: `flask bench-data --clients N` builds a fictitious facility
network (staff, groups, clients, episodes and their records) for benchmarks."""
