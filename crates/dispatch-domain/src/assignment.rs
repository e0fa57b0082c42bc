//! Assignments: a unit's part in an incident, from dispatch until it is cleared or released.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::directory::UnitType;
use crate::ids::{AgencyId, IncidentId, RecommendationId, UnitId};

/// A unit's part in an incident.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    pub incident: IncidentId,
    pub unit: UnitId,
    /// The unit's agency.
    pub agency: AgencyId,
    pub call_sign: String,
    pub unit_type: UnitType,
    pub capabilities: Vec<String>,
    pub recommendation: Option<RecommendationId>,
    pub override_reason: String,
    pub assigned_by: String,
    pub dispatched_at: DateTime<Utc>,
    pub en_route_at: Option<DateTime<Utc>>,
    pub on_scene_at: Option<DateTime<Utc>>,
    pub transporting_at: Option<DateTime<Utc>>,
    pub at_hospital_at: Option<DateTime<Utc>>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub released_at: Option<DateTime<Utc>>,
    pub release_reason: String,
}

impl Assignment {
    pub fn is_active(&self) -> bool {
        self.cleared_at.is_none() && self.released_at.is_none()
    }
}

/// A validated request to commit units to an incident (all of them or none).
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub incident: IncidentId,
    pub units: Vec<UnitId>,
    /// The recommendation the units were chosen from, if any.
    pub recommendation: Option<RecommendationId>,
    /// Why units other than the recommendation's picks were sent.
    pub override_reason: String,
    /// The units that were the recommendation's picks: no override reason is kept with them.
    pub as_recommended: HashSet<UnitId>,
    /// When they were dispatched, when the dispatcher says (back-entry); otherwise now.
    pub at: Option<DateTime<Utc>>,
}

impl Dispatch {
    /// The reason kept with `unit`'s assignment: the override reason, unless the unit was one
    /// of the recommendation's picks.
    pub fn reason_for(&self, unit: UnitId) -> &str {
        if self.as_recommended.contains(&unit) {
            ""
        } else {
            &self.override_reason
        }
    }

    /// The units to lock, in the one order every request locks them (by id), each once.
    pub fn units_in_lock_order(&self) -> Vec<UnitId> {
        let mut sorted = self.units.clone();
        sorted.sort();
        sorted.dedup();
        sorted
    }
}
