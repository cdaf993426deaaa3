"""Keep storage passwords out of everything dse prints or records.

SQLAlchemy's URL parser takes the password as everything between ``scheme://user:`` and
the next ``@`` (raw ``/``, ``#``, ``?`` and ``:`` included), so a URL splitter that stops at
``/`` or ``#`` would print part of it.  Here everything between ``://user:`` and the *last*
``@`` is hidden, which covers SQLAlchemy's reading and any password holding a raw ``@``;
passwords given as query parameters (libpq's ``password=``) are hidden too.  Import-light:
the CLI banner and error lines use it before any database driver loads.
"""

from __future__ import annotations

import re

#: Environment variable that hands a storage URL to a worker without showing it in `ps`.
STORAGE_ENV = "DSE_STORAGE"

_USERINFO = re.compile(r"^(?P<head>[\w+.-]+://[^:/?#]*:)(?P<secret>.*)@", re.DOTALL)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:password|sslpassword|passfile)=)[^&]*")


def redact_url(url: str) -> str:
    """`url` with its password (in the authority or the query) replaced by ``***``."""
    hidden = _USERINFO.sub(lambda m: m["head"] + "***@", url, count=1)
    return _QUERY_SECRET.sub(r"\1***", hidden)
