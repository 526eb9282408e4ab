"""What the trading app announces; the apps above it (portfolio) subscribe in their AppConfig.ready().

Each is sent with `sender=KalshiAccount` and the account's id as `account_id`.
"""

from __future__ import annotations

from django.dispatch import Signal

# A fill was stored for the account (sent inside the fill's transaction: a receiver defers its own work to
# the commit).
fill_recorded = Signal()

# The feed heard Kalshi's own figures for one of the account's markets (`market_positions`); also `ticker`.
position_changed = Signal()

# An order rested, filled, was canceled or expired on the exchange: the account's available cash changed there
# (sent after the commit).
cash_moved = Signal()
