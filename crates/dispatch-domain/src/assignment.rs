//! Assignments: a unit's part in an incident, from dispatch until it is cleared or released.

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
