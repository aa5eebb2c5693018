"""liqscope: exact, documented, validated liquidation heatmaps for crypto perpetual futures."""

__version__ = "0.1.0"
