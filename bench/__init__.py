"""deviceflow's benchmarks: ``python -m bench`` (or ``make bench``); see ``bench/RESULTS.md``.

Every figure is a ratio against a baseline measured in the same run on the same machine:
absolute numbers alone mean little on a shared machine. Load goes to 127.0.0.1 only, and every
process the benchmark starts is stopped by it (by PID).
"""
