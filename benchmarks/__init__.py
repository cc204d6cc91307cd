"""The benchmark suite behind `make bench` (never part of `make test`)."""
