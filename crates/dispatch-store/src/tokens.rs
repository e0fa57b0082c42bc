//! Bearer tokens and certificate fingerprints: their one spelling, parsing and hashing.
//!
//! A bearer token is `dsp_<credential id, 32 hex>_<secret, 64 hex>`. The id makes checking a
//! token one primary-key lookup; only a random salt and sha256(salt || secret) are stored, and the
//! token itself is handed out once, when it is issued. No secret ever goes into an event, an
//! error, a `Debug` rendering or a log line.

use sha2::{Digest as _, Sha256};
use uuid::Uuid;

use dispatch_domain::ids::CredentialId;

use crate::Error;

/// Every bearer token starts with this, so scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "dsp_";

/// How many leading characters of a token are kept, for people to recognise it by.
pub const TOKEN_PREFIX_LEN: usize = 12;

pub(crate) const SECRET_LEN: usize = 32;

pub(crate) const SALT_LEN: usize = 16;

/// A parsed bearer token. Its `Debug` hides the secret.
pub(crate) struct Token {
    pub(crate) id: CredentialId,
    pub(crate) secret: [u8; SECRET_LEN],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .finish()
    }
}

pub(crate) fn format_token(id: CredentialId, secret: &[u8; SECRET_LEN]) -> String {
    format!("{TOKEN_PREFIX}{}_{}", id.0.simple(), hex(secret))
}

/// `dsp_<32 lowercase hex>_<64 lowercase hex>`, nothing else.
pub(crate) fn parse_token(token: &str) -> Option<Token> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    if id.len() != 32 || !is_lower_hex(id) {
        return None;
    }
    let id = Uuid::try_parse(id).ok()?;
    let secret: [u8; SECRET_LEN] = unhex(secret)?.try_into().ok()?;
    Some(Token {
        id: CredentialId(id),
        secret,
    })
}

/// The part of a token kept for people to recognise it.
pub(crate) fn token_prefix(token: &str) -> String {
    token.chars().take(TOKEN_PREFIX_LEN).collect()
}

pub(crate) fn token_hash(salt: &[u8], secret: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(secret);
    hasher.finalize().into()
}

/// Equal bytes, in time that depends only on the length (which is public: always 32 here).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

pub(crate) fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|error| Error::Internal(format!("no randomness from the system: {error}")))?;
    Ok(bytes)
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

pub(crate) fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex only.
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !is_lower_hex(text) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// The lowercase hex SHA-256 of a certificate's DER encoding: what a client certificate
/// credential stores and [`Store::authenticate_certificate`] looks up.
pub fn certificate_fingerprint(der: &[u8]) -> String {
    hex(&Sha256::digest(der))
}

/// Accepts 64 hex digits in either case, optionally in colon-separated pairs (as `openssl x509
/// -fingerprint -sha256` prints them); answers the canonical lowercase form.
pub fn normalize_certificate_sha256(text: &str) -> Option<String> {
    let text: String = text
        .trim()
        .chars()
        .filter(|c| *c != ':')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (text.len() == 64 && is_lower_hex(&text)).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> [u8; SECRET_LEN] {
        std::array::from_fn(|i| u8::try_from(i * 7 % 256).unwrap_or(0))
    }

    #[test]
    fn tokens_have_one_spelling_and_round_trip() {
        let id = CredentialId::new_v7();
        let token = format_token(id, &secret());
        assert_eq!(token.len(), 4 + 32 + 1 + 64);
        assert!(token.starts_with("dsp_"));
        assert_eq!(token_prefix(&token), token[..12]);
        let parsed = parse_token(&token).expect("parses");
        assert_eq!(parsed.id, id);
        assert_eq!(parsed.secret, secret());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let id = CredentialId::new_v7();
        let good = format_token(id, &secret());
        let simple = id.0.simple().to_string();
        let hex_secret = hex(&secret());
        for bad in [
            String::new(),
            "dsp_".into(),
            good.replacen("dsp_", "dsq_", 1),
            good.replacen("dsp_", "", 1),
            good.to_uppercase(),
            format!("{good}0"),
            good[..good.len() - 2].to_owned(),
            format!("dsp_{simple}{hex_secret}"),
            format!("dsp_{simple}_{hex_secret}_"),
            format!("dsp_{}_{hex_secret}", id.0.hyphenated()),
            format!("dsp_{simple}_{}", hex_secret.replacen('0', "g", 1)),
            format!("dsp_{simple}_{}", hex_secret.replacen('0', "+", 1)),
            format!("dsp_{simple}_{}", "é".repeat(32)),
            format!("Bearer {good}"),
            format!(" {good}"),
        ] {
            assert!(parse_token(&bad).is_none(), "{bad:?} parsed");
        }
    }

    #[test]
    fn the_hash_depends_on_salt_and_secret() {
        let salt = [1u8; SALT_LEN];
        let hash = token_hash(&salt, &secret());
        assert_eq!(hash, token_hash(&salt, &secret()));
        assert_ne!(hash, token_hash(&[2u8; SALT_LEN], &secret()));
        assert_ne!(hash, token_hash(&salt, &[0u8; SECRET_LEN]));
        // sha256("abc"), the FIPS 180-2 example, split across salt and secret.
        assert_eq!(
            hex(&token_hash(b"a", b"bc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_compare_compares() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(&[7; 32], &[7; 32]));
        assert!(!constant_time_eq(&[7; 32], &[7; 31]));
        let mut other = [7u8; 32];
        other[31] = 6;
        assert!(!constant_time_eq(&[7; 32], &other));
        other = [7; 32];
        other[0] = 0x87;
        assert!(!constant_time_eq(&[7; 32], &other));
    }

    #[test]
    fn random_secrets_differ() {
        let a = random::<SECRET_LEN>().expect("random");
        let b = random::<SECRET_LEN>().expect("random");
        assert_ne!(a, b);
    }

    #[test]
    fn token_debug_hides_the_secret() {
        let token = Token {
            id: CredentialId::new_v7(),
            secret: [0xab; SECRET_LEN],
        };
        let shown = format!("{token:?}");
        assert!(!shown.contains("abab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn hex_round_trips() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(unhex(&hex(&bytes)), Some(bytes));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("AB"), None);
    }

    #[test]
    fn certificate_fingerprints_normalize() {
        let fingerprint = certificate_fingerprint(b"abc");
        assert_eq!(
            fingerprint,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let colons = fingerprint
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|pair| std::str::from_utf8(pair).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(
            normalize_certificate_sha256(&colons).as_deref(),
            Some(fingerprint.as_str())
        );
        assert_eq!(normalize_certificate_sha256(&fingerprint[1..]), None);
        assert_eq!(
            normalize_certificate_sha256(&format!("{fingerprint}0")),
            None
        );
        assert_eq!(normalize_certificate_sha256(&"z".repeat(64)), None);
    }
}
