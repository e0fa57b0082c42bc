//! Units in the field: their status lifecycle, what they can do, and when they can be sent,
//! released, decommissioned or report a status.

use chrono::{DateTime, Utc};

use crate::directory::{Unit, UnitStatus, UnitType};
use crate::ids::{IncidentId, UnitId};
use crate::{Error, Violations};

/// A validated status report for a unit, from the field or by a dispatcher.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusReport {
    pub unit: UnitId,
    pub status: UnitStatus,
    /// The incident the reporter believes the unit is on, if it says.
    pub incident: Option<IncidentId>,
    pub note: String,
    /// The unit's version (etag) the reporter saw, if it gave one.
    pub expected_version: Option<i64>,
    /// When it happened, when the reporter says (back-entry); otherwise now.
    pub at: Option<DateTime<Utc>>,
}

/// A back-entered time must keep the records in order: `at` (the request's `field`) not
/// before `since`, which is `what`. Refused as a bad field, naming both times, because the
/// request can be fixed by sending the right time.
pub fn check_not_before(
    field: &str,
    at: DateTime<Utc>,
    since: DateTime<Utc>,
    what: &str,
) -> Result<(), Error> {
    if at >= since {
        return Ok(());
    }
    Err(Violations::single(
        field,
        format!(
            "{} is before {what} ({})",
            at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            since.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        ),
    )
    .into())
}

text_enum! {
    /// EIDO's primary status, derived from ours.
    pub enum PrimaryStatus {
        Available => "available",
        /// Busy but can be re-tasked soon (handing over a patient at hospital).
        ConditionallyAvailable => "conditionally_available",
        NotAvailable => "not_available",
    }
}

impl UnitStatus {
    /// Committed to an incident.
    pub fn is_committed(self) -> bool {
        match self {
            Self::Dispatched
            | Self::EnRoute
            | Self::OnScene
            | Self::Transporting
            | Self::AtHospital => true,
            Self::Available | Self::OutOfService => false,
        }
    }

    pub fn primary(self) -> PrimaryStatus {
        match self {
            Self::Available => PrimaryStatus::Available,
            Self::AtHospital => PrimaryStatus::ConditionallyAvailable,
            Self::Dispatched
            | Self::EnRoute
            | Self::OnScene
            | Self::Transporting
            | Self::OutOfService => PrimaryStatus::NotAvailable,
        }
    }

    /// A status a field unit or dispatcher reports. Becoming DISPATCHED is assignment's job and
    /// is never reported. AVAILABLE from a committed status clears the unit from its incident;
    /// OUT_OF_SERVICE from one releases it. Reporting the status the unit already has changes
    /// nothing (a double tap on a terminal).
    pub fn report(self, to: UnitStatus, subject: &str) -> Result<UnitStatus, Error> {
        use UnitStatus::{
            AtHospital, Available, Dispatched, EnRoute, OnScene, OutOfService, Transporting,
        };
        let allowed = match (self, to) {
            (_, Dispatched) => false,
            (from, to) if from == to => true,
            (Dispatched, EnRoute | OnScene)
            | (EnRoute, OnScene)
            | (OnScene, Transporting)
            | (Transporting, AtHospital) => true,
            (
                Dispatched | EnRoute | OnScene | Transporting | AtHospital,
                Available | OutOfService,
            ) => true,
            (Available, OutOfService) | (OutOfService, Available) => true,
            _ => false,
        };
        if allowed {
            Ok(to)
        } else {
            Err(Error::WrongState {
                subject: subject.to_owned(),
                current: self.to_string(),
                action: format!("become {to}"),
            })
        }
    }
}

impl Unit {
    /// Where the unit stands, as a refusal names it: its status, and the incident it is
    /// committed to if any (`DISPATCHED on incidents/…`).
    pub fn standing(&self) -> String {
        match self.current_incident {
            Some(incident) => format!("{} on {incident}", self.status),
            None => self.status.to_string(),
        }
    }

    /// It can be taken off `incident` only while committed to it.
    pub fn check_releasable(&self, incident: IncidentId) -> Result<(), Error> {
        if self.current_incident == Some(incident) {
            return Ok(());
        }
        Err(Error::WrongState {
            subject: self.id.name(),
            current: self.standing(),
            action: format!("be released from {incident}"),
        })
    }

