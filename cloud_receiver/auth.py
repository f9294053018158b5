"""Roles, scoped API tokens and the authentication rate limit (issue 6 roles, issue 7 tokens).

**Scheme.** Every request but ``/api/v1/health``, ``/api/v1/openapi.json`` (and prefixes
marked with :func:`mark_public`) carries ``Authorization: Bearer <token>``. A token has a
*role* and a *scope*:

=========  ==================================  ============================================
role       scope                               sees
=========  ==================================  ============================================
city       none                                everything
district   one district name (``天河区``)        projects whose ``projects.district`` is it
project    one or more project codes           those projects (a general contractor's)
=========  ==================================  ============================================

Tokens look like ``rn1_<43 base64url characters>`` (32 random bytes). They are made by
``cloud-receiver --config C token create --role district --scope 天河区 --name tianhe-office``
(printed once), listed by ``token list``, revoked by ``token revoke --name N`` (effective at
the next request: every request reads the token row). Only the SHA-256 of a token is
stored (``api_tokens``, migration 4), with its name, role, scope, creation, expiry, last use
(written at most once a minute) and revocation times.

The tokens of ``[receiver.api] tokens`` / ``tokens_file`` keep working as **city-role
bootstrap tokens** (no full ID numbers): use one to start, then create named tokens and
remove it from the config.

In a test::

    from cloud_receiver.auth import issue_token
    token, row = issue_token(store, name="t-city", role="city")             # or
    token, row = issue_token(store, name="t-dist", role="district", scope=["天河区"])
    token, row = issue_token(store, name="t-proj", role="project", scope=["P-1", "P-2"])
    headers = {"Authorization": f"Bearer {token}"}

**Enforcement** (handlers use :func:`principal`, :func:`require_role`, :func:`check_project`,
:func:`visible_projects`): a project outside the token's scope answers ``404 {"error": "no
such project"}`` exactly like a project that does not exist (no existence leak); listings are
filtered to the scope; city-only endpoints (``/api/v1/stats``, ``/metrics``, tamper-alert
state changes) answer 403 to other roles.

**Full ID numbers** leave the API only when the token was created with ``--full-ids``, its
role is in ``[receiver.api] full_id_roles`` (default ``["city"]``; bootstrap tokens never),
and the request asks for them (``ids=full``). Otherwise they are masked (payroll export too).

**Rate limit.** A request whose bearer token is presented but invalid (unknown, malformed,
revoked, expired) counts as a failure for its client IP; ``auth_fail_limit`` failures within
``auth_fail_window_s`` block that IP for ``auth_block_s``: every authenticated request from it
gets ``429`` with ``Retry-After``. Kept in memory, per process, for at most
``auth_clients_max`` addresses (least recently failing dropped first). Behind a reverse
proxy, list it in ``trusted_proxies`` so ``X-Forwarded-For`` names the client.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from functools import partial

from aiohttp import web

log = logging.getLogger(__name__)

ROLES = ("city", "district", "project")
TOKEN_PREFIX = "rn1_"
_TOKEN_RE = re.compile(r"^rn1_[A-Za-z0-9_-]{43}$", re.ASCII)
# what a bearer credential may look like at all (config tokens are free-form printable ASCII)
_CREDENTIAL_RE = re.compile(r"^[\x21-\x7e]{16,256}$", re.ASCII)
_CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$", re.ASCII)
MAX_SCOPE_PROJECTS = 1000
TOUCH_EVERY_S = 60.0
ALWAYS_PUBLIC = ("/api/v1/health", "/api/v1/openapi.json")


@dataclass(frozen=True)
class AuthOptions:
    """What :func:`cloud_receiver.api.make_app` needs from ``[receiver.api]``."""

    full_id_roles: tuple[str, ...] = ("city",)
    fail_limit: int = 10
    fail_window_s: float = 60.0
    block_s: float = 300.0
    clients_max: int = 10000
    trusted_proxies: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's role and scope. ``full_ids``: may see full ID numbers."""

    name: str
    role: str
    scope: tuple[str, ...] = ()
    full_ids: bool = False
    token_id: int | None = None

    @property
    def is_city(self) -> bool:
        return self.role == "city"

    def project_allowed(self, store, code: str) -> bool:
        """Blocking (a store read for district tokens): run in an executor."""
        if self.role == "city":
            return True
        if self.role == "project":
            return code in self.scope
        p = store.get_project(code)
        return p is not None and p.get("district") in self.scope

    def visible_projects(self, store) -> frozenset[str] | None:
        """None: every project (city); else the project codes in scope. Blocking."""
        if self.role == "city":
            return None
        if self.role == "project":
            return frozenset(self.scope)
        return frozenset(p["project_code"] for d in self.scope for p in store.list_projects(d))


