"""Speed and memory benchmarks, run side by side by `make bench` (python -m benchmarks)."""
