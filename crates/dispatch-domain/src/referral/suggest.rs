//! Which partners to suggest for a victim at a place with given needs.

use std::cmp::Ordering;

use super::{Need, PartnerKind, ServiceArea};
use crate::Violations;
use crate::ids::PartnerId;
use crate::location::GeoPoint;

/// Suggestions returned when the request does not say how many.
pub const DEFAULT_SUGGESTIONS: usize = 10;
/// The most suggestions one request may ask for.
pub const MAX_SUGGESTIONS: usize = 50;

/// A partner as suggestion needs it, loaded by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct PartnerCandidate {
    pub id: PartnerId,
    pub kind: PartnerKind,
    pub services: Vec<Need>,
    pub areas: Vec<ServiceArea>,
    /// Office or facility, for the distance; `None` ranks after every located partner.
    pub location: Option<GeoPoint>,
    pub available_slots: i32,
    /// Diversion: left out of suggestions.
    pub not_accepting: bool,
}

/// One suggested partner, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub partner: PartnerId,
    pub kind: PartnerKind,
    /// Great-circle metres from the victim to the partner's location.
    pub distance_m: Option<f64>,
    pub available_slots: i32,
    /// The requested needs the partner offers, in the order requested.
    pub covers: Vec<Need>,
    /// For people: "serves Iztapalapa; covers shelter, legal; 4 slots; 2.1 km".
    pub reason: String,
}

/// Partners whose service area contains `at` and that offer at least one of `needs`, leaving
/// out those not accepting. Ranked by needs covered (more first), then available slots (more
/// first), then distance (nearer first, unknown last), then id, so the order is stable.
pub fn suggest(at: GeoPoint, needs: &[Need], partners: &[PartnerCandidate]) -> Vec<Suggestion> {
    let mut suggestions: Vec<Suggestion> = partners
        .iter()
        .filter(|partner| !partner.not_accepting)
        .filter_map(|partner| {
            let mut covers: Vec<Need> = Vec::new();
            for &need in needs {
                if partner.services.contains(&need) && !covers.contains(&need) {
                    covers.push(need);
                }
            }
            if covers.is_empty() {
                return None;
            }
            let area = partner.areas.iter().find(|area| area.contains(&at))?;
            let distance_m = partner.location.map(|location| at.distance_m(&location));
            let reason = reason(
                &area.display_name,
                &covers,
                partner.available_slots,
                distance_m,
            );
            Some(Suggestion {
                partner: partner.id,
                kind: partner.kind,
                distance_m,
                available_slots: partner.available_slots,
                covers,
                reason,
            })
        })
        .collect();
    suggestions.sort_by(rank);
    suggestions
}

