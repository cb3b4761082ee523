//! Finding an armored envelope in text (MIME.md section 5, rules 2 and 3): leniently about
//! where it sits and how a replying client quoted it, strictly about its base64.

use std::cell::Cell;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::MimeError;
use crate::armor::{ARMOR_BEGIN as BEGIN, ARMOR_END as END};

/// The first armored block in `text`, decoded; `None` when there is none. Lenient about line
/// lengths, line endings, surrounding white space and the quoting of a replying mail client
/// (`> `, `>> ` or indentation; MIME.md section 5), strict about base64.
///
/// # Errors
/// [`MimeError::Malformed`] when a block starts but is not valid armor.
pub fn extract_armor(text: &[u8]) -> Result<Option<Vec<u8>>, MimeError> {
    // The bytes of `text` the lines taken so far spanned, each with its `\n`: what follows the
    // BEGIN line is the most the armor can hold, however long the text before it.
    let spanned = Cell::new(0usize);
    let mut lines = lines(text).inspect(|raw| spanned.set(spanned.get() + raw.len() + 1)).map(unquote);
    if !lines.any(|line| line == BEGIN.as_bytes()) {
        return Ok(None);
    }
    let mut armor = ArmorDecoder::new(text.len().saturating_sub(spanned.get()));
    for line in lines {
        if line == END.as_bytes() {
            return armor.finish();
        }
        if !line.iter().all(|&c| BASE64_LINE[usize::from(c)]) {
            return Err(MimeError::Malformed("armored envelope: a line is not base64"));
        }
        armor.push(line);
    }
    Err(MimeError::Malformed("armored envelope without its END line"))
}

/// The bytes an armor line may hold: the base64 alphabet and its padding.
const BASE64_LINE: [bool; 256] = {
    let mut table = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        table[c] = b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=';
        c += 1;
    }
    table
};

/// Base64 text of an armor decoded as it is collected, a piece at a time, so that a large
/// envelope's text is never held whole beside the envelope (the raw mail, its text and the
/// envelope were the peak of reading a large mail). The verdict is that of decoding the whole
/// text at once: every line is checked first, padding is only valid in the last quantum, and a
/// padding byte before it makes the whole "invalid base64".
struct ArmorDecoder {
    /// Checked text not yet decoded: less than `PIECE` plus a line.
    pending: Vec<u8>,
    envelope: Vec<u8>,
    /// A padding byte came before the end: invalid, whatever follows.
    invalid: bool,
}

/// Decode once this much text is pending (a multiple of 4).
const PIECE: usize = 64 << 10;

impl ArmorDecoder {
    fn new(text_len: usize) -> Self {
        ArmorDecoder {
            pending: Vec::with_capacity(PIECE.min(text_len) + 128),
            // Room for the most the text can hold, so the envelope is never copied to grow.
            envelope: Vec::with_capacity(text_len / 4 * 3 + 3),
            invalid: false,
        }
    }

    fn push(&mut self, line: &[u8]) {
        self.pending.extend_from_slice(line);
        if self.pending.len() < PIECE {
            return;
        }
        // Whole quanta, but never the last one: it may be the final, padded one.
        let n = (self.pending.len() / 4 - 1) * 4;
        let piece = &self.pending[..n];
        if !self.invalid && piece.contains(&b'=') {
            self.invalid = true;
        }
        if !self.invalid {
            // Full quanta of the alphabet without padding always decode.
            self.invalid = STANDARD.decode_vec(piece, &mut self.envelope).is_err();
        }
        self.pending.drain(..n);
    }

    fn finish(mut self) -> Result<Option<Vec<u8>>, MimeError> {
        if self.invalid || STANDARD.decode_vec(&self.pending, &mut self.envelope).is_err() {
            return Err(MimeError::Malformed("armored envelope: invalid base64"));
        }
        Ok(Some(self.envelope))
    }
}

