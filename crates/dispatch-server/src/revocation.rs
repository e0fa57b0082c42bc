//! Ending what a credential opened once it stops being valid.
//!
//! A credential stops being valid when it is revoked or expires, or when its principal is
//! disabled or changes role or binding. Every process learns of a revocation or a principal
//! change from the centre-wide feed ([`Revocations::follow`], called by the feed task as it reads
//! events) and the process that made the change also at once, before answering
//! ([`Revocations::end`]). Either way it raises a signal that:
//!
//! - ends every open stream of that credential or principal ([`Revocations::watch`] gives the
//!   auth layer a [`Cutoff`] per stream, which also fires at the credential's `expire_time`;
//!   [`CutoffBody`] ends a server stream with `grpc-status: 16` and sends nothing after it);
//! - invalidates the tokens the auth layer verified before it ([`Revocations::check`]): each
//!   verification remembers the signal count ("epoch") it was made at, and a later signal about
//!   its credential or principal sends the token back to the database.
//!
//! The feed can be held back (a long writing transaction elsewhere in the cluster) and a process
//! can miss a signal (it lost the database meanwhile), so [`Revocations::sweep`] also asks the
//! database every [`SWEEP_INTERVAL`] whether the credentials behind this process's open streams
//! are still valid: whatever happens to the feed, a stream outlives its credential by at most
//! that long.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body::Frame;
use tokio::sync::watch;
use tonic::Status;

use dispatch_domain::event::{Event, SecurityEvent};
use dispatch_domain::ids::{CredentialId, PrincipalId};
use dispatch_store::Store;
use dispatch_store::credentials::AuthFailure;
use dispatch_store::feed::FeedEvent;

/// How often the credentials behind open streams are checked against the database.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

/// Signals remembered for verifications made before them. A verification older than the oldest
/// of these is checked against the database again.
const RECENT: usize = 4096;

/// Why a credential stopped being valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Revoked,
    Expired,
    PrincipalDisabled,
    /// The principal's role, agency, unit or partner changed.
    PrincipalChanged,
}

impl Reason {
    /// What the client is told (`grpc-message`).
    pub fn message(self) -> &'static str {
        match self {
            Self::Revoked => "the credential was revoked; this stream has ended",
            Self::Expired => "the credential expired; this stream has ended",
            Self::PrincipalDisabled => "the principal was disabled; this stream has ended",
            Self::PrincipalChanged => {
                "the principal's role or binding changed; this stream has ended: reconnect to \
                 continue under the new role"
            }
        }
    }

    /// What the audit trail keeps.
    pub fn detail(self) -> &'static str {
        match self {
            Self::Revoked => "credential revoked",
            Self::Expired => "credential expired",
            Self::PrincipalDisabled => "principal disabled",
            Self::PrincipalChanged => "principal's role or binding changed",
        }
    }

    pub fn status(self) -> Status {
        Status::unauthenticated(self.message())
    }
}

/// What a signal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Credential(CredentialId),
    Principal(PrincipalId),
}

impl Subject {
    fn covers(self, credential: CredentialId, principal: PrincipalId) -> bool {
        match self {
            Self::Credential(id) => id == credential,
            Self::Principal(id) => id == principal,
        }
    }
}

/// What a verification made at some epoch is worth now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// No signal since is about it.
    Valid,
    Ended(Reason),
    /// Too many signals since to tell: ask the database again.
    Unknown,
}

/// The process's registry of signals and open streams.
#[derive(Debug, Default)]
pub struct Revocations {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Signals raised so far.
    epoch: u64,
    /// The newest signals with the epoch each one made, oldest first.
    recent: VecDeque<(u64, Subject, Reason)>,
    streams: HashMap<u64, Stream>,
    next_stream: u64,
}

#[derive(Debug)]
struct Stream {
    credential: CredentialId,
    principal: PrincipalId,
    signal: watch::Sender<Option<Reason>>,
}

impl Inner {
    fn standing(&self, since: u64, credential: CredentialId, principal: PrincipalId) -> Standing {
        if since >= self.epoch {
            return Standing::Valid;
        }
        match self.recent.front() {
            // Signals after `since` were forgotten.
            Some((oldest, _, _)) if *oldest > since + 1 => return Standing::Unknown,
            None => return Standing::Unknown,
            Some(_) => {}
        }
        self.recent
            .iter()
            .filter(|(epoch, subject, _)| *epoch > since && subject.covers(credential, principal))
            .map(|(_, _, reason)| Standing::Ended(*reason))
            .next()
            .unwrap_or(Standing::Valid)
    }
}