# ---- tokens --------------------------------------------------------------------------------
def new_token() -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_token_shaped(token: str) -> bool:
    return bool(_TOKEN_RE.fullmatch(token))


def parse_bearer(header: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer <credential>`` header, or None when the
    header is absent/empty. ValueError when something is presented but cannot be a credential."""
    if not header:
        return None
    scheme, _, cred = header.partition(" ")
    if scheme.lower() != "bearer":
        raise ValueError("not a bearer credential")
    cred = cred.strip()
    if not _CREDENTIAL_RE.fullmatch(cred):
        raise ValueError("malformed bearer credential")
    return cred


def validate_scope(role: str, scope) -> tuple[str, ...]:
    """The normalised scope of a role; ValueError naming what is wrong."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    scope = tuple(dict.fromkeys(s.strip() for s in (scope or ()) if s and s.strip()))
    if role == "city":
        if scope:
            raise ValueError("a city token has no scope")
    elif role == "district":
        if len(scope) != 1:
            raise ValueError("a district token needs exactly one district name")
        if len(scope[0]) > 64 or any(not c.isprintable() for c in scope[0]):
            raise ValueError("district name must be 1-64 printable characters")
    else:
        if not 1 <= len(scope) <= MAX_SCOPE_PROJECTS:
            raise ValueError(f"a project token needs 1-{MAX_SCOPE_PROJECTS} project codes")
        bad = [s for s in scope if not _CODE_RE.fullmatch(s)]
        if bad:
            raise ValueError("bad project code in scope")
    return scope


def issue_token(store, *, name: str, role: str, scope=(), full_ids: bool = False,
                expires_in_s: float | None = None, full_id_roles=("city",), now: float | None = None):
    """Create a token; → (the token text, shown once; its stored row). ValueError on bad input."""
    if not isinstance(name, str) or not 1 <= len(name) <= 64 or any(not c.isprintable() for c in name):
        raise ValueError("name must be 1-64 printable characters")
    scope = validate_scope(role, scope)
    if full_ids and role not in full_id_roles:
        raise ValueError(f"role {role} may not see full ID numbers (receiver.api.full_id_roles)")
    if expires_in_s is not None and not expires_in_s > 0:
        raise ValueError("expiry must be in the future")
    now = time.time() if now is None else now
    token = new_token()
    row = store.create_token(name, role, list(scope), full_ids, token_hash(token), token[len(TOKEN_PREFIX):][:8],
                             now, None if expires_in_s is None else now + expires_in_s)
    log.info("api token %s created (role %s)", row["token_id"], role)
    return token, row


# ---- the failure limiter -------------------------------------------------------------------
class FailureLimiter:
    """Failed bearer attempts per client address; bounded (LRU), thread-safe."""

    def __init__(self, limit: int, window_s: float, block_s: float, max_clients: int):
        self.limit, self.window_s, self.block_s, self.max_clients = limit, window_s, block_s, max_clients
        self._clients: collections.OrderedDict[str, list[float]] = collections.OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client: str, now: float) -> int:
        """Seconds the client is still blocked (0: not blocked)."""
        with self._lock:
            e = self._clients.get(client)
            if e is None or e[2] <= now:
                return 0
            return max(1, math.ceil(e[2] - now))

    def failed(self, client: str, now: float) -> int:
        """Record a failure; → seconds blocked now (0 if still under the limit)."""
        with self._lock:
            e = self._clients.pop(client, None)
            if e is None or now - e[0] > self.window_s:
                e = [now, 0, e[2] if e else 0.0]
            e[1] += 1
            if e[1] >= self.limit:
                e[2] = now + self.block_s
                e[0], e[1] = now, 0
            self._clients[client] = e
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
            return max(0, math.ceil(e[2] - now)) if e[2] > now else 0

    def __len__(self) -> int:
        return len(self._clients)


