//! Signed tokens with an expiry, as applications use `Phoenix.Token`: sign some data on
//! the server (when rendering a page, say), hand the token to the client, and verify it
//! in a channel's `authorize` or the socket's `connect` callback.
//!
//! A token is `PAYLOAD.SIGNATURE`, both base64url without padding: the payload is the JSON
//! `{"d": data, "t": signed_at_ms}`, the signature an HMAC-SHA256 of the salt and the
//! payload under the secret. Tokens are signed, not encrypted: the client can read the data.
//!
//! ```
//! use livestate_core::token::{Signer, TokenError};
//! use std::time::Duration;
//!
//! let signer = Signer::new(b"a secret of at least thirty-two bytes!!");
//! let token = signer.sign("user socket", &42u64);
//! let user: u64 = signer.verify("user socket", &token, Duration::from_secs(86_400)).unwrap();
//! assert_eq!(user, 42);
//! assert_eq!(signer.verify::<u64>("other salt", &token, Duration::from_secs(60)), Err(TokenError::Invalid));
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The shortest secret [`Signer::new`] accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Signs and verifies tokens with one secret.
#[derive(Clone)]
pub struct Signer {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { secret: <hidden> }")
    }
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token this secret and salt signed (or tampered with).
    #[error("invalid token")]
    Invalid,
    /// Signed, but longer ago than the allowed age.
    #[error("expired token")]
    Expired,
    /// Signed, but its data does not decode into the expected type.
    #[error("token data does not fit: {0}")]
    Data(String),
}

#[derive(Serialize, Deserialize)]
struct Payload<T> {
    d: T,
    t: u64,
}

impl Signer {
    /// A signer with `secret`.
    ///
    /// # Panics
    /// When the secret is shorter than [`MIN_SECRET_LEN`] bytes: a misconfiguration to find
    /// at start-up, not at the first login.
    pub fn new(secret: impl AsRef<[u8]>) -> Signer {
        let secret = secret.as_ref();
        assert!(
            secret.len() >= MIN_SECRET_LEN,
            "livestate: a token secret needs at least {MIN_SECRET_LEN} bytes, this one has {}",
            secret.len()
        );
        Signer {
            secret: secret.to_vec(),
        }
    }

    /// A token carrying `data`, signed now. `salt` names the purpose ("user socket"), so a
    /// token signed for one purpose is not accepted for another.
    pub fn sign<T: Serialize>(&self, salt: &str, data: &T) -> String {
        self.sign_at(salt, data, SystemTime::now())
    }

    /// A token signed at `at` (for tests).
    pub fn sign_at<T: Serialize>(&self, salt: &str, data: &T, at: SystemTime) -> String {
        let payload = Payload {
            d: data,
            t: millis(at),
        };
        // Serializing a struct of a `Serialize` value fails only for maps with non-string
        // keys; then the token carries null, which `verify` rejects as not fitting.
        let json =
            serde_json::to_vec(&payload).unwrap_or_else(|_| b"{\"d\":null,\"t\":0}".to_vec());
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = URL_SAFE_NO_PAD.encode(self.mac(salt, &payload).finalize().into_bytes());
        format!("{payload}.{signature}")
    }

    /// The data of a token signed with this secret and salt at most `max_age` ago.
    pub fn verify<T: DeserializeOwned>(
        &self,
        salt: &str,
        token: &str,
        max_age: Duration,
    ) -> Result<T, TokenError> {
        self.verify_at(salt, token, max_age, SystemTime::now())
    }

    /// [`Signer::verify`] as of `now` (for tests).
    pub fn verify_at<T: DeserializeOwned>(
        &self,
        salt: &str,
        token: &str,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<T, TokenError> {
        let (payload, signature) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Invalid)?;
        self.mac(salt, payload)
            .verify_slice(&signature)
            .map_err(|_| TokenError::Invalid)?;
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let Payload { d, t } = serde_json::from_slice::<Payload<serde_json::Value>>(&json)
            .map_err(|_| TokenError::Invalid)?;
        let age = millis(now).saturating_sub(t);
        if u128::from(age) > max_age.as_millis() {
            return Err(TokenError::Expired);
        }
        serde_json::from_value(d).map_err(|e| TokenError::Data(e.to_string()))
    }

    fn mac(&self, salt: &str, payload: &str) -> Hmac<Sha256> {
        // HMAC takes keys of any length; this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.secret)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(salt.as_bytes());
        mac.update(b".");
        mac.update(payload.as_bytes());
        mac
    }
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn signer() -> Signer {
        Signer::new([7u8; 32])
    }

    #[test]
    fn round_trips_data() {
        let s = signer();
        let token = s.sign("salt", &json!({"user": "ann", "room": 3}));
        let data: serde_json::Value = s.verify("salt", &token, Duration::from_secs(10)).unwrap();
        assert_eq!(data, json!({"user": "ann", "room": 3}));
    }

    #[test]
    fn expires() {
        let s = signer();
        let then = SystemTime::now() - Duration::from_secs(120);
        let token = s.sign_at("salt", &1, then);
        assert_eq!(
            s.verify::<i32>("salt", &token, Duration::from_secs(60)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            s.verify::<i32>("salt", &token, Duration::from_secs(600)),
            Ok(1)
        );
    }

    #[test]
    fn rejects_tampering_other_secrets_salts_and_garbage() {
        let s = signer();
        let token = s.sign("salt", &"ann");
        let other = Signer::new([8u8; 32]);
        let day = Duration::from_secs(86_400);
        assert_eq!(
            other.verify::<String>("salt", &token, day),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            s.verify::<String>("pepper", &token, day),
            Err(TokenError::Invalid)
        );
        let (payload, sig) = token.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"d":"root","t":0}"#);
        assert_eq!(
            s.verify::<String>("salt", &format!("{forged}.{sig}"), day),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            s.verify::<String>("salt", &format!("{payload}.AAAA"), day),
            Err(TokenError::Invalid)
        );
        for garbage in ["", ".", "abc", "a.b.c", "!!.??"] {
            assert_eq!(
                s.verify::<String>("salt", garbage, day),
                Err(TokenError::Invalid),
                "{garbage:?}"
            );
        }
    }

    #[test]
    fn data_of_the_wrong_type_is_named() {
        let s = signer();
        let token = s.sign("salt", &"not a number");
        let err = s
            .verify::<u64>("salt", &token, Duration::from_secs(10))
            .unwrap_err();
        assert!(
            matches!(err, TokenError::Data(ref m) if m.contains("invalid type")),
            "{err:?}"
        );
    }

    #[test]
    #[should_panic(expected = "at least 32 bytes")]
    fn short_secrets_are_refused_at_start_up() {
        let _ = Signer::new(b"short");
    }
}
