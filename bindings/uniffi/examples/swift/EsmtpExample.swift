// esmtp from Swift: a usage example for an iOS (or macOS) app.
//
// The generated `Esmtp.swift` and the `EsmtpFFI` module (the XCFramework's header and module
// map) are part of the app target; see ../../README.md for building them. This file is shipped
// as documentation: Swift is generated but not compiled or run in this project's CI (no Swift
// toolchain there). The same calls are exercised for real from Kotlin in
// ../../tests/kotlin/EsmtpTest.kt.

import Foundation

/// Keys: made once, the secret text kept in the Keychain, the public key shared.
func makeIdentity() throws -> Identity {
    let me = try Identity.generate()
    let secretText = me.secretText()          // store in the Keychain, never in UserDefaults
    _ = secretText
    print("my public key:", me.publicKey().text())
    return me
}

/// Seal and open in memory; errors are `EsmtpError` cases with a reason and `transient`.
func sealAndOpen(me: Identity, friend: PublicKey) throws {
    let sealed = try seal(
        plaintext: Data("Meet at noon.".utf8),
        options: SealOptions(recipients: [friend, me.publicKey()], signWith: me)
    )
    do {
        let opened = try `open`(envelope: sealed.envelope, options: OpenOptions(identities: [me]))
        print(String(decoding: opened.plaintext, as: UTF8.self), "signed by", opened.report.signer?.text() ?? "nobody")
    } catch EsmtpError.NoMatchingRecipient(let reason, _) {
        print("not for me:", reason)
    } catch EsmtpError.DecryptionFailed(let reason, _) {
        print("altered in transit:", reason)
    }

    // The paper's legacy suite, with a key slip delivered apart from the envelope.
    let legacy = try seal(
        plaintext: Data("old school".utf8),
        options: SealOptions(keySlip: true, suite: .desCbcMd5)
    )
    let slip = legacy.keySlip!
    let again = try `open`(envelope: legacy.envelope, options: OpenOptions(keySlips: [slip]))
    print("opened with the slip for", slip.envelopeId(), ":", again.report.md5Hex)
}

/// OAuth2: the app implements the token provider (with its OAuth library or account store);
/// esmtp asks it for a token at every new session, on a network thread.
final class AppTokens: TokenProvider {
    func accessToken() throws -> String {
        guard let token = KeychainTokens.current() else {
            throw EsmtpError.Authentication(reason: "signed out", transient: false)
        }
        return token
    }
}

/// Stands in for the app's own token store.
enum KeychainTokens {
    static func current() -> String? { nil }
}

/// Send and fetch: every network call is `async`, so it never blocks the main thread, and
/// cancelling the task cancels an inbox call (an IDLE wait, a fetch).
func sendAndFetch(me: Identity, friend: Contact) async throws {
    let account = try Account.gmail(address: "me@gmail.com", login: .oAuth2Provider(provider: AppTokens()))
    // Or any provider: Account(config: AccountConfig(address: ..., login: .password(password: Secret(text: ...)),
    //     smtp: Server(host: "smtp.example.org", port: 465, tls: .implicit), imap: ..., identity: me))

    let mailer = try Mailer(account: account)
    let report = try await mailer.sendSecure(
        draft: Draft(from: Mailbox(address: "me@gmail.com", name: "Me"),
                     to: [Mailbox(address: friend.address)],
                     subject: "The plan",          // travels only inside the envelope
                     text: "Meet at noon."),
        seal: SealOptions(recipients: [friend.key]),
        options: SendOptions()
    )
    print("sent", report.messageId)
    try await mailer.disconnect()

    let inbox = try await ImapInbox.connect(account: account)
    var since: String? = UserDefaults.standard.string(forKey: "esmtp.sync")
    let result = try await inbox.fetch(mailbox: "INBOX", options: ImapFetchOptions(since: since),
                                       open: OpenOptions(identities: [me]))
    for message in result.messages {
        switch message.outcome {
        case .opened(let mail, _):
            print(mail.headers.subject ?? "", "—", message.sender?.warning ?? "sender checked")
        case .keySlipMail(let envelopeId, _):
            print("key slip for", envelopeId)
        case .failed(let kind, let reason):
            print("could not open:", kind, reason)
        case .plain:
            break
        }
    }
    since = result.syncState
    UserDefaults.standard.set(since, forKey: "esmtp.sync")

    // Wait for new mail for up to 25 minutes; cancelling this Task ends the wait at once.
    if try await inbox.idle(mailbox: "INBOX", since: since, timeoutSecs: 25 * 60) {
        print("new mail")
    }
    try await inbox.logout()
}
