//! Secret tokens: partner API tokens, officer sessions, form tokens. A
//! token is shown once; only its SHA-256 is stored.

use sha2::{Digest, Sha256};

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new random token: shown once, only its hash is stored.
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("cred_{}", hex::encode(bytes))
}
