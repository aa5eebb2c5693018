"""The heatmap estimator: numba kernels over arrays, configuration, presets. No I/O."""
