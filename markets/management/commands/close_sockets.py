from __future__ import annotations

import json
import time
from typing import Any

import redis
from django.conf import settings
from django.core.management.base import BaseCommand

from markets.hub import REFUSE_KEY, control_channel


class Command(BaseCommand):
    help = (
        "Close every browser market-data socket on every server (code 4012, service restart: browsers "
        "reconnect by themselves and poll meanwhile). With --refuse-for N, new sockets are refused for N seconds."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--refuse-for", type=float, default=0.0, help="seconds to refuse reconnects")

    def handle(self, *args: Any, **options: Any) -> None:
        client = redis.Redis.from_url(settings.REDIS_URL)
        if options["refuse_for"] > 0:
            client.set(
                REFUSE_KEY, str(time.time() + options["refuse_for"]), ex=int(options["refuse_for"]) + 1
            )
        receivers = client.publish(control_channel(), json.dumps({"action": "close_all"}))
        self.stdout.write(f"asked {receivers} server process(es) to close their browser sockets")
