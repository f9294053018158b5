"""``cloud-receiver --config PATH <command>``.

Commands: ``keygen``, ``check-config``, ``migrate``, ``register-gateway``, ``run``,
``stats [--json]``, ``doctor``, ``ca ...`` (the MQTT certificate authority: :mod:`.ca_cli`;
``--config`` is needed there only for ``ca issue-gateway --register``). Exit codes: 0 ok, 1 failure, 2 usage/config error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
import time
from pathlib import Path

from shared_schema import envelope, sdnotify, topics
from shared_schema.typed_config import ConfigError

from . import __version__, ca_cli
from .config import ReceiverConfig, load_config
from .store import GatewayKeyConflict, open_store

log = logging.getLogger("cloud_receiver")
CODE_CHARS = "A-Za-z0-9_.-"


def _setup_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def cmd_keygen(cfg: ReceiverConfig, args) -> int:
    path = Path(cfg.signing_key_file)
    key = envelope.generate_key()
    try:
        envelope.write_private_key(path, key)
    except FileExistsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(envelope.public_key_text(key))
    return 0


def cmd_check_config(cfg: ReceiverConfig, args) -> int:
    problems = []
    if not Path(cfg.signing_key_file).exists():
        problems.append(f"signing_key_file {cfg.signing_key_file} does not exist (run keygen)")
    try:
        if cfg.api.enabled and not cfg.api_tokens():
            problems.append("api is enabled but no tokens are configured")
    except ConfigError as exc:
        problems.append(str(exc))
    for label, f in (("ca_file", cfg.mqtt.ca_file), ("cert_file", cfg.mqtt.cert_file),
                     ("key_file", cfg.mqtt.key_file)):
        if f and not Path(f).is_file():
            problems.append(f"mqtt.{label} {f} does not exist")
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    print(f"config ok: receiver {cfg.receiver_id}, store {cfg.store.url.split('@')[-1]}, "
          f"mqtt {cfg.mqtt.host}:{cfg.mqtt.port}{' (TLS)' if cfg.mqtt.tls else ''}")
    return 0


def cmd_migrate(cfg: ReceiverConfig, args) -> int:
    store = open_store(cfg.store.url)
    try:
        applied = store.migrate()
        print(f"schema version {store.schema_version()} (applied now: {applied or 'none'})")
    finally:
        store.close()
    return 0


def cmd_register(cfg: ReceiverConfig, args) -> int:
    try:
        topics.check_gateway_id(args.gateway_id)
        if args.public_key_file:
            pub = envelope.public_key_text(envelope.read_public_key(Path(args.public_key_file)))
        else:
            pub = envelope.public_key_text(envelope.public_key_from_text(args.public_key))
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    store = open_store(cfg.store.url, migrate=True)
    try:
        outcome = store.register_gateway(args.gateway_id, pub, args.project_code, args.vendor, args.site,
                                         replace=args.replace, now=time.time())
    except GatewayKeyConflict as exc:
        print(f"error: {exc}; use --replace to replace the key", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(f"{outcome} gateway {args.gateway_id} (project {args.project_code}, key {pub[:16]}…)")
    return 0


def cmd_stats(cfg: ReceiverConfig, args) -> int:
    store = open_store(cfg.store.url)
    try:
        stats = store.stats()
    finally:
        store.close()
    if args.json:
        print(json.dumps(stats, sort_keys=True))
    else:
        for k, v in sorted(stats.items()):
            print(f"{k}: {v}")
    return 0


def cmd_doctor(cfg: ReceiverConfig, args) -> int:
    store = open_store(cfg.store.url)
    ok = store.ping()
    version = store.schema_version() if ok else 0
    store.close()
    print(f"store reachable: {ok}; schema version {version}")
    try:
        envelope.read_private_key(Path(cfg.signing_key_file))
        print("signing key: ok")
    except (OSError, ValueError) as exc:
        print(f"signing key: {exc}")
        ok = False
    return 0 if ok else 1


def cmd_run(cfg: ReceiverConfig, args) -> int:
    from aiohttp import web

    from .api import make_app
    from .api_anomalies import configure as configure_anomalies
    from .consumer import Consumer
    from .supervision.warnings import WarningHook
    from .sweep import Sweeper

    key = envelope.read_private_key(Path(cfg.signing_key_file))
    tokens = cfg.api_tokens()
    store = open_store(cfg.store.url, migrate=True)
    sweeper = Sweeper(store, cfg.gap_grace_s, cfg.sweep_interval_s,
                      hooks=[WarningHook(store, cfg.warnings, cfg.attendance)]).start()
    consumer = Consumer(cfg, store, key, sweeper).start()
    log.info("cloud-receiver %s (%s) running", __version__, cfg.receiver_id)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = None
        if cfg.api.enabled:
            app = make_app(store, tokens, silent_after_s=cfg.warnings.gateway_silent_s, page_size_max=cfg.api.page_size_max,
                           attendance_rules=cfg.attendance)
            configure_anomalies(app, cfg.anomalies)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, cfg.api.host, cfg.api.port)
            await site.start()
            log.info("api listening on %s:%s", cfg.api.host, runner.addresses[0][1] if runner.addresses else "?")
        sdnotify.notify("READY=1")
        # systemd watchdog: pinged from this event loop, and only while the MQTT thread lives,
        # so a hung loop or a dead consumer stops the pings and systemd restarts the service
        interval = sdnotify.watchdog_interval()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=interval or 3600.0)
            except asyncio.TimeoutError:
                if consumer.alive():
                    sdnotify.notify("WATCHDOG=1")
                else:
                    log.error("MQTT consumer thread is not running; withholding the watchdog ping")
        sdnotify.notify("STOPPING=1")
        log.info("shutting down")
        if runner is not None:
            await runner.cleanup()

    try:
        asyncio.run(serve())
    finally:
        consumer.stop()
        sweeper.stop()
        store.close()
    log.info("stopped")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cloud-receiver", description="Real-name attendance city receiver")
    p.add_argument("--config", help="TOML config file ([receiver] table); required except for `ca`")
    p.add_argument("--version", action="version", version=__version__)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("keygen", help="create the city ack-signing key (0600; never overwrites)")
    sub.add_parser("check-config", help="validate the config file")
    sub.add_parser("migrate", help="apply schema migrations")
    r = sub.add_parser("register-gateway", help="register (or update) a gateway's public key")
    r.add_argument("--gateway-id", required=True)
    k = r.add_mutually_exclusive_group(required=True)
    k.add_argument("--public-key", help="64 hex characters")
    k.add_argument("--public-key-file", help="file with the hex public key or a PEM private key")
    r.add_argument("--project-code", required=True)
    r.add_argument("--vendor", required=True)
    r.add_argument("--site")
    r.add_argument("--replace", action="store_true", help="allow replacing a different registered key")
    sub.add_parser("run", help="consumer + sweep + API until SIGTERM")
    s = sub.add_parser("stats", help="counts from the store")
    s.add_argument("--json", action="store_true")
    sub.add_parser("doctor", help="check store and key")
    ca_cli.add_parser(sub)
    return p


COMMANDS = {"keygen": cmd_keygen, "check-config": cmd_check_config, "migrate": cmd_migrate,
            "register-gateway": cmd_register, "run": cmd_run, "stats": cmd_stats, "doctor": cmd_doctor}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ca" and not ca_cli.needs_config(args):
        _setup_logging("WARNING")
        return ca_cli.run(args)
    if not args.config:
        parser.error("the following arguments are required: --config")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    _setup_logging(cfg.log_level)
    if args.command == "register-gateway":
        import re
        if not re.fullmatch(f"[{CODE_CHARS}]{{1,64}}", args.project_code):
            print("error: bad --project-code", file=sys.stderr)
            return 2
    if args.command == "ca":
        return ca_cli.run(args, cfg)
    return COMMANDS[args.command](cfg, args)


if __name__ == "__main__":
    sys.exit(main())
