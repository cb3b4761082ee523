//! The command line as a whole: the commands, and the text of `esmtp --help`.

use clap::{Parser, Subcommand};

use crate::args::{HashArgs, KeygenArgs, OpenArgs, RecipientArgs, SealArgs};
use crate::args_mail::{CapabilitiesArgs, FetchArgs, ReadArgs, ReplyArgs, SendArgs, WatchArgs};
use crate::failure::EXIT_CODES_HELP;

const ABOUT: &str = "End-to-end encrypted email over ordinary SMTP, IMAP and POP3";

const LONG_ABOUT: &str = "\
End-to-end encrypted email over ordinary SMTP, IMAP and POP3.

A message is sealed on the sender's machine under a fresh random key and only ever travels as
ciphertext; the receiver opens it with a secret key, a passphrase, or the key slip that was
delivered separately. `seal` and `open` work on files and pipes; `send` and `fetch` package,
submit, retrieve and open whole mails through an account file; `read` and `reply` work on a
mail saved from any mail program; `watch` waits for new mail.

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
  esmtp fetch --account bob.toml -i bob.key --new --out mail/
  esmtp read -i bob.key message.eml";

#[derive(Debug, Parser)]
#[command(name = "esmtp", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(after_help = EXIT_CODES_HELP)]
#[command(after_long_help = format!("{EXAMPLES}\n\n{}", EXIT_CODES_HELP))]
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
    Send(SendArgs),
    Fetch(FetchArgs),
    Watch(WatchArgs),
    Read(ReadArgs),
    Reply(ReplyArgs),
}