# ---- authentication ------------------------------------------------------------------------
class Authenticator:
    """Resolves a credential to a :class:`Principal` (blocking: store reads; run in an executor)."""

    def __init__(self, store, bootstrap_tokens, options: AuthOptions):
        self.store, self.options = store, options
        self.bootstrap = tuple(bootstrap_tokens)
        self.limiter = FailureLimiter(options.fail_limit, options.fail_window_s, options.block_s,
                                      options.clients_max)
        self._touched: dict[int, float] = {}
        self._proxies = tuple(ipaddress.ip_network(p, strict=False) for p in options.trusted_proxies)

    def resolve(self, credential: str, now: float) -> Principal | None:
        for i, t in enumerate(self.bootstrap):
            if hmac.compare_digest(credential.encode(), t.encode()):
                return Principal(name=f"config-token-{i + 1}", role="city")
        if not is_token_shaped(credential):
            return None
        row = self.store.token_by_hash(token_hash(credential))
        if row is None or row["revoked_at"] is not None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= now:
            return None
        if now - self._touched.get(row["token_id"], 0.0) >= TOUCH_EVERY_S:
            self._touched[row["token_id"]] = now
            self.store.touch_token(row["token_id"], now)
        return Principal(name=row["name"], role=row["role"], scope=tuple(row["scope"]),
                         full_ids=row["full_ids"] and row["role"] in self.options.full_id_roles,
                         token_id=row["token_id"])

    def client_of(self, request: web.Request) -> str:
        peer = request.remote or "unknown"
        if self._proxies and request.headers.get("X-Forwarded-For"):
            try:
                trusted = any(ipaddress.ip_address(peer) in n for n in self._proxies)
            except ValueError:
                trusted = False
            if trusted:
                return request.headers["X-Forwarded-For"].split(",")[-1].strip()[:64] or peer
        return peer


AUTH_KEY = web.AppKey("authenticator", Authenticator)
PUBLIC_KEY = web.AppKey("public_prefixes", list)
PRINCIPAL = web.RequestKey("principal", Principal)


def install(app: web.Application, store, bootstrap_tokens, options: AuthOptions | None = None) -> None:
    app[AUTH_KEY] = Authenticator(store, bootstrap_tokens, options or AuthOptions())
    app[PUBLIC_KEY] = list(ALWAYS_PUBLIC)


def mark_public(app: web.Application, *prefixes: str) -> None:
    """Serve paths starting with one of ``prefixes`` without a token (static dashboard files)."""
    app[PUBLIC_KEY].extend(prefixes)


def _json(status: int, msg: str, headers=None) -> web.Response:
    return web.Response(status=status, text=json.dumps({"error": msg}), content_type="application/json",
                        headers=headers)


@web.middleware
async def middleware(request: web.Request, handler):
    app = request.app
    if any(request.path == p or (p.endswith("/") and request.path.startswith(p)) for p in app[PUBLIC_KEY]):
        return await handler(request)
    authn = app[AUTH_KEY]
    now = time.time()
    client = authn.client_of(request)
    wait = authn.limiter.retry_after(client, now)
    if wait:
        return _json(429, "too many failed authentication attempts", {"Retry-After": str(wait)})
    try:
        credential = parse_bearer(request.headers.get("Authorization"))
    except ValueError:
        credential, who = "", None
    else:
        who = None
        if credential is None:
            return _json(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    if credential:
        loop = asyncio.get_running_loop()
        who = await loop.run_in_executor(None, partial(authn.resolve, credential, now))
    if who is None:
        blocked = authn.limiter.failed(client, now)
        if blocked:   # one line per block, not per guess: a flood of guesses does not flood the log
            log.warning("api: a client is blocked for %ss after repeated invalid bearer credentials", blocked)
        if blocked:
            return _json(429, "too many failed authentication attempts", {"Retry-After": str(blocked)})
        return _json(401, "missing or invalid bearer token", {"WWW-Authenticate": "Bearer"})
    request[PRINCIPAL] = who
    return await handler(request)


# ---- helpers for handlers ------------------------------------------------------------------
def principal(request: web.Request) -> Principal:
    return request[PRINCIPAL]


def require_role(request: web.Request, *roles: str) -> Principal:
    who = principal(request)
    if who.role not in roles:
        raise web.HTTPForbidden(text=json.dumps({"error": "not allowed for this token's role"}),
                                content_type="application/json")
    return who


def not_found(what: str = "project") -> web.HTTPNotFound:
    return web.HTTPNotFound(text=json.dumps({"error": f"no such {what}"}), content_type="application/json")


async def check_project(request: web.Request, store, code: str) -> None:
    """404 (same as a missing project) unless the caller's scope holds ``code``."""
    who = principal(request)
    if who.is_city:
        return
    loop = asyncio.get_running_loop()
    if not await loop.run_in_executor(None, partial(who.project_allowed, store, code)):
        raise not_found()


async def visible_projects(request: web.Request, store) -> frozenset[str] | None:
    who = principal(request)
    if who.is_city:
        return None
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, partial(who.visible_projects, store))


def wants_full_ids(request: web.Request) -> bool:
    """Full ID numbers: the token may see them AND the request asks (``ids=full``)."""
    return principal(request).full_ids and request.query.get("ids") == "full"


__all__ = ["AuthOptions", "Authenticator", "FailureLimiter", "Principal", "ROLES", "check_project",
           "install", "issue_token", "mark_public", "middleware", "parse_bearer", "principal", "require_role",
           "token_hash", "validate_scope", "visible_projects", "wants_full_ids"]
