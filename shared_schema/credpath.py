"""``${CREDENTIALS_DIRECTORY}`` in configured key/certificate paths.

systemd's ``LoadCredential=`` hands a service its secrets in a private folder whose path is in
the ``CREDENTIALS_DIRECTORY`` environment variable (``/run/credentials/<unit>``). A config path
may name it: ``"${CREDENTIALS_DIRECTORY}/gateway.key"``. Outside the service (a technician's
shell running ``doctor``) the variable is unset, so the shell-like fallback form
``"${CREDENTIALS_DIRECTORY:-/etc/realname-attendance/keys}/gateway.key"`` reads the file where
systemd takes it from. No other variable is expanded: a config file stays what it says.
"""

from __future__ import annotations

import os
import re

VAR = "CREDENTIALS_DIRECTORY"
_REF = re.compile(r"\$\{([^}]*)\}")


class CredentialsPathError(ValueError):
    """A path uses ``${...}`` wrongly, or ``${CREDENTIALS_DIRECTORY}`` while it is unset."""


def expand(value: str, environ: dict | None = None) -> str:
    """``value`` with ``${CREDENTIALS_DIRECTORY}`` / ``${CREDENTIALS_DIRECTORY:-DEFAULT}`` replaced."""
    if "$" not in value:
        return value
    env = os.environ if environ is None else environ

    def sub(m: re.Match) -> str:
        name, sep, default = m.group(1).partition(":-")
        if name != VAR:
            raise CredentialsPathError(f"{value!r}: only ${{{VAR}}} is expanded in paths, not ${{{m.group(1)}}}")
        if "$" in default:
            raise CredentialsPathError(f"{value!r}: the default after ':-' cannot hold another variable")
        got = env.get(VAR, "")
        if got:
            return got.rstrip("/") if got != "/" else got
        if sep:
            return default
        raise CredentialsPathError(
            f"{value!r}: {VAR} is not set. systemd sets it only inside the service, from LoadCredential=; "
            f"from a shell (doctor, check-config) write the path as "
            f"${{{VAR}:-/etc/realname-attendance/keys}}/... so it falls back to the file systemd reads "
            f"/ 未设置 {VAR}（仅在 systemd 服务内由 LoadCredential= 提供）")

    if "$" in _REF.sub("", value):
        raise CredentialsPathError(f"{value!r}: a '$' that is not ${{{VAR}}} (write it as ${{{VAR}}})")
    return _REF.sub(sub, value)
