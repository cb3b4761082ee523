//! The arguments of the file commands (keygen, recipient, seal, open, hash) and the groups every
//! command shares (keys, passphrases, the suite). Only clap and the core's types here.

use std::path::PathBuf;

use clap::Args;
use esmtp_core::Suite;

/// Generate a new x25519 identity (secret key).
///
/// The secret identity goes to FILE (created with mode 0600; an existing file is never
/// overwritten) or to standard output. The public recipient, which others seal to, is printed on
/// standard error as `Public recipient: esmtp1...`; `esmtp recipient -i FILE` prints it again.
///
/// With --passphrase (or --passphrase-file/--passphrase-env) the identity is written sealed
/// under that passphrase, as an armored esmtp envelope whose plaintext is the identity file;
/// every command that reads an identity file recognises it and asks for the passphrase on the
/// terminal.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  esmtp keygen -o ~/.esmtp/me.key\n  esmtp keygen -p -o me.key   # passphrase-protected\n  esmtp keygen > me.key"
)]
pub struct KeygenArgs {
    /// Write the identity to FILE (mode 0600, must not exist) instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Protect the identity with a passphrase asked on the terminal (twice)
    #[arg(short = 'p', long = "passphrase", conflicts_with_all = ["passphrase_file", "passphrase_env"])]
    pub passphrase_prompt: bool,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
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
#[derive(Debug, Clone, Args, Default)]
pub struct PassphraseSource {
    /// Read a passphrase from file F (a final newline is not part of it)
    #[arg(long, value_name = "F", conflicts_with = "passphrase_env")]
    pub passphrase_file: Option<PathBuf>,
    /// Read a passphrase from the environment variable VAR
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
}

/// A cipher suite by its name in the envelope format (`esmtp_core::Suite`'s own parser).
pub fn suite(name: &str) -> Result<Suite, String> {
    name.parse().map_err(|_| {
        let names: Vec<&str> = Suite::ALL.iter().map(|s| s.name()).collect();
        format!("unknown suite; the suites are {}", names.join(", "))
    })
}

/// The help line of every `--suite`.
pub const SUITE_HELP: &str =
    "The cipher suite: chacha20-poly1305 (default) or des-cbc-md5 (the paper's, legacy strength)";

/// Seal (encrypt) a file or stream into an envelope.
///
/// Reads IN (standard input by default) and writes the envelope to OUT (standard output by
/// default), streaming in constant memory whatever the size. Seal to any mix of public
/// recipients (-r, -R), a passphrase, and a key slip (--key-slip-out): the paper's flow, where
/// the key travels to the receiver apart from the message. With no recipient at all it is an
/// error, never an unencrypted copy.
///
/// With --sign-with FILE the envelope is signed with the identity in FILE: the signature,
/// inside the encryption, covers the recipients and the whole message and tells the receiver who
/// wrote it (`esmtp open` prints `Signed by esmtp1...`). Unsigned, an envelope does not say who
/// made it: every recipient holds its key and could have.
///
/// With -o, the envelope appears at OUT only when complete (see OUTPUT FILES under `esmtp open
/// --help`); an existing OUT is refused unless --force, and OUT may never be IN.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp seal -r esmtp1... -o report.esmtp report.pdf
  esmtp seal -r esmtp1...bob --sign-with alice.key -a -o note.asc note.txt
  tar c docs | esmtp seal -R team.txt -a > docs.tar.asc
  esmtp seal --suite des-cbc-md5 --key-slip-out slip.txt -o mail.esmtp mail.txt
  ESMTP_PASS=... esmtp seal --passphrase-env ESMTP_PASS -a < notes.txt")]
pub struct SealArgs {
    #[arg(long, value_parser = suite, default_value = "chacha20-poly1305", value_name = "SUITE", help = SUITE_HELP)]
    pub suite: Suite,
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
    /// Sign with the identity in IDENTITY_FILE (from `esmtp keygen`; may be passphrase-protected)
    #[arg(long, value_name = "IDENTITY_FILE")]
    pub sign_with: Option<PathBuf>,
    /// Write an ASCII-armored envelope (-----BEGIN ESMTP ENVELOPE-----)
    #[arg(short, long)]
    pub armor: bool,
    /// Write the envelope to OUT instead of standard output
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Replace an existing OUT
    #[arg(short, long, requires = "output")]
    pub force: bool,
    /// The file to seal (standard input when omitted or `-`)
    #[arg(value_name = "IN")]
    pub input: Option<PathBuf>,
}

/// Open (decrypt) an envelope, binary or armored.
///
/// Reads IN (standard input by default): a binary or armored envelope, also armor pasted into
/// other text or quoted by a replying mail program (`> ` or indentation). Plaintext is released
/// only after the whole envelope passed its integrity checks. On success, prints `MD5 <hex>  suite <name>`
/// on standard error (not with --quiet): the MD5 of the plaintext (for des-cbc-md5 the digest
/// the envelope carried, verified), and below it `Signed by esmtp1...` (the signer's public
/// key, verified over the recipients and the whole message) or `Unsigned`: anyone holding the
/// envelope's key (every recipient, the holder of a key slip or the passphrase) could have made
/// an unsigned envelope, so it says nothing about who wrote it.
///
/// SIGNERS: --expect-signer KEY (repeatable) or --expect-signer-file FILE (public keys, one a
/// line) makes an unsigned envelope, or one signed by any other key, fail with exit 8 before any
/// plaintext is written. A signature that does not verify is exit 4, as any other alteration.
///
/// OUTPUT FILES: with -o, the plaintext is written to an unnamed temporary file in OUT's
/// directory (Linux O_TMPFILE, mode 0600) that is linked in as OUT only when complete, so an
/// interruption, even SIGKILL, leaves nothing; elsewhere a hidden temporary file beside OUT is
/// renamed at the end and removed on SIGINT, SIGTERM or SIGHUP. An existing OUT is refused
/// unless --force; OUT may never be IN (also through another path, symbolic or hard link). To
/// standard output, the plaintext goes through an unnamed temporary file first.
///
/// Identities: identity files (-i; passphrase-protected ones ask for their passphrase on the
/// terminal), key slips (--key-slip) and a passphrase. With none of them, a passphrase is asked
/// for on the terminal (/dev/tty, also when IN comes from a pipe), only if the envelope has a
/// passphrase stanza.
#[derive(Debug, Args)]
#[command(after_help = "\
Examples:
  esmtp open -i bob.key -o report.pdf report.esmtp
  esmtp open --key-slip slip.txt < mail.esmtp > mail.txt
  cat notes.asc | esmtp open -o notes.txt        # asks for the passphrase on the terminal
  esmtp open --json -i bob.key -o report.pdf report.esmtp

