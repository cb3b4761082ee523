#!/usr/bin/env python3
"""Re-serialise a mail with Python's standard email package, as a relaying client might.

usage: reserialize.py MAIL MODE > OUT

MODE:
  smtp      parse with policy.default, write with BytesGenerator(policy=policy.SMTP): CRLF,
            headers refolded by Python
  default   the same with policy.default: LF line endings
  compat32  the legacy parser and generator (mangle_from_ on, as mbox writers do): LF
  base64    like smtp, but every non-multipart part re-encoded as base64 first, as gateways
            that distrust 7bit do
Standard library only; writes the bytes to stdout.
"""

import email
import email.encoders
import io
import sys
from email import policy
from email.generator import BytesGenerator


def main():
    path, mode = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        raw = f.read()
    out = io.BytesIO()
    if mode == "compat32":
        msg = email.message_from_bytes(raw)
        BytesGenerator(out, mangle_from_=True).flatten(msg)
    elif mode in ("smtp", "default", "base64"):
        msg = email.message_from_bytes(raw, policy=policy.default)
        if mode == "base64":
            for part in msg.walk():
                if part.is_multipart():
                    continue
                payload = part.get_payload(decode=True)
                del part["Content-Transfer-Encoding"]
                part.set_payload(payload)
                email.encoders.encode_base64(part)
        BytesGenerator(out, policy=policy.default if mode == "default" else policy.SMTP).flatten(msg)
    else:
        sys.exit(f"reserialize: unknown mode {mode!r}")
    sys.stdout.buffer.write(out.getvalue())


if __name__ == "__main__":
    main()
