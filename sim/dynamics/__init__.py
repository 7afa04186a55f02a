"""Numba kernels of the adoption dynamics, one module per mechanism."""