impl Revocations {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The count of signals so far: read it before asking the database about a credential.
    pub fn epoch(&self) -> u64 {
        self.lock().epoch
    }

    /// Whether a credential verified when the epoch was `since` is still good.
    pub fn check(&self, since: u64, credential: CredentialId, principal: PrincipalId) -> Standing {
        self.lock().standing(since, credential, principal)
    }

    /// Ends everything `subject` opened, and every verification of it made so far.
    pub fn end(&self, subject: Subject, reason: Reason) {
        let mut inner = self.lock();
        inner.epoch += 1;
        let epoch = inner.epoch;
        if inner.recent.len() >= RECENT {
            inner.recent.pop_front();
        }
        inner.recent.push_back((epoch, subject, reason));
        let mut ended = 0usize;
        for stream in inner.streams.values() {
            if subject.covers(stream.credential, stream.principal) {
                stream.signal.send_if_modified(|current| {
                    let first = current.is_none();
                    if first {
                        *current = Some(reason);
                    }
                    first
                });
                ended += 1;
            }
        }
        tracing::info!(
            ?subject,
            ?reason,
            streams = ended,
            "credential no longer valid"
        );
    }

    /// The feed hook: ends what the revocations and principal changes among `events` end.
    pub fn follow(&self, events: &[FeedEvent]) {
        for event in events {
            if let Some((subject, reason)) = signal_of(event) {
                self.end(subject, reason);
            }
        }
    }

    /// A stream opened with `credential` of `principal`, verified at epoch `since`: the
    /// returned cutoff fires when either stops being valid, or at `expires_at`.
    pub fn watch(
        self: &Arc<Self>,
        credential: CredentialId,
        principal: PrincipalId,
        expires_at: Option<DateTime<Utc>>,
        since: u64,
    ) -> Cutoff {
        let (signal, mut receiver) = watch::channel(None);
        let id = {
            let mut inner = self.lock();
            match inner.standing(since, credential, principal) {
                Standing::Valid => {}
                Standing::Ended(reason) => {
                    signal.send_replace(Some(reason));
                }
                // Only after thousands of signals during one authentication: end it rather
                // than let a revoked credential through.
                Standing::Unknown => {
                    signal.send_replace(Some(Reason::Revoked));
                }
            }
            inner.next_stream += 1;
            let id = inner.next_stream;
            inner.streams.insert(
                id,
                Stream {
                    credential,
                    principal,
                    signal,
                },
            );
            id
        };
        let registration = Registration {
            revocations: self.clone(),
            id,
        };
        // The wall clock decides expiry (like the database's check); the timer runs on tokio's.
        let deadline = expires_at
            .map(|at| tokio::time::Instant::now() + (at - Utc::now()).to_std().unwrap_or_default());
        let ended = async move {
            let _registration = registration;
            let expiry = async {
                match deadline {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            let signalled = async {
                let reason = receiver
                    .wait_for(Option::is_some)
                    .await
                    .map(|reason| reason.unwrap_or(Reason::Revoked));
                match reason {
                    Ok(reason) => reason,
                    // The registry is gone: the process is stopping.
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                reason = signalled => reason,
                () = expiry => Reason::Expired,
            }
        };
        Cutoff {
            ended: Box::pin(ended),
        }
    }

    /// The credentials behind this process's open streams, each once.
    fn open_credentials(&self) -> Vec<CredentialId> {
        let mut ids: Vec<CredentialId> = self
            .lock()
            .streams
            .values()
            .map(|stream| stream.credential)
            .collect();
        ids.sort_by_key(|id| id.0);
        ids.dedup();
        ids
    }

    /// Every `interval`, ends the open streams whose credential the database says is no longer
    /// valid. One indexed query per interval, and none while no stream is open.
    pub async fn sweep(self: Arc<Self>, store: Store, interval: std::time::Duration) {
        loop {
            tokio::time::sleep(interval).await;
            let open = self.open_credentials();
            if open.is_empty() {
                continue;
            }
            match store.invalid_credentials(&open, Utc::now()).await {
                Ok(invalid) => {
                    for (credential, failure) in invalid {
                        let reason = match failure {
                            AuthFailure::Expired => Reason::Expired,
                            AuthFailure::Disabled => Reason::PrincipalDisabled,
                            AuthFailure::Revoked
                            | AuthFailure::UnknownCredential
                            | AuthFailure::Malformed => Reason::Revoked,
                        };
                        self.end(Subject::Credential(credential), reason);
                    }
                }
                // The feed task notices the outage too and every request fails fast meanwhile;
                // the next round checks again.
                Err(error) => tracing::debug!(%error, "re-checking open streams' credentials"),
            }
        }
    }

    #[cfg(test)]
    fn open_streams(&self) -> usize {
        self.lock().streams.len()
    }
}

/// What an event of the feed ends, if anything.
fn signal_of(event: &FeedEvent) -> Option<(Subject, Reason)> {
    let event = match &event.event {
        Event::Security(event) => event,
        Event::Call(_)
        | Event::Incident(_)
        | Event::Unit(_)
        | Event::Directory(_)
        | Event::Partner(_) => return None,
    };
    match event {
        SecurityEvent::CredentialRevoked { credential, .. } => {
            Some((Subject::Credential(*credential), Reason::Revoked))
        }
        SecurityEvent::PrincipalDisabled { principal, .. } => {
            Some((Subject::Principal(*principal), Reason::PrincipalDisabled))
        }
        SecurityEvent::PrincipalUpdated {
            principal,
            ends_sessions: true,
            ..
        } => Some((Subject::Principal(*principal), Reason::PrincipalChanged)),
        SecurityEvent::PrincipalUpdated {
            ends_sessions: false,
            ..
        }
        | SecurityEvent::PrincipalCreated { .. }
        | SecurityEvent::PrincipalEnabled { .. }
        | SecurityEvent::CredentialIssued { .. } => None,
    }
}

/// Removes a stream from the registry when its cutoff is dropped.
#[derive(Debug)]
struct Registration {
    revocations: Arc<Revocations>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.revocations.lock().streams.remove(&self.id);
    }
}

/// Fires (once) when the credential of a stream stops being valid.
pub struct Cutoff {
    ended: Pin<Box<dyn Future<Output = Reason> + Send>>,
}

impl std::fmt::Debug for Cutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cutoff").finish_non_exhaustive()
    }
}

