"""Keep storage passwords out of everything dse prints or records.

A storage URL's password may come in any shape a user can type: SQLAlchemy takes it as
everything between ``scheme://user:`` and the next ``@`` (raw ``/``, ``#``, ``?`` and ``:``
included), and a mistyped URL (``postgresql:/u:pw@h/d`` with one slash, a leading space, no
scheme at all) still holds one.  So `redact_url` does not parse: in any text but a file URL
(``sqlite:///``, ``journal:///``, which have no authority) everything between the first
``:`` of the user part and the *last* ``@`` is hidden, which covers SQLAlchemy's reading, any
password holding a raw ``@`` and every malformed shape; passwords given as query or keyword
parameters (libpq's ``password=``) are hidden too.  Hiding is done before any shortening, so
no truncated fragment of a password survives.  Import-light: the CLI banner and error lines
use it before any database driver loads.
"""

from __future__ import annotations

import re

#: Environment variable that hands a storage URL to a worker without showing it in `ps`.
STORAGE_ENV = "DSE_STORAGE"

#: File URLs: no authority, so nothing in them is a password (``sqlite:///runs/a:b@c.db``).
_FILE_URL = re.compile(r"(?:sqlite|journal):///")
#: What comes before the user part: blanks, then a scheme only when slashes follow it (in
#: ``u:pw@host`` or ``postgresql:pw@host`` the part before ":" is read as a user name).
_PREFIX = re.compile(r"\s*(?:[A-Za-z][\w+.-]*:/+)?")
_KEYWORD_SECRET = re.compile(
    r"(?i)((?:^|[?&;\s])(?:password|sslpassword|passfile|passwd|pwd)\s*=\s*)"
    r"""('[^']*'|"[^"]*"|[^&;\s]*)"""
)


def redact_url(url: str) -> str:
    """`url` with its password (in the user part, the query or a ``password=`` keyword)
    replaced by ``***``, whatever the URL's shape."""
    if not _FILE_URL.match(url):
        at = url.rfind("@")
        start = _PREFIX.match(url).end()
        colon = url.find(":", start, at) if at > start else -1
        if colon >= 0:
            url = url[: colon + 1] + "***" + url[at:]
    return _KEYWORD_SECRET.sub(r"\1***", url)
