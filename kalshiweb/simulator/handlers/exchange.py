"""GET /exchange/status and /exchange/schedule: the simulated exchange is always open."""

from __future__ import annotations

from typing import Any

from kalshiweb.simulator.api import Request


class ExchangeHandlers:
    def get_exchange_status(self, req: Request) -> dict[str, Any]:
        return {"exchange_active": True, "trading_active": True, "intra_exchange_transfers_active": True}

    def get_exchange_schedule(self, req: Request) -> dict[str, Any]:
        day = [{"open_time": "00:00", "close_time": "23:59"}]
        week = {
            d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        }
        return {
            "schedule": {
                "standard_hours": [
                    {"start_time": "2020-01-01T00:00:00Z", "end_time": "2100-01-01T00:00:00Z", **week}
                ],
                "maintenance_windows": [],
            }
        }
