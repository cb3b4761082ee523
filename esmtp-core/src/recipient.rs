//! Recipients and identities: the two roles every stanza type plays (SPEC.md section 4).
//!
//! The traits are sealed: the stanza types are those SPEC.md defines ([`crate::X25519Recipient`],
//! [`crate::Passphrase`], [`crate::KeySlip`]), so that every envelope this crate writes can be
//! read by any implementation of the spec.

use crate::error::{OpenError, SealError};
use crate::key::{EnvelopeId, MessageKey};
use crate::random::RandomSource;
use crate::stanza::Stanza;

/// Someone an envelope can be sealed to: an [`crate::X25519Recipient`] or a [`crate::Passphrase`].
pub trait Recipient: private::WrapMessageKey + Send + Sync {}

/// Something that opens stanzas: an [`crate::X25519Identity`], a [`crate::Passphrase`] or a
/// [`crate::KeySlip`].
pub trait Identity: private::UnwrapStanza + Send + Sync {}

pub(crate) mod private {
    use super::*;

    /// The sealing half of a stanza type.
    pub trait WrapMessageKey {
        /// Wrap `key` for this recipient into a stanza of envelope `id`.
        fn wrap_message_key(
            &self,
            key: &MessageKey,
            id: &EnvelopeId,
            rng: &mut dyn RandomSource,
        ) -> Result<Stanza, SealError>;

        /// Whether this recipient is a passphrase (SPEC.md section 4.2: at most one per envelope).
        fn is_passphrase(&self) -> bool {
            false
        }
    }

    /// The opening half of a stanza type.
    pub trait UnwrapStanza {
        /// Try to recover the message key from `stanza` of envelope `id`.
        ///
        /// `None` when the stanza is not for this identity (including a wrong key or passphrase:
        /// wraps are key-committing), `Some(Err(_))` when it is for this identity but cannot be
        /// used (excessive Argon2 parameters, an altered wrapped key).
        fn unwrap_stanza(&self, stanza: &Stanza, id: &EnvelopeId) -> Option<Result<MessageKey, OpenError>>;
    }
}
