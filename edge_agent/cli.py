"""``edge-agent --config PATH <command>``: the technician's tool for the gateway.

Exit codes: 0 ok · 1 configuration / key / ledger error (``doctor``: a check failed) ·
2 usage · 3 ``simulate`` drain timeout with backlog left.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from shared_schema import logfmt, sdnotify
from shared_schema.envelope import generate_key, public_key_text, write_private_key

from . import __version__
from .config import ConfigError, EdgeConfig, load_config
from .ledger import LedgerError, read_status

log = logging.getLogger(__name__)

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_BACKLOG = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="edge-agent", description="实名制考勤网关 / real-name attendance gateway")
    p.add_argument("--config", help="TOML file with an [edge] table (every command but eval needs it)")
    p.add_argument("--version", action="version", version=f"edge-agent {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    k = sub.add_parser("keygen", help="create the gateway's Ed25519 signing key (never overwrites)")
    k.add_argument("--out", help="key file (default: signing_key_file from the config; with --out, no --config needed)")
    sub.add_parser("check-config", help="validate the configuration")
    sub.add_parser("run", help="run the gateway service until SIGTERM/SIGINT")
    s = sub.add_parser("simulate", help="run the agent with a simulated gate")
    s.add_argument("--punches", type=int, required=True, help="number of decisions to make")
    s.add_argument("--rate", type=float, default=10.0, help="decisions per second (≤0: flat out)")
    s.add_argument("--drain-timeout", type=float, default=60.0, help="seconds to wait for acks")
    s.add_argument("--print-committed", action="store_true",
                   help="print 'COMMITTED <seq> <event_id>' after each commit")
    sub.add_parser("status", help="print the outbox backlog as JSON (no network)")
    lg = sub.add_parser("ledger", help="move the ledger to a replacement box (export / import)")
    lsub = lg.add_subparsers(dest="ledger_command", required=True)
    le = lsub.add_parser("export", help="consistent copy of the ledger (safe while the agent runs)")
    le.add_argument("--out", required=True, help="file to write (never overwritten)")
    li = lsub.add_parser("import", help="verify an exported ledger and install it (agent stopped)")
    li.add_argument("file", help="the exported ledger file")
    d = sub.add_parser("doctor", help="check devices, broker, clock, disk, ledger and keys (pass/fail table)")
    d.add_argument("--broker-timeout", type=float, default=3.0, help="seconds for the MQTT CONNACK")
    from .webui.cli import add_webui_parser  # light: no aiohttp
    add_webui_parser(sub)
    from .gate_control_socket import add_gate_parser
    add_gate_parser(sub)
    from .roster.cli import add_roster_parser
    add_roster_parser(sub)
    from .vision.eval_identify import add_eval_parser  # light: OpenCV loads only when eval runs
    add_eval_parser(sub)
    return p


def _err(msg: str) -> None:
    print(f"错误 / error: {msg}", file=sys.stderr)


def _setup_logging(level: str, fmt: str = "text") -> None:
    logfmt.setup(level, fmt)      # text / json / logfmt lines on stderr (journald), ID numbers scrubbed


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "eval":  # offline harnesses: no gateway configuration needed
        _setup_logging("WARNING")
        return args.eval_func(args)
    if args.command == "keygen" and args.out and not args.config:   # the package's postinst: no config yet
        return cmd_keygen(None, args)
    if args.command == "gate" and args.socket and not args.config:   # a supervisor's shell: no keys needed
        return cmd_gate(None, args)
    if not args.config:
        parser.error(f"--config is required for {args.command}")
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        _err(f"配置无效 / invalid configuration: {exc}")
        return EXIT_ERROR
    _setup_logging(cfg.log_level, cfg.log_format)
    try:
        return COMMANDS[args.command](cfg, args)
    except (LedgerError, FileNotFoundError, OSError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    except RuntimeError as exc:  # AgentError and friends
        _err(str(exc))
        return EXIT_ERROR


def cmd_keygen(cfg: EdgeConfig, args) -> int:
    out = Path(args.out) if args.out else Path(cfg.signing_key_file)
    key = generate_key()
    try:
        write_private_key(out, key)
    except FileExistsError:
        _err(f"密钥已存在，拒绝覆盖 / {out} exists; refusing to overwrite a signing key")
        return EXIT_ERROR
    print(f"key: {out}")
    print(f"public key (register at the city / 在城市端登记): {public_key_text(key)}")
    return EXIT_OK


def cmd_check_config(cfg: EdgeConfig, args) -> int:
    print("OK")
    print(f"gateway_id={cfg.gateway_id} project_code={cfg.project_code} "
          f"gates={','.join(f'{g.id}:{g.direction}' for g in cfg.gates)}")
    print(f"ledger={cfg.ledger.path} retention_days={cfg.ledger.retention_days}")
    print(f"mqtt={cfg.mqtt.host}:{cfg.mqtt.port} batch_max_entries={cfg.sync.batch_max_entries} "
          f"max_inflight_batches={cfg.sync.max_inflight_batches}")
    for name, path in (("signing_key_file", cfg.signing_key_file),
                       ("receiver_public_key_file", cfg.receiver_public_key_file),
                       ("roster.template_key_file", cfg.roster.template_key_file)):
        if not Path(path).exists():
            print(f"warning: {name} {path} does not exist yet")
    return EXIT_OK


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum, frame):
        log.info("signal %s: stopping", signum)
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def cmd_run(cfg: EdgeConfig, args) -> int:
    from .agent import EdgeAgent

    stop = threading.Event()
    _stop_on_signals(stop)
    agent = EdgeAgent(cfg).start()
    sdnotify.notify("READY=1")
    # systemd watchdog (WatchdogSec=): pinged from this loop only while the agent's threads are
    # alive and the sync loop iterates, so a hung or dead loop gets the service restarted
    interval = min(sdnotify.watchdog_interval() or 1.0, 1.0)
    try:
        while not stop.wait(interval):
            if agent.alive():
                sdnotify.notify("WATCHDOG=1")
            else:
                log.error("a service thread is stuck or dead; withholding the watchdog ping")
    finally:
        sdnotify.notify("STOPPING=1")
        agent.stop()
    return EXIT_OK


def cmd_simulate(cfg: EdgeConfig, args) -> int:
    from .agent import EdgeAgent
    from .gate_sim import SimulatedGate

    stop = threading.Event()
    _stop_on_signals(stop)
    agent = EdgeAgent(cfg)
    if args.print_committed:
        def printer(entry):
            sys.stdout.write(f"COMMITTED {entry.seq} {entry.event_id}\n")
            sys.stdout.flush()
        agent.recorder.on_committed(printer)
    agent.start()
    try:
        made = SimulatedGate(agent.gates, cfg.gates, cfg.simulate).run(args.punches, args.rate, stop)
        drained = agent.wait_drained(args.drain_timeout) if not stop.is_set() else False
        st = agent.ledger.stats()
    finally:
        agent.stop()
    print(json.dumps({"made": made, "head_seq": st.head_seq, "backlog": st.backlog,
                      "acked_through_seq": st.acked_through_seq}), flush=True)
    return EXIT_OK if drained else EXIT_BACKLOG


def cmd_status(cfg: EdgeConfig, args) -> int:
    print(json.dumps(read_status(cfg.ledger.path)))
    return EXIT_OK


def cmd_webui(cfg: EdgeConfig, args) -> int:
    from .webui.cli import cmd_webui as run_webui

    return run_webui(cfg, args)


def cmd_roster(cfg: EdgeConfig, args) -> int:
    from .roster.cli import cmd_roster as run_roster

    return run_roster(cfg, args)


def cmd_ledger(cfg: EdgeConfig, args) -> int:
    from .ledger_transfer import TransferError, export_ledger, import_ledger

    try:
        if args.ledger_command == "export":
            out = export_ledger(cfg.ledger.path, args.out)
        else:
            out = import_ledger(args.file, cfg.ledger.path, cfg.gateway_id)
    except TransferError as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(json.dumps(out))
    return EXIT_OK


def cmd_doctor(cfg: EdgeConfig, args) -> int:
    from .doctor import doctor

    return doctor(cfg, broker_timeout=args.broker_timeout)


def cmd_gate(cfg: EdgeConfig, args) -> int:
    from .gate_control_socket import cmd_gate as run

    return run(cfg, args)


COMMANDS = {"ledger": cmd_ledger, "doctor": cmd_doctor, "keygen": cmd_keygen, "check-config": cmd_check_config, "run": cmd_run,
            "simulate": cmd_simulate, "status": cmd_status, "webui": cmd_webui,
            "roster": cmd_roster, "gate": cmd_gate}

if __name__ == "__main__":
    sys.exit(main())
