"""gdsim benchmarks: ``python -m benchmarks`` runs all and prints one table (see benchmarks/run.py)."""
