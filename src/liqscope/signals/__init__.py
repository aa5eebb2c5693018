"""Signals, alerts and the accuracy scorecard."""
