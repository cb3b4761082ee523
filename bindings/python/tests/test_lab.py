"""Against the local mail lab (real Postfix + Dovecot on 127.0.0.1, ./scripts/mail-lab): send,
then fetch over IMAP and POP3; batches, key slips, OAuth2 from a callable, IDLE with a timeout
and with Ctrl-C, and the errors of a wrong password or an untrusted certificate."""

import os
import subprocess
import threading
import time
import _thread

import pytest

import esmtp


def account(lab, user, **kwargs):
    host = lab["ESMTP_LAB_HOST"]
    login = kwargs.pop("login", {"password": lab[f"ESMTP_LAB_{user.upper()}_PASSWORD"]})
    return esmtp.Account(
        lab[f"ESMTP_LAB_{user.upper()}_ADDRESS"],
        smtp=esmtp.Server(host, int(lab["ESMTP_LAB_SMTPS_PORT"])),
        imap=esmtp.Server(host, int(lab["ESMTP_LAB_IMAPS_PORT"])),
        pop3=esmtp.Server(host, int(lab["ESMTP_LAB_POP3S_PORT"])),
        ca_file=lab["ESMTP_LAB_CA"],
        **login,
        **kwargs,
    )


def tag() -> str:
    return os.urandom(6).hex()


def wait_for_imap(inbox, subject, **open_args):
    """Fetch until the mail with `subject` is there (delivery takes a moment)."""
    for _ in range(100):
        report = inbox.fetch("INBOX", **open_args)
        for m in report.messages:
            if m.status == "opened" and m.mail.headers.subject == subject:
                return m, report
        time.sleep(0.1)
    raise AssertionError(f"{subject!r} did not arrive over IMAP")


def test_send_then_fetch_over_imap_and_pop3(lab):
    alice, bob = esmtp.X25519Identity.generate(), esmtp.X25519Identity.generate()
    subject = f"python lab {tag()}"
    with esmtp.Mailer(account(lab, "alice")) as mailer:
        caps = mailer.capabilities()
        assert "PLAIN" in caps.auth and caps.lines
        draft = esmtp.Draft(
            lab["ESMTP_LAB_ALICE_ADDRESS"],
            [lab["ESMTP_LAB_BOB_ADDRESS"]],
            subject=subject,
            text="Meet at noon.",
            attachments=[esmtp.Attachment("plan.bin", b"\x00\x01\xff")],
        )
        report = mailer.send_secure(draft, recipients=[bob.to_public()], sign_with=alice)
    assert report.reply_code == 250 and report.size > 0 and report.key_slips == []

    with esmtp.ImapInbox(account(lab, "bob")) as imap:
        assert "INBOX" in imap.mailboxes()
        found, first = wait_for_imap(imap, subject, identities=[bob], require_signers=[alice.to_public()])
        assert found.uid is not None and found.uidl is None
        assert found.mail.signer == alice.to_public()
        assert found.mail.envelope_id == report.envelope_id == found.envelope_id
        assert found.mail.attachments[0].data == b"\x00\x01\xff"
        assert found.outer.subject != subject
        again = imap.fetch("INBOX", since=first.sync_state, identities=[bob])
        assert all(m.uid != found.uid for m in again.messages), "incremental: not fetched twice"

    with esmtp.Pop3Inbox(account(lab, "bob")) as pop3:
        r = pop3.fetch(identities=[bob])
        ours = [m for m in r.messages if m.envelope_id == report.envelope_id]
        assert len(ours) == 1 and ours[0].status == "opened" and ours[0].uidl is not None
        assert ours[0].mail.headers.subject == subject
        assert r.sync_state
        again = pop3.fetch(since=r.sync_state, identities=[bob])
        assert all(m.uidl != ours[0].uidl for m in again.messages)


