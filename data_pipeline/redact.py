"""Mask credentials that users put into URIs before they reach MLflow, a manifest or the console.

`https://user:token@host`, `s3://KEY:SECRET@bucket/x` and `?token=...` queries all work as
tracking URIs or data paths, and all would otherwise be stored verbatim where anyone who can read
the run (or the dataset folder) sees them.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://userinfo@ : the userinfo part is a credential (a password, or a token standing alone).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^/@\s:]*)(?::(?P<pw>[^@\s]*))?@")
# ?token=... &X-Amz-Signature=... : query parameters whose names say they carry a secret.
_SECRET_QUERY = re.compile(
    r"(?P<key>[?&](?:[A-Za-z0-9_\-]*(?:token|secret|password|passwd|signature|credential|sig|key)[A-Za-z0-9_\-]*))="
    r"(?P<value>[^&#\s]*)",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """`text` with every URI credential replaced by `***` (user names stay: they identify, not grant)."""

    def userinfo(m: re.Match) -> str:
        if m.group("pw") is not None:
            return f"{m.group('scheme')}{m.group('user')}:{MASK}@"
        return f"{m.group('scheme')}{MASK}@"  # a lone token in the user slot

    text = _USERINFO.sub(userinfo, text)
    return _SECRET_QUERY.sub(lambda m: f"{m.group('key')}={MASK}", text)
