"""Venue adapters: one package per venue, same shape (parse, streams, rest, rules)."""
