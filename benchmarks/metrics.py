"""Compatibility re-export: the metrics live in ``avfmae.metrics`` (one module for training and reporting).
New code imports ``avfmae.metrics``; this shim can go once nothing imports ``benchmarks.metrics``."""
from avfmae.metrics import *  # noqa: F401,F403
from avfmae.metrics import __all__  # noqa: F401