    /// The time a status report carries, against the unit's history: not before its current
    /// status time, so a unit's history is always in order. One exception lets a new fleet
    /// take its history: a unit never committed to any incident (`ever_committed` false) may
    /// restate the uncommitted status it is in with an earlier time, which becomes since when
    /// it has been in it; nothing recorded depends on that time yet.
    pub fn check_status_time(
        &self,
        to: UnitStatus,
        at: DateTime<Utc>,
        ever_committed: bool,
    ) -> Result<(), Error> {
        if to == self.status && !self.status.is_committed() && !ever_committed {
            return Ok(());
        }
        check_not_before(
            "status_time",
            at,
            self.status_at,
            &format!("{}'s current status time", self.id.name()),
        )
    }

    /// It leaves the fleet for good only when not committed and not gone already.
    pub fn check_decommission(&self) -> Result<(), Error> {
        if !self.status.is_committed() && self.decommissioned_at.is_none() {
            return Ok(());
        }
        Err(Error::WrongState {
            subject: self.id.name(),
            current: if self.decommissioned_at.is_some() {
                "decommissioned".into()
            } else {
                self.status.to_string()
            },
            action: "be decommissioned".into(),
        })
    }

    /// A status reported for the unit, from the field or by a dispatcher: about the incident it
    /// is on (when the report names one), while it is in the fleet, and along the lifecycle
    /// ([`UnitStatus::report`]). Returns the status it moves to.
    pub fn report_status(
        &self,
        to: UnitStatus,
        incident: Option<IncidentId>,
    ) -> Result<UnitStatus, Error> {
        if let (Some(named), Some(current)) = (incident, self.current_incident)
            && named != current
        {
            return Err(Error::WrongState {
                subject: self.id.name(),
                current: format!("{} on {current}", self.status),
                action: format!("report status for {named}"),
            });
        }
        if self.decommissioned_at.is_some() {
            return Err(Error::WrongState {
                subject: self.id.name(),
                current: "decommissioned".into(),
                action: format!("become {to}"),
            });
        }
        self.status.report(to, &self.id.name())
    }
}