/// The lines of `bytes` split at `\n`, as `split(|&b| b == b'\n')` gives them (a last, possibly
/// empty, piece after the last `\n`), found with `memchr`: large mails are split at memory speed.
pub(super) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(bytes);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(b'\n', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// A line without the quoting a mail client adds when it replies (`> `, `>> `, `> > `) or
/// indents, and without surrounding white space. Base64 never holds `>` or blanks, so nothing
/// of the armor is lost.
fn unquote(line: &[u8]) -> &[u8] {
    let start = line.iter().position(|&b| !matches!(b, b'>' | b' ' | b'\t')).unwrap_or(line.len());
    line[start..].trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn armor_is_found_leniently_and_decoded_strictly() {
        let text = b"Hi,\r\n\r\n  -----BEGIN ESMTP ENVELOPE-----  \r\nRVNN\r\n\r\nVFBF\r\nTlY=\r\n-----END ESMTP ENVELOPE-----\r\nBye";
        assert_eq!(extract_armor(text).unwrap().unwrap(), b"ESMTPENV");
        assert!(extract_armor(b"no armor here").unwrap().is_none());
        assert!(extract_armor(b"-----BEGIN ESMTP ENVELOPE-----\nRVNN\n").is_err());
        assert!(
            extract_armor(b"-----BEGIN ESMTP ENVELOPE-----\nRV*N\n-----END ESMTP ENVELOPE-----").is_err()
        );
        assert!(extract_armor(b"-----BEGIN ESMTP ENVELOPE-----\nRVN\n-----END ESMTP ENVELOPE-----").is_err());
    }

    /// Room is made for what follows the BEGIN line, not for the whole text: a small armor
    /// after a long letter must not reserve the letter's size.
    #[test]
    fn room_is_made_for_what_follows_the_begin_line() {
        let mut text = b"Dear Bob,\n".repeat(100_000);
        text.extend_from_slice(
            b"-----BEGIN ESMTP ENVELOPE-----\nRVNNVFBFTlY=\n-----END ESMTP ENVELOPE-----\n",
        );
        let envelope = extract_armor(&text).unwrap().unwrap();
        assert_eq!(envelope, b"ESMTPENV");
        assert!(envelope.capacity() < 100, "reserved {} bytes for 8", envelope.capacity());
    }

    #[test]
    fn armor_quoted_by_a_replying_client_is_found() {
        let quoted = b"On Monday Alice wrote:\n> -----BEGIN ESMTP ENVELOPE-----\n> RVNN\n>\n> VFBFTlY=\n> -----END ESMTP ENVELOPE-----\n";
        assert_eq!(extract_armor(quoted).unwrap().unwrap(), b"ESMTPENV");
        let twice =
            b">> -----BEGIN ESMTP ENVELOPE-----\r\n> > RVNNVFBFTlY=\r\n>> -----END ESMTP ENVELOPE-----";
        assert_eq!(extract_armor(twice).unwrap().unwrap(), b"ESMTPENV");
        let indented =
            b"    -----BEGIN ESMTP ENVELOPE-----\n\tRVNNVFBFTlY=\n    -----END ESMTP ENVELOPE-----\n";
        assert_eq!(extract_armor(indented).unwrap().unwrap(), b"ESMTPENV");
        assert!(
            extract_armor(b"> -----BEGIN ESMTP ENVELOPE-----\n> RV*N\n> -----END ESMTP ENVELOPE-----")
                .is_err()
        );
    }

    /// What `extract_armor` did before it decoded in pieces: collect the whole text, then decode
    /// it at once. The reference for the differential test below.
    fn whole(text: &[u8]) -> Result<Option<Vec<u8>>, MimeError> {
        let mut lines = text.split(|&b| b == b'\n').map(unquote);
        if !lines.any(|line| line == BEGIN.as_bytes()) {
            return Ok(None);
        }
        let mut base64 = Vec::new();
        for line in lines {
            if line == END.as_bytes() {
                return STANDARD
                    .decode(&base64)
                    .map(Some)
                    .map_err(|_| MimeError::Malformed("armored envelope: invalid base64"));
            }
            if !line.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'+' || c == b'/' || c == b'=') {
                return Err(MimeError::Malformed("armored envelope: a line is not base64"));
            }
            base64.extend_from_slice(line);
        }
        Err(MimeError::Malformed("armored envelope without its END line"))
    }

    fn verdict(result: Result<Option<Vec<u8>>, MimeError>) -> Result<Option<Vec<u8>>, String> {
        result.map_err(|e| e.to_string())
    }

    /// Armors of every size around the decoding pieces, wrapped at any width, quoted or not, and
    /// damaged in each way a mail can damage them: the same verdict, error message included, as
    /// decoding the whole text at once.
    #[test]
    fn pieces_give_the_verdict_of_decoding_whole() {
        use rand_chacha::ChaCha20Rng;
        use rand_chacha::rand_core::{Rng, SeedableRng};

        let mut rng = ChaCha20Rng::seed_from_u64(0x61726d6f72);
        let mut pick = |n: usize| (rng.next_u64() % n as u64) as usize;
        let sizes = [
            0,
            1,
            2,
            3,
            48,
            PIECE / 4 * 3 - 3,
            PIECE / 4 * 3,
            PIECE / 4 * 3 + 1,
            PIECE,
            2 * PIECE + 7,
            300_001,
        ];
        let (mut valid, mut broken) = (0, 0);
        for case in 0..400 {
            let size = sizes[case % sizes.len()] + if case % 3 == 0 { pick(5) } else { 0 };
            let data: Vec<u8> = (0..size).map(|i| (i * 31 + case) as u8).collect();
            let mut b64 = STANDARD.encode(&data).into_bytes();
            let damage = pick(8);
            match damage {
                1 if !b64.is_empty() => b64.insert(pick(b64.len()), b'='),
                2 if !b64.is_empty() => {
                    let at = pick(b64.len());
                    b64[at] = b'*';
                }
                3 => {
                    b64.pop();
                }
                4 => b64.extend_from_slice(b"=="),
                5 if !b64.is_empty() => b64.insert(pick(b64.len()), b' '),
                _ => {}
            }
            let width = [1, 3, 4, 63, 64, 76, 1000, 100_000][pick(8)];
            let (quote, eol): (&[u8], &[u8]) =
                [(&b""[..], &b"\n"[..]), (b"> ", b"\r\n"), (b"\t", b"\n")][pick(3)];
            let mut text = b"Hello,\r\n\r\n".to_vec();
            for line in [BEGIN.as_bytes()].into_iter().chain(b64.chunks(width)) {
                text.extend_from_slice(quote);
                text.extend_from_slice(line);
                text.extend_from_slice(eol);
                if pick(50) == 0 {
                    text.extend_from_slice(eol); // a blank line inside the armor
                }
            }
            if damage != 6 {
                text.extend_from_slice(quote);
                text.extend_from_slice(END.as_bytes());
                text.extend_from_slice(eol);
            }
            text.extend_from_slice(b"Bye\r\n");
            let expected = verdict(whole(&text));
            assert_eq!(verdict(extract_armor(&text)), expected, "case {case}: {size} bytes, damage {damage}");
            match expected {
                Ok(Some(decoded)) => {
                    assert_eq!(decoded, data, "case {case}");
                    valid += 1;
                }
                Ok(None) => unreachable!("every case has a BEGIN line"),
                Err(_) => broken += 1,
            }
        }
        assert!(valid > 100 && broken > 100, "both verdicts exercised: {valid} valid, {broken} broken");
    }

    /// Padding that ends a decoded piece exactly is still padding before the end: a piece would
    /// decode it on its own, the whole text does not.
    #[test]
    fn padding_at_the_end_of_a_piece_is_invalid() {
        let mut line = vec![b'A'; PIECE - 4];
        line.extend_from_slice(b"AA==AAAA");
        let text = [BEGIN.as_bytes(), b"\n", &line, b"\n", END.as_bytes(), b"\n"].concat();
        assert_eq!(verdict(whole(&text)), Err("malformed mail: armored envelope: invalid base64".into()));
        assert_eq!(verdict(extract_armor(&text)), verdict(whole(&text)));
    }

    #[test]
    fn lines_are_those_of_split() {
        for text in [&b""[..], b"\n", b"a", b"a\n", b"\na", b"a\n\nb", b"a\r\nb\n", b"\n\n\n"] {
            let ours: Vec<&[u8]> = lines(text).collect();
            let split: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
            assert_eq!(ours, split, "{text:?}");
        }
    }
}
