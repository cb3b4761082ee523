"""The Python side of scripts/bench-python: esmtp.seal / esmtp.open on the same input as the
Rust `rust_calls` binary, and the paper's scheme written with pycryptodome (DES-CBC) and
hashlib (MD5), the way a Python programmer would write it without esmtp.

Prints one line per operation: name<TAB>MB/s<TAB>what (10^6 bytes per second).
Usage: python python_calls.py [--seconds S] [--mib N]
"""

import argparse
import hashlib
import hmac
import os
import sys
import time

import esmtp
from Crypto.Cipher import DES
from Crypto.Util.Padding import pad, unpad


def message(length: int) -> bytes:
    """The same bytes as esmtp_benches::input (xorshift64*), so both sides seal the same input."""
    state = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1
    out = bytearray()
    while len(out) < length:
        state ^= state >> 12
        state ^= (state << 25) & mask
        state ^= state >> 27
        out += ((state * 0x2545F4914F6CDD1D) & mask).to_bytes(8, "little")
    return bytes(out[:length])


def throughput(nbytes: int, seconds: float, op) -> float:
    """Mean MB/s of `op` over at least `seconds`, after a warm-up of a fifth of that."""
    warm = time.perf_counter()
    op()
    while time.perf_counter() - warm < seconds / 5:
        op()
    start = time.perf_counter()
    calls = 0
    while True:
        op()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls * nbytes / elapsed / 1e6


def paper_seal(data: bytes) -> tuple[bytes, bytes, bytes]:
    """The paper's scheme: a fresh DES key and random number (IV), DES-CBC over the mail and
    its MD5. Returns (key, iv, ciphertext); key and iv travel separately, as in the paper."""
    key = os.urandom(8)
    iv = os.urandom(8)
    digest = hashlib.md5(data).digest()
    ciphertext = DES.new(key, DES.MODE_CBC, iv).encrypt(pad(data + digest, 8))
    return key, iv, ciphertext


def paper_open(key: bytes, iv: bytes, ciphertext: bytes) -> bytes:
    """Decrypt, then check the MD5 before handing anything back."""
    plain = unpad(DES.new(key, DES.MODE_CBC, iv).decrypt(ciphertext), 8)
    data, digest = plain[:-16], plain[-16:]
    if not hmac.compare_digest(hashlib.md5(data).digest(), digest):
        raise ValueError("MD5 mismatch")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--mib", type=int, default=1)
    args = parser.parse_args()
    data = message(args.mib * 1024 * 1024)
    bob = esmtp.X25519Identity.generate()
    to = bob.to_public()

    def line(name: str, mb_s: float, what: str) -> None:
        print(f"{name}\t{mb_s:.1f}\t{what}", flush=True)

    for suite in ("chacha20-poly1305", "des-cbc-md5"):
        mb_s = throughput(len(data), args.seconds, lambda: esmtp.seal(data, recipients=[to], suite=suite))
        line(f"seal-{suite}", mb_s, f"esmtp.seal, {args.mib} MiB, {suite}, one X25519 recipient")
        envelope = esmtp.seal(data, recipients=[to], suite=suite)
        if esmtp.open(envelope, identities=[bob]).plaintext != data:
            print("round trip failed", file=sys.stderr)
            return 1
        mb_s = throughput(len(data), args.seconds, lambda: esmtp.open(envelope, identities=[bob]))
        line(f"open-{suite}", mb_s, f"esmtp.open, {args.mib} MiB, {suite}, one X25519 recipient")

    mb_s = throughput(len(data), args.seconds, lambda: paper_seal(data))
    line("seal-pycryptodome", mb_s, f"pycryptodome DES-CBC + hashlib MD5, seal, {args.mib} MiB")
    key, iv, ciphertext = paper_seal(data)
    if paper_open(key, iv, ciphertext) != data:
        print("pycryptodome round trip failed", file=sys.stderr)
        return 1
    mb_s = throughput(len(data), args.seconds, lambda: paper_open(key, iv, ciphertext))
    line("open-pycryptodome", mb_s, f"pycryptodome DES-CBC + hashlib MD5, open, {args.mib} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
