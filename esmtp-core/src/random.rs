//! Where randomness comes from: the operating system's CSPRNG. Reproducible test vectors plug in
//! a seeded generator through the hidden [`RandomSource`] trait.

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

impl From<RandomError> for crate::SealError {
    fn from(_: RandomError) -> Self {
        crate::SealError::Random
    }
}

/// A source of cryptographically secure random bytes. Not part of the supported API: it exists
/// so that the test kit can generate reproducible vectors.
#[doc(hidden)]
pub trait RandomSource {
    /// Fill `buf` with random bytes.
    ///
    /// # Errors
    /// When the underlying generator fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG (`getrandom`): what every public API uses.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

/// Any `rand_core` cryptographic generator as a [`RandomSource`] (reproducible test vectors).
/// Not part of the supported API.
#[doc(hidden)]
#[derive(Debug)]
pub struct SeededRandom<R>(pub R);

impl<R: rand_core::CryptoRng> RandomSource for SeededRandom<R> {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self.0.fill_bytes(buf);
        Ok(())
    }
}
