"""``edge-agent --config PATH roster {keygen,import,list,status}``: the registry from a shell.

``list`` always shows masked ID numbers (a shell is not a role that needs the full one).
Exit codes as ``edge_agent.cli``: 0 ok, 1 error; ``import`` exits 4 when some rows were bad.
"""

from __future__ import annotations

import json
import sys

EXIT_OK, EXIT_ERROR, EXIT_BAD_ROWS = 0, 1, 4


def add_roster_parser(sub) -> None:
    r = sub.add_parser("roster", help="worker registry: template key, bulk import, list, sync status")
    rs = r.add_subparsers(dest="roster_command", required=True)
    rs.add_parser("keygen", help="create the face-template key ([edge.roster] template_key_file, 0600, never overwrites)")
    i = rs.add_parser("import", help="enroll workers from a CSV/XLSX file (every bad row reported)")
    i.add_argument("file")
    i.add_argument("--operator", required=True, help="who imports (recorded with each enrollment)")
    i.add_argument("--json", action="store_true", help="print the report as JSON")
    li = rs.add_parser("list", help="list workers (ID numbers masked)")
    for opt in ("name", "team", "company"):
        li.add_argument(f"--{opt}")
    li.add_argument("--status", choices=("active", "exited"))
    li.add_argument("--limit", type=int, default=50)
    li.add_argument("--offset", type=int, default=0)
    rs.add_parser("status", help="roster outbox: changes not yet acknowledged by the city")


def _err(msg: str) -> None:
    print(f"错误 / error: {msg}", file=sys.stderr)


def _open(cfg):
    from .registry import WorkerRegistry
    return WorkerRegistry(cfg.roster.db_path, cfg.gateway_id, cfg.project_code)


def cmd_roster(cfg, args) -> int:
    from .crypto import TemplateKeyError, write_new_key
    from .importer import ImportFileError, import_file

    c = args.roster_command
    if c == "keygen":
        try:
            key = write_new_key(cfg.roster.template_key_file)
        except FileExistsError:
            _err(f"模板密钥已存在，拒绝覆盖 / {cfg.roster.template_key_file} exists; refusing to overwrite "
                 "(templates encrypted with it would be lost)")
            return EXIT_ERROR
        print(f"template key: {cfg.roster.template_key_file} (fingerprint {key.fingerprint})")
        return EXIT_OK
    reg = _open(cfg)
    try:
        if c == "import":
            def progress(done: int, total: int) -> None:
                if done == total or done % 50 == 0:
                    print(f"{done}/{total}", file=sys.stderr, flush=True)
            try:
                rep = import_file(reg, args.file, operator=args.operator, progress=progress)
            except ImportFileError as exc:
                _err(str(exc))
                return EXIT_ERROR
            if args.json:
                print(json.dumps({"rows": rep.rows, "imported": len(rep.imported), "bad_rows": rep.bad_rows,
                                  "errors": [e.__dict__ for e in rep.errors]}, ensure_ascii=False))
            else:
                print(f"rows={rep.rows} imported={len(rep.imported)} bad_rows={len(rep.bad_rows)}")
                for e in rep.errors:
                    print(f"第{e.row}行 row {e.row}: {e.field}: {e.zh} / {e.en}")
            return EXIT_OK if not rep.errors else EXIT_BAD_ROWS
        if c == "list":
            page = reg.search(name=args.name, team=args.team, company=args.company, status=args.status,
                              limit=args.limit, offset=args.offset)
            print(json.dumps({"total": page.total, "items": [
                {"worker_ref": w.worker_ref, "status": w.status, "name": w.record["name"],
                 "id_number": w.id_number_masked, "company": w.record["company_name"],
                 "team": w.record.get("team_code"), "role": w.record["role"], "consent": w.consent}
                for w in page.items]}, ensure_ascii=False))
            return EXIT_OK
        st = reg.outbox.stats()
        print(json.dumps({"pending": st.pending, "sent": st.sent, "acked": st.acked, "backlog": st.backlog,
                          "oldest_unacked_age_s": st.oldest_unacked_age_s}))
        return EXIT_OK
    except TemplateKeyError as exc:
        _err(str(exc))
        return EXIT_ERROR
    finally:
        reg.close()
