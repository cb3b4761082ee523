//! The command line: every command, flag and help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use esmtp_core::Suite;

const ABOUT: &str = "End-to-end encrypted email over ordinary SMTP, IMAP and POP3";

const LONG_ABOUT: &str = "\
End-to-end encrypted email over ordinary SMTP, IMAP and POP3.

A message is sealed on the sender's machine under a fresh random key and only ever travels as
ciphertext; the receiver opens it with a secret key, a passphrase, or the key slip that was
delivered separately. `seal` and `open` work on files and pipes; `send` and `fetch` package,
submit, retrieve and open whole mails through an account file.

Secrets never come from a command-line argument: passphrases come from a file, an environment
variable or a terminal prompt, and mail passwords from the account file's password_file,
password_env or oauth2_token_cmd.";

const EXAMPLES: &str = "\
Examples:
  esmtp keygen -o bob.key                      # Bob's identity; prints his public recipient
  esmtp seal -r esmtp1... -a -o note.asc note.txt
  esmtp open -i bob.key -o note.txt note.asc   # prints: MD5 <hex>  suite chacha20-poly1305
  esmtp hash note.txt > note.md5 && esmtp hash --check note.md5
  esmtp send --account alice.toml --to bob@example.org -r esmtp1... --subject Hi body.txt
  esmtp fetch --account bob.toml -i bob.key --out mail/";

/// The account file in brief, at the end of the mail commands' `--help`.
pub const ACCOUNT_FILE_HELP: &str = "\
The account file (TOML):
  address = \"alice@example.org\"
  username = \"alice\"                   # optional; default: the address
  password_file = \"alice.password\"     # or password_env = \"VAR\", or oauth2_token_cmd = \"CMD\"
  ca_file = \"ca.crt\"                   # optional extra CA (PEM); paths are relative to the file
  preset = \"gmail\"                     # optional: Gmail's servers; else the tables below
  [smtp]                               # and [imap], [pop3]
  host = \"mail.example.org\"
  port = 465
  tls = \"implicit\"                     # or \"starttls\"";

#[derive(Debug, Parser)]
#[command(name = "esmtp", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(after_help = crate::failure::EXIT_CODES_HELP)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{}", crate::failure::EXIT_CODES_HELP))]
#[command(propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Keygen(KeygenArgs),
    Recipient(RecipientArgs),
    Seal(SealArgs),
    Open(OpenArgs),
    Hash(HashArgs),
    Capabilities(CapabilitiesArgs),
    Send(crate::send::SendArgs),
    Fetch(crate::fetch::FetchArgs),
}