  esmtp open -i bob.key --expect-signer esmtp1...alice -o note.txt note.asc

With --json, standard output gets one JSON object (it needs -o, so the plaintext is elsewhere):
  {\"ok\": true, \"output\": \"report.pdf\", \"bytes\": 1234, \"md5\": \"<hex>\",
   \"suite\": \"chacha20-poly1305\", \"envelope_id\": \"<32 hex>\", \"signer\": \"esmtp1...\"}
or, on failure, {\"ok\": false, \"error\": {\"code\": 3, \"message\": \"...\"}}.
\"signer\" is the verified signer's public key, or null for an unsigned envelope.")]
pub struct OpenArgs {
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Write the plaintext to OUT instead of standard output
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Replace an existing OUT
    #[arg(short, long, requires = "output")]
    pub force: bool,
    /// Require a signature by this public key (esmtp1...); repeatable: any of them will do
    #[arg(long, value_name = "KEY")]
    pub expect_signer: Vec<String>,
    /// Require a signature by one of the public keys in FILE (one a line); repeatable
    #[arg(long, value_name = "FILE")]
    pub expect_signer_file: Vec<PathBuf>,
    /// Do not print the MD5 and signer lines (and, but for des-cbc-md5, skip the MD5)
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the report as JSON on standard output (needs -o)
    #[arg(long, requires = "output")]
    pub json: bool,
    /// The envelope (standard input when omitted or `-`)
    #[arg(value_name = "IN")]
    pub input: Option<PathBuf>,
}

/// What opens envelopes: identity files, key slips, a passphrase (shared by open, fetch, watch,
/// read and reply).
#[derive(Debug, Clone, Args, Default)]
pub struct KeyArgs {
    /// An identity file (from `esmtp keygen`; may be passphrase-protected); repeatable
    #[arg(short = 'i', long = "identity", value_name = "IDENTITY_FILE")]
    pub identities: Vec<PathBuf>,
    #[command(flatten)]
    pub passphrase: PassphraseSource,
    /// A file holding a key slip token (ESMTP-SLIP-1...); repeatable
    #[arg(long = "key-slip", value_name = "FILE")]
    pub key_slips: Vec<PathBuf>,
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
