"""The first-contact diagnosis (kalshiweb.kalshi.diagnose) of a trader account's key on its exchange."""

from __future__ import annotations

from kalshiweb.exchange import run_blocking
from kalshiweb.kalshi.diagnose import FAIL, Check, diagnose
from trading.models import KalshiAccount


def check_account(account: KalshiAccount, step_timeout: float = 5.0) -> list[Check]:
    try:
        signer = account.signer()
    except (ValueError, OSError) as exc:
        return [
            Check(
                "key",
                FAIL,
                f"the account's private key cannot be loaded ({exc})",
                "paste it again in the admin",
            )
        ]
    base = account.urls()[0]
    return run_blocking(lambda: diagnose(base, signer=signer, step_timeout=step_timeout))