/// Units are sent to an incident all together or not at all: each must be in the fleet and
/// available. The refusal names every unit that is not, with where it stands.
pub fn check_assignable(units: &[Unit]) -> Result<(), Error> {
    let conflicts: Vec<(String, String)> = units
        .iter()
        .filter_map(|unit| {
            if unit.decommissioned_at.is_some() {
                Some((unit.id.name(), "decommissioned".to_owned()))
            } else if unit.status != UnitStatus::Available {
                Some((unit.id.name(), unit.standing()))
            } else {
                None
            }
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(Error::Conflicts {
        conflicts,
        action: "assign units".into(),
    })
}

/// A back-entered dispatch: not before any unit's current status time, nor before the
/// incident's first call.
pub fn check_dispatch_time(
    units: &[Unit],
    first_call_at: DateTime<Utc>,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    check_not_before(
        "dispatch_time",
        at,
        first_call_at,
        "the incident's first call",
    )?;
    for unit in units {
        check_not_before(
            "dispatch_time",
            at,
            unit.status_at,
            &format!("{}'s current status time", unit.id.name()),
        )?;
    }
    Ok(())
}

/// What a unit of this type can do when its record does not say: the capabilities response
/// plans ask for (see the catalogue).
pub fn default_capabilities(unit_type: UnitType) -> &'static [&'static str] {
    match unit_type {
        UnitType::Patrol => &["patrol"],
        UnitType::Motorcycle => &["motorcycle", "patrol"],
        UnitType::AlsAmbulance => &["als", "bls", "aed"],
        UnitType::BlsAmbulance => &["bls", "aed"],
        UnitType::Engine => &["engine", "aed"],
        UnitType::Ladder => &["ladder"],
        UnitType::Rescue => &["extrication", "usar"],
        UnitType::Hazmat => &["hazmat"],
        UnitType::Chief => &["chief"],
        UnitType::MobileCommandPost => &["mobile_command"],
        UnitType::Drone => &["drone"],
        UnitType::CivilProtection => &["civil_protection"],
        UnitType::CrowdControl => &["crowd_control"],
        UnitType::Other => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AgencyId, UnitId};

    fn unit(status: UnitStatus, incident: Option<IncidentId>) -> Unit {
        let now = Utc::now();
        Unit {
            id: UnitId::new_v7(),
            agency: AgencyId::new_v7(),
            home_station: None,
            call_sign: "P-1".into(),
            unit_type: UnitType::Patrol,
            capabilities: Vec::new(),
            status,
            status_at: now,
            current_incident: incident,
            position: None,
            decommissioned_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn assignment_refuses_naming_every_unit_that_is_not_available() {
        let incident = IncidentId::new_v7();
        let free = unit(UnitStatus::Available, None);
        let busy = unit(UnitStatus::EnRoute, Some(incident));
        let gone = Unit {
            decommissioned_at: Some(Utc::now()),
            ..unit(UnitStatus::OutOfService, None)
        };
        assert_eq!(check_assignable(std::slice::from_ref(&free)), Ok(()));
        let Err(Error::Conflicts { conflicts, .. }) =
            check_assignable(&[free, busy.clone(), gone.clone()])
        else {
            panic!("assigned busy units");
        };
        assert_eq!(
            conflicts,
            [
                (busy.id.name(), format!("en_route on {incident}")),
                (gone.id.name(), "decommissioned".to_owned()),
            ]
        );
    }

    #[test]
    fn release_and_reports_are_about_the_units_incident() {
        let incident = IncidentId::new_v7();
        let other = IncidentId::new_v7();
        let on_scene = unit(UnitStatus::OnScene, Some(incident));
        assert_eq!(on_scene.check_releasable(incident), Ok(()));
        assert!(on_scene.check_releasable(other).is_err());
        assert!(on_scene.check_decommission().is_err());
        assert_eq!(
            on_scene.report_status(UnitStatus::Transporting, Some(incident)),
            Ok(UnitStatus::Transporting)
        );
        assert!(
            on_scene
                .report_status(UnitStatus::Transporting, Some(other))
                .is_err()
        );
    }

    #[test]
    fn every_reported_transition_follows_the_lifecycle() {
        use UnitStatus::*;
        let legal = [
            (Dispatched, EnRoute),
            (Dispatched, OnScene),
            (EnRoute, OnScene),
            (OnScene, Transporting),
            (Transporting, AtHospital),
            (Available, OutOfService),
            (OutOfService, Available),
        ];
        for &from in UnitStatus::ALL {
            for &to in UnitStatus::ALL {
                let expected = to != Dispatched
                    && (from == to
                        || legal.contains(&(from, to))
                        || (from.is_committed() && matches!(to, Available | OutOfService)));
                let outcome = from.report(to, "units/x");
                assert_eq!(outcome.is_ok(), expected, "{from} -> {to}");
                if let Err(Error::WrongState { current, .. }) = outcome {
                    assert_eq!(current, from.as_str());
                }
            }
        }
    }

    #[test]
    fn back_entered_times_keep_a_units_history_in_order() {
        let incident = IncidentId::new_v7();
        let on_scene = unit(UnitStatus::OnScene, Some(incident));
        let earlier = on_scene.status_at - chrono::Duration::seconds(1);
        let later = on_scene.status_at + chrono::Duration::seconds(1);
        assert_eq!(
            on_scene.check_status_time(UnitStatus::Transporting, later, true),
            Ok(())
        );
        assert_eq!(
            on_scene.check_status_time(UnitStatus::Transporting, on_scene.status_at, true),
            Ok(())
        );
        let Err(Error::Invalid(refused)) =
            on_scene.check_status_time(UnitStatus::Transporting, earlier, true)
        else {
            panic!("an out-of-order time was taken");
        };
        assert_eq!(
            refused.iter().map(|v| v.field.as_str()).collect::<Vec<_>>(),
            ["status_time"]
        );
        // A fleet new to the system may say since when its units have been available, until
        // the first assignment; never a committed status, never after one.
        let new = unit(UnitStatus::Available, None);
        let long_ago = new.status_at - chrono::Duration::days(2000);
        assert_eq!(
            new.check_status_time(UnitStatus::Available, long_ago, false),
            Ok(())
        );
        assert!(
            new.check_status_time(UnitStatus::Available, long_ago, true)
                .is_err()
        );
        assert!(
            new.check_status_time(UnitStatus::OutOfService, long_ago, false)
                .is_err()
        );
        let dispatched = check_dispatch_time(std::slice::from_ref(&new), long_ago, earlier);
        assert!(
            matches!(dispatched, Err(Error::Invalid(_))),
            "{dispatched:?}"
        );
        assert_eq!(
            check_dispatch_time(std::slice::from_ref(&new), long_ago, new.status_at),
            Ok(())
        );
        let before_call = check_dispatch_time(&[], new.status_at, earlier);
        assert!(
            format!("{before_call:?}").contains("the incident's first call"),
            "{before_call:?}"
        );
    }

    #[test]
    fn primary_status_follows_eido() {
        assert_eq!(UnitStatus::Available.primary(), PrimaryStatus::Available);
        assert_eq!(
            UnitStatus::AtHospital.primary(),
            PrimaryStatus::ConditionallyAvailable
        );
        assert_eq!(UnitStatus::EnRoute.primary(), PrimaryStatus::NotAvailable);
        assert_eq!(
            UnitStatus::OutOfService.primary(),
            PrimaryStatus::NotAvailable
        );
    }
}
