"""Peer check with the `esmtp` command: what Python seals, the command opens, and the reverse
(recipients, passphrases, key slips, signatures, armor, both suites)."""

import io
import os
import subprocess

import pytest

import esmtp

SUITES = ["chacha20-poly1305", "des-cbc-md5"]


def run(cli, *args):
    done = subprocess.run([cli, *map(str, args)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("armor", [False, True])
def test_python_seals_the_command_opens(esmtp_cli, tmp_path, suite, armor):
    bob, alice = esmtp.X25519Identity.generate(), esmtp.X25519Identity.generate()
    (tmp_path / "bob.key").write_text(bob.to_file_text())
    message = os.urandom(150_000)
    sealed = tmp_path / "m.esmtp"
    sealed.write_bytes(esmtp.seal(message, recipients=[bob.to_public()], sign_with=alice, suite=suite, armor=armor))
    out = tmp_path / "m.out"
    done = run(esmtp_cli, "open", "-i", tmp_path / "bob.key", "--expect-signer", alice.to_public(), "-o", out, sealed)
    assert out.read_bytes() == message
    assert esmtp.md5_hex(message) in done.stderr and suite in done.stderr

    # A passphrase, and a key slip delivered apart.
    (tmp_path / "pass").write_text("correct horse\n")
    sealed.write_bytes(esmtp.seal(message, passphrase="correct horse", suite=suite, armor=armor))
    run(esmtp_cli, "open", "--passphrase-file", tmp_path / "pass", "--force", "-o", out, sealed)
    assert out.read_bytes() == message
    s = esmtp.seal_envelope(message, key_slip=True, suite=suite, armor=armor)
    sealed.write_bytes(s.envelope)
    (tmp_path / "slip.txt").write_text(s.key_slip.to_text() + "\n")
    run(esmtp_cli, "open", "--key-slip", tmp_path / "slip.txt", "--force", "-o", out, sealed)
    assert out.read_bytes() == message


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("armor", [False, True])
def test_the_command_seals_python_opens(esmtp_cli, tmp_path, suite, armor):
    carol_key, dave_key = tmp_path / "carol.key", tmp_path / "dave.key"
    run(esmtp_cli, "keygen", "-o", carol_key)
    run(esmtp_cli, "keygen", "-o", dave_key)
    carol = esmtp.load_identity_file(carol_key).identities[0]
    dave = esmtp.load_identity_file(dave_key).identities[0]
    message = os.urandom(100_000)
    plain = tmp_path / "m.txt"
    plain.write_bytes(message)
    sealed = tmp_path / "m.esmtp"
    args = ["seal", "-r", carol.to_public(), "--sign-with", dave_key, "--suite", suite, "-o", sealed, plain]
    run(esmtp_cli, *(args[:1] + (["-a"] if armor else []) + args[1:]))
    opened = esmtp.open(sealed.read_bytes(), identities=[carol], require_signers=[dave.to_public()])
    assert opened.plaintext == message and opened.signer == dave.to_public() and opened.suite == suite
    with open(sealed, "rb") as f:
        out = io.BytesIO()
        esmtp.open_stream(f, out, identities=[carol.to_secret_text()])
        assert out.getvalue() == message

    slip = tmp_path / "slip.txt"
    run(esmtp_cli, "seal", "--suite", suite, "--key-slip-out", slip, "--force", "-o", sealed, plain)
    assert esmtp.open(sealed.read_bytes(), key_slips=[slip.read_text()]).plaintext == message
