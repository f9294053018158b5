"""``cloud-receiver ca <command>``: the city CA for the MQTT link (see :mod:`cloud_receiver.ca`).

=================== ===========================================================================
``init``            create the CA (ca.key 0600, ca.crt, an empty crl.pem) in ``--dir``
``issue-broker``    the broker's server certificate for ``--host`` names/addresses
``issue-gateway``   a gateway's client certificate (CN = gateway id) into ``--out``; with
                    ``--register`` also its Ed25519 signing key, its registration in the store,
                    the city's ack public key and a starter ``edge.toml``: the technician's kit
``issue-receiver``  a receiver's client certificate (CN = rn:receiver)
``revoke``          revoke a gateway's / receiver's certificates (or one serial), rewrite the CRL;
                    with ``--config`` and ``--gateway-id`` also the store's revoked flag (ingest
                    then rejects the gateway's messages: reason ``revoked_gateway``)
``crl``             re-sign the CRL (before its next_update: an expired CRL locks everyone out)
``list``            the certificates issued, with their state
=================== ===========================================================================

``issue-gateway --register`` needs ``--config`` (the store and the city's ack key); ``revoke
--gateway-id`` uses it when given (the store's revoked flag, set before the CRL is rewritten so a
failed step can simply be run again).
Private keys are never printed or logged.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from shared_schema import envelope, topics

from .ca import CA_CERT, CLIENT_CERT, CLIENT_KEY, CAError, CertificateAuthority

PROJECT_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
RELOAD_HINT = ("reload the broker so it reads the new CRL (systemctl reload mosquitto: SIGHUP); "
               "a session already connected is cut only by restarting it (systemctl restart mosquitto)")


def add_parser(sub) -> None:
    ca = sub.add_parser("ca", help="the city CA for MQTT client/broker certificates").add_subparsers(
        dest="ca_command", required=True)
    p = ca.add_parser("init", help="create the CA (never overwrites its key)")
    p.add_argument("--dir", "--ca-dir", dest="ca_dir", required=True)
    p.add_argument("--name", default="RN City MQTT CA")
    p.add_argument("--days", type=int, default=7300)
    p.add_argument("--crl-days", type=int, default=365, help="validity of each CRL it signs")
    p = ca.add_parser("issue-broker", help="the broker's TLS server certificate")
    p.add_argument("--ca-dir", required=True)
    p.add_argument("--host", action="append", required=True, help="DNS name or IP (repeatable)")
    p.add_argument("--out", required=True)
    p.add_argument("--days", type=int, default=825)
    p = ca.add_parser("issue-gateway", help="a gateway's client certificate (and with --register, all of it)")
    p.add_argument("--ca-dir", required=True)
    p.add_argument("--gateway-id", required=True)
    p.add_argument("--out", required=True, help="folder for the technician (keys 0600, never overwritten)")
    p.add_argument("--days", type=int, default=1825)
    p.add_argument("--register", action="store_true",
                   help="also create the gateway's signing key and register it (needs --config)")
    p.add_argument("--public-key", help="with --register: register this existing key (hex) instead")
    p.add_argument("--project-code")
    p.add_argument("--vendor")
    p.add_argument("--site")
    p.add_argument("--replace", action="store_true", help="with --register: replace a registered key")
    p.add_argument("--broker-host", help="for edge.toml (default: receiver.mqtt tls_server_name or host)")
    p.add_argument("--broker-port", type=int, help="for edge.toml (default: receiver.mqtt.port)")
    p = ca.add_parser("issue-receiver", help="a receiver's client certificate")
    p.add_argument("--ca-dir", required=True)
    p.add_argument("--receiver-id", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--days", type=int, default=825)
    p = ca.add_parser("revoke", help="revoke certificates and rewrite the CRL")
    p.add_argument("--ca-dir", required=True)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--gateway-id")
    who.add_argument("--receiver-id")
    who.add_argument("--serial", help="hex serial, as in `ca list`")
    p = ca.add_parser("crl", help="re-sign the CRL")
    p.add_argument("--ca-dir", required=True)
    p.add_argument("--days", type=int)
    p = ca.add_parser("list", help="certificates issued")
    p.add_argument("--ca-dir", required=True)
    p.add_argument("--json", action="store_true")


def needs_config(args) -> bool:
    if args.ca_command == "revoke":
        return bool(args.gateway_id and getattr(args, "config", None))
    return args.ca_command == "issue-gateway" and args.register


def run(args, cfg=None) -> int:
    try:
        if args.ca_command == "init":
            ca = CertificateAuthority.init(args.ca_dir, args.name, args.days, args.crl_days)
            print(f"CA created in {ca.dir}: {CA_CERT} (give to the broker and every client), "
                  f"crl.pem (the broker's crlfile); ca.key stays here (0600)")
            return 0
        ca = CertificateAuthority(args.ca_dir)
        if args.ca_command == "issue-broker":
            got = ca.issue_broker(args.host, args.out, args.days)
            print(f"broker certificate {got.cert_path} (serial {got.serial}, names {', '.join(args.host)})")
        elif args.ca_command == "issue-receiver":
            got = ca.issue_receiver(args.receiver_id, args.out, args.days)
            print(f"receiver certificate {got.cert_path} (CN {got.cn}, serial {got.serial}); "
                  f"[receiver.mqtt] tls = true, ca_file/cert_file/key_file in {args.out}")
        elif args.ca_command == "issue-gateway":
            return _issue_gateway(ca, args, cfg)
        elif args.ca_command == "revoke":
            flagged = False
            if args.gateway_id and cfg is not None:
                flagged = _flag_revoked(args.gateway_id, cfg)
            if args.serial:
                done = ca.revoke(serial=args.serial)
            elif args.gateway_id:
                done = ca.revoke(kind="gateway", ident=args.gateway_id)
            else:
                done = ca.revoke(kind="receiver", ident=args.receiver_id)
            if not done and not flagged:
                print("error: no live certificate matched", file=sys.stderr)
                return 1
            if done:
                print(f"revoked serial(s) {', '.join(done)}; CRL rewritten: {ca.dir / 'crl.pem'}")
                print(f"next: copy crl.pem to the broker's crlfile and {RELOAD_HINT}")
            else:
                print("no live certificate matched (already revoked?); the CRL is unchanged")
            if flagged:
                print(f"gateway {args.gateway_id} marked revoked in the store: its messages are rejected "
                      f"(reason revoked_gateway); `register-gateway --replace` with a new key lifts it")
            elif args.gateway_id:
                print("note: without --config the store was not told: the gateway's signed batches would "
                      "still be accepted if it reached the broker another way; run again with --config")
        elif args.ca_command == "crl":
            print(f"CRL re-signed: {ca.write_crl(args.days)}")
        elif args.ca_command == "list":
            certs = ca.certificates()
            if args.json:
                print(json.dumps(certs, sort_keys=True))
            for c in [] if args.json else certs:
                state = f"revoked {c['revoked_at']}" if c["revoked_at"] else f"valid until {c['not_after']}"
                print(f"{c['serial']:>40} {c['kind']:8} {c['id']:24} {state}")
        return 0
    except (CAError, FileExistsError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _flag_revoked(gateway_id: str, cfg) -> bool:
    from .store import open_store
    store = open_store(cfg.store.url, migrate=True)
    try:
        if not store.revoke_gateway(topics.check_gateway_id(gateway_id), time.time()):
            print(f"warning: gateway {gateway_id} is not registered in the store", file=sys.stderr)
            return False
        return True
    finally:
        store.close()


def _issue_gateway(ca: CertificateAuthority, args, cfg) -> int:
    gid = topics.check_gateway_id(args.gateway_id)
    out = Path(args.out)
    if not args.register:
        got = ca.issue_gateway(gid, out, args.days)
        print(f"gateway certificate {got.cert_path} (CN {got.cn}, serial {got.serial}); "
              f"key {got.key_path} (0600), {out / CA_CERT}")
        return 0
    from .store import GatewayKeyConflict, open_store
    if not args.project_code or not PROJECT_CODE.fullmatch(args.project_code) or not args.vendor:
        print("error: --register needs --project-code and --vendor", file=sys.stderr)
        return 2
    for name in ("gateway.key", CLIENT_KEY):
        if (out / name).exists():
            print(f"error: {out / name} exists; refusing to overwrite a key", file=sys.stderr)
            return 1
    store = open_store(cfg.store.url, migrate=True)
    try:
        existing = store.get_gateway(gid)
        pub = envelope.public_key_text(envelope.public_key_from_text(args.public_key)) if args.public_key else None
        if existing and not args.replace and existing["public_key"] != pub:
            print(f"error: gateway {gid} is already registered; --replace to give it a new key", file=sys.stderr)
            return 1
        if pub is None:
            key = envelope.generate_key()
            envelope.write_private_key(out / "gateway.key", key)
            pub = envelope.public_key_text(key)
        got = ca.issue_gateway(gid, out, args.days)
        try:
            outcome = store.register_gateway(gid, pub, args.project_code, args.vendor, args.site,
                                             replace=args.replace, now=time.time())
        except GatewayKeyConflict as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    finally:
        store.close()
    files = [CA_CERT, CLIENT_CERT, CLIENT_KEY] + ([] if args.public_key else ["gateway.key"])
    city_key = Path(cfg.signing_key_file)
    if city_key.exists():
        (out / "receiver.pub").write_text(envelope.public_key_text(envelope.read_private_key(city_key)) + "\n")
        files.append("receiver.pub")
    else:
        print(f"warning: {city_key} missing (cloud-receiver keygen): no receiver.pub written", file=sys.stderr)
    host = args.broker_host or cfg.mqtt.tls_server_name or cfg.mqtt.host
    port = args.broker_port or cfg.mqtt.port
    _write_edge_toml(out / "edge.toml", gid, args.project_code, host, port,
                     "gateway.key" if not args.public_key else None)
    files.append("edge.toml")
    print(f"{outcome} gateway {gid} (project {args.project_code}, key {pub[:16]}…); certificate CN {got.cn}, "
          f"serial {got.serial}")
    print(f"for the technician, in {out}: {', '.join(files)}")
    return 0


def _write_edge_toml(path: Path, gid: str, project: str, host: str, port: int, key_file: str | None) -> None:
    if path.exists():
        return
    q = json.dumps
    lines = ["# Starter [edge] configuration written by `cloud-receiver ca issue-gateway --register`.",
             "# Complete it from config.example.toml (gates, ledger path, turnstiles).", "[edge]",
             "# Identity: must match the certificate's CN and the registration at the city.",
             f"gateway_id = {q(gid)}", f"project_code = {q(project)}",
             "# The gateway's Ed25519 signing key and the city's ack key (relative to this file).",
             f"signing_key_file = {q(key_file or 'keys/gateway.key')}", 'receiver_public_key_file = "receiver.pub"',
             "", "[edge.mqtt]", "# The city broker, TLS with this gateway's client certificate.",
             f"host = {q(host)}", f"port = {port}", "tls = true", 'ca_file = "ca.crt"',
             f"cert_file = {q(CLIENT_CERT)}", f"key_file = {q(CLIENT_KEY)}", ""]
    path.write_text("\n".join(lines), encoding="utf-8")
