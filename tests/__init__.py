"""Tests of chatkit-scaffold (a package, so helpers import as ``tests.fakes`` and so on)."""
