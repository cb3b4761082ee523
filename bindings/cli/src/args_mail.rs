//! The mail commands' arguments and help: capabilities, send, fetch, watch, read, reply.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use esmtp_core::Suite;

use crate::args::{KeyArgs, PassphraseSource, SUITE_HELP, suite};

/// The account file in brief, at the end of the mail commands' `--help`.
pub const ACCOUNT_FILE_HELP: &str = "\
The account file (TOML):
  address = \"alice@example.org\"
  username = \"alice\"                   # optional; default: the address
  password_file = \"alice.password\"     # or password_env = \"VAR\", or oauth2_token_cmd = \"CMD\"
  ca_file = \"ca.crt\"                   # optional extra CA (PEM); paths are relative to the file
  preset = \"gmail\"                     # optional: Gmail's servers; else the tables below
  identity_file = \"alice.key\"          # optional: signs what you send, opens what you fetch
  encrypt_to_self = true               # default with identity_file: Sent copies stay readable
  allow_from = [\"sales@example.org\"]   # other addresses you may send as (--from)
  [smtp]                               # and [imap], [pop3]
  host = \"mail.example.org\"
  port = 465
  tls = \"implicit\"                     # or \"starttls\"
  [contacts]                           # the keys expected to sign mail from these addresses
  \"bob@example.org\" = \"esmtp1...\"       # or a list: [\"esmtp1...new\", \"esmtp1...old\"]";

const CAPABILITIES_EXAMPLE: &str = "\
Examples:
  esmtp capabilities --account alice.toml
  esmtp capabilities --account alice.toml --json

JSON fields: server {host, port, tls (\"implicit\" or \"starttls\")}, size (bytes, 0 = no fixed
limit, null = no SIZE), eight_bit_mime, smtputf8, pipelining, starttls, dsn,
enhanced_status_codes, chunking (booleans), auth (mechanism names), ehlo (every EHLO line).";

/// Show the SMTP server's ESMTP extensions after EHLO (over TLS, without logging in).
#[derive(Debug, Args)]
#[command(after_help = CAPABILITIES_EXAMPLE)]
#[command(after_long_help = format!("{CAPABILITIES_EXAMPLE}\n\n{ACCOUNT_FILE_HELP}"))]
pub struct CapabilitiesArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// Print the capabilities as one JSON object
    #[arg(long)]
    pub json: bool,
    #[arg(short, long, help = VERBOSE_HELP)]
    pub verbose: bool,
}

/// The help line of every `--verbose`.
const VERBOSE_HELP: &str =
    "Show the protocol conversation on standard error (passwords and tokens appear as <redacted>)";

const SEND_EXAMPLES: &str = "\
Examples:
  esmtp send --account alice.toml --to bob@example.org -r esmtp1... --subject 'The plan' plan.txt
  echo 'See attached.' | esmtp send --account alice.toml --to bob@example.org -R bob.pub \\
      --attach report.pdf --subject Report
  esmtp send --account alice.toml --to bob@example.org --suite des-cbc-md5 \\
      --key-slip-to bob.private@example.net note.txt
  esmtp send --account alice.toml --to bob@example.org --key-slip-out slip.txt note.txt
  esmtp send --account alice.toml --to bob@example.org -r esmtp1... --draft out.eml note.txt
  esmtp send --account alice.toml --from sales@example.org --to bob@example.org -r esmtp1... note.txt";

/// What to seal a mail to, and whether to sign it (send and reply).
#[derive(Debug, Args)]
pub struct SealTo {
    #[arg(long, value_parser = suite, default_value = "chacha20-poly1305", value_name = "SUITE", help = SUITE_HELP)]
    pub suite: Suite,
    /// Seal to this public recipient (esmtp1...); repeatable
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Seal to every recipient listed in this file; repeatable
    #[arg(short = 'R', long = "recipients-file", value_name = "RECIPIENTS_FILE")]
    pub recipients_files: Vec<PathBuf>,
    /// Do not sign with the account's identity (receivers then cannot tell who wrote the mail)
    #[arg(long)]
    pub no_sign: bool,
    /// Do not seal to the account's identity too (your Sent copy is then unreadable)
    #[arg(long)]
    pub no_self: bool,
    /// The From address: the account's address (default) or one of its allow_from addresses
    #[arg(long, value_name = "ADDR")]
    pub from: Option<String>,
}

/// Seal a mail end to end and submit it through the account's SMTP server.
///
/// The body (BODY_FILE, or standard input) is UTF-8 text; the real subject, the body and every
/// attachment travel only inside the envelope, and the server sees `Subject: ...`. Seal to the
/// receivers' public recipients (-r, -R), to a passphrase, and/or to a key slip, the paper's
/// separately delivered key.
///
/// Signature and Sent copy: with `identity_file` in the account file, the mail is signed with that
/// identity (inside the encryption: receivers learn who wrote it; --no-sign leaves it unsigned)
/// and sealed to it too, so the copy your provider keeps in Sent stays readable (--no-self, or
/// `encrypt_to_self = false`, turns that off). Without an identity the mail goes out unsigned,
/// and nothing tells the receivers who wrote it: every recipient of a mail holds its key and
/// could have made it. The From is the account's address, or with --from one listed in its
/// `allow_from`; any other is refused (exit 2).
///
/// The key slip: --key-slip-to ADDR mails it on its own to ADDR, --key-slip-out FILE writes it
/// to FILE (`-`: standard output) for another channel (a message, paper, a phone call). Whoever
/// can read both the mail and its slip can read the message: a slip mailed to an address of the
/// same mailbox, or through the same servers, keeps nothing from whoever holds that mailbox or
/// those servers. Only a slip that travels by another channel or to another provider's account
/// keeps the mail's server from holding both.
///
/// Prints the Message-ID and the server's reply (and those of the key-slip mail). With --draft
/// FILE nothing is sent: the sealed mail is written to FILE, ready for any mail program.
#[derive(Debug, Args)]
#[command(after_help = SEND_EXAMPLES)]
#[command(after_long_help = format!("{SEND_EXAMPLES}\n\n{ACCOUNT_FILE_HELP}"))]
pub struct SendArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// A receiver; repeatable
    #[arg(long, value_name = "ADDR", required = true)]
    pub to: Vec<String>,
    /// A copy receiver; repeatable
    #[arg(long, value_name = "ADDR")]
    pub cc: Vec<String>,
    /// A blind copy receiver (delivery only: named in no header, not even inside); repeatable
    #[arg(long, value_name = "ADDR")]
    pub bcc: Vec<String>,
    /// The subject (protected: it travels inside the envelope)
    #[arg(long, value_name = "S", default_value = "")]
    pub subject: String,
    /// Attach a file (at most 128 MiB), read while the mail is packaged; repeatable
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,
    #[command(flatten)]
    pub seal: SealTo,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// Also seal to a passphrase asked on the terminal (twice)
    #[arg(short = 'p', long = "passphrase", conflicts_with_all = ["passphrase_file", "passphrase_env"])]
    pub passphrase_prompt: bool,
    /// Also seal to a key slip and mail it on its own to ADDR
    #[arg(long, value_name = "ADDR", conflicts_with = "key_slip_out")]
    pub key_slip_to: Option<String>,
    /// Also seal to a key slip and write it to FILE (mode 0600, must not exist; `-`: print it)
    #[arg(long, value_name = "FILE")]
    pub key_slip_out: Option<PathBuf>,
    /// Write the sealed mail to FILE instead of sending it (with --key-slip-to: not allowed)
    #[arg(long, value_name = "FILE", conflicts_with = "key_slip_to")]
    pub draft: Option<PathBuf>,
    /// With --draft: replace an existing FILE
    #[arg(short, long, requires = "draft")]
    pub force: bool,
    #[arg(short, long, help = VERBOSE_HELP)]
    pub verbose: bool,
    /// The body (standard input when omitted or `-`)
    #[arg(value_name = "BODY_FILE")]
    pub body: Option<PathBuf>,
}