fn rank(a: &Suggestion, b: &Suggestion) -> Ordering {
    b.covers
        .len()
        .cmp(&a.covers.len())
        .then(b.available_slots.cmp(&a.available_slots))
        .then(match (a.distance_m, b.distance_m) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then(a.partner.cmp(&b.partner))
}

fn reason(area: &str, covers: &[Need], slots: i32, distance_m: Option<f64>) -> String {
    let mut parts = Vec::with_capacity(4);
    if !area.trim().is_empty() {
        parts.push(format!("serves {}", area.trim()));
    }
    let needs: Vec<&str> = covers.iter().map(|need| need.label()).collect();
    parts.push(format!("covers {}", needs.join(", ")));
    parts.push(match slots {
        1 => "1 slot".to_owned(),
        n => format!("{n} slots"),
    });
    parts.push(match distance_m {
        Some(m) if m < 1_000.0 => format!("{m:.0} m"),
        Some(m) => format!("{:.1} km", m / 1_000.0),
        None => "distance unknown".to_owned(),
    });
    parts.join("; ")
}

/// SuggestPartners' `limit`: 0 means [`DEFAULT_SUGGESTIONS`], at most [`MAX_SUGGESTIONS`].
pub fn suggestion_limit(limit: i32) -> Result<usize, Violations> {
    match usize::try_from(limit) {
        Ok(0) => Ok(DEFAULT_SUGGESTIONS),
        Ok(limit) if limit <= MAX_SUGGESTIONS => Ok(limit),
        _ => Err(Violations::single(
            "limit",
            format!("must be 0 (the default, {DEFAULT_SUGGESTIONS}) to {MAX_SUGGESTIONS}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::referral::Polygon;

    /// The Zócalo, where the victim is.
    fn zocalo() -> GeoPoint {
        GeoPoint::new(19.4326, -99.1332).unwrap()
    }

    fn centro() -> ServiceArea {
        let square = [
            (19.40, -99.16),
            (19.40, -99.10),
            (19.46, -99.10),
            (19.46, -99.16),
        ];
        let points = square
            .iter()
            .map(|&(lat, lon)| GeoPoint::new(lat, lon).unwrap())
            .collect();
        ServiceArea::new("Centro".into(), vec![Polygon::new(points).unwrap()]).unwrap()
    }

    fn far_away() -> ServiceArea {
        let square = [(20.0, -100.0), (20.0, -99.9), (20.1, -99.9)];
        let points = square
            .iter()
            .map(|&(lat, lon)| GeoPoint::new(lat, lon).unwrap())
            .collect();
        ServiceArea::new(String::new(), vec![Polygon::new(points).unwrap()]).unwrap()
    }

    fn candidate(
        n: u128,
        services: &[Need],
        slots: i32,
        km_north: Option<f64>,
    ) -> PartnerCandidate {
        PartnerCandidate {
            id: PartnerId(uuid::Uuid::from_u128(n)),
            kind: PartnerKind::Shelter,
            services: services.to_vec(),
            areas: vec![centro()],
            location: km_north.map(|km| {
                GeoPoint::new(zocalo().latitude() + km / 111.195, zocalo().longitude()).unwrap()
            }),
            available_slots: slots,
            not_accepting: false,
        }
    }

    fn order(suggestions: &[Suggestion]) -> Vec<u128> {
        suggestions.iter().map(|s| s.partner.0.as_u128()).collect()
    }

    #[test]
    fn ranked_by_needs_covered_then_slots_then_distance() {
        let needs = [Need::Shelter, Need::Legal];
        let partners = [
            candidate(1, &[Need::Shelter], 9, Some(0.5)),
            candidate(2, &[Need::Shelter, Need::Legal], 1, Some(3.0)),
            candidate(3, &[Need::Legal], 4, Some(2.0)),
            candidate(4, &[Need::Legal], 4, Some(1.0)),
            candidate(5, &[Need::Legal], 4, None),
            candidate(6, &[Need::Legal], 4, Some(1.0)),
        ];
        let suggestions = suggest(zocalo(), &needs, &partners);
        assert_eq!(order(&suggestions), [2, 1, 4, 6, 3, 5]);
        assert_eq!(suggestions[0].covers, needs);
        assert_eq!(suggestions[5].distance_m, None);
        let d = suggestions[4].distance_m.unwrap();
        assert!((1_990.0..2_010.0).contains(&d), "{d}");
    }

    #[test]
    fn excluded_outside_the_area_without_the_service_or_not_accepting() {
        let needs = [Need::Shelter];
        let mut outside = candidate(1, &[Need::Shelter], 5, Some(1.0));
        outside.areas = vec![far_away()];
        let wrong_service = candidate(2, &[Need::Medical, Need::Legal], 5, Some(1.0));
        let mut diverting = candidate(3, &[Need::Shelter], 5, Some(1.0));
        diverting.not_accepting = true;
        let mut no_area = candidate(4, &[Need::Shelter], 5, Some(1.0));
        no_area.areas = vec![];
        let mut second_area = candidate(5, &[Need::Shelter], 0, None);
        second_area.areas = vec![far_away(), centro()];
        let partners = [outside, wrong_service, diverting, no_area, second_area];
        let suggestions = suggest(zocalo(), &needs, &partners);
        assert_eq!(order(&suggestions), [5], "any area may contain the victim");
        assert!(suggest(zocalo(), &[Need::ChildProtection], &partners).is_empty());
        assert!(suggest(zocalo(), &[], &partners).is_empty());
    }

    #[test]
    fn the_reason_says_why() {
        let needs = [Need::Shelter, Need::Legal, Need::Shelter];
        let partners = [
            candidate(1, &[Need::Legal, Need::Shelter], 4, Some(2.1)),
            candidate(2, &[Need::Shelter], 1, Some(0.3)),
            candidate(3, &[Need::Shelter], 0, None),
        ];
        let suggestions = suggest(zocalo(), &needs, &partners);
        assert_eq!(order(&suggestions), [1, 2, 3]);
        assert_eq!(suggestions[0].covers, [Need::Shelter, Need::Legal]);
        assert_eq!(
            suggestions[0].reason,
            "serves Centro; covers shelter, legal; 4 slots; 2.1 km"
        );
        assert_eq!(
            suggestions[1].reason,
            "serves Centro; covers shelter; 1 slot; 300 m"
        );
        assert_eq!(
            suggestions[2].reason,
            "serves Centro; covers shelter; 0 slots; distance unknown"
        );
    }

    #[test]
    fn limits() {
        assert_eq!(suggestion_limit(0), Ok(DEFAULT_SUGGESTIONS));
        assert_eq!(suggestion_limit(1), Ok(1));
        assert_eq!(suggestion_limit(50), Ok(50));
        for bad in [-1, 51, i32::MAX] {
            let violations = suggestion_limit(bad).unwrap_err();
            assert_eq!(violations.iter().next().unwrap().field, "limit");
        }
    }
}
