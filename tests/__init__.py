"""The test suite, as a package: test modules import their helpers from ``tests.support``."""
