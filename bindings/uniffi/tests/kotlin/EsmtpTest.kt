// The Kotlin bindings, tested for real: compiled against the generated `rs.esmtp` package and
// run on the JVM with the built library (JNA). Offline checks first (seal/open in both suites,
// every error a caller acts on, signatures, files, mails), then a send and a fetch over IMAP and
// POP3 against the local mail lab, logging in with a password and with OAuth2 tokens made by a
// TokenProvider implemented here in Kotlin. Prints `N passed, N failed`; exits 1 on a failure.
//
// Run by scripts/test-kotlin (it builds, generates, compiles and sets the lab's environment).

import kotlinx.coroutines.async
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.TimeoutCancellationException
import java.io.File
import java.util.Base64
import java.util.concurrent.atomic.AtomicInteger
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec
import kotlin.system.exitProcess
import rs.esmtp.*

var passed = 0
var failed = 0

fun test(name: String, body: suspend () -> Unit) {
    try {
        runBlocking { body() }
        passed++
        println("ok   $name")
    } catch (e: Throwable) {
        failed++
        println("FAIL $name: $e")
        e.printStackTrace(System.out)
    }
}

fun check(condition: Boolean, what: () -> String) {
    if (!condition) throw AssertionError(what())
}

/** The exception `body` throws, which must be a [T]. */
inline fun <reified T : Throwable> assertThrows(body: () -> Unit): T {
    try {
        body()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}

suspend inline fun <reified T : Throwable> assertThrowsSuspend(crossinline body: suspend () -> Unit): T {
    try {
        body()
    } catch (e: Throwable) {
        if (e is T) return e
        throw AssertionError("expected ${T::class.simpleName}, got $e", e)
    }
    throw AssertionError("expected ${T::class.simpleName}, nothing was thrown")
}

fun env(name: String): String =
    System.getenv(name) ?: throw IllegalStateException("$name unset: run under scripts/test-kotlin (it starts the lab)")

// ---- offline: envelopes, keys, errors, signatures, files, mails ----

fun offline() {
    val bob = Identity.generate()
    val alice = Identity.generate()
    val message = "Meet at noon. Ünïcödé, and a NUL: \u0000".toByteArray() + ByteArray(100_000) { (it % 251).toByte() }

    test("seal and open in both suites, binary and armored") {
        for (suite in Suite.entries) {
            for (armor in listOf(false, true)) {
                val sealed = seal(message, SealOptions(recipients = listOf(bob.publicKey()), suite = suite, armor = armor))
                check(sealed.envelopeId.length == 32) { "envelope id ${sealed.envelopeId}" }
                check(!armor || String(sealed.envelope).startsWith("-----BEGIN ESMTP ENVELOPE-----")) { "armored" }
                val opened = open(sealed.envelope, OpenOptions(identities = listOf(bob)))
                check(opened.plaintext.contentEquals(message)) { "$suite plaintext" }
                check(opened.report.suite == suite) { "suite ${opened.report.suite}" }
                check(opened.report.md5Hex == md5Hex(message)) { "md5 ${opened.report.md5Hex}" }
                check(opened.report.size == message.size.toULong()) { "size" }
                check(opened.report.envelopeId == sealed.envelopeId) { "id" }
                check(opened.report.signer == null) { "unsigned" }
            }
        }
        check(suiteName(Suite.DES_CBC_MD5) == "des-cbc-md5") { suiteName(Suite.DES_CBC_MD5) }
        check(suiteFromName("chacha20-poly1305") == Suite.CHA_CHA20_POLY1305) { "suite by name" }
    }

    test("a passphrase and a key slip open it too; the identity round-trips through text") {
        val sealed = seal(message, SealOptions(passphrase = Secret("correct horse"), keySlip = true))
        val slip = KeySlip.fromText(sealed.keySlip!!.text())
        check(slip.envelopeId() == sealed.envelopeId) { "slip id" }
        check(open(sealed.envelope, OpenOptions(keySlips = listOf(slip))).plaintext.contentEquals(message)) { "slip" }
        check(open(sealed.envelope, OpenOptions(passphrase = Secret("correct horse"))).plaintext.contentEquals(message)) { "passphrase" }
        val again = Identity.fromText(bob.secretText())
        check(again.publicKey() == bob.publicKey()) { "same key from its text" }
        check(PublicKey.fromText(bob.publicKey().text()).hashCode() == bob.publicKey().hashCode()) { "hash" }
        check(bob.publicKey().toString() == bob.publicKey().text()) { "toString is the text form" }
    }

    test("errors: wrong key, wrong passphrase, altered, garbage, bad key text, no recipient") {
        val sealed = seal(message, SealOptions(recipients = listOf(bob.publicKey()), passphrase = Secret("s3cret phrase")))
        val wrong = assertThrows<EsmtpException.NoMatchingRecipient> {
            open(sealed.envelope, OpenOptions(identities = listOf(alice)))
        }
        check(!wrong.transient) { "not transient" }
        val badPass = assertThrows<EsmtpException.NoMatchingRecipient> {
            open(sealed.envelope, OpenOptions(passphrase = Secret("s3cret phrasf")))
        }
        check(!badPass.reason.contains("s3cret") && !(badPass.message ?: "").contains("s3cret")) { "no passphrase in ${badPass.message}" }
        val altered = sealed.envelope.copyOf().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
        assertThrows<EsmtpException.DecryptionFailed> { open(altered, OpenOptions(identities = listOf(bob))) }
        assertThrows<EsmtpException.MalformedEnvelope> { open("not an envelope".toByteArray(), OpenOptions(identities = listOf(bob))) }
        assertThrows<EsmtpException.InvalidKey> { PublicKey.fromText("esmtp1qqqq") }
        assertThrows<EsmtpException.InvalidKey> { Identity.fromText("ESMTP-SECRET-KEY-1QQQQ") }
        assertThrows<EsmtpException.InvalidArgument> { seal(message, SealOptions()) }
        assertThrows<EsmtpException.InvalidArgument> { suiteFromName("rot13") }
        // The common supertype, for callers that only show the reason.
        val any = assertThrows<EsmtpException> { open(altered, OpenOptions(identities = listOf(alice))) }
        check(any.message!!.isNotEmpty()) { "a message" }
    }

    test("signatures: verified signer, required signer, wrong and missing signer") {
        val signed = seal(message, SealOptions(recipients = listOf(bob.publicKey()), signWith = alice))
        val opened = open(signed.envelope, OpenOptions(identities = listOf(bob), requireSigners = listOf(alice.publicKey())))
        check(opened.report.signer == alice.publicKey()) { "signer ${opened.report.signer}" }
        val eve = Identity.generate()
        assertThrows<EsmtpException.UnexpectedSigner> {
            open(signed.envelope, OpenOptions(identities = listOf(bob), requireSigners = listOf(eve.publicKey())))
        }
        val unsigned = seal(message, SealOptions(recipients = listOf(bob.publicKey())))
        assertThrows<EsmtpException.UnexpectedSigner> {
            open(unsigned.envelope, OpenOptions(identities = listOf(bob), requireSigners = listOf(alice.publicKey())))
        }
    }

    test("identity files, plain and protected") {
        val plain = parseIdentityFile(bob.toFileText(null).toByteArray(), null)
        check(plain.identities.single().publicKey() == bob.publicKey()) { "plain file" }
        val protected = bob.toFileText(Secret("file pass")).toByteArray()
        assertThrows<EsmtpException.InvalidArgument> { parseIdentityFile(protected, null) }
        assertThrows<EsmtpException.NoMatchingRecipient> { parseIdentityFile(protected, Secret("wrong")) }
        check(parseIdentityFile(protected, Secret("file pass")).identities.single().publicKey() == bob.publicKey()) { "protected" }
    }

    test("the hash tool") {
        check(md5Hex("abc".toByteArray()) == "900150983cd24fb0d6963f7d28e17f72") { "md5" }
        check(sha256Hex("abc".toByteArray()) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") { "sha256" }
        val f = File.createTempFile("esmtp-hash", ".txt").apply { writeText("abc"); deleteOnExit() }
        check(hashFileHex(f.path, "sha256") == sha256Hex("abc".toByteArray())) { "file" }
        assertThrows<EsmtpException.InvalidArgument> { hashFileHex(f.path, "crc32") }
        assertThrows<EsmtpException.Io> { hashFileHex("/nonexistent/esmtp", "md5") }
    }

    test("files: sealed and opened to files; a damaged one leaves no output") {
        val dir = kotlin.io.path.createTempDirectory("esmtp-kt").toFile()
        try {
            val plain = File(dir, "plain.bin").apply { writeBytes(message) }
            val sealedFile = File(dir, "sealed.esmtp")
            val openedFile = File(dir, "opened.bin")
            val options = SealOptions(recipients = listOf(bob.publicKey()), suite = Suite.DES_CBC_MD5, signWith = alice)
            val report = sealFile(plain.path, sealedFile.path, options, false)
            check(report.size == message.size.toULong()) { "size" }
            assertThrows<EsmtpException.InvalidArgument> { sealFile(plain.path, sealedFile.path, options, false) }
            val bytes = sealedFile.readBytes().also { it[it.size - 1] = (it[it.size - 1].toInt() xor 1).toByte() }
            val damaged = File(dir, "damaged.esmtp").apply { writeBytes(bytes) }
            assertThrows<EsmtpException.DecryptionFailed> { openFile(damaged.path, openedFile.path, OpenOptions(identities = listOf(bob)), false) }
            check(!openedFile.exists()) { "no output for a damaged envelope" }
            val opened = openFile(sealedFile.path, openedFile.path, OpenOptions(identities = listOf(bob)), false)
            check(openedFile.readBytes().contentEquals(message)) { "file content" }
            check(opened.signer == alice.publicKey() && opened.suite == Suite.DES_CBC_MD5) { "report" }
        } finally {
            dir.deleteRecursively()
        }
    }

    test("mails: built and read with attachment, key slip and signature; a plain mail") {
        val draft = Draft(
            from = Mailbox("alice@example.org", "Alice"),
            to = listOf(Mailbox("bob@example.org")),
            subject = "The plan",
            text = "Meet at noon.",
            attachments = listOf(Attachment("plan.bin", "application/octet-stream", byteArrayOf(0, 13, 10, -1))),
        )
        val mail = buildMail(draft, SealOptions(recipients = listOf(bob.publicKey()), keySlip = true, signWith = alice))
        check(!String(mail.bytes).contains("The plan")) { "subject hidden" }
        val read = readMail(mail.bytes, OpenOptions(keySlips = listOf(mail.keySlip!!)))
        check(read is ReadMail.Encrypted) { "encrypted: $read" }
        val content = (read as ReadMail.Encrypted).mail
        check(content.headers.subject == "The plan" && content.text == "Meet at noon.") { "content" }
        check(content.attachments.single().data.contentEquals(byteArrayOf(0, 13, 10, -1))) { "attachment" }
        check(content.signer == alice.publicKey()) { "signer" }
        val plain = readMail("From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n".toByteArray(), OpenOptions())
        check(plain is ReadMail.Plain && plain.headers.subject == "hi") { "plain: $plain" }
        assertThrows<EsmtpException.InvalidArgument> { buildMail(draft.copy(to = listOf()), SealOptions(recipients = listOf(bob.publicKey()))) }
    }
}

// ---- the lab: send, fetch over IMAP and POP3, OAuth2 from Kotlin, IDLE and cancellation ----

/** OAuth2 tokens as the lab's server accepts them (HS256 JWTs), made here in Kotlin. */
class LabTokens(private val address: String, private val lifetimeSecs: Long = 3600) : TokenProvider {
    val calls = AtomicInteger()

    override fun accessToken(): String {
        calls.incrementAndGet()
        val b64 = Base64.getUrlEncoder().withoutPadding()
        val now = System.currentTimeMillis() / 1000
        val header = b64.encodeToString("""{"alg":"HS256","typ":"JWT"}""".toByteArray())
        val claims = """{"sub":"$address","email":"$address","iss":"${env("ESMTP_LAB_OAUTH2_ISSUER")}","iat":${now - 5},"exp":${now + lifetimeSecs}}"""
        val body = b64.encodeToString(claims.toByteArray())
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(SecretKeySpec(Base64.getDecoder().decode(env("ESMTP_LAB_OAUTH2_KEY")), "HmacSHA256"))
        val signature = b64.encodeToString(mac.doFinal("$header.$body".toByteArray()))
        return "$header.$body.$signature"
    }
}

/** A provider that cannot get a token. */
class NoTokens : TokenProvider {
    val calls = AtomicInteger()

    override fun accessToken(): String {
        calls.incrementAndGet()
        throw EsmtpException.Authentication("the user signed out", false)
    }
}

/** A provider with a bug: it throws something other than an EsmtpException, with a token in
 * the message. */
class BuggyTokens : TokenProvider {
    override fun accessToken(): String = throw IllegalStateException("refresh failed for token ya29.LEAKED")
}

fun server(port: String) = Server(env("ESMTP_LAB_HOST"), env("ESMTP_LAB_${port}_PORT").toUShort(), TlsMode.IMPLICIT)

fun account(user: String, login: Credential, identity: Identity? = null, contacts: List<Contact> = listOf()) = Account(
    AccountConfig(
        address = env("ESMTP_LAB_${user.uppercase()}_ADDRESS"),
        login = login,
        smtp = server("SMTPS"),
        imap = server("IMAPS"),
        pop3 = server("POP3S"),
        caPem = File(env("ESMTP_LAB_CA")).readBytes(),
        timeoutSecs = 20uL,
        identity = identity,
        contacts = contacts,
    )
)

fun password(user: String) = Credential.Password(Secret(env("ESMTP_LAB_${user.uppercase()}_PASSWORD")))

/** Fetch from `fetch` until a message with `subject` is there (delivery takes a moment). */
suspend fun awaitMail(subject: String, fetch: suspend () -> FetchReport): Pair<FetchedMessage, FetchReport> {
    repeat(50) {
        val report = fetch()
        val found = report.messages.firstOrNull { m ->
            val o = m.outcome
            o is FetchOutcome.Opened && o.mail.headers.subject == subject
        }
        if (found != null) return found to report
        delay(200)
    }
    throw AssertionError("no mail with subject $subject arrived")
}

fun lab() {
    val alice = Identity.generate()
    val bob = Identity.generate()
    val tag = Identity.generate().publicKey().text().substring(10, 22)
    val subject = "kotlin $tag"
    val bobAddress = env("ESMTP_LAB_BOB_ADDRESS")
    val aliceAddress = env("ESMTP_LAB_ALICE_ADDRESS")
    val contacts = listOf(Contact(aliceAddress, alice.publicKey()))
    val tokens = LabTokens(aliceAddress)

    test("lab: send signed over SMTP logging in with OAuth2 tokens from a Kotlin TokenProvider") {
        val mailer = Mailer(account("alice", Credential.OAuth2Provider(tokens), identity = alice))
        val caps = mailer.capabilities()
        check(caps.auth.contains("XOAUTH2")) { "auth ${caps.auth}" }
        val report = mailer.sendSecure(
            Draft(from = Mailbox(aliceAddress, "Alice"), to = listOf(Mailbox(bobAddress)), subject = subject, text = "body $tag"),
            SealOptions(recipients = listOf(bob.publicKey())),
            SendOptions(),
        )
        check(report.replyCode.toInt() == 250) { "reply ${report.replyCode} ${report.replyText}" }
        check(report.signer == alice.publicKey()) { "signed with the account's identity" }
        check(report.encryptedToSelf) { "sealed to the sender too" }
        mailer.disconnect()
        check(tokens.calls.get() >= 1) { "the Kotlin provider was asked for a token" }
    }

    test("lab: fetch over IMAP (password), opened, signer verified against contacts") {
        val inbox = ImapInbox.connect(account("bob", password("bob"), contacts = contacts))
        try {
            check(inbox.mailboxes().contains("INBOX")) { "mailboxes" }
            val (message, report) = awaitMail(subject) {
                inbox.fetch("INBOX", ImapFetchOptions(), OpenOptions(identities = listOf(bob)))
            }
            val opened = message.outcome as FetchOutcome.Opened
            check(opened.mail.text?.trim() == "body $tag") { "text ${opened.mail.text}" }
            check(opened.mail.signer == alice.publicKey()) { "signer" }
            check(message.sender?.verdict == SenderVerdict.VERIFIED) { "sender ${message.sender}" }
            check(message.uid != null && report.syncState.isNotEmpty()) { "uid and sync state" }
            // From the sync state on, nothing new.
            val next = inbox.fetch("INBOX", ImapFetchOptions(since = report.syncState), OpenOptions(identities = listOf(bob)))
            check(next.messages.none { (it.outcome as? FetchOutcome.Opened)?.mail?.headers?.subject == subject }) { "not again" }
            // Without bob's key the mail is there but cannot be opened: a per-message failure.
            val withoutKey = inbox.fetch("INBOX", ImapFetchOptions(), OpenOptions(identities = listOf(Identity.generate())))
            check(withoutKey.messages.any { (it.outcome as? FetchOutcome.Failed)?.kind == ErrorKind.NO_MATCHING_RECIPIENT }) { "failed outcome" }
        } finally {
            inbox.logout()
        }
    }

    test("lab: fetch over POP3 (OAuth2 token from Kotlin)") {
        val bobTokens = LabTokens(bobAddress)
        val inbox = Pop3Inbox.connect(account("bob", Credential.OAuth2Provider(bobTokens)))
        try {
            val (message, _) = awaitMail(subject) { inbox.fetch(Pop3FetchOptions(), OpenOptions(identities = listOf(bob))) }
            check(message.uidl != null) { "uidl" }
            check((message.outcome as FetchOutcome.Opened).mail.signer == alice.publicKey()) { "signer" }
            check(bobTokens.calls.get() >= 1) { "provider called" }
        } finally {
            inbox.quit()
        }
    }

    test("lab: login failures are typed: wrong password, no token, expired token, a provider that throws") {
        val wrong = assertThrowsSuspend<EsmtpException.Authentication> {
            ImapInbox.connect(account("bob", Credential.Password(Secret("not-the-password"))))
        }
        check(!wrong.reason.contains("not-the-password")) { "no password in ${wrong.reason}" }
        val none = NoTokens()
        assertThrowsSuspend<EsmtpException.Authentication> { Pop3Inbox.connect(account("bob", Credential.OAuth2Provider(none))) }
        check(none.calls.get() >= 1) { "asked" }
        assertThrowsSuspend<EsmtpException.Authentication> {
            ImapInbox.connect(account("bob", Credential.OAuth2Provider(LabTokens(bobAddress, lifetimeSecs = -60))))
        }
        val buggy = assertThrowsSuspend<EsmtpException.Authentication> {
            ImapInbox.connect(account("bob", Credential.OAuth2Provider(BuggyTokens())))
        }
        check(!buggy.reason.contains("ya29")) { "the foreign exception's text is not passed on: ${buggy.reason}" }
    }

    test("lab: a From the account may not use is SenderNotAllowed") {
        val mailer = Mailer(account("alice", password("alice")))
        assertThrowsSuspend<EsmtpException.SenderNotAllowed> {
            mailer.sendSecure(
                Draft(from = Mailbox("mallory@example.test"), to = listOf(Mailbox(bobAddress)), subject = "x", text = "x"),
                SealOptions(recipients = listOf(bob.publicKey())),
                SendOptions(),
            )
        }
    }

    test("lab: IDLE ends with Cancelled when cancel() is called from another thread") {
        val inbox = ImapInbox.connect(account("bob", password("bob")))
        val state = inbox.fetch("INBOX", ImapFetchOptions(), OpenOptions(identities = listOf(bob))).syncState
        val started = System.nanoTime()
        val waiter = Thread { Thread.sleep(700); inbox.cancel() }.apply { start() }
        assertThrowsSuspend<EsmtpException.Cancelled> { inbox.idle("INBOX", state, 60uL) }
        waiter.join()
        val secs = (System.nanoTime() - started) / 1e9
        check(secs < 30) { "cancelled promptly, not at the timeout: $secs s" }
        assertThrowsSuspend<EsmtpException.Cancelled> { inbox.mailboxes() }
    }

    test("lab: cancelling the coroutine cancels the IDLE wait (the session closes)") {
        val inbox = ImapInbox.connect(account("bob", password("bob")))
        val state = inbox.fetch("INBOX", ImapFetchOptions(), OpenOptions(identities = listOf(bob))).syncState
        try {
            withTimeout(700) { inbox.idle("INBOX", state, 60uL) }
            throw AssertionError("idle returned")
        } catch (e: TimeoutCancellationException) {
            // expected: the coroutine was cancelled
        }
        // The blocking call behind it was cancelled too: the session is closed.
        var closed = false
        repeat(100) {
            if (!closed) {
                try {
                    inbox.mailboxes()
                    delay(50)
                } catch (e: EsmtpException.Cancelled) {
                    closed = true
                }
            }
        }
        check(closed) { "the session closed after the coroutine was cancelled" }
    }

    test("lab: IDLE wakes up for new mail") {
        val inbox = ImapInbox.connect(account("bob", password("bob")))
        try {
            val state = inbox.fetch("INBOX", ImapFetchOptions(), OpenOptions(identities = listOf(bob))).syncState
            coroutineScope {
                val waiting = async { inbox.idle("INBOX", state, 60uL) }
                delay(500)
                Mailer(account("alice", password("alice"))).sendSecure(
                    Draft(from = Mailbox(aliceAddress), to = listOf(Mailbox(bobAddress)), subject = "idle $tag", text = "wake up"),
                    SealOptions(recipients = listOf(bob.publicKey())),
                    SendOptions(),
                )
                check(waiting.await()) { "new mail seen" }
            }
            // The lab's mailbox is shared by every run: remove what this run delivered (only
            // this run's key opens it).
            val cleanup = inbox.fetch("INBOX", ImapFetchOptions(deleteAfterOpen = true), OpenOptions(identities = listOf(bob)))
            check(cleanup.messages.count { it.outcome is FetchOutcome.Opened } >= 2) { "this run's mails removed" }
        } finally {
            inbox.logout()
        }
    }
}

fun main(args: Array<String>) {
    offline()
    if (args.contains("--lab")) lab() else println("(the lab checks run with --lab)")
    println("$passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
