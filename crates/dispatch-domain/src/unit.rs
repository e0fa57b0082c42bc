//! Units in the field: their status lifecycle and what they can do.

use crate::Error;
use crate::directory::{UnitStatus, UnitType};

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
