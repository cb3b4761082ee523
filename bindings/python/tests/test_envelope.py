"""Round trips: both suites, every recipient type (objects and text), armor, streaming over file
objects and files, data as bytes/bytearray/memoryview, signatures, the hash tool."""

import io
import os

import pytest

import esmtp

SUITES = ["chacha20-poly1305", "des-cbc-md5"]
MESSAGE = bytes(range(256)) * 700 + b"tail"  # crosses the 64 KiB chunk boundary


@pytest.fixture(scope="module")
def bob() -> esmtp.X25519Identity:
    return esmtp.X25519Identity.generate()


@pytest.fixture(scope="module")
def alice() -> esmtp.X25519Identity:
    return esmtp.X25519Identity.generate()


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("armor", [False, True])
def test_x25519_round_trip_objects_and_text(bob, suite, armor):
    for recipient in (bob.to_public(), bob.to_public().to_text()):
        envelope = esmtp.seal(MESSAGE, recipients=[recipient], suite=suite, armor=armor)
        assert isinstance(envelope, bytes)
        assert envelope.startswith(b"-----BEGIN ESMTP ENVELOPE-----") == armor
        for identity in (bob, bob.to_secret_text()):
            opened = esmtp.open(envelope, identities=[identity])
            assert opened.plaintext == MESSAGE
            assert opened.suite == suite
            assert opened.md5 == esmtp.md5_hex(MESSAGE)
            assert opened.signer is None
            assert len(opened.envelope_id) == 32


@pytest.mark.parametrize("suite", SUITES)
def test_passphrase_as_str_or_bytes(suite):
    envelope = esmtp.seal(b"secret plan", passphrase="correct horse", suite=suite)
    assert esmtp.open(envelope, passphrase="correct horse").plaintext == b"secret plan"
    assert esmtp.open(envelope, passphrase=b"correct horse").plaintext == b"secret plan"
    with pytest.raises(esmtp.NoMatchingRecipient):
        esmtp.open(envelope, passphrase="wrong horse")


@pytest.mark.parametrize("suite", SUITES)
def test_key_slip_round_trip(suite):
    sealed = esmtp.seal_envelope(b"the paper's flow", key_slip=True, suite=suite)
    slip = sealed.key_slip
    assert slip is not None and slip.envelope_id == sealed.envelope_id
    token = slip.to_text()
    assert token.startswith("ESMTP-SLIP-1")
    assert sealed.envelope_id in repr(slip) and token not in repr(slip)
    for s in (slip, token, esmtp.KeySlip.from_text(token)):
        assert esmtp.open(sealed.envelope, key_slips=[s]).plaintext == b"the paper's flow"
    other = esmtp.seal_envelope(b"x", key_slip=True).key_slip
    with pytest.raises(esmtp.NoMatchingRecipient):
        esmtp.open(sealed.envelope, key_slips=[other])


def test_several_recipient_types_at_once(bob, alice):
    sealed = esmtp.seal_envelope(
        b"to all", recipients=[bob.to_public(), alice.to_public()], passphrase="pw", key_slip=True
    )
    assert esmtp.open(sealed.envelope, identities=[alice]).plaintext == b"to all"
    assert esmtp.open(sealed.envelope, passphrase="pw").plaintext == b"to all"
    assert esmtp.open(sealed.envelope, key_slips=[sealed.key_slip]).plaintext == b"to all"


def test_bytes_bytearray_and_memoryview_go_in(bob):
    for data in (b"abc", bytearray(b"abc"), memoryview(b"xabcx")[1:4]):
        envelope = esmtp.seal(data, recipients=[bob.to_public()])
        assert esmtp.open(bytearray(envelope), identities=[bob]).plaintext == b"abc"
        assert esmtp.open(memoryview(envelope), identities=[bob]).plaintext == b"abc"
        assert esmtp.md5_hex(data) == "900150983cd24fb0d6963f7d28e17f72"
    with pytest.raises(TypeError):
        esmtp.seal("text is not bytes", recipients=[bob.to_public()])  # type: ignore[arg-type]


