//! Bech32 text forms of keys and key slips (SPEC.md section 4.1): the one home of their rules.

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32, Hrp};
use zeroize::Zeroizing;

use crate::error::ParseKeyError;

/// Longer inputs are refused before decoding: every text form of SPEC.md is far shorter.
const MAX_TEXT_LEN: usize = 512;

/// Encode `data` under `hrp` (a constant of this crate), lower or upper case.
pub(crate) fn encode(hrp: &'static str, data: &[u8], upper: bool) -> Zeroizing<String> {
    // Invariant: the human-readable parts are constants of this crate, valid Bech32 parts, and the
    // data is at most 64 bytes, within what the encoder accepts.
    #[allow(clippy::expect_used)]
    let hrp = Hrp::parse(hrp).expect("a constant, valid human-readable part");
    let text = if upper {
        bech32::encode_upper::<Bech32>(hrp, data)
    } else {
        bech32::encode_lower::<Bech32>(hrp, data)
    };
    #[allow(clippy::expect_used)]
    Zeroizing::new(text.expect("at most 64 bytes of data"))
}

/// Decode a text form under `hrp`, returning the raw bytes (any length; callers check it).
///
/// Whitespace anywhere (a token wrapped over lines by a mail client, indented, or split for
/// reading) is ignored; Bech32 has no whitespace characters, so nothing is lost.
pub(crate) fn decode(text: &str, hrp: &str) -> Result<Zeroizing<Vec<u8>>, ParseKeyError> {
    if text.len() > MAX_TEXT_LEN * 4 {
        return Err(ParseKeyError::Encoding);
    }
    let compact: Zeroizing<String> = Zeroizing::new(text.chars().filter(|c| !c.is_whitespace()).collect());
    if compact.len() > MAX_TEXT_LEN {
        return Err(ParseKeyError::Encoding);
    }
    let parsed = CheckedHrpstring::new::<Bech32>(&compact).map_err(|_| ParseKeyError::Encoding)?;
    if !parsed.hrp().as_str().eq_ignore_ascii_case(hrp) {
        return Err(ParseKeyError::WrongKind);
    }
    parsed.validate_segwit_padding().map_err(|_| ParseKeyError::Encoding)?;
    Ok(Zeroizing::new(parsed.byte_iter().collect()))
}

/// [`decode`] into exactly `N` bytes.
pub(crate) fn decode_exact<const N: usize>(
    text: &str,
    hrp: &str,
) -> Result<Zeroizing<[u8; N]>, ParseKeyError> {
    let bytes = decode(text, hrp)?;
    let mut out = Zeroizing::new([0u8; N]);
    if bytes.len() != N {
        return Err(ParseKeyError::Length);
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_mixed_case_wrong_hrp_and_length_and_ignores_whitespace() {
        let t = encode("esmtp", &[3; 32], false);
        assert_eq!(*decode_exact::<32>(&t, "esmtp").unwrap(), [3; 32]);
        assert_eq!(*decode_exact::<32>(&t.to_uppercase(), "esmtp").unwrap(), [3; 32]);
        let wrapped = format!("  {}\n  {}\r\n", &t[..30], &t[30..]);
        assert_eq!(*decode_exact::<32>(&wrapped, "esmtp").unwrap(), [3; 32]);
        let mut mixed = t.to_string();
        mixed.replace_range(7..8, &mixed[7..8].to_uppercase());
        assert_eq!(decode_exact::<32>(&mixed, "esmtp").err(), Some(ParseKeyError::Encoding));
        assert_eq!(decode_exact::<32>(&t, "other").err(), Some(ParseKeyError::WrongKind));
        assert_eq!(decode_exact::<16>(&t, "esmtp").err(), Some(ParseKeyError::Length));
        let mut flipped = t.to_string();
        let last = if flipped.ends_with('q') { "p" } else { "q" };
        flipped.replace_range(flipped.len() - 1.., last);
        assert_eq!(decode_exact::<32>(&flipped, "esmtp").err(), Some(ParseKeyError::Encoding));
        assert_eq!(decode(&"q".repeat(100_000), "esmtp").err(), Some(ParseKeyError::Encoding));
    }
}
