//! Planned operations: a mass event (a concert in the Zócalo, a march, a match) or a standing
//! watch over a zone of high crime incidence, as C5 runs them: zones, a time window, the agencies
//! taking part (federal ones included), a mobile command post (a C2 Móvil), the units staged for
//! it and the cameras covering its zones, with the video operators' watch orders ("consignas").
//!
//! While an operation is active its staged units are reserved: recommended first inside its
//! zones and kept out of recommendations elsewhere unless a dispatcher overrides with a reason
//! ([`Staging`]). Calls inside its zones are tagged with it, and duplicate search there follows
//! the operation's own [`CrowdRule`] (many calls from one place are the norm in a crowd).

pub mod report;
pub mod surge;
pub mod watch;

use chrono::{DateTime, Duration, Utc};

use crate::Violations;
use crate::call::check_length;
use crate::duplicates::{Candidate, DuplicatePolicy, Reason};
use crate::ids::{AgencyId, CameraId, OperationId, UnitId};
use crate::location::GeoPoint;
use crate::referral::Polygon;

pub use watch::{CameraToWatch, NewWatchOrder, WatchOrder, WatchTarget, cameras_to_watch};

/// An operation's name, at most this many characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Zones of one operation, at most.
pub const MAX_ZONES: usize = 20;
/// Units, cameras or agencies named in one request, at most.
pub const MAX_MEMBERS: usize = 500;

/// When an operation is in force: from `start`, until `end` (exclusive), or standing (no end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Window {
    /// `end` after `start`; violations on `{field}.end`.
    pub fn new(
        field: &str,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
    ) -> Result<Self, Violations> {
        match end {
            Some(end) if end <= start => Err(Violations::single(
                format!("{field}.end"),
                "must be after start",
            )),
            _ => Ok(Self { start, end }),
        }
    }

    pub fn is_standing(&self) -> bool {
        self.end.is_none()
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && self.end.is_none_or(|end| at < end)
    }

    /// The window of an operation stood down at `at`: it ends then. Only an operation in force
    /// can be stood down (`subject` names it in the refusal).
    pub fn stood_down(&self, subject: &str, at: DateTime<Utc>) -> Result<Self, crate::Error> {
        if self.contains(at) {
            Ok(Self {
                start: self.start,
                end: Some(at),
            })
        } else {
            Err(crate::Error::WrongState {
                subject: subject.to_owned(),
                current: if at < self.start {
                    "not started".into()
                } else {
                    "ended".into()
                },
                action: "stand down".into(),
            })
        }
    }

    /// Where a report of the window ends: its end, or `now` for a standing or running one.
    pub fn end_or(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.end.map_or(now, |end| end.min(now)).max(self.start)
    }
}

/// How an operation judges duplicates inside its zones. In a crowd hundreds of calls come from
/// one square, most of them about a handful of emergencies, but two fights fifty metres apart
/// are two fights: the radius is tighter than the city's, the window shorter, and a call whose
/// type is not known yet is not linked on place and time alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrowdRule {
    pub radius_m: f64,
    pub window: Duration,
    /// A candidate must be of the same or a compatible type.
    pub type_required: bool,
    /// The local call rate the likelihood divides by inside the zones, in place of the one the
    /// store counts: the crowd's own calls are mostly about a few emergencies, so counting them
    /// as independent background would make every repeat look like a new emergency.
    pub local_calls_per_day: f64,
}

impl Default for CrowdRule {
    /// Chosen on the synthetic Zócalo surge ([`surge`]: 300 calls over 30 minutes about 25
    /// emergencies, one every 44 m): past 20 m, or without the type, emergencies are mixed
    /// faster than repeats are found (README, "Operations").
    fn default() -> Self {
        Self {
            radius_m: 20.0,
            window: Duration::minutes(10),
            type_required: true,
            local_calls_per_day: 1.0,
        }
    }
}

impl CrowdRule {
    pub fn validate(&self, field: &str) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if !(self.radius_m.is_finite() && self.radius_m > 0.0 && self.radius_m <= 2_000.0) {
            violations.add(
                format!("{field}.radius_m"),
                "must be above 0 and at most 2000",
            );
        }
        if !(self.local_calls_per_day.is_finite() && self.local_calls_per_day >= 0.0) {
            violations.add(
                format!("{field}.local_calls_per_day"),
                "must be a number at or above 0",
            );
        }
        if self.window <= Duration::zero() || self.window > Duration::hours(24) {
            violations.add(
                format!("{field}.window"),
                "must be above 0 and at most 24 hours",
            );
        }
        violations.into_result(|| ())
    }

    /// The city's policy narrowed to this rule: the same type groups and candidate limit, this
    /// radius (never grown by the reports' uncertainty past twice it) and window.
    pub fn policy(&self, city: &DuplicatePolicy) -> DuplicatePolicy {
        DuplicatePolicy {
            base_radius_m: self.radius_m,
            max_radius_m: self.radius_m * 2.0,
            window: self.window,
            compatible_groups: city.compatible_groups.clone(),
            max_candidates: city.max_candidates,
        }
    }

    /// Whether a candidate ranked under [`Self::policy`] is kept: with `type_required`, only one
    /// of the same or a compatible type.
    pub fn keeps(&self, candidate: &Candidate) -> bool {
        !self.type_required
            || candidate
                .reasons
                .iter()
                .any(|r| matches!(r, Reason::SameType | Reason::CompatibleType))
    }
}

