"""``cloud-receiver --config PATH <command>``.

Commands: ``keygen``, ``check-config``, ``migrate``, ``register-gateway``, ``run``,
``stats [--json]``, ``doctor``, ``token create|list|revoke`` (scoped API tokens:
:mod:`.auth`), ``payroll-import`` (:mod:`.supervision.payroll_import`), ``upstream status|run-once``
(the national platform upload: :mod:`.upstream.cli`), ``ca ...`` (the MQTT certificate authority: :mod:`.ca_cli`;
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

from shared_schema import envelope, logfmt, sdnotify, topics
from shared_schema.typed_config import ConfigError

from . import __version__, ca_cli
from .config import ReceiverConfig, load_config
from .store import GatewayKeyConflict, open_store

log = logging.getLogger("cloud_receiver")
CODE_CHARS = "A-Za-z0-9_.-"


def _setup_logging(level: str, fmt: str = "text") -> None:
    logfmt.setup(level, fmt)      # text / json / logfmt lines on stderr (journald), ID numbers scrubbed


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
            problems.append("api is enabled but no bootstrap tokens are configured "
                            "(named tokens: `cloud-receiver token create`)")
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
    from .doctor import doctor   # pass/fail table: key, store, disk, API tokens, broker, NTP

    return doctor(cfg, broker_timeout=args.broker_timeout)


def cmd_token(cfg: ReceiverConfig, args) -> int:
    from .auth import issue_token

    store = open_store(cfg.store.url, migrate=True)
    try:
        if args.token_command == "create":
            scope = [s for part in (args.scope or []) for s in part.split(",")]
            try:
                token, row = issue_token(store, name=args.name, role=args.role, scope=scope, full_ids=args.full_ids,
                                         expires_in_s=args.expires_days * 86400.0 if args.expires_days else None,
                                         full_id_roles=tuple(cfg.api.full_id_roles))
            except ValueError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(f"token {row['name']} ({row['role']} {','.join(row['scope']) or '*'}) created; "
                  "it is shown once, store it now:", file=sys.stderr)
            print(token)
        elif args.token_command == "revoke":
            if not store.revoke_token(args.name, time.time()):
                print(f"error: no live token named {args.name}", file=sys.stderr)
                return 1
            print(f"revoked {args.name}")
        else:
            rows = store.list_tokens(include_revoked=args.all)
            if args.json:
                print(json.dumps(rows, ensure_ascii=False, sort_keys=True))
            for r in [] if args.json else rows:
                when = {k: time.strftime("%Y-%m-%d %H:%M", time.gmtime(r[k])) if r[k] else "-"
                        for k in ("created_at", "last_used_at", "revoked_at", "expires_at")}
                print(f"{r['name']}\t{r['role']}\t{','.join(r['scope']) or '*'}\trn1_{r['prefix']}…\t"
                      f"full_ids={r['full_ids']}\tcreated {when['created_at']}\tlast used {when['last_used_at']}\t"
                      f"expires {when['expires_at']}\trevoked {when['revoked_at']}")
    finally:
        store.close()
    return 0


def cmd_payroll_import(cfg: ReceiverConfig, args) -> int:
    from .supervision.payroll_import import ImportError_, import_payroll

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        print(f"error: cannot read {args.file} ({exc.strerror})", file=sys.stderr)
        return 2
    store = open_store(cfg.store.url, migrate=True)
    try:
        report = import_payroll(store, args.project_code, data, source=Path(args.file).name,
                                operator=args.operator, fmt=args.format, now=time.time())
    except ImportError_ as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
    print(json.dumps(report, ensure_ascii=False, sort_keys=True))
    return 0 if not report["rejected"] else 1


def cmd_roster_down(cfg: ReceiverConfig, args) -> int:
    from . import roster_down

    store = open_store(cfg.store.url, migrate=True)
    try:
        code, message = roster_down.cmd(store, args, time.time())
    finally:
        store.close()
    print(message, file=sys.stderr if code else sys.stdout)
    return code


def _upstream_hooks(cfg: ReceiverConfig, store) -> list:
    """The national platform upload (requirement 13) as a sweep-loop hook, when enabled."""
    if not cfg.upstream.enabled:
        return []
    import socket

    from .upstream.config import UpstreamConfigError
    from .upstream.job import UpstreamHook

    try:
        return [UpstreamHook(store, cfg.upstream, holder=f"{socket.gethostname()}:{cfg.receiver_id}")]
    except UpstreamConfigError as exc:   # the secret's content: read only now (see upstream.config)
        print(f"config error: receiver.upstream: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def cmd_upstream(cfg: ReceiverConfig, args) -> int:
    from .upstream import cli as upstream_cli   # status, run-once

    return upstream_cli.cmd(cfg, args)


def cmd_run(cfg: ReceiverConfig, args) -> int:
    from aiohttp import web

    from .api import make_app
    from .api_anomalies import configure as configure_anomalies
    from .api_wage import configure as configure_wage
    from .auth import AuthOptions
    from .supervision.wage_risk import WageRiskHook
    from .consumer import Consumer
    from .dashboard.daily import DailyHook
    from .supervision.warnings import WarningHook
    from .sweep import Sweeper

    key = envelope.read_private_key(Path(cfg.signing_key_file))
    tokens = cfg.api_tokens()
    store = open_store(cfg.store.url, migrate=True)
    sweeper = Sweeper(store, cfg.gap_grace_s, cfg.sweep_interval_s,
                      hooks=[WarningHook(store, cfg.warnings, cfg.attendance),
                             WageRiskHook(store, cfg.wage_risk, cfg.attendance),
                             # the dashboard's per-project daily figures for today
                             DailyHook(store, cfg.attendance, cfg.anomalies)] + _upstream_hooks(cfg, store)).start()
    consumer = Consumer(cfg, store, key, sweeper).start()
    from .retention import ReceiverRetention
    retention = ReceiverRetention(store, cfg.retention).start()   # head photos (APScheduler)
    log.info("cloud-receiver %s (%s) running", __version__, cfg.receiver_id)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        runner = None
        if cfg.api.enabled:
            a = cfg.api
            app = make_app(store, tokens, silent_after_s=cfg.warnings.gateway_silent_s, page_size_max=cfg.api.page_size_max,
                           attendance_rules=cfg.attendance, auth_options=AuthOptions(
                               full_id_roles=tuple(a.full_id_roles), fail_limit=a.auth_fail_limit,
                               fail_window_s=a.auth_fail_window_s, block_s=a.auth_block_s,
                               clients_max=a.auth_clients_max, trusted_proxies=tuple(a.trusted_proxies)))
            configure_wage(app, cfg.wage_risk, a.upload_max_bytes)
            configure_anomalies(app, cfg.anomalies)
            from .api_upstream import configure as configure_upstream
            configure_upstream(app, cfg.upstream.enabled)
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
        retention.stop()
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
    d = sub.add_parser("doctor", help="check key, store, disk, API tokens, broker and NTP (pass/fail table)")
    d.add_argument("--broker-timeout", type=float, default=3.0, help="seconds for the MQTT CONNACK")
    t = sub.add_parser("token", help="scoped API tokens (roles city / district / project)")
    tsub = t.add_subparsers(dest="token_command", required=True)
    tc = tsub.add_parser("create", help="create a token; printed once (only its SHA-256 is stored)")
    tc.add_argument("--name", required=True)
    tc.add_argument("--role", required=True, choices=("city", "district", "project"))
    tc.add_argument("--scope", action="append", help="district name, or project codes (repeat or comma-separate)")
    tc.add_argument("--full-ids", action="store_true", help="may see full ID numbers (roles in api.full_id_roles)")
    tc.add_argument("--expires-days", type=float, help="expire after this many days")
    tr = tsub.add_parser("revoke", help="revoke the live token of this name (at once)")
    tr.add_argument("--name", required=True)
    tl = tsub.add_parser("list", help="tokens (never their secrets)")
    tl.add_argument("--all", action="store_true", help="include revoked tokens")
    tl.add_argument("--json", action="store_true")
    pi = sub.add_parser("payroll-import", help="import a PayRollDetail CSV/XLSX for one project")
    pi.add_argument("--project-code", required=True)
    pi.add_argument("--file", required=True)
    pi.add_argument("--format", choices=("csv", "xlsx"), help="default: from the file's content")
    pi.add_argument("--operator", required=True)
    from . import roster_down
    roster_down.add_cli(sub)
    from .upstream import cli as upstream_cli
    upstream_cli.add_cli(sub)   # national platform upload: status, run-once
    ca_cli.add_parser(sub)
    return p


COMMANDS = {"keygen": cmd_keygen, "check-config": cmd_check_config, "migrate": cmd_migrate,
            "register-gateway": cmd_register, "run": cmd_run, "stats": cmd_stats, "doctor": cmd_doctor,
            "token": cmd_token, "payroll-import": cmd_payroll_import, "roster-down": cmd_roster_down,
            "upstream": cmd_upstream}


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
    _setup_logging(cfg.log_level, cfg.log_format)
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
