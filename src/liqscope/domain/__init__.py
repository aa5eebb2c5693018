"""Pure types and math: venues, sides, events, instruments, tiers, liquidation prices.

Nothing in here performs I/O or imports venues, api, cli or web.
"""
