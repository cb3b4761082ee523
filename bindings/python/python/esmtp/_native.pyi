"""Type stubs of esmtp's native module (checked against it by mypy.stubtest)."""

import os
from collections.abc import Callable, Sequence
from typing import IO, Optional, Union, final


__all__ = [
    "Account",
    "Attachment",
    "AuthenticationFailed",
    "BadSignature",
    "BatchResult",
    "BuiltMail",
    "Cancelled",
    "Capabilities",
    "DecryptionFailed",
    "Draft",
    "DuplicateMessage",
    "EncryptedMail",
    "EsmtpError",
    "ExcessiveWork",
    "FetchReport",
    "FetchedMessage",
    "Headers",
    "IdentityFile",
    "ImapInbox",
    "InvalidArgument",
    "InvalidKey",
    "IoError",
    "KeySlip",
    "KeySlipMail",
    "KeySlipSent",
    "Mailbox",
    "Mailer",
    "MalformedEnvelope",
    "MalformedMail",
    "MessageTooLarge",
    "NoMatchingRecipient",
    "OpenReport",
    "Opened",
    "PlainMail",
    "Pop3Inbox",
    "RandomError",
    "SealReport",
    "Sealed",
    "SendReport",
    "SenderCheck",
    "SenderNotAllowed",
    "Server",
    "Timeout",
    "TlsError",
    "TransportError",
    "UnexpectedSigner",
    "X25519Identity",
    "X25519Recipient",
    "__version__",
    "build_mail",
    "hash_file_hex",
    "load_identity_file",
    "md5_hex",
    "open",
    "open_file",
    "open_stream",
    "parse_identity_file",
    "read_mail",
    "seal",
    "seal_envelope",
    "seal_file",
    "seal_stream",
    "sha256_hex",
]

__version__: str

#: Data going in: bytes, bytearray or memoryview.
_Data = Union[bytes, bytearray, memoryview]
#: A passphrase or password: str, or bytes holding UTF-8.
_Secret = Union[str, bytes, bytearray, memoryview]
_Recipient = Union["X25519Recipient", str]
_Identity = Union["X25519Identity", str]
_Slip = Union["KeySlip", str]
_Path = Union[str, os.PathLike[str]]
_Mailbox = Union["Mailbox", str]
_Work = tuple[int, int, int]

# --- exceptions -------------------------------------------------------------------------------

class EsmtpError(Exception):
    """Every error of esmtp; ``transient`` says whether trying again later may help."""

    transient: bool

class InvalidKey(EsmtpError): ...
class InvalidArgument(EsmtpError): ...
class MalformedEnvelope(EsmtpError): ...
class MalformedMail(EsmtpError): ...
class NoMatchingRecipient(EsmtpError): ...
class DecryptionFailed(EsmtpError): ...
class BadSignature(EsmtpError): ...
class UnexpectedSigner(EsmtpError): ...
class ExcessiveWork(EsmtpError): ...
class MessageTooLarge(EsmtpError): ...
class SenderNotAllowed(EsmtpError): ...
class IoError(EsmtpError): ...
class RandomError(EsmtpError): ...
class TransportError(EsmtpError): ...
class AuthenticationFailed(TransportError): ...
class TlsError(TransportError): ...
class Timeout(TransportError): ...
class Cancelled(TransportError): ...

# --- keys -------------------------------------------------------------------------------------

@final
class X25519Identity:
    """A person's secret keys: opens envelopes sealed to its public key, and signs."""

    @classmethod
    def generate(cls) -> X25519Identity: ...
    @classmethod
    def from_text(cls, text: str) -> X25519Identity: ...
    def to_public(self) -> X25519Recipient: ...
    def to_secret_text(self) -> str: ...
    def to_file_text(self, passphrase: Optional[_Secret] = None) -> str: ...

