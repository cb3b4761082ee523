#!/usr/bin/env python3
"""Build the mail a MIME-mangling client sends: the armored envelope of an esmtp mail pasted
into the text/plain body of a new message, composed with Python's standard email package.

usage: paste_armor.py MAIL CTE > OUT      (CTE: 7bit, quoted-printable or base64)
"""

import email
import re
import sys
from email import policy
from email.message import EmailMessage


def main():
    path, cte = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        original = email.message_from_bytes(f.read(), policy=policy.default)
    armored = None
    for part in original.walk():
        if part.get_content_type() == "application/octet-stream":
            text = part.get_payload(decode=True).decode("ascii")
            found = re.search(r"-----BEGIN ESMTP ENVELOPE-----.*?-----END ESMTP ENVELOPE-----", text, re.S)
            armored = found.group(0).replace("\r\n", "\n")
    if armored is None:
        sys.exit("paste_armor: no armored envelope found")
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = original["From"]
    msg["To"] = original["To"]
    msg["Subject"] = "Fwd: encrypted message"
    msg["Message-ID"] = "<pasted@example.com>"
    msg.set_content("Forwarded as text:\n\n" + armored + "\n\n-- \nsent from a plain client\n", cte=cte)
    sys.stdout.buffer.write(msg.as_bytes())


if __name__ == "__main__":
    main()
