"""Encrypted mails: built from a draft, read back into structured objects."""

import pytest

import esmtp


@pytest.fixture(scope="module")
def keys():
    return esmtp.X25519Identity.generate(), esmtp.X25519Identity.generate()


@pytest.mark.parametrize("suite", ["chacha20-poly1305", "des-cbc-md5"])
def test_a_mail_round_trips_with_attachments_and_signature(keys, suite):
    alice, bob = keys
    draft = esmtp.Draft(
        esmtp.Mailbox("alice@example.org", "Alice"),
        ["bob@example.org"],
        cc=[esmtp.Mailbox("carol@example.org")],
        subject="The plan",
        text="Meet at noon.",
        html="<p>Meet at <b>noon</b>.</p>",
        attachments=[esmtp.Attachment("plan.bin", bytes([0, 13, 10, 255]))],
        in_reply_to=["earlier@example.org"],
        date=1_700_000_000,
    )
    assert draft.sender.name == "Alice" and draft.subject == "The plan"
    mail = esmtp.build_mail(draft, recipients=[bob.to_public()], sign_with=alice, suite=suite)
    assert b"The plan" not in mail.data and b"Meet at noon" not in mail.data
    assert mail.key_slip is None and not mail.smtputf8
    read = esmtp.read_mail(mail.data, identities=[bob], require_signers=[alice.to_public()])
    assert isinstance(read, esmtp.EncryptedMail)
    assert read.headers.subject == "The plan"
    assert read.headers.sender == esmtp.Mailbox("alice@example.org", "Alice")
    assert [m.address for m in read.headers.cc] == ["carol@example.org"]
    assert read.headers.date == 1_700_000_000
    assert read.headers.in_reply_to == ["earlier@example.org"]
    assert read.outer.subject != "The plan"
    assert read.text is not None and read.text.strip() == "Meet at noon."
    assert read.html is not None and "<b>noon</b>" in read.html
    assert [(a.filename, a.content_type, a.data) for a in read.attachments] == [
        ("plan.bin", "application/octet-stream", bytes([0, 13, 10, 255]))
    ]
    assert read.signer == alice.to_public()
    assert read.suite == suite and read.envelope_id == mail.envelope_id
    assert read.md5 == esmtp.md5_hex(read.raw)
    with pytest.raises(esmtp.NoMatchingRecipient):
        esmtp.read_mail(mail.data, identities=[alice])
    with pytest.raises(esmtp.UnexpectedSigner):
        esmtp.read_mail(mail.data, identities=[bob], require_signers=[bob.to_public()])


def test_key_slip_mails_and_plain_mails(keys):
    mail = esmtp.build_mail(esmtp.Draft("a@example.org", ["b@example.org"], text="x"), key_slip=True)
    assert mail.key_slip is not None and mail.key_slip.envelope_id == mail.envelope_id
    read = esmtp.read_mail(mail.data, key_slips=[mail.key_slip.to_text()])
    assert isinstance(read, esmtp.EncryptedMail) and read.signer is None
    plain = esmtp.read_mail(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n")
    assert isinstance(plain, esmtp.PlainMail)
    assert plain.headers.subject == "hi"


def test_a_draft_that_cannot_be_a_mail_is_invalid_argument(keys):
    _, bob = keys
    with pytest.raises(esmtp.InvalidArgument):
        esmtp.build_mail(esmtp.Draft("not an address", ["b@example.org"]), recipients=[bob.to_public()])