@final
class X25519Recipient:
    """A person's public key (``esmtp1...``): a recipient, and a signer to require."""

    @classmethod
    def from_text(cls, text: str) -> X25519Recipient: ...
    def to_text(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class KeySlip:
    """The key of one envelope, delivered apart from it."""

    @classmethod
    def from_text(cls, text: str) -> KeySlip: ...
    def to_text(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...

@final
class IdentityFile:
    @property
    def identities(self) -> list[X25519Identity]: ...
    @property
    def key_slips(self) -> list[KeySlip]: ...

def parse_identity_file(data: _Data, passphrase: Optional[_Secret] = None) -> IdentityFile: ...
def load_identity_file(path: _Path, passphrase: Optional[_Secret] = None) -> IdentityFile: ...

# --- envelopes --------------------------------------------------------------------------------

@final
class Opened:
    @property
    def plaintext(self) -> bytes: ...
    @property
    def md5(self) -> str: ...
    @property
    def suite(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def signer(self) -> Optional[X25519Recipient]: ...

@final
class OpenReport:
    @property
    def md5(self) -> str: ...
    @property
    def suite(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def signer(self) -> Optional[X25519Recipient]: ...
    @property
    def size(self) -> int: ...

@final
class Sealed:
    @property
    def envelope(self) -> bytes: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def key_slip(self) -> Optional[KeySlip]: ...

@final
class SealReport:
    @property
    def envelope_id(self) -> str: ...
    @property
    def key_slip(self) -> Optional[KeySlip]: ...
    @property
    def size(self) -> int: ...

def seal(
    data: _Data,
    *,
    recipients: Sequence[_Recipient] = ...,
    passphrase: Optional[_Secret] = None,
    suite: str = "chacha20-poly1305",
    armor: bool = False,
    sign_with: Optional[_Identity] = None,
) -> bytes: ...
def seal_envelope(
    data: _Data,
    *,
    recipients: Sequence[_Recipient] = ...,
    passphrase: Optional[_Secret] = None,
    key_slip: bool = False,
    suite: str = "chacha20-poly1305",
    armor: bool = False,
    sign_with: Optional[_Identity] = None,
) -> Sealed: ...
def open(
    envelope: _Data,
    *,
    identities: Sequence[_Identity] = ...,
    passphrase: Optional[_Secret] = None,
    key_slips: Sequence[_Slip] = ...,
    require_signers: Sequence[_Recipient] = ...,
    max_passphrase_work: Optional[_Work] = None,
) -> Opened: ...
def seal_stream(
    input: IO[bytes],
    output: IO[bytes],
    *,
    recipients: Sequence[_Recipient] = ...,
    passphrase: Optional[_Secret] = None,
    key_slip: bool = False,
    suite: str = "chacha20-poly1305",
    armor: bool = False,
    sign_with: Optional[_Identity] = None,
) -> SealReport: ...
def open_stream(
    input: IO[bytes],
    output: IO[bytes],
    *,
    identities: Sequence[_Identity] = ...,
    passphrase: Optional[_Secret] = None,
    key_slips: Sequence[_Slip] = ...,
    require_signers: Sequence[_Recipient] = ...,
    max_passphrase_work: Optional[_Work] = None,
) -> OpenReport: ...
def seal_file(
    input: _Path,
    output: _Path,
    *,
    recipients: Sequence[_Recipient] = ...,
    passphrase: Optional[_Secret] = None,
    key_slip: bool = False,
    suite: str = "chacha20-poly1305",
    armor: bool = False,
    sign_with: Optional[_Identity] = None,
    overwrite: bool = False,
) -> SealReport: ...
def open_file(
    input: _Path,
    output: _Path,
    *,
    identities: Sequence[_Identity] = ...,
    passphrase: Optional[_Secret] = None,
    key_slips: Sequence[_Slip] = ...,
    require_signers: Sequence[_Recipient] = ...,
    max_passphrase_work: Optional[_Work] = None,
    overwrite: bool = False,
) -> OpenReport: ...
def md5_hex(data: _Data) -> str: ...
def sha256_hex(data: _Data) -> str: ...
def hash_file_hex(path: _Path, algorithm: str = "sha256") -> str: ...

# --- mails ------------------------------------------------------------------------------------

@final
class Mailbox:
    def __new__(cls, address: str, name: Optional[str] = None) -> Mailbox: ...
    @property
    def address(self) -> str: ...
    @property
    def name(self) -> Optional[str]: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Attachment:
    def __new__(cls, filename: str, data: _Data, content_type: str = "application/octet-stream") -> Attachment: ...
    @property
    def filename(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def data(self) -> bytes: ...

@final
class Draft:
    def __new__(
        cls,
        sender: _Mailbox,
        to: Sequence[_Mailbox] = ...,
        *,
        subject: str = ...,
        text: Optional[str] = None,
        html: Optional[str] = None,
        attachments: Sequence[Attachment] = ...,
        cc: Sequence[_Mailbox] = ...,
        bcc: Sequence[_Mailbox] = ...,
        reply_to: Sequence[_Mailbox] = ...,
        in_reply_to: Sequence[str] = ...,
        references: Sequence[str] = ...,
        date: Optional[int] = None,
    ) -> Draft: ...
    @property
    def sender(self) -> Mailbox: ...
    @property
    def to(self) -> list[Mailbox]: ...
    @property
    def subject(self) -> str: ...

@final
class Headers:
    @property
    def sender(self) -> Optional[Mailbox]: ...
    @property
    def to(self) -> list[Mailbox]: ...
    @property
    def cc(self) -> list[Mailbox]: ...
    @property
    def reply_to(self) -> list[Mailbox]: ...
    @property
    def subject(self) -> Optional[str]: ...
    @property
    def date(self) -> Optional[int]: ...
    @property
    def message_id(self) -> Optional[str]: ...
    @property
    def in_reply_to(self) -> list[str]: ...
    @property
    def references(self) -> list[str]: ...

@final
class BuiltMail:
    @property
    def data(self) -> bytes: ...
    @property
    def message_id(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def key_slip(self) -> Optional[KeySlip]: ...
    @property
    def smtputf8(self) -> bool: ...

@final
class EncryptedMail:
    @property
    def headers(self) -> Headers: ...
    @property
    def outer(self) -> Headers: ...
    @property
    def text(self) -> Optional[str]: ...
    @property
    def html(self) -> Optional[str]: ...
    @property
    def attachments(self) -> list[Attachment]: ...
    @property
    def suite(self) -> str: ...
    @property
    def md5(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def signer(self) -> Optional[X25519Recipient]: ...
    @property
    def raw(self) -> bytes: ...

@final
class KeySlipMail:
    @property
    def headers(self) -> Headers: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def key_slip(self) -> KeySlip: ...

@final
class PlainMail:
    @property
    def headers(self) -> Headers: ...

def build_mail(
    draft: Draft,
    *,
    recipients: Sequence[_Recipient] = ...,
    passphrase: Optional[_Secret] = None,
    key_slip: bool = False,
    suite: str = "chacha20-poly1305",
    sign_with: Optional[_Identity] = None,
) -> BuiltMail: ...
def read_mail(
    data: _Data,
    *,
    identities: Sequence[_Identity] = ...,
    passphrase: Optional[_Secret] = None,
    key_slips: Sequence[_Slip] = ...,
    require_signers: Sequence[_Recipient] = ...,
    max_passphrase_work: Optional[_Work] = None,
) -> Union[EncryptedMail, KeySlipMail, PlainMail]: ...

# --- transport --------------------------------------------------------------------------------

_Token = Union[str, Callable[[], str]]

@final
class Server:
    def __new__(cls, host: str, port: int, tls: str = "implicit") -> Server: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def tls(self) -> str: ...
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Account:
    def __new__(
        cls,
        address: str,
        *,
        password: Optional[_Secret] = None,
        oauth2_token: Optional[_Token] = None,
        username: Optional[str] = None,
        smtp: Optional[Server] = None,
        imap: Optional[Server] = None,
        pop3: Optional[Server] = None,
        ca_file: Optional[_Path] = None,
        ca_pem: Optional[_Data] = None,
        timeout: Optional[int] = None,
        deadline: Optional[int] = None,
        aliases: Sequence[str] = ...,
        identity: Optional[_Identity] = None,
        encrypt_to_self: Optional[bool] = None,
        contacts: Sequence[tuple[str, _Recipient]] = ...,
    ) -> Account: ...
    @classmethod
    def gmail(
        cls, address: str, *, app_password: Optional[_Secret] = None, oauth2_token: Optional[_Token] = None
    ) -> Account: ...
    @classmethod
    def from_file(cls, path: _Path) -> Account: ...
    @property
    def address(self) -> str: ...

@final
class Capabilities:
    @property
    def size_limit(self) -> Optional[int]: ...
    @property
    def auth(self) -> list[str]: ...
    @property
    def eight_bit_mime(self) -> bool: ...
    @property
    def smtputf8(self) -> bool: ...
    @property
    def pipelining(self) -> bool: ...
    @property
    def lines(self) -> list[str]: ...

@final
class KeySlipSent:
    @property
    def to(self) -> str: ...
    @property
    def message_id(self) -> str: ...

@final
class SendReport:
    @property
    def message_id(self) -> str: ...
    @property
    def envelope_id(self) -> str: ...
    @property
    def size(self) -> int: ...
    @property
    def reply_code(self) -> int: ...
    @property
    def reply_text(self) -> str: ...
    @property
    def signer(self) -> Optional[X25519Recipient]: ...
    @property
    def encrypted_to_self(self) -> bool: ...
    @property
    def key_slips(self) -> list[KeySlipSent]: ...

@final
class BatchResult:
    @property
    def report(self) -> Optional[SendReport]: ...
    @property
    def error(self) -> Optional[EsmtpError]: ...

@final
class Mailer:
    def __new__(cls, account: Account) -> Mailer: ...
    def capabilities(self) -> Capabilities: ...
    def send_secure(
        self,
        draft: Draft,
        *,
        recipients: Sequence[_Recipient] = ...,
        passphrase: Optional[_Secret] = None,
        key_slip: bool = False,
        suite: str = "chacha20-poly1305",
        sign_with: Optional[_Identity] = None,
        subject_placeholder: Optional[str] = None,
        key_slip_to: Optional[str] = None,
        sign: bool = True,
        attempts: int = 1,
        retry_delay: float = 1.0,
    ) -> SendReport: ...
    def send_batch(
        self,
        drafts: Sequence[Draft],
        *,
        recipients: Sequence[_Recipient] = ...,
        passphrase: Optional[_Secret] = None,
        key_slip: bool = False,
        suite: str = "chacha20-poly1305",
        sign_with: Optional[_Identity] = None,
        subject_placeholder: Optional[str] = None,
        key_slip_to: Optional[str] = None,
        sign: bool = True,
        attempts: int = 1,
        retry_delay: float = 1.0,
    ) -> list[BatchResult]: ...
    def close(self) -> None: ...
    def __enter__(self) -> Mailer: ...
    def __exit__(self, _exc_type: object, _exc_value: object, _traceback: object) -> bool: ...

@final
class SenderCheck:
    @property
    def verdict(self) -> str: ...
    @property
    def address(self) -> Optional[str]: ...
    @property
    def signer_contact(self) -> Optional[str]: ...
    @property
    def from_differs(self) -> bool: ...
    @property
    def warning(self) -> Optional[str]: ...

@final
class FetchedMessage:
    @property
    def uid(self) -> Optional[int]: ...
    @property
    def uidl(self) -> Optional[str]: ...
    @property
    def size(self) -> int: ...
    @property
    def outer(self) -> Headers: ...
    @property
    def status(self) -> str: ...
    @property
    def mail(self) -> Optional[EncryptedMail]: ...
    @property
    def with_key_slip(self) -> bool: ...
    @property
    def key_slip(self) -> Optional[KeySlip]: ...
    @property
    def envelope_id(self) -> Optional[str]: ...
    @property
    def error(self) -> Optional[EsmtpError]: ...
    @property
    def sender(self) -> Optional[SenderCheck]: ...

@final
class DuplicateMessage:
    @property
    def uid(self) -> Optional[int]: ...
    @property
    def uidl(self) -> Optional[str]: ...
    @property
    def message_id(self) -> str: ...

@final
class FetchReport:
    @property
    def messages(self) -> list[FetchedMessage]: ...
    @property
    def sync_state(self) -> str: ...
    @property
    def resynced(self) -> bool: ...
    @property
    def duplicates(self) -> list[DuplicateMessage]: ...

@final
class ImapInbox:
    def __new__(cls, account: Account) -> ImapInbox: ...
    def mailboxes(self) -> list[str]: ...
    def fetch(
        self,
        mailbox: str = "INBOX",
        *,
        since: Optional[str] = None,
        esmtp_only: bool = True,
        mark_seen: bool = False,
        move_to: Optional[str] = None,
        delete_after_open: bool = False,
        identities: Sequence[_Identity] = ...,
        passphrase: Optional[_Secret] = None,
        key_slips: Sequence[_Slip] = ...,
        require_signers: Sequence[_Recipient] = ...,
        max_passphrase_work: Optional[_Work] = None,
    ) -> FetchReport: ...
    def idle(self, mailbox: str = "INBOX", *, since: Optional[str] = None, timeout: int = 300) -> bool: ...
    def cancel(self) -> None: ...
    def logout(self) -> None: ...
    def __enter__(self) -> ImapInbox: ...
    def __exit__(self, exc_type: object, _exc_value: object, _traceback: object) -> bool: ...

@final
class Pop3Inbox:
    def __new__(cls, account: Account) -> Pop3Inbox: ...
    def fetch(
        self,
        *,
        since: Optional[str] = None,
        esmtp_only: bool = True,
        delete_after_open: bool = False,
        identities: Sequence[_Identity] = ...,
        passphrase: Optional[_Secret] = None,
        key_slips: Sequence[_Slip] = ...,
        require_signers: Sequence[_Recipient] = ...,
        max_passphrase_work: Optional[_Work] = None,
    ) -> FetchReport: ...
    def cancel(self) -> None: ...
    def quit(self) -> None: ...
    def __enter__(self) -> Pop3Inbox: ...
    def __exit__(self, exc_type: object, _exc_value: object, _traceback: object) -> bool: ...
