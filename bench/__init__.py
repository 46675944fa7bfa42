"""Benchmarks of chatkit-scaffold and of the backends it generates (see ``bench.compare``)."""
