"""Live collection and file importers."""