def test_hash_tool_matches_the_standards(tmp_path):
    assert esmtp.md5_hex(b"abc") == "900150983cd24fb0d6963f7d28e17f72"
    assert esmtp.sha256_hex(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    f = tmp_path / "f"
    f.write_bytes(b"abc")
    assert esmtp.hash_file_hex(f, "md5") == "900150983cd24fb0d6963f7d28e17f72"
    assert esmtp.hash_file_hex(str(f)) == esmtp.sha256_hex(b"abc")
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.hash_file_hex(f, "crc32")


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("armor", [False, True])
def test_streaming_over_file_objects(bob, alice, suite, armor):
    data = os.urandom(3 * 65536 + 123)
    sealed = io.BytesIO()
    report = esmtp.seal_stream(
        io.BytesIO(data), sealed, recipients=[bob.to_public()], suite=suite, armor=armor, sign_with=alice
    )
    assert report.size == len(data)
    out = io.BytesIO()
    opened = esmtp.open_stream(io.BytesIO(sealed.getvalue()), out, identities=[bob], require_signers=[alice.to_public()])
    assert out.getvalue() == data
    assert opened.size == len(data)
    assert opened.envelope_id == report.envelope_id
    assert opened.md5 == esmtp.md5_hex(data)
    assert opened.signer == alice.to_public()
    # The in-memory opener reads what the stream sealer wrote, and the reverse.
    assert esmtp.open(sealed.getvalue(), identities=[bob]).plaintext == data
    whole = esmtp.seal(data, recipients=[bob.to_public()], suite=suite, armor=armor)
    out2 = io.BytesIO()
    esmtp.open_stream(io.BytesIO(whole), out2, identities=[bob])
    assert out2.getvalue() == data


def test_streaming_over_real_files_and_key_slips(tmp_path):
    plain, sealed, opened = tmp_path / "plain", tmp_path / "sealed", tmp_path / "opened"
    plain.write_bytes(os.urandom(200_000))
    with open(plain, "rb") as src, open(sealed, "wb") as dst:
        report = esmtp.seal_stream(src, dst, key_slip=True, suite="des-cbc-md5")
    assert report.key_slip is not None
    with open(sealed, "rb") as src, open(opened, "wb") as dst:
        esmtp.open_stream(src, dst, key_slips=[report.key_slip])
    assert opened.read_bytes() == plain.read_bytes()


def test_files_appear_only_when_authentic(bob, tmp_path):
    plain, sealed, out = tmp_path / "p", tmp_path / "s", tmp_path / "o"
    plain.write_bytes(b"x" * 100_000)
    esmtp.seal_file(plain, sealed, recipients=[bob.to_public()])
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.seal_file(plain, sealed, recipients=[bob.to_public()])  # exists
    esmtp.seal_file(plain, sealed, recipients=[bob.to_public()], overwrite=True)
    damaged = tmp_path / "d"
    data = bytearray(sealed.read_bytes())
    data[-1] ^= 1
    damaged.write_bytes(bytes(data))
    with pytest.raises(esmtp.DecryptionFailed):
        esmtp.open_file(damaged, out, identities=[bob])
    assert not out.exists()
    report = esmtp.open_file(sealed, out, identities=[bob])
    assert out.read_bytes() == plain.read_bytes() and report.size == 100_000
    with pytest.raises(esmtp.IoError):
        esmtp.seal_file(tmp_path / "missing", tmp_path / "x", recipients=[bob.to_public()])


def test_a_file_objects_own_exception_comes_back_as_itself(bob):
    class Failing(io.RawIOBase):
        def readable(self):
            return True

        def read(self, n=-1):
            raise ValueError("the disk said no")

    with pytest.raises(ValueError, match="the disk said no"):
        esmtp.seal_stream(Failing(), io.BytesIO(), recipients=[bob.to_public()])
    with pytest.raises(TypeError, match="binary mode"):
        esmtp.seal_stream(io.StringIO("text"), io.BytesIO(), recipients=[bob.to_public()])


@pytest.mark.parametrize("suite", SUITES)
def test_signatures(bob, alice, suite):
    envelope = esmtp.seal(b"signed", recipients=[bob.to_public()], sign_with=alice, suite=suite)
    opened = esmtp.open(envelope, identities=[bob], require_signers=[alice.to_public()])
    assert opened.signer == alice.to_public()
    assert esmtp.open(envelope, identities=[bob], require_signers=[alice.to_public().to_text()]).signer == alice.to_public()
    with pytest.raises(esmtp.UnexpectedSigner):
        esmtp.open(envelope, identities=[bob], require_signers=[bob.to_public()])
    unsigned = esmtp.seal(b"unsigned", recipients=[bob.to_public()], suite=suite)
    assert esmtp.open(unsigned, identities=[bob]).signer is None
    with pytest.raises(esmtp.UnexpectedSigner):
        esmtp.open(unsigned, identities=[bob], require_signers=[alice.to_public()])


def test_keys_parse_compare_and_never_show_secrets(bob, tmp_path):
    public = bob.to_public()
    assert esmtp.X25519Recipient.from_text(str(public)) == public
    assert hash(esmtp.X25519Recipient.from_text(public.to_text())) == hash(public)
    assert esmtp.X25519Identity.from_text(bob.to_secret_text()).to_public() == public
    assert bob.to_secret_text() not in repr(bob)
    with pytest.raises(esmtp.InvalidKey):
        esmtp.X25519Recipient.from_text("esmtp1qqqq")
    with pytest.raises(esmtp.InvalidKey):
        esmtp.open(b"x", identities=["ESMTP-SECRET-KEY-1QQQQ"])
    protected = bob.to_file_text(passphrase="open sesame")
    contents = esmtp.parse_identity_file(protected.encode(), passphrase="open sesame")
    assert [i.to_public() for i in contents.identities] == [public]
    with pytest.raises(esmtp.NoMatchingRecipient):
        esmtp.parse_identity_file(protected.encode(), passphrase="wrong")
    path = tmp_path / "bob.key"
    path.write_text(bob.to_file_text())
    assert esmtp.load_identity_file(path).identities[0].to_public() == public
