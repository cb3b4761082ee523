"""Exceptions: the hierarchy, what raises what, `transient`, and no secret in any message."""

import pytest

import esmtp

HIERARCHY = {
    esmtp.InvalidKey: esmtp.EsmtpError,
    esmtp.InvalidArgument: esmtp.EsmtpError,
    esmtp.MalformedEnvelope: esmtp.EsmtpError,
    esmtp.MalformedMail: esmtp.EsmtpError,
    esmtp.NoMatchingRecipient: esmtp.EsmtpError,
    esmtp.DecryptionFailed: esmtp.EsmtpError,
    esmtp.BadSignature: esmtp.EsmtpError,
    esmtp.UnexpectedSigner: esmtp.EsmtpError,
    esmtp.ExcessiveWork: esmtp.EsmtpError,
    esmtp.MessageTooLarge: esmtp.EsmtpError,
    esmtp.SenderNotAllowed: esmtp.EsmtpError,
    esmtp.IoError: esmtp.EsmtpError,
    esmtp.RandomError: esmtp.EsmtpError,
    esmtp.TransportError: esmtp.EsmtpError,
    esmtp.AuthenticationFailed: esmtp.TransportError,
    esmtp.TlsError: esmtp.TransportError,
    esmtp.Timeout: esmtp.TransportError,
    esmtp.Cancelled: esmtp.TransportError,
}


@pytest.mark.parametrize("cls,base", HIERARCHY.items(), ids=lambda c: getattr(c, "__name__", ""))
def test_hierarchy(cls, base):
    assert issubclass(cls, base) and issubclass(cls, esmtp.EsmtpError) and issubclass(cls, Exception)
    assert cls.__module__ == "esmtp"
    assert cls.transient is False


@pytest.fixture(scope="module")
def sealed():
    bob = esmtp.X25519Identity.generate()
    return bob, esmtp.seal(b"message", recipients=[bob.to_public()], passphrase="the passphrase")


def test_a_wrong_key_or_passphrase_is_no_matching_recipient(sealed):
    _, envelope = sealed
    with pytest.raises(esmtp.NoMatchingRecipient) as e:
        esmtp.open(envelope, identities=[esmtp.X25519Identity.generate()])
    assert e.value.transient is False
    with pytest.raises(esmtp.NoMatchingRecipient) as e:
        esmtp.open(envelope, passphrase="not the passphrase")
    assert "not the passphrase" not in str(e.value)


def test_a_modified_envelope_is_decryption_failed(sealed):
    bob, envelope = sealed
    damaged = bytearray(envelope)
    damaged[-5] ^= 0x40
    with pytest.raises(esmtp.DecryptionFailed):
        esmtp.open(bytes(damaged), identities=[bob])
    with pytest.raises(esmtp.DecryptionFailed):
        esmtp.open(envelope[:-1], identities=[bob])


def test_bytes_that_are_no_envelope_are_malformed_envelope(sealed):
    bob, _ = sealed
    for junk in (b"", b"hello world", b"ESMTPENV", bytes(100)):
        with pytest.raises(esmtp.MalformedEnvelope):
            esmtp.open(junk, identities=[bob])


def test_invalid_arguments():
    with pytest.raises(esmtp.InvalidArgument, match="suite"):
        esmtp.seal(b"x", passphrase="p", suite="rot13")
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.seal(b"x")  # nobody could open it
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.seal(b"x", passphrase=b"\xff\xfe")  # not UTF-8
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.Server("h", 1, tls="none")
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.Account("a@b.example", password="p", oauth2_token="t")
    with pytest.raises(TypeError):
        esmtp.seal(b"x", recipients=[42])  # type: ignore[list-item]


def test_invalid_keys():
    with pytest.raises(esmtp.InvalidKey):
        esmtp.seal(b"x", recipients=["esmtp1notakey"])
    with pytest.raises(esmtp.InvalidKey):
        esmtp.KeySlip.from_text("ESMTP-SLIP-1QQQQ")


def test_malformed_mail():
    with pytest.raises(esmtp.MalformedMail):
        esmtp.read_mail(
            b"From: a@b.example\r\nX-Esmtp-Envelope-Id: 129d4ed6c9cd2b3f09ca9211099d30d9\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/encrypted; "
            b'protocol="application/vnd.esmtp.envelope"; boundary="b"\r\n\r\n--b--\r\n'
        )


def test_io_error(tmp_path):
    with pytest.raises(esmtp.IoError):
        esmtp.load_identity_file(tmp_path / "missing")


def test_excessive_work_is_its_own_error():
    envelope = esmtp.seal(b"x", passphrase="pw")
    with pytest.raises(esmtp.ExcessiveWork):
        esmtp.open(envelope, passphrase="pw", max_passphrase_work=(8, 1, 1))


def test_sender_not_allowed_before_any_connection():
    account = esmtp.Account(
        "alice@example.org", password="pw", smtp=esmtp.Server("127.0.0.1", 1)
    )
    draft = esmtp.Draft("mallory@elsewhere.example", ["bob@example.org"], text="hi")
    with esmtp.Mailer(account) as mailer:
        with pytest.raises(esmtp.SenderNotAllowed):
            mailer.send_secure(draft, key_slip=True)


def test_a_refused_connection_is_a_transient_transport_error():
    account = esmtp.Account("a@b.example", password="the-password", imap=esmtp.Server("127.0.0.1", 1))
    with pytest.raises(esmtp.TransportError) as e:
        esmtp.ImapInbox(account)
    assert e.value.transient is True
    assert "the-password" not in str(e.value)


def test_an_oauth2_token_is_a_str_or_a_callable():
    def provider() -> str:
        raise RuntimeError("the identity provider is down")

    account = esmtp.Account("a@b.example", oauth2_token=provider, smtp=esmtp.Server("127.0.0.1", 1))
    assert account.address == "a@b.example"
    with pytest.raises(TypeError):
        esmtp.Account("a@b.example", oauth2_token=42)  # type: ignore[arg-type]