/// How mail is retrieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Protocol {
    #[default]
    Imap,
    Pop3,
}

const FETCH_EXAMPLES: &str = "\
Examples:
  esmtp fetch --account bob.toml -i bob.key
  esmtp fetch --account bob.toml -i bob.key --new --out mail/
  esmtp fetch --account bob.toml --protocol pop3 -i bob.key --new --json
  esmtp fetch --account bob.toml -i bob.key --since-uid 41 --esmtp-only";

/// The listing and saving shared by fetch and watch, for their --help.
const LISTING_HELP: &str = "\
Listing: one tab-separated line per message on standard output,

  ID  KIND  FROM  SUBJECT  MD5  SUITE  SIGNER  CHECK

ID is the IMAP UID or the POP3 message number. KIND is `esmtp` (opened; FROM and SUBJECT are
the protected ones from inside the envelope), `esmtp+slip` (opened with a key slip that arrived
as its own mail), `key-slip` (a key-slip mail; MD5 is the envelope id it opens), `plain` (not an
esmtp mail) or `failed` (an esmtp mail that did not open: the reason, with its envelope id, goes
to standard error and the others continue). SIGNER is the public key (esmtp1...) that signed
the mail, `-` when unsigned. CHECK compares the signer with the keys the account file's
[contacts] list for FROM (your own identity counts for your own addresses): `verified` (signed
by FROM's key), `wrong-signer` (signed by another key), `missing-signature` (unsigned, though
FROM has a key), `unknown-signer` (signed; FROM has no key), `unsigned` (FROM has no key:
nothing says who wrote it); `+from-differs` is added when the protected From differs from the
outer one. `wrong-signer`, `missing-signature` and `+from-differs` also get a warning line on
standard error. Missing fields are `-`.

