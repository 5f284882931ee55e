//! The signed tokens of a page: its session (which view id, which live session, the
//! session's data), its static token, the flash carried across a redirect, and the CSRF
//! token checked when the socket connects. All are signed with the app's
//! `secret_key_base`, so a restarted node or another node of the cluster accepts them.

use super::view::{Flash, Session};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use livestate_core::token::{Signer, TokenError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a page's tokens are accepted (Phoenix's 14 days).
pub(crate) const PAGE_MAX_AGE: Duration = Duration::from_secs(14 * 24 * 3600);

/// How long a flash token is accepted: it crosses one redirect.
pub(crate) const FLASH_MAX_AGE: Duration = Duration::from_secs(60);

const SESSION_SALT: &str = "livestate view session";
const STATIC_SALT: &str = "livestate view static";
const FLASH_SALT: &str = "livestate view flash";
const CSRF_SALT: &str = "livestate csrf";

/// What a page's session token carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PageSession {
    /// The root element's id: the topic is `lv:<id>`.
    pub(crate) id: String,
    /// The live session the page belongs to: navigation without a page load stays in it.
    pub(crate) live_session: String,
    /// What the session extractor and the `on_mount` hooks made of the first request.
    pub(crate) data: Session,
}

/// What a page's static token carries: its id, and the flash its first render showed (so
/// the join shows it too).
#[derive(Serialize, Deserialize)]
struct Static {
    id: String,
    #[serde(default)]
    flash: Flash,
}

/// The tokens of one app.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    signer: Signer,
}

impl Tokens {
    pub(crate) fn new(secret_key_base: &[u8]) -> Tokens {
        Tokens {
            signer: Signer::new(secret_key_base),
        }
    }

    pub(crate) fn session(&self, session: &PageSession) -> String {
        self.signer.sign(SESSION_SALT, session)
    }

    pub(crate) fn verify_session(&self, token: &str) -> Result<PageSession, TokenError> {
        self.signer.verify(SESSION_SALT, token, PAGE_MAX_AGE)
    }

    pub(crate) fn static_token(&self, id: &str, flash: &Flash) -> String {
        let data = Static {
            id: id.to_owned(),
            flash: flash.clone(),
        };
        self.signer.sign(STATIC_SALT, &data)
    }

    /// The flash of a static token of this id; `None` when the token is not this id's.
    pub(crate) fn verify_static(&self, token: &str, id: &str) -> Option<Flash> {
        self.signer
            .verify::<Static>(STATIC_SALT, token, PAGE_MAX_AGE)
            .ok()
            .filter(|s| s.id == id)
            .map(|s| s.flash)
    }

    /// The flash as a token, or `None` when there is no message.
    pub(crate) fn flash(&self, flash: &Flash) -> Option<String> {
        (!flash.is_empty()).then(|| self.signer.sign(FLASH_SALT, flash))
    }

    /// The flash a token carries; an invalid or expired one carries none.
    pub(crate) fn verify_flash(&self, token: Option<&str>) -> Flash {
        token
            .and_then(|t| self.signer.verify(FLASH_SALT, t, FLASH_MAX_AGE).ok())
            .unwrap_or_default()
    }

    /// The CSRF token of a browser's CSRF secret (its cookie), for the page's meta tag.
    pub(crate) fn csrf_token(&self, secret: &str) -> String {
        self.signer.sign(CSRF_SALT, &secret)
    }

    /// Whether a CSRF token is the one of this secret.
    pub(crate) fn csrf_matches(&self, token: &str, secret: &str) -> bool {
        self.signer
            .verify::<String>(CSRF_SALT, token, PAGE_MAX_AGE)
            .is_ok_and(|s| s == secret)
    }
}

/// A random value, base64url: `bytes` bytes from the operating system's generator.
pub(crate) fn random(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // The OS generator fails only on systems that have none; ids then still differ by
    // the counter below, and a CSRF secret is refused (empty) rather than guessable.
    if getrandom::fill(&mut buf).is_err() {
        tracing::error!("the operating system's random generator failed");
        return String::new();
    }
    URL_SAFE_NO_PAD.encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_purpose_and_secret() {
        let tokens = Tokens::new(&[7u8; 32]);
        let page = PageSession {
            id: "phx-a".into(),
            live_session: "default".into(),
            data: Session::new(),
        };
        let token = tokens.session(&page);
        assert_eq!(tokens.verify_session(&token), Ok(page));
        // another purpose's token is not a session token
        let none = Flash::default();
        assert!(
            tokens
                .verify_session(&tokens.static_token("phx-a", &none))
                .is_err()
        );
        let mut flash = Flash::default();
        flash.put("info".into(), "hi".into());
        let static_token = tokens.static_token("phx-a", &flash);
        assert_eq!(tokens.verify_static(&static_token, "phx-a"), Some(flash));
        assert_eq!(tokens.verify_static(&static_token, "phx-b"), None);
        // another secret's token is not accepted
        assert!(Tokens::new(&[8u8; 32]).verify_session(&token).is_err());
        let csrf = tokens.csrf_token("s3cret");
        assert!(tokens.csrf_matches(&csrf, "s3cret"));
        assert!(!tokens.csrf_matches(&csrf, "other"));
        assert!(!tokens.csrf_matches("garbage", "s3cret"));
        assert_ne!(random(16), random(16));
        assert_eq!(random(16).len(), 22);
    }
}
