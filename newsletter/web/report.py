"""``GET <serve.report_path>``: the operator's report page, behind HTTP Basic auth.

Off unless ``serve.report_path`` is set; the password comes from the environment
variable ``serve.report_password_env`` (any user name), compared in constant
time; a wrong or missing one gets 401 and counts against the client's window
for bad requests (then 429). The page is drawn afresh for each request on the
database threads (``newsletter.reporting``) and never cached.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from feeds.errors import ConfigError
from newsletter.config import Config
from newsletter.state import Db
from newsletter.web.endpoints import SECURITY_HEADERS
from newsletter.web.ratelimit import Windows


def report_password(config: Config) -> str:
    """The report's password from ``serve.report_password_env``; a ``ConfigError`` at
    start when it is missing or too short to guess at."""
    name = config.serve.report_password_env
    value = os.environ.get(name, "")
    if len(value) < 12:
        raise ConfigError(
            "serve.report_path",
            f"the report needs a password of 12 characters or more in environment variable "
            f"{name} (serve.report_password_env); set it, or set serve.report_path: null",
        )
    return value


@dataclass(frozen=True)
class ReportPage:
    """The report endpoint, bound to one config, database and password."""

    config: Config
    connect: Callable[[], Db]
    password: str
    # failed logins, per client (shared with the reader endpoints' bad requests)
    clients: Windows
    client: Callable[[Request], str]
    over: Callable[[Windows, str], Awaitable[Response | None]]
    # runs a function on the database threads
    run: Callable[..., Awaitable[Any]]

    async def show(self, request: Request) -> Response:
        if not self._authorised(request.headers.get("authorization", "")):
            limited = await self.over(self.clients, self.client(request))
            return limited or Response(
                "The report needs the operator's password.\n",
                status_code=401,
                headers={**SECURITY_HEADERS, "www-authenticate": 'Basic realm="feedletter report", '
                         'charset="UTF-8"'},
            )  # fmt: skip
        body = await self.run(self._page)
        return HTMLResponse(body, headers=SECURITY_HEADERS)  # inline styles only

    def _authorised(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, given = decoded.partition(":")
        return hmac.compare_digest(given.encode(), self.password.encode())

    def _page(self) -> str:
        from newsletter.reporting.figures import gather
        from newsletter.reporting.page import page

        with self.connect() as conn:
            found = gather(conn, self.config, datetime.now(UTC))
        return page(found, self.config.templates)
