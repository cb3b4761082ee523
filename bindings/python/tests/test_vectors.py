"""The shared vectors of esmtp-core/testdata (SPEC.md section 8) give the same outcomes as in
Rust (esmtp-core/tests/testkit.rs): each expected error is its exception, each success its
payload digests and signer."""

import pathlib

import pytest

import esmtp
from conftest import TESTDATA

# The test kit's outcome names and the exceptions that carry them.
EXPECTED = {
    "malformed": esmtp.MalformedEnvelope,
    "unsupported-version": esmtp.MalformedEnvelope,
    "unsupported-suite": esmtp.MalformedEnvelope,
    "no-match": esmtp.NoMatchingRecipient,
    "excessive-work": esmtp.ExcessiveWork,
    "decryption-failed": esmtp.DecryptionFailed,
    "bad-signature": esmtp.BadSignature,
    "unexpected-signer": esmtp.UnexpectedSigner,
}


def parse(path: pathlib.Path):
    data = path.read_bytes()
    split = data.index(b"\n\n")
    fields: dict = {}
    for line in data[:split].decode().splitlines():
        key, value = line.split(": ", 1)
        fields.setdefault(key, []).append(value)
    return fields, data[split + 2 :]


VECTORS = sorted((TESTDATA / "testkit").iterdir())
KEYS = sorted((TESTDATA / "keys").iterdir())


def test_the_kit_is_all_there():
    assert len(VECTORS) >= 80 and len(KEYS) >= 10


@pytest.mark.parametrize("path", VECTORS, ids=lambda p: p.name)
def test_vector(path):
    fields, envelope = parse(path)
    get = lambda k: fields.get(k, [])  # noqa: E731
    passphrases = get("passphrase")
    assert len(passphrases) <= 1
    kwargs = dict(
        identities=get("identity"),
        passphrase=passphrases[0] if passphrases else None,
        key_slips=get("key-slip"),
        require_signers=get("require-signer"),
    )
    expect = get("expect")[0]
    if expect == "success":
        opened = esmtp.open(envelope, **kwargs)
        assert esmtp.md5_hex(opened.plaintext) == get("payload-md5")[0]
        assert esmtp.sha256_hex(opened.plaintext) == get("payload-sha256")[0]
        assert opened.md5 == get("payload-md5")[0]
        assert opened.suite == get("suite")[0]
        signer = "none" if opened.signer is None else opened.signer.to_text()
        assert signer == get("signer")[0]
    else:
        with pytest.raises(EXPECTED[expect]):
            esmtp.open(envelope, **kwargs)


@pytest.mark.parametrize("path", KEYS, ids=lambda p: p.name)
def test_rejected_key(path):
    fields, text = parse(path)
    parse_key = {"recipient": esmtp.X25519Recipient.from_text, "identity": esmtp.X25519Identity.from_text}
    with pytest.raises(esmtp.InvalidKey):
        parse_key[fields["kind"][0]](text.decode())


# The mail vectors' outcome names (esmtp-core/tests/mime_vectors.rs) and their exceptions.
MAIL_EXPECTED = {
    "malformed": esmtp.MalformedMail,
    "too-deep": esmtp.MalformedMail,
    "too-many-parts": esmtp.MalformedMail,
    "unsupported-version": esmtp.MalformedMail,
    "envelope-id-mismatch": esmtp.MalformedMail,
    "bad-key-slip": esmtp.MalformedMail,
    "too-large": esmtp.MessageTooLarge,
    "no-match": esmtp.NoMatchingRecipient,
    "decryption-failed": esmtp.DecryptionFailed,
    "envelope-malformed": esmtp.MalformedEnvelope,
}
MAIL_RESULTS = {"encrypted": esmtp.EncryptedMail, "key-slip": esmtp.KeySlipMail, "plain": esmtp.PlainMail}
MAILS = sorted(p for p in (TESTDATA / "mime").iterdir() if not p.name.startswith("."))


@pytest.mark.parametrize("path", MAILS, ids=lambda p: p.name)
def test_mail_vector(path):
    fields, mail = parse(path)
    get = lambda k: fields.get(k, [])  # noqa: E731
    passphrases = get("passphrase")
    kwargs = dict(
        identities=get("identity"),
        passphrase=passphrases[0] if passphrases else None,
        key_slips=get("key-slip"),
    )
    expect = get("expect")[0]
    if expect in MAIL_RESULTS:
        read = esmtp.read_mail(mail, **kwargs)
        assert isinstance(read, MAIL_RESULTS[expect])
        if isinstance(read, esmtp.EncryptedMail):
            assert read.envelope_id == get("envelope-id")[0]
            assert read.headers.subject == (get("subject") or [None])[0]
        elif isinstance(read, esmtp.KeySlipMail):
            assert read.envelope_id == get("envelope-id")[0]
            assert read.key_slip.envelope_id == read.envelope_id
    else:
        with pytest.raises(MAIL_EXPECTED[expect]):
            esmtp.read_mail(mail, **kwargs)