With --json, one JSON object per message and line instead: id, uid (IMAP) or uidl (POP3),
mailbox, kind, from, subject, date (Unix seconds), message_id, md5, suite, envelope_id (also
for `failed`), saved (the directory or key-slip file written), error {code, message} (for
`failed`), signer (the public key, or null), and sender_check {verdict, from_differs,
signer_contact} for opened mails; absent values are null.

With --out DIR, each opened mail is saved in its own directory, DIR/MAILBOX-UID (IMAP) or
DIR/pop3-UIDL: `message.eml` (the decrypted mail, bytes exact: MD5 is its digest),
`message.txt` (protected headers and text), `message.html` when there is one, and every
attachment under its own (sanitised) name; each key slip received is saved as
DIR/key-slip-ENVELOPE_ID.txt (mode 0600) for `esmtp open --key-slip` or `esmtp read
--key-slip`; the key slips saved in DIR are used by every later fetch into DIR, so a mail
whose slip came through another mailbox opens by itself. Every file appears only when complete;
a directory left incomplete by an interruption is completed by the next fetch, and existing
files are never replaced.";

/// Retrieve mail, open every esmtp mail, list them all, and save them on request.
///
/// --new fetches only what arrived since the last `fetch --new` of this account and mailbox:
/// over IMAP the last UID with the mailbox's UIDVALIDITY (a changed UIDVALIDITY fetches the
/// whole mailbox again), over POP3 the unique ids (UIDL) already seen. The state is kept in
/// $XDG_STATE_HOME/esmtp/sync.toml (default ~/.local/state/esmtp/sync.toml), or the file named
/// by --state, and is advanced only after every message was listed and saved.
///
/// With `identity_file` in the account file, that identity opens mail too (beside -i).
///
/// Exit status: 0 when every esmtp mail opened; otherwise the code of the first failure
/// (3 no matching recipient, 4 integrity or bad signature, 5 malformed, 1 not saved), after all
/// messages were listed. A sender check that fails is flagged, not an error. IMAP: nothing is
/// marked, moved or deleted (the mailbox is opened read-only). POP3: nothing is deleted, and
/// messages are downloaded with TOP, which leaves them unread for other clients; only a server
/// without TOP gets RETR, which Dovecot and Gmail count as reading them: fetch then says so.
#[derive(Debug, Args)]
#[command(after_help = FETCH_EXAMPLES)]
#[command(after_long_help = format!("{FETCH_EXAMPLES}\n\n{LISTING_HELP}\n\n{ACCOUNT_FILE_HELP}"))]
pub struct FetchArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// Retrieve over IMAP or POP3
    #[arg(long, value_enum, default_value_t = Protocol::Imap)]
    pub protocol: Protocol,
    /// The IMAP mailbox
    #[arg(long, default_value = "INBOX", value_name = "MAILBOX")]
    pub mailbox: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Only messages above this IMAP UID (POP3: above this message number)
    #[arg(long, value_name = "N", conflicts_with = "new")]
    pub since_uid: Option<u32>,
    /// Only messages not fetched by an earlier `fetch --new` (state: see above)
    #[arg(long)]
    pub new: bool,
    /// Keep the --new state in FILE instead of the default
    #[arg(long, value_name = "FILE", requires = "new")]
    pub state: Option<PathBuf>,
    /// Save each opened mail, its attachments and each key slip under DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List esmtp mails only; plain mail is then not downloaded at all
    #[arg(long)]
    pub esmtp_only: bool,
    /// Open passphrase envelopes that ask for more Argon2 work than esmtp seals with (19 MiB, 2
    /// passes, 1 lane), up to the reader limit (256 MiB, 16 passes, 8 lanes); without it they
    /// are reported as unsupported (exit 5) and left unopened
    #[arg(long)]
    pub allow_costly_passphrases: bool,
    /// One JSON object per message and line instead of the tab-separated listing
    #[arg(long)]
    pub json: bool,
    #[arg(short, long, help = VERBOSE_HELP)]
    pub verbose: bool,
}

