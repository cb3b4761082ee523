#!/usr/bin/env python3
"""Check an esmtp encrypted mail (MIME.md section 3) with Python's standard email package.

usage: check_outer.py MAIL [--subject PLACEHOLDER] [--forbid TEXT]...

Parses MAIL and asserts: a multipart/encrypted message with
protocol="application/vnd.esmtp.envelope" and exactly two parts (the version part with
"Version: 1", then application/octet-stream holding one armored envelope); the placeholder
subject; an X-Esmtp-Envelope-Id of 32 hex digits; no Bcc; no parser defects; CRLF lines of at
most 78 characters; and none of the --forbid texts anywhere: not in the raw bytes, not in any
decoded header, not in any decoded part. Exits non-zero with a message on the first failure.
Standard library only.
"""

import argparse
import email
import re
import sys
from email import policy


def fail(message):
    print(f"check_outer: FAIL: {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mail")
    parser.add_argument("--subject", default="...")
    parser.add_argument("--forbid", action="append", default=[])
    parser.add_argument("--lf", action="store_true", help="accept LF line endings")
    args = parser.parse_args()

    with open(args.mail, "rb") as f:
        raw = f.read()

    lines = raw.split(b"\n")
    check(lines[-1] == b"", "the mail does not end with a line ending")
    for number, line in enumerate(lines[:-1], 1):
        if not args.lf:
            check(line.endswith(b"\r"), f"line {number} does not end in CRLF")
            line = line[:-1]
        check(len(line) <= 78, f"line {number} has {len(line)} characters")
        check(b"\r" not in line, f"line {number} holds a bare CR")
    check(raw.isascii(), "the mail is not 7-bit")

    msg = email.message_from_bytes(raw, policy=policy.default)
    check(not msg.defects, f"parser defects: {msg.defects}")
    check(msg.get_content_type() == "multipart/encrypted", f"top type is {msg.get_content_type()}")
    check(
        msg.get_param("protocol") == "application/vnd.esmtp.envelope",
        f"protocol is {msg.get_param('protocol')!r}",
    )
    check(msg.is_multipart(), "not multipart")
    parts = msg.get_payload()
    check(len(parts) == 2, f"{len(parts)} parts instead of 2")
    version, envelope = parts
    for part in parts:
        check(not part.defects, f"part defects: {part.defects}")
    check(
        version.get_content_type() == "application/vnd.esmtp.envelope",
        f"first part is {version.get_content_type()}",
    )
    check(
        re.search(rb"^Version: 1\r?$", version.get_payload(decode=True), re.M) is not None,
        "the version part lacks 'Version: 1'",
    )
    check(
        envelope.get_content_type() == "application/octet-stream",
        f"second part is {envelope.get_content_type()}",
    )
    armored = envelope.get_payload(decode=True).decode("ascii")
    blocks = re.findall(
        r"-----BEGIN ESMTP ENVELOPE-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END ESMTP ENVELOPE-----", armored
    )
    check(len(blocks) == 1, "the envelope part does not hold exactly one armored envelope")
    body_lines = blocks[0].replace("\r", "").split("\n")[:-1]
    check(all(len(l) == 64 for l in body_lines[:-1]), "armor lines are not 64 characters")

    check(str(msg["Subject"]) == args.subject, f"subject is {str(msg['Subject'])!r}")
    check(
        re.fullmatch(r"[0-9a-f]{32}", str(msg["X-Esmtp-Envelope-Id"] or "")) is not None,
        "X-Esmtp-Envelope-Id missing or not 32 hex digits",
    )
    check(msg["Message-ID"] is not None and msg["Date"] is not None, "Message-ID or Date missing")
    for name in ("Bcc", "Reply-To", "In-Reply-To", "References"):
        check(name not in msg, f"the outer message has {name}")

    decoded = [str(value) for _, value in msg.items()]
    for part in msg.walk():
        decoded += [str(value) for _, value in part.items()]
        if not part.is_multipart():
            decoded.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    for text in args.forbid:
        check(text.encode("utf-8") not in raw, f"{text!r} appears in the raw mail")
        for value in decoded:
            check(text not in value, f"{text!r} appears in a decoded header or part")

    print(f"check_outer: ok: multipart/encrypted, 2 parts, {len(raw)} bytes, {len(args.forbid)} texts absent")


if __name__ == "__main__":
    main()
