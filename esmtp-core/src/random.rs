//! Where randomness comes from: the OS CSPRNG by default, a caller's generator when asked.

/// The operating system's random number generator failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomError;

/// A source of cryptographically secure random bytes.
///
/// Implemented for [`OsRandom`] and for every [`rand_core::CryptoRng`], so tests can pass a seeded
/// generator and get reproducible envelopes. Production code uses [`OsRandom`].
pub trait RandomSource {
    /// Fill `buf` with random bytes.
    ///
    /// # Errors
    /// When the underlying generator fails.
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// The operating system's CSPRNG (`getrandom`).
#[derive(Debug, Clone, Copy, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|_| RandomError)
    }
}

impl<R: rand_core::CryptoRng> RandomSource for R {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), RandomError> {
        self.fill_bytes(buf);
        Ok(())
    }
}

impl From<RandomError> for crate::SealError {
    fn from(_: RandomError) -> Self {
        crate::SealError::Random
    }
}