impl Future for Cutoff {
    type Output = Reason;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reason> {
        self.ended.as_mut().poll(cx)
    }
}

/// A server stream's response body that ends with UNAUTHENTICATED when its cutoff fires: it is
/// checked before every frame, so nothing is sent once the signal is raised.
pub struct CutoffBody {
    inner: tonic::body::Body,
    cutoff: Cutoff,
    /// Told why, once, when the cutoff ends the stream (the audit record).
    on_end: Option<Box<dyn FnOnce(Reason) + Send>>,
    done: bool,
}

impl std::fmt::Debug for CutoffBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CutoffBody")
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl CutoffBody {
    pub fn new(
        inner: tonic::body::Body,
        cutoff: Cutoff,
        on_end: impl FnOnce(Reason) + Send + 'static,
    ) -> Self {
        Self {
            inner,
            cutoff,
            on_end: Some(Box::new(on_end)),
            done: false,
        }
    }
}

impl http_body::Body for CutoffBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(reason) = Pin::new(&mut this.cutoff).poll(cx) {
            this.done = true;
            // Dropping the handler's stream ends its task (it sees its receiver closed).
            this.inner = tonic::body::Body::empty();
            if let Some(on_end) = this.on_end.take() {
                on_end(reason);
            }
            let mut trailers = http::HeaderMap::new();
            if let Err(error) = reason.status().add_header(&mut trailers) {
                tracing::error!(%error, "encoding the status of an ended stream");
            }
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        if let Poll::Ready(None) | Poll::Ready(Some(Err(_))) = &frame {
            this.done = true;
        } else if let Poll::Ready(Some(Ok(frame))) = &frame
            && frame.is_trailers()
        {
            this.done = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use dispatch_domain::auth::Role;
    use uuid::Uuid;

    use super::*;

    fn ids() -> (CredentialId, PrincipalId) {
        (CredentialId(Uuid::now_v7()), PrincipalId(Uuid::now_v7()))
    }

    #[test]
    fn a_verification_stands_until_a_signal_about_it() {
        let revocations = Revocations::new();
        let (credential, principal) = ids();
        let standing = |verified_at| revocations.check(verified_at, credential, principal);
        let (other, someone) = ids();
        let since = revocations.epoch();
        assert_eq!(standing(since), Standing::Valid);
        revocations.end(Subject::Credential(other), Reason::Revoked);
        revocations.end(Subject::Principal(someone), Reason::PrincipalDisabled);
        assert_eq!(standing(since), Standing::Valid);
        revocations.end(Subject::Principal(principal), Reason::PrincipalChanged);
        assert_eq!(standing(since), Standing::Ended(Reason::PrincipalChanged));
        // Verified again afterwards: good.
        let now = revocations.epoch();
        assert_eq!(standing(now), Standing::Valid);
        revocations.end(Subject::Credential(credential), Reason::Revoked);
        assert_eq!(standing(now), Standing::Ended(Reason::Revoked));
    }

    #[test]
    fn a_verification_older_than_the_remembered_signals_is_checked_again() {
        let revocations = Revocations::new();
        let (credential, principal) = ids();
        let standing = |verified_at| revocations.check(verified_at, credential, principal);
        let since = revocations.epoch();
        for _ in 0..=RECENT {
            let (other, _) = ids();
            revocations.end(Subject::Credential(other), Reason::Revoked);
        }
        assert_eq!(standing(since), Standing::Unknown);
        assert_eq!(standing(revocations.epoch() - 1), Standing::Valid);
    }

    #[tokio::test]
    async fn a_cutoff_fires_on_its_signal_or_at_expiry_and_unregisters() {
        let revocations = Arc::new(Revocations::new());
        let (credential, principal) = ids();
        let mut revoked = revocations.watch(credential, principal, None, revocations.epoch());
        let (other, someone) = ids();
        let mut untouched = revocations.watch(other, someone, None, revocations.epoch());
        assert_eq!(revocations.open_streams(), 2);
        revocations.end(Subject::Credential(credential), Reason::Revoked);
        assert_eq!((&mut revoked).await, Reason::Revoked);
        assert!(
            futures::poll!(&mut untouched).is_pending(),
            "another credential's stream goes on"
        );
        drop(revoked);
        drop(untouched);
        assert_eq!(revocations.open_streams(), 0);

        let expiring = revocations.watch(
            other,
            someone,
            Some(Utc::now() + chrono::Duration::milliseconds(20)),
            revocations.epoch(),
        );
        assert_eq!(expiring.await, Reason::Expired);
    }

    #[tokio::test]
    async fn a_stream_registered_after_a_signal_its_verification_missed_ends_at_once() {
        let revocations = Arc::new(Revocations::new());
        let (credential, principal) = ids();
        let since = revocations.epoch();
        // The feed reads the revocation while the request is being authenticated.
        revocations.end(Subject::Credential(credential), Reason::Revoked);
        let cutoff = revocations.watch(credential, principal, None, since);
        assert_eq!(cutoff.await, Reason::Revoked);
    }

    #[test]
    fn feed_events_name_what_they_end() {
        let (credential, principal) = ids();
        let event = |event: SecurityEvent| FeedEvent {
            position: 1,
            seq: 1,
            time: Utc::now(),
            published_at: Utc::now(),
            actor: "admin".into(),
            call: None,
            incident: None,
            unit: None,
            referral: None,
            partner: None,
            event: event.into(),
        };
        let updated = |ends_sessions: bool| SecurityEvent::PrincipalUpdated {
            principal,
            changed: vec!["role".into()],
            display_name: String::new(),
            role: Role::Dispatcher,
            agency: None,
            unit: None,
            partner: None,
            ends_sessions,
            reason: String::new(),
        };
        assert_eq!(
            signal_of(&event(SecurityEvent::CredentialRevoked {
                credential,
                principal,
                reason: String::new(),
            })),
            Some((Subject::Credential(credential), Reason::Revoked))
        );
        assert_eq!(
            signal_of(&event(SecurityEvent::PrincipalDisabled {
                principal,
                reason: String::new(),
            })),
            Some((Subject::Principal(principal), Reason::PrincipalDisabled))
        );
        assert_eq!(
            signal_of(&event(updated(true))),
            Some((Subject::Principal(principal), Reason::PrincipalChanged))
        );
        assert_eq!(signal_of(&event(updated(false))), None);
        assert_eq!(
            signal_of(&event(SecurityEvent::CredentialIssued {
                credential,
                principal,
                kind: "bearer_token".into(),
                token_prefix: String::new(),
                certificate_sha256: None,
                description: String::new(),
                expires_at: None,
            })),
            None
        );
    }
}
