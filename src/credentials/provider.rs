//! Credentials that stay valid for the whole run. Temporary credentials (web identity, container
//! credentials, instance metadata) typically live an hour, and a large upload on a slow link can outlast
//! them: every request asks the [`Provider`] first, and it fetches a new set from the same source shortly
//! before the old one expires. Long-lived keys (environment, profile file) are handed out as they are.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, Utc};

use super::{fetch, Credentials, Env, Error, Source};

/// The longest a refresh is started ahead of expiry: the SDKs' five minutes, so a part signed just before
/// the deadline still reaches the server in time.
const MAX_MARGIN_SECS: i64 = 5 * 60;

/// How long before `expiration` credentials obtained at `obtained` should be replaced: five minutes, or a
/// tenth of their lifetime when that is shorter (short-lived credentials would otherwise be refreshed
/// on every request). Pure.
pub fn refresh_margin(obtained: DateTime<Utc>, expiration: DateTime<Utc>) -> Duration {
    let lifetime = (expiration - obtained).max(Duration::zero());
    (lifetime / 10).min(Duration::seconds(MAX_MARGIN_SECS))
}

/// Whether credentials obtained at `obtained` and expiring at `expiration` should be replaced at `now`.
/// Credentials without an expiry never are. Pure.
pub fn needs_refresh(
    obtained: DateTime<Utc>,
    expiration: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> bool {
    expiration.is_some_and(|at| at - now <= refresh_margin(obtained, at))
}

/// After a failed refresh, when to try again while the old credentials still work: soon enough to get
/// several more attempts before they expire, late enough that concurrent parts do not each ask (and warn).
/// Pure.
pub fn retry_at(now: DateTime<Utc>, expiration: DateTime<Utc>) -> DateTime<Utc> {
    let left = (expiration - now).max(Duration::zero());
    now + (left / 4).min(Duration::seconds(30))
}

struct State {
    credentials: Credentials,
    obtained: DateTime<Utc>,
    /// No refresh is attempted before this (set after a failed one).
    not_before: Option<DateTime<Utc>>,
}

struct Inner {
    source: Source,
    env: Env,
    state: Mutex<State>,
    /// Held while a refresh runs, so concurrent requests wait for one fetch instead of each sending one.
    gate: tokio::sync::Mutex<()>,
}

/// The current credentials of one source. Cheap to clone; clones share the credentials and their refresh.
/// `Debug` names the source, never a key.
#[derive(Clone)]
pub struct Provider {
    inner: Arc<Inner>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("source", &self.inner.source)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Credentials `source` produced just now, refreshed later from the same source and `env`.
    pub fn new(credentials: Credentials, source: Source, env: Env) -> Provider {
        Provider {
            inner: Arc::new(Inner {
                source,
                env,
                state: Mutex::new(State {
                    credentials,
                    obtained: Utc::now(),
                    not_before: None,
                }),
                gate: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// Resolves the chain ([`super::resolve`]) and keeps what it found current.
    pub async fn resolve(env: Env) -> Result<Provider, Error> {
        let (credentials, source) = super::resolve(&env).await?;
        Ok(Provider::new(credentials, source, env))
    }

    pub fn source(&self) -> Source {
        self.inner.source
    }

    /// Whether these credentials can expire and be replaced: only temporary ones from a source that
    /// hands out new ones. Keys from the environment or a profile file are used as they are.
    pub fn refreshes(&self) -> bool {
        self.inner.source.refreshable() && self.state().credentials.expiration.is_some()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave half-written credentials: every write replaces the whole state.
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The credentials as they are now, without refreshing (to build a client before any request).
    pub fn peek(&self) -> Credentials {
        self.state().credentials.clone()
    }

    fn due(&self, now: DateTime<Utc>) -> bool {
        let s = self.state();
        self.inner.source.refreshable()
            && needs_refresh(s.obtained, s.credentials.expiration, now)
            && s.not_before.is_none_or(|t| now >= t)
    }

    /// Credentials to sign the next request with, refreshed first when they are about to expire. A failed
    /// refresh while the old ones still work is a warning (the next request tries again); once they have
    /// expired it is an error naming the source.
    pub async fn current(&self) -> Result<Credentials, Error> {
        if !self.due(Utc::now()) {
            return Ok(self.peek());
        }
        let _gate = self.inner.gate.lock().await;
        // Another request may have refreshed while this one waited.
        let now = Utc::now();
        if !self.due(now) {
            return Ok(self.peek());
        }
        let source = self.inner.source;
        let problem = match fetch::from_source(source, &self.inner.env).await {
            Ok(Some(fresh)) => {
                tracing::info!(
                    source = source.describe(),
                    expires = %fresh.expiration.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    "refreshed the temporary S3 credentials"
                );
                *self.state() = State {
                    credentials: fresh.clone(),
                    obtained: now,
                    not_before: None,
                };
                return Ok(fresh);
            }
            Ok(None) => "the source no longer offers credentials".to_string(),
            Err(Error::Source { problem, .. }) => problem,
            Err(e) => e.to_string(),
        };
        self.refresh_failed(now, problem)
    }

    fn refresh_failed(&self, now: DateTime<Utc>, problem: String) -> Result<Credentials, Error> {
        let mut s = self.state();
        let source = self.inner.source;
        match s.credentials.expiration {
            Some(at) if at > now => {
                tracing::warn!(
                    source = source.describe(), expires = %at, %problem,
                    "cannot refresh the temporary S3 credentials; using the current ones until they expire"
                );
                s.not_before = Some(retry_at(now, at));
                Ok(s.credentials.clone())
            }
            at => Err(Error::Expired {
                from: source,
                at: at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                problem,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .expect("time")
    }

    #[test]
    fn the_margin_is_five_minutes_or_a_tenth_of_a_short_lifetime() {
        let at = t("2026-12-01T11:00:00Z");
        for (obtained, margin_secs) in [
            ("2026-12-01T10:00:00Z", 300), // the usual hour: five minutes
            ("2026-12-01T05:00:00Z", 300), // longer still: five minutes, not half an hour
            ("2026-12-01T10:45:00Z", 90),  // STS's shortest, 15 minutes
            ("2026-12-01T10:59:50Z", 1),   // ten seconds, as tests hand out
            ("2026-12-01T11:00:00Z", 0),
            ("2026-12-01T11:30:00Z", 0), // a clock that disagrees: never negative
        ] {
            assert_eq!(
                refresh_margin(t(obtained), at),
                Duration::seconds(margin_secs),
                "{obtained}"
            );
        }
    }

    #[test]
    fn refresh_is_due_inside_the_margin_and_never_without_an_expiry() {
        let obtained = t("2026-12-01T10:00:00Z");
        let at = |m: i64| Some(obtained + Duration::minutes(60 + m));
        let now = obtained + Duration::minutes(60);
        assert!(!needs_refresh(obtained, None, now));
        assert!(!needs_refresh(obtained, at(60), now));
        assert!(!needs_refresh(obtained, at(6), now));
        assert!(needs_refresh(obtained, at(5), now));
        assert!(needs_refresh(obtained, at(-1), now));
        // Ten-second credentials: due in their last second, not before.
        let short = Some(obtained + Duration::seconds(10));
        assert!(!needs_refresh(
            obtained,
            short,
            obtained + Duration::seconds(8)
        ));
        assert!(needs_refresh(
            obtained,
            short,
            obtained + Duration::seconds(9)
        ));
    }

    #[test]
    fn a_failed_refresh_is_retried_before_expiry_but_not_at_once() {
        let now = t("2026-12-01T10:00:00Z");
        assert_eq!(
            retry_at(now, now + Duration::minutes(5)),
            now + Duration::seconds(30)
        );
        assert_eq!(
            retry_at(now, now + Duration::seconds(8)),
            now + Duration::seconds(2)
        );
        assert_eq!(retry_at(now, now - Duration::seconds(1)), now);
    }

    #[tokio::test]
    async fn static_keys_are_handed_out_unchanged() {
        let keys = Credentials {
            access_key: "a".into(),
            secret_key: "s".into(),
            session_token: None,
            expiration: None,
        };
        let p = Provider::new(keys.clone(), Source::Environment, Env::default());
        assert!(!p.refreshes());
        assert_eq!(p.current().await.expect("current"), keys);
        assert!(!format!("{p:?}").contains('"'), "{p:?}");
    }

    #[tokio::test]
    async fn expired_credentials_that_cannot_be_refreshed_fail_naming_the_source() {
        let old = Credentials {
            access_key: "a".into(),
            secret_key: "secret-value".into(),
            session_token: Some("token-value".into()),
            expiration: Some(Utc::now() - Duration::seconds(1)),
        };
        // Container credentials whose URI is gone from the environment: the refresh cannot succeed.
        let p = Provider::new(old, Source::Container, Env::default());
        assert!(p.refreshes());
        let e = p.current().await.expect_err("expired");
        let text = e.to_string();
        assert!(text.contains("container credentials"), "{text}");
        assert!(text.contains("expired"), "{text}");
        assert!(!text.contains("secret-value") && !text.contains("token-value"));
        assert_eq!(e.class(), crate::exit::Class::Auth);
    }
}
