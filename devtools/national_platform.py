"""An emulator of the national construction-worker platform on a free loopback port.

The one POST endpoint of ../shared/reference/national-interface.md, served by aiohttp in a
background thread: it checks the form (appid, format, version, ``yyyyMMddHHmmss`` timestamp) and
the signature over the exact values received, decrypts the sensitive fields, and enforces the
platform's order rules: a team needs its company (参建单位), a worker needs a team the platform
numbered, entry/exit and attendance need the worker; no future dates, head images ≤ 50 KB,
entry/exit dates not earlier than the worker's history, "already exists" for a re-sent company,
team or worker. Writes are asynchronous: a write gets a requestSerialCode, and
``AsyncHandleResult.Query`` answers status 0 for ``pending_polls`` polls, then 20 or 10. Accepted
records are applied at submit time and kept decrypted in ``companies``, ``teams``, ``workers``,
``entry_exits``, ``attendance``; ``received`` keeps every raw POST body.

The reply format is the assumption documented in :mod:`cloud_receiver.upstream.national`.

Fault injection: set ``fault`` (and optionally ``fault_times``: that many requests, then it clears):
``http_500``, ``garbage`` (non-UTF-8 bytes), ``truncated`` (JSON cut short), ``html`` (an HTML page
with status 200), ``oversize`` (an endless chunked reply, ``oversize_sent`` counts what went out),
``oversize_declared`` (a huge Content-Length), ``drop_connection``, ``slow`` (waits ``slow_s``
before answering), ``bad_sign_reply`` (says the signature is wrong whatever it was).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import itertools
import json
import logging
import threading
import time
import urllib.parse
import uuid

from aiohttp import web

from cloud_receiver.upstream.national import (
    CST,
    NationalCredentials,
    build_form,
    china_timestamp,
    decrypt_sensitive,
    encrypt_sensitive,
    sign,
)

log = logging.getLogger(__name__)

FAULTS = ("http_500", "garbage", "truncated", "html", "oversize", "oversize_declared",
          "drop_connection", "slow", "bad_sign_reply")
BAD_SIGN_CODE = 31
HEAD_IMAGE_MAX = 50 * 1024
_FORM_FIELDS = ("appid", "data", "format", "method", "nonce", "timestamp", "version", "sign")


class Refused(Exception):
    """A write the platform refuses: its message becomes the failed async result."""


class NationalPlatform:
    def __init__(self, appid: str = "44060620230801001", appsecret: str = "0123456789abcdef0123456789ABCDEF",
                 *, pending_polls: int = 1, clock=time.time):
        self.appid = appid
        self.appsecret = appsecret
        self.pending_polls = pending_polls
        self.clock = clock
        self.companies: list[dict] = []
        self.teams: list[dict] = []
        self.workers: list[dict] = []
        self.entry_exits: list[dict] = []
        self.attendance: list[dict] = []
        self.received: list[tuple[str, bytes]] = []   # (method or "", raw POST body)
        self.fault: str | None = None
        self.fault_times: int | None = None           # None: the fault stays until cleared
        self.slow_s = 5.0
        self.oversize_bytes = 64 << 20
        self.oversize_sent = 0
        self._jobs: dict[str, dict] = {}
        self._team_numbers = itertools.count(100001)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None
        self._writes = {"ProjectSubContractor.Add": self._company_add, "Team.Add": self._team_add,
                        "ProjectWorker.Add": self._worker_add, "WorkerEntryExit.Add": self._entry_exit_add,
                        "WorkerAttendance.Add": self._attendance_add}

    # ---- lifecycle ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    def start(self, timeout: float = 10.0) -> NationalPlatform:
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []

        def run():
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                app = web.Application(client_max_size=8 << 20)
                app.router.add_post("/api", self._handle)
                self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
                loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, "127.0.0.1", self.port or 0)
                loop.run_until_complete(site.start())
                self.port = self._runner.addresses[0][1]
            except BaseException as e:  # noqa: BLE001 - reported to start()'s caller
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            # a handler still waiting (the "slow" fault) is cancelled, not left for the GC to complain
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

        self._thread = threading.Thread(target=run, name="national-platform", daemon=True)
        self._thread.start()
        if not ready.wait(timeout) or failure:
            self._thread = None
            raise RuntimeError(f"national platform emulator did not start: {failure[:1]}")
        log.debug("national platform emulator on port %s", self.port)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- helpers for tests ----------------------------------------------------------------------
    def form(self, method: str, data: dict, *, timestamp: str | None = None, nonce: str = "n") -> dict:
        """A correctly signed form (for tests that POST by hand)."""
        creds = NationalCredentials(self.appid, self.appsecret)
        return build_form(creds, method, data, timestamp=timestamp or china_timestamp(self.clock()), nonce=nonce)

    def _take_fault(self) -> str | None:
        fault = self.fault
        if fault is not None and self.fault_times is not None:
            self.fault_times -= 1
            if self.fault_times <= 0:
                self.fault, self.fault_times = None, None
        return fault

    @staticmethod
    def _reply(code: int, message: str, data=None, status: int = 200) -> web.Response:
        body = json.dumps({"code": code, "message": message, "data": data}, ensure_ascii=False)
        return web.Response(status=status, body=body.encode("utf-8"), content_type="application/json")

    # ---- the endpoint ---------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        pairs = urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        form = dict(pairs)
        self.received.append((form.get("method", ""), raw))
        fault = self._take_fault()
        if fault:
            early = await self._fault_reply(fault, request)
            if early is not None:
                return early
        missing = [n for n in _FORM_FIELDS if n not in form]
        if missing:
            return self._reply(1, f"缺少参数 (missing form fields: {', '.join(missing)})")
        if fault == "bad_sign_reply" or sign({k: v for k, v in form.items() if k != "sign"},
                                              self.appsecret) != form["sign"].lower():
            return self._reply(BAD_SIGN_CODE, "签名验证失败 (sign verification failed)")
        if form["appid"] != self.appid:
            return self._reply(1, "appid 不存在 (unknown appid)")
        if form["format"] != "json" or form["version"] != "1.0":
            return self._reply(1, "format/version 不支持 (unsupported format or version)")
        try:
            dt.datetime.strptime(form["timestamp"], "%Y%m%d%H%M%S")
            if len(form["timestamp"]) != 14:
                raise ValueError
        except ValueError:
            return self._reply(1, "timestamp 格式错误 (timestamp is not yyyyMMddHHmmss)")
        refusal = self._reply(1, "data 格式错误 (data is not a JSON object of encrypted fields)")
        try:
            data = json.loads(form["data"])
        except ValueError:
            return refusal
        if not isinstance(data, dict):
            return refusal
        try:
            data = decrypt_sensitive(data, self.appsecret)
        except ValueError:
            return refusal
        method = form["method"]
        if method == "AsyncHandleResult.Query":
            return self._async_result(str(data.get("requestSerialCode", "")))
        if method in self._writes:
            serial = uuid.uuid4().hex
            try:
                result = self._writes[method](data)
                job = {"status": "20", "result": json.dumps(result or {}, ensure_ascii=False)}
            except Refused as e:
                job = {"status": "10", "result": str(e)}
            except (TypeError, KeyError, AttributeError, ValueError):  # a list where a dict belongs, …
                job = {"status": "10", "result": "数据格式错误 (malformed data)"}
            job["polls"] = self.pending_polls
            self._jobs[serial] = job
            return self._reply(0, "success", {"requestSerialCode": serial})
        if method.endswith(".Query"):
            rows = self._query(method, data)
            if rows is not None:
                rows = [encrypt_sensitive(r, self.appsecret) for r in rows]
                return self._reply(0, "success", {"pageIndex": 0, "pageSize": len(rows), "rows": rows,
                                                  "totalCount": len(rows)})
        return self._reply(1, f"不支持的接口 (method not supported: {method[:60]})")

    async def _fault_reply(self, fault: str, request: web.Request) -> web.StreamResponse | None:
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            return None
        if fault == "http_500":
            return web.Response(status=500, text="Internal Server Error")
        if fault == "garbage":
            return web.Response(body=b"\xff\xfe\x00\x9c\x81garbage\xc3\x28", content_type="application/json")
        if fault == "truncated":
            return web.Response(body=b'{"code":0,"message":"success","data":{"requestSerialCo',
                                content_type="application/json")
        if fault == "html":
            return web.Response(text="<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head>"
                                "<body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html")
        if fault in ("oversize", "oversize_declared"):
            resp = web.StreamResponse()
            resp.content_type = "application/json"
            if fault == "oversize_declared":
                resp.content_length = self.oversize_bytes
            await resp.prepare(request)
            chunk = b" " * 65536
            try:
                await resp.write(b'{"code":0,"message":"')
                while self.oversize_sent < self.oversize_bytes:
                    await resp.write(chunk)
                    self.oversize_sent += len(chunk)
            except (ConnectionError, RuntimeError):  # the client hung up: what we wanted
                pass
            return resp
        if fault == "drop_connection":
            request.transport.abort()
            raise asyncio.CancelledError  # nothing is written: the client sees the connection drop
        return None  # bad_sign_reply: decided after the form checks

    def _async_result(self, serial: str) -> web.Response:
        job = self._jobs.get(serial)
        if job is None:
            return self._reply(1, "requestSerialCode 不存在 (unknown requestSerialCode)")
        if job["polls"] > 0:
            job["polls"] -= 1
            return self._reply(0, "success", {"status": "0", "result": ""})
        return self._reply(0, "success", {"status": job["status"], "result": job["result"]})

    # ---- the order rules ------------------------------------------------------------------------
    def _today(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock(), CST).replace(tzinfo=None)

    @staticmethod
    def _need(data: dict, *names: str) -> None:
        missing = [n for n in names if data.get(n) in (None, "")]
        if missing:
            raise Refused(f"缺少字段 (missing: {', '.join(missing)})")

    def _company(self, project: str, corp: str) -> dict | None:
        return next((c for c in self.companies if c["projectCode"] == project and c["corpCode"] == corp), None)

    def _find_team(self, project: str, team_no) -> dict | None:
        return next((t for t in self.teams if t["projectCode"] == project and str(t["teamSysNo"]) == str(team_no)),
                    None)

    def _worker(self, project: str, id_number: str) -> dict | None:
        return next((w for w in self.workers if w["projectCode"] == project and w["idCardNumber"] == id_number),
                    None)

    def _company_add(self, data: dict) -> None:
        self._need(data, "projectCode", "corpCode", "corpName")
        if self._company(data["projectCode"], data["corpCode"]):
            raise Refused("参建单位已存在 (company already exists)")
        self.companies.append(data)

    def _team_add(self, data: dict) -> dict:
        self._need(data, "projectCode", "corpCode", "teamName")
        if not self._company(data["projectCode"], data["corpCode"]):
            raise Refused("参建单位不存在 (company not found: upload it first)")
        if any(t["projectCode"] == data["projectCode"] and t["corpCode"] == data["corpCode"]
               and t["teamName"] == data["teamName"] for t in self.teams):
            raise Refused("班组已存在 (team already exists)")
        team_no = next(self._team_numbers)
        self.teams.append({**data, "teamSysNo": team_no})
        return {"teamSysNo": team_no}

    def _worker_add(self, data: dict) -> None:
        self._need(data, "projectCode", "corpCode", "teamSysNo")
        workers = data.get("workerList") or data.get("dataList")
        if not workers:
            raise Refused("缺少字段 (missing: workerList)")
        if not self._find_team(data["projectCode"], data["teamSysNo"]):
            raise Refused("班组不存在 (team not found: upload it and use the teamSysNo the platform gave)")
        new = []
        for w in workers:
            self._need(w, "workerName", "idCardType", "idCardNumber")
            image = w.get("headImage") or ""
            if image:
                try:
                    size = len(base64.b64decode(image.split(",")[-1], validate=True))
                except (binascii.Error, ValueError):
                    raise Refused("头像格式错误 (headImage is not Base64)") from None
                if size > HEAD_IMAGE_MAX:
                    raise Refused(f"头像超过50KB (headImage is {size // 1024} KB, limit 50 KB)")
            if not self._worker(data["projectCode"], w["idCardNumber"]) and w not in new:
                new.append(w)
        if not new:
            raise Refused("人员已存在 (worker already exists)")
        for w in new:
            self.workers.append({"projectCode": data["projectCode"], "corpCode": data["corpCode"],
                                 "teamSysNo": data["teamSysNo"], **w})

    def _entry_exit_add(self, data: dict) -> None:
        self._need(data, "projectCode", "teamSysNo")
        records = data.get("workerList") or data.get("dataList")
        if not records:
            raise Refused("缺少字段 (missing: workerList)")
        if not self._find_team(data["projectCode"], data["teamSysNo"]):
            raise Refused("班组不存在 (team not found)")
        today = self._today().date()
        for r in records:
            self._need(r, "idCardNumber", "date", "type")
            if not self._worker(data["projectCode"], r["idCardNumber"]):
                raise Refused("人员不存在 (worker not found: upload the worker first)")
            day = _parse_day(r["date"])
            if day > today:
                raise Refused("日期不能晚于今天 (date in the future)")
            history = [_parse_day(e["date"]) for e in self.entry_exits
                       if e["projectCode"] == data["projectCode"] and e["idCardNumber"] == r["idCardNumber"]]
            if history and day < max(history):
                raise Refused("进退场日期早于历史记录 (date earlier than the worker's entry/exit history)")
        for r in records:
            self.entry_exits.append({"projectCode": data["projectCode"], "corpCode": data.get("corpCode"),
                                     "teamSysNo": data["teamSysNo"], **r})

    def _attendance_add(self, data: dict) -> None:
        self._need(data, "projectCode", "teamSysNo", "dataList")
        if not self._find_team(data["projectCode"], data["teamSysNo"]):
            raise Refused("班组不存在 (team not found)")
        now = self._today()
        for r in data["dataList"]:
            self._need(r, "idCardNumber", "date", "direction")
            if not self._worker(data["projectCode"], r["idCardNumber"]):
                raise Refused("人员不存在 (worker not found: upload the worker first)")
            try:
                when = dt.datetime.strptime(r["date"], "%Y-%m-%d %H:%M:%S")
            except ValueError:
                raise Refused("考勤时间格式错误 (date is not yyyy-MM-dd HH:mm:ss)") from None
            if when > now:
                raise Refused("考勤时间不能晚于当前时间 (date in the future)")
            if r["direction"] not in ("01", "02"):
                raise Refused("方向错误 (direction must be 01 or 02)")
        for r in data["dataList"]:
            self.attendance.append({"projectCode": data["projectCode"], "teamSysNo": data["teamSysNo"], **r})

    def _query(self, method: str, data: dict) -> list[dict] | None:
        source = {"ProjectSubContractor.Query": self.companies, "Team.Query": self.teams,
                  "ProjectWorker.Query": self.workers, "WorkerEntryExit.Query": self.entry_exits,
                  "WorkerAttendance.Query": self.attendance}.get(method)
        if source is None:
            return None
        filters = {k: v for k, v in data.items() if k not in ("pageIndex", "pageSize")}
        return [dict(r) for r in source if all(str(r.get(k)) == str(v) for k, v in filters.items())]


def _parse_day(text: str) -> dt.date:
    try:
        return dt.datetime.strptime(text[:10], "%Y-%m-%d").date()
    except ValueError:
        raise Refused("日期格式错误 (date is not yyyy-MM-dd)") from None
