"""Analysis on top of the model core: comparisons, statistics, sweeps, sensitivity, calibration.

Imports flow one way: ``sim.analysis`` may import the core (``sim.*``), never ``sim.views``.
"""
