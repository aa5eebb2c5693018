"""Instruments: what a contract is and how its size converts to base units and USD."""

from __future__ import annotations

from dataclasses import dataclass

from liqscope.domain.types import ContractType


@dataclass(frozen=True, slots=True)
class Instrument:
    """A perpetual contract on one venue.

    ``contract_size`` is what one contract is worth: base units for linear contracts
    (OKX BTC-USDT-SWAP: 0.01 BTC; Binance/Bybit linear: 1, sizes are already in base),
    USD for inverse contracts (Binance BTCUSD_PERP: 100 USD, others 10 USD).
    ``liq_fee_rate`` is a fee rate the venue adds to maintenance margin in its liquidation
    condition (OKX: the taker fee, as "liquidation fee"); 0 where the fee is not part of it.
    """

    venue: str
    symbol: str
    base: str
    quote: str
    contract_type: ContractType
    contract_size: float = 1.0
    liq_fee_rate: float = 0.0

    @property
    def inverse(self) -> bool:
        return self.contract_type is ContractType.INVERSE

    def base_qty(self, contracts: float, price: float) -> float:
        """Base units of ``contracts`` contracts at ``price``."""
        if self.inverse:
            return contracts * self.contract_size / price
        return contracts * self.contract_size

    def notional_usd(self, base_qty: float, price: float) -> float:
        """USD (quote) notional of ``base_qty`` base units at ``price``."""
        return base_qty * price