def test_key_slip_delivery_batches_and_identities_in_the_account(lab):
    bob = esmtp.X25519Identity.generate()
    alice_id = esmtp.X25519Identity.generate()
    t = tag()
    sender = account(lab, "alice", identity=alice_id)
    drafts = [
        esmtp.Draft(lab["ESMTP_LAB_ALICE_ADDRESS"], [lab["ESMTP_LAB_CAROL_ADDRESS"]], subject=f"batch {t} {i}", text="x")
        for i in range(2)
    ]
    drafts.append(esmtp.Draft("mallory@elsewhere.example", [lab["ESMTP_LAB_CAROL_ADDRESS"]], text="spoof"))
    with esmtp.Mailer(sender) as mailer:
        results = mailer.send_batch(drafts, recipients=[bob.to_public()], key_slip=True, suite="des-cbc-md5")
        slip_report = mailer.send_secure(
            esmtp.Draft(lab["ESMTP_LAB_ALICE_ADDRESS"], [lab["ESMTP_LAB_CAROL_ADDRESS"]], subject=f"slip {t}", text="y"),
            key_slip=True,
            suite="des-cbc-md5",
            key_slip_to=lab["ESMTP_LAB_BOB_ADDRESS"],
        )
    assert [r.report is not None for r in results] == [True, True, False]
    assert isinstance(results[2].error, esmtp.SenderNotAllowed)
    assert results[0].report.signer == alice_id.to_public() and results[0].report.encrypted_to_self
    assert [k.to for k in slip_report.key_slips] == [lab["ESMTP_LAB_BOB_ADDRESS"]]

    # The slip went to bob; carol's copy opens with it.
    with esmtp.ImapInbox(account(lab, "bob")) as imap:
        slip = None
        for _ in range(100):
            for m in imap.fetch("INBOX").messages:
                if m.status == "key-slip" and m.envelope_id == slip_report.envelope_id:
                    slip = m.key_slip
            if slip:
                break
            time.sleep(0.1)
        assert slip is not None, "the key-slip mail arrives"
    contacts = [(lab["ESMTP_LAB_ALICE_ADDRESS"], alice_id.to_public())]
    with esmtp.ImapInbox(account(lab, "carol", contacts=contacts)) as imap:
        found, _ = wait_for_imap(imap, f"slip {t}", key_slips=[slip])
        assert found.mail.text.strip() == "y"
        assert found.sender is not None and found.sender.verdict == "verified"
        batch, _ = wait_for_imap(imap, f"batch {t} 0", identities=[bob])
        assert batch.mail.suite == "des-cbc-md5"


def test_oauth2_from_a_python_callable(lab):
    calls = []

    def token() -> str:
        calls.append(1)
        out = subprocess.run([lab["ESMTP_LAB_MINT_TOKEN"], "bob"], capture_output=True, text=True, check=True)
        return out.stdout.strip()

    with esmtp.ImapInbox(account(lab, "bob", login={"oauth2_token": token})) as imap:
        assert "INBOX" in imap.mailboxes()
    assert calls == [1]

    def broken() -> str:
        raise RuntimeError("no token today")

    with pytest.raises(esmtp.AuthenticationFailed, match="no token today"):
        esmtp.ImapInbox(account(lab, "bob", login={"oauth2_token": broken}))


def test_idle_times_out_and_ctrl_c_interrupts_it(lab):
    with esmtp.ImapInbox(account(lab, "carol")) as inbox:
        state = inbox.fetch("INBOX").sync_state
        assert inbox.idle("INBOX", since=state, timeout=1) is False

    inbox = esmtp.ImapInbox(account(lab, "carol"))
    state = inbox.fetch("INBOX").sync_state
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        inbox.idle("INBOX", since=state, timeout=60)
    assert time.monotonic() - started < 30, "Ctrl-C ended the wait, not the timeout"
    with pytest.raises(esmtp.Cancelled):
        inbox.fetch("INBOX")  # the interrupted session is closed


def test_idle_sees_new_mail(lab):
    subject = f"idle {tag()}"
    with esmtp.ImapInbox(account(lab, "carol")) as inbox:
        state = inbox.fetch("INBOX").sync_state

        def send():
            time.sleep(0.5)
            with esmtp.Mailer(account(lab, "alice")) as m:
                m.send_secure(esmtp.Draft(lab["ESMTP_LAB_ALICE_ADDRESS"], [lab["ESMTP_LAB_CAROL_ADDRESS"]], subject=subject), passphrase="pw")

        sender = threading.Thread(target=send)
        sender.start()
        try:
            assert inbox.idle("INBOX", since=state, timeout=30) is True
        finally:
            sender.join()


def test_a_wrong_password_and_an_untrusted_certificate(lab):
    bad = account(lab, "bob", login={"password": "not-the-password"})
    with pytest.raises(esmtp.AuthenticationFailed) as e:
        esmtp.ImapInbox(bad)
    assert "not-the-password" not in str(e.value)
    assert isinstance(e.value, esmtp.TransportError)
    untrusted = esmtp.Account(
        lab["ESMTP_LAB_BOB_ADDRESS"],
        password=lab["ESMTP_LAB_BOB_PASSWORD"],
        pop3=esmtp.Server(lab["ESMTP_LAB_HOST"], int(lab["ESMTP_LAB_POP3S_PORT"])),
    )
    with pytest.raises(esmtp.TlsError):
        esmtp.Pop3Inbox(untrusted)