/// Generate a new x25519 identity (secret key).
///
/// The secret identity goes to FILE (created with mode 0600; an existing file is never
/// overwritten) or to standard output. The public recipient, which others seal to, is printed on
/// standard error as `Public recipient: esmtp1...`; `esmtp recipient -i FILE` prints it again.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  esmtp keygen -o ~/.esmtp/me.key\n  esmtp keygen > me.key")]
pub struct KeygenArgs {
    /// Write the identity to FILE (mode 0600, must not exist) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Print the public recipient of each identity in an identity file.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  esmtp recipient -i bob.key   # esmtp1...")]
pub struct RecipientArgs {
    /// The identity file (standard input when omitted or `-`)
    #[arg(short = 'i', long = "identity", value_name = "FILE")]
    pub identity: Option<PathBuf>,
}

/// Where a passphrase comes from; never from the command line itself.
#[derive(Debug, Args, Default)]
pub struct PassphraseSource {
    /// Read a passphrase from file F (a final newline is not part of it)
    #[arg(long, value_name = "F", conflicts_with = "passphrase_env")]
    pub passphrase_file: Option<PathBuf>,
    /// Read a passphrase from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

/// Cipher suite names, as in the envelope format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum SuiteArg {
    /// ChaCha20-Poly1305 (RFC 8439): the modern default
    #[default]
    #[value(name = "chacha20-poly1305")]
    ChaCha20Poly1305,
    /// The paper's DES-CBC + MD5 scheme: legacy strength, for interoperability only
    #[value(name = "des-cbc-md5")]
    DesCbcMd5,
}

impl SuiteArg {
    pub fn suite(self) -> Suite {
        match self {
            SuiteArg::ChaCha20Poly1305 => Suite::ChaCha20Poly1305,
            SuiteArg::DesCbcMd5 => Suite::LegacyDesCbcMd5,
        }
    }
}

/// Seal (encrypt) a file or stream into an envelope.
///
/// Reads IN (standard input by default) and writes the envelope to OUT (standard output by
/// default), streaming in constant memory whatever the size. Seal to any mix of public
/// recipients (-r, -R), a passphrase, and a key slip (--key-slip-out): the paper's flow, where
/// the key travels to the receiver apart from the message. With no recipient at all it is an
/// error, never an unencrypted copy.
///
/// With -o, the envelope is written to a temporary file beside OUT and renamed when complete.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp seal -r esmtp1... -o report.esmtp report.pdf
  tar c docs | esmtp seal -R team.txt -a > docs.tar.asc
  esmtp seal --suite des-cbc-md5 --key-slip-out slip.txt -o mail.esmtp mail.txt
  ESMTP_PASS=... esmtp seal --passphrase-env ESMTP_PASS -a < notes.txt")]
pub struct SealArgs {
    /// The cipher suite
    #[arg(long, value_enum, default_value_t = SuiteArg::ChaCha20Poly1305, value_name = "SUITE")]
    pub suite: SuiteArg,
    /// Seal to this public recipient (esmtp1...); repeatable
    #[arg(short = 'r', long = "recipient", value_name = "RECIPIENT")]
    pub recipients: Vec<String>,
    /// Seal to every recipient listed in this file, one a line (# comments); repeatable
    #[arg(short = 'R', long = "recipients-file", value_name = "RECIPIENTS_FILE")]
    pub recipients_files: Vec<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// Ask for a passphrase on the terminal (twice)
    #[arg(short = 'p', long = "passphrase", conflicts_with_all = ["passphrase_file", "passphrase_env"])]
    pub passphrase_prompt: bool,
    /// Also make a key slip and write its token to FILE (mode 0600, must not exist)
    #[arg(long, value_name = "FILE")]
    pub key_slip_out: Option<PathBuf>,
    /// Write an ASCII-armored envelope (-----BEGIN ESMTP ENVELOPE-----)
    #[arg(short, long)]
    pub armor: bool,
    /// Write the envelope to OUT instead of standard output
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The file to seal (standard input when omitted or `-`)
    #[arg(value_name = "IN")]
    pub input: Option<PathBuf>,
}

/// Open (decrypt) an envelope, binary or armored.
///
/// Reads IN (standard input by default). Plaintext is released only after the whole envelope
/// was authenticated: with -o it is written to a temporary file beside OUT and renamed only
/// then, so a failed open never leaves a partial OUT; to standard output it is first written
/// to an unnamed temporary file (mode 0600, in the temporary directory) and copied out only
/// then. On success, prints `MD5 <hex>  suite <name>` on standard error: the MD5 of the
/// plaintext (for des-cbc-md5 the digest the envelope carried, verified).
///
/// When no identity, passphrase or key slip is given, a passphrase is asked for on the terminal
/// if the envelope needs one and standard input is a terminal.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp open -i bob.key -o report.pdf report.esmtp
  esmtp open --key-slip slip.txt < mail.esmtp > mail.txt
  esmtp open --passphrase-file pass.txt docs.tar.asc | tar x")]
pub struct OpenArgs {
    /// An identity file (from `esmtp keygen`); repeatable
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY_FILE")]
    pub identities: Vec<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// A file holding a key slip token (ESMTP-SLIP-1...); repeatable
    #[arg(long = "key-slip", value_name = "FILE")]
    pub key_slips: Vec<PathBuf>,
    /// Write the plaintext to OUT instead of standard output
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The envelope (standard input when omitted or `-`)
    #[arg(value_name = "IN")]
    pub input: Option<PathBuf>,
}

/// Print or check MD5 / SHA-256 checksums (the paper's hash tool).
///
/// Prints one line per FILE in exactly the format of `md5sum` / `sha256sum`; `-` or no FILE
/// reads standard input. With --check, reads sums files in that format and verifies every file
/// they list, like `md5sum -c`: the algorithm of each line follows from its length unless
/// --md5 or --sha256 is given. A mismatch exits with 4, an unreadable listed file with 1.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp hash mail.txt                  # d41d8cd98f00b204e9800998ecf8427e  mail.txt
  esmtp hash --sha256 *.pdf > SHA256SUMS
  esmtp hash --check SHA256SUMS")]
pub struct HashArgs {
    /// MD5 (the default; the paper's integrity hash)
    #[arg(long, conflicts_with = "sha256")]
    pub md5: bool,
    /// SHA-256
    #[arg(long)]
    pub sha256: bool,
    /// Read sums from the FILEs and check them
    #[arg(short, long)]
    pub check: bool,
    /// With --check: print nothing for files that match
    #[arg(long, requires = "check")]
    pub quiet: bool,
    /// Files to hash, or with --check the sums files (standard input when none or `-`)
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

const CAPABILITIES_EXAMPLE: &str = "Example:\n  esmtp capabilities --account alice.toml";

/// Show the SMTP server's ESMTP extensions after EHLO (over TLS, without logging in).
#[derive(Debug, Args)]
#[command(after_help = CAPABILITIES_EXAMPLE)]
#[command(after_long_help = format!("{CAPABILITIES_EXAMPLE}\n\n{ACCOUNT_FILE_HELP}"))]
pub struct CapabilitiesArgs {
    /// The account file (TOML; its fields are listed under --help)
    #[arg(long, value_name = "FILE")]
    pub account: PathBuf,
}