/// An operation to create, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOperation {
    pub id: OperationId,
    pub name: String,
    pub zones: Vec<Polygon>,
    pub window: Window,
    /// The agencies taking part (the centre's own and federal ones).
    pub agencies: Vec<AgencyId>,
    /// The mobile command post (a C2 Móvil unit).
    pub command_post: Option<UnitId>,
    pub staged: Vec<UnitId>,
    pub cameras: Vec<CameraId>,
    pub crowd_rule: Option<CrowdRule>,
}

impl NewOperation {
    /// Field paths are under `operation`.
    pub fn validate(&self) -> Result<(), Violations> {
        let mut violations = Violations::new();
        if self.name.trim().is_empty() {
            violations.add("operation.display_name", "required");
        }
        check_length(
            &mut violations,
            "operation.display_name",
            &self.name,
            MAX_NAME_CHARS,
        );
        if self.zones.is_empty() {
            violations.add("operation.zones", "required: at least one polygon");
        }
        if self.zones.len() > MAX_ZONES {
            violations.add("operation.zones", format!("at most {MAX_ZONES}"));
        }
        for (field, len) in [
            ("operation.agencies", self.agencies.len()),
            ("operation.staged_units", self.staged.len()),
            ("operation.cameras", self.cameras.len()),
        ] {
            if len > MAX_MEMBERS {
                violations.add(field, format!("at most {MAX_MEMBERS}"));
            }
        }
        if let Some(post) = self.command_post
            && self.staged.contains(&post)
        {
            violations.add(
                "operation.command_post",
                "is the command post, not a staged unit",
            );
        }
        if let Some(rule) = &self.crowd_rule {
            violations.collect(rule.validate("operation.crowd_rule"));
        }
        violations.into_result(|| ())
    }
}

/// An operation as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub spec: NewOperation,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
}

impl Operation {
    pub fn id(&self) -> OperationId {
        self.spec.id
    }

    pub fn is_active(&self, at: DateTime<Utc>) -> bool {
        self.spec.window.contains(at)
    }

    /// The first zone containing `point`, by index.
    pub fn zone_of(&self, point: &GeoPoint) -> Option<usize> {
        self.spec.zones.iter().position(|zone| zone.contains(point))
    }

    pub fn covers(&self, point: &GeoPoint) -> bool {
        self.zone_of(point).is_some()
    }

    /// The rule duplicate search follows inside the zones.
    pub fn crowd_rule(&self) -> CrowdRule {
        self.spec.crowd_rule.unwrap_or_default()
    }
}

/// The operation a call or incident at `point` received at `at` belongs to, among
/// `operations`: what `Staging::new(operations, at).operation_at(point)` answers, without
/// copying them (for a batch of calls received at different moments).
pub fn operation_at<'a>(
    operations: &'a [Operation],
    at: DateTime<Utc>,
    point: &GeoPoint,
) -> Option<&'a Operation> {
    operations
        .iter()
        .find(|o| o.is_active(at) && o.covers(point))
}

/// The active operations at one moment, and what they mean for recommending a unit to an
/// incident at a point.
#[derive(Debug, Clone, Default)]
pub struct Staging {
    active: Vec<Operation>,
}

/// Where an incident stands against the operations in force.
#[derive(Debug, Clone, PartialEq)]
pub enum StagingFor<'a> {
    /// Inside this operation's zones: its staged units are recommended first; every other
    /// operation's staged units are kept out.
    Inside(&'a Operation),
    /// Outside every active operation: every staged unit is kept out.
    Outside,
}

impl Staging {
    /// Keeps the operations active at `at`.
    pub fn new(operations: Vec<Operation>, at: DateTime<Utc>) -> Self {
        Self {
            active: operations.into_iter().filter(|o| o.is_active(at)).collect(),
        }
    }

    pub fn active(&self) -> &[Operation] {
        &self.active
    }

    /// The operation an incident or call at `point` belongs to: the first (oldest) active one
    /// whose zones contain it.
    pub fn operation_at(&self, point: &GeoPoint) -> Option<&Operation> {
        self.active.iter().find(|o| o.covers(point))
    }

    pub fn for_point(&self, point: &GeoPoint) -> StagingFor<'_> {
        match self.operation_at(point) {
            Some(operation) => StagingFor::Inside(operation),
            None => StagingFor::Outside,
        }
    }

    /// The operation `unit` is staged for, if any is active.
    pub fn staged_in(&self, unit: UnitId) -> Option<&Operation> {
        self.active.iter().find(|o| o.spec.staged.contains(&unit))
    }

    /// Staged units a recommendation for an incident at `point` must not offer.
    pub fn reserved_elsewhere(&self, point: &GeoPoint) -> Vec<UnitId> {
        let inside = self.operation_at(point).map(Operation::id);
        self.active
            .iter()
            .filter(|o| Some(o.id()) != inside)
            .flat_map(|o| o.spec.staged.iter().copied())
            .collect()
    }

    /// Why `unit` may not be sent to an incident at `point` without an override reason:
    /// staged for an active operation whose zones do not contain the incident.
    pub fn refusal(&self, unit: UnitId, point: &GeoPoint) -> Option<String> {
        let operation = self.staged_in(unit)?;
        (!operation.covers(point)).then(|| {
            format!(
                "staged for {} ({}) until {}",
                operation.id(),
                operation.spec.name,
                operation
                    .spec
                    .window
                    .end
                    .map_or("it is stood down".to_owned(), |end| end.to_rfc3339())
            )
        })
    }
}

#[cfg(test)]
mod tests;