/// Wait for new mail over IMAP IDLE; open, list and save each as it arrives.
///
/// Starts where the last `fetch --new` or `watch` of this account and mailbox ended (the same
/// state), lists what arrived since, then waits with IMAP IDLE (re-issued every 25 minutes;
/// servers without IDLE are polled once a minute) and lists each new mail as `fetch` does.
/// Ctrl-C (SIGINT) or SIGTERM ends it: at once while waiting, or after the mail being saved is
/// complete; the exit status is then 0.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  esmtp watch --account bob.toml -i bob.key --out mail/")]
#[command(after_long_help = format!(
    "Example:\n  esmtp watch --account bob.toml -i bob.key --out mail/\n\n{LISTING_HELP}\n\n{ACCOUNT_FILE_HELP}"
))]
pub struct WatchArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    /// The IMAP mailbox
    #[arg(long, default_value = "INBOX", value_name = "MAILBOX")]
    pub mailbox: String,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Keep the state in FILE instead of the default (see `esmtp fetch --help`)
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Save each opened mail, its attachments and each key slip under DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// List esmtp mails only
    #[arg(long)]
    pub esmtp_only: bool,
    /// Open passphrase envelopes that ask for more Argon2 work than esmtp seals with (19 MiB, 2
    /// passes, 1 lane), up to the reader limit (256 MiB, 16 passes, 8 lanes); without it they
    /// are reported as unsupported (exit 5) and left unopened
    #[arg(long)]
    pub allow_costly_passphrases: bool,
    /// One JSON object per message and line
    #[arg(long)]
    pub json: bool,
    #[arg(short, long, help = VERBOSE_HELP)]
    pub verbose: bool,
}

/// Open a mail saved from a mail program (`.eml`): print its headers and text, save its
/// attachments.
///
/// FILE is a whole mail: the `multipart/encrypted` form esmtp sends, or a mail with an armored
/// envelope pasted (or quoted) in its text. The protected headers and the text go to standard
/// output; with --out DIR the mail is saved as `fetch --out` saves one message (DIR/message.eml,
/// message.txt, message.html, attachments). A key-slip mail is reported and, with --out, its
/// slip saved as DIR/key-slip-ENVELOPE_ID.txt. A mail that is not an esmtp mail is exit 5.
///
/// Standard error gets `MD5 <hex>  suite <name>` and `Signed by esmtp1...` or `Unsigned`. With
/// --account, the account's identity opens the mail too and the signer is checked against the
/// account file's `[contacts]` (as `fetch` does; a wrong signer, a missing signature or a protected
/// From that differs from the outer one is a warning).
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp read -i bob.key message.eml
  esmtp read -i bob.key --out message/ message.eml
  esmtp read --key-slip mail/key-slip-0123....txt message.eml")]
pub struct ReadArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// An account file: its identity opens the mail, its contacts check the signer
    #[arg(long, value_name = "FILE")]
    pub account: Option<PathBuf>,
    /// Save the decrypted mail and its attachments in DIR
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The mail (standard input when omitted or `-`)
    #[arg(value_name = "FILE")]
    pub input: Option<PathBuf>,
}

/// Answer a mail saved from a mail program: threaded, quoted, sealed and sent.
///
/// Opens FILE (as `esmtp read` does) with -i/--key-slip/--passphrase-*, and writes the answer:
/// To the original's Reply-To or From (with --all also its other To and Cc, without yourself),
/// Subject "Re: ..." (once), In-Reply-To and References for threading, and the body (BODY_FILE
/// or standard input) followed by the original text quoted with "> ". The answer is sealed to
/// -r/-R (usually the original sender's recipient) and
/// sent through the account, or with --draft written to a file instead. The account's identity
/// opens the original too, and signs and keeps a readable copy of the answer as `send` does.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  echo 'Agreed.' | esmtp reply --account bob.toml -i bob.key -r esmtp1...alice message.eml
  esmtp reply --account bob.toml -i bob.key -r esmtp1... --draft answer.eml message.eml body.txt")]
#[command(after_long_help = format!("Example:\n  echo 'Agreed.' | esmtp reply --account bob.toml -i bob.key -r esmtp1... message.eml\n\n{ACCOUNT_FILE_HELP}"))]
pub struct ReplyArgs {
    /// The account file: your address, and the server to send through
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub seal: SealTo,
    /// Answer every To and Cc of the original too
    #[arg(long)]
    pub all: bool,
    /// Write the sealed answer to FILE instead of sending it
    #[arg(long, value_name = "FILE")]
    pub draft: Option<PathBuf>,
    /// With --draft: replace an existing FILE
    #[arg(short, long, requires = "draft")]
    pub force: bool,
    #[arg(short, long, help = VERBOSE_HELP)]
    pub verbose: bool,
    /// The mail to answer
    #[arg(value_name = "FILE")]
    pub input: PathBuf,
    /// Your answer (standard input when omitted or `-`)
    #[arg(value_name = "BODY_FILE")]
    pub body: Option<PathBuf>,
}
