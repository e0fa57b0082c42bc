//! The open-data export: a period's calls as Mexico City's open-data portal publishes C5's
//! incidents, one row per report. What is published of each call, and how it is spelt, is
//! decided here; the store only reads the facts (README.md, "Reports", "Open data").
//!
//! - Which calls: every call received in the period that reported something: linked to an
//!   incident, still open, or disposed as a prank. Calls disposed as a hang-up, misdial, test,
//!   abandoned, information request, referral or "other" reported no incident: C5's incident
//!   data does not carry them (it counts them apart, as calls that did not proceed), so neither
//!   do we. A prank is published, closed `F` (false), as C5 closes a false report.
//! - The closing code: `D` (duplicate) for a call that did not open its incident (another call
//!   did, or the incident came from elsewhere), and for every call of an incident closed as a
//!   duplicate or merged into another; otherwise the incident's own code, none while it is open.
//! - The classification: C5's four classes, from the catalogue's category (and, for traffic,
//!   whether the type has people hurt), `FALSA ALARMA` whenever the report was closed false.
//! - No caller data (number, name, account) and no victim data is ever read for it.

use chrono::{DateTime, Utc};

use crate::Violations;
use crate::call::{Channel, Disposition};
use crate::incident::ClosingCode;
use crate::location::GeoPoint;
use crate::triage::{Catalogue, Category};

/// Decimal places of each coordinate when the request says none: about 110 m.
pub const DEFAULT_DECIMALS: u32 = 3;
/// Fewest decimal places kept (about 1.1 km).
pub const MIN_DECIMALS: u32 = 2;
/// Most decimal places kept (about 11 cm).
pub const MAX_DECIMALS: u32 = 6;

/// The only disposition whose calls are published (closed false).
pub const PUBLISHED_DISPOSITION: Disposition = Disposition::Prank;

/// Decimal places kept of each coordinate: 0 means [`DEFAULT_DECIMALS`], else 2..=6.
pub fn decimals(field: &str, requested: i32) -> Result<u32, Violations> {
    match requested {
        0 => Ok(DEFAULT_DECIMALS),
        n if (MIN_DECIMALS as i32..=MAX_DECIMALS as i32).contains(&n) => Ok(n.unsigned_abs()),
        n => Err(Violations::single(
            field,
            format!(
                "{n}: say {MIN_DECIMALS} to {MAX_DECIMALS} decimal places, or 0 for {DEFAULT_DECIMALS}"
            ),
        )),
    }
}

/// `value` rounded to `decimals` places, half away from zero, on its decimal spelling (the
/// shortest that reads back as the same number): 19.2925 to 3 places is 19.293, although the
/// binary number nearest 19.2925 is a little below it.
pub fn round_coordinate(value: f64, decimals: u32) -> f64 {
    let text = format!("{}", value.abs());
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let places = decimals as usize;
    if fraction.len() <= places {
        return value;
    }
    let kept = format!("{whole}{}", &fraction[..places]);
    let Ok(mut digits) = kept.parse::<u128>() else {
        return value;
    };
    if fraction.as_bytes()[places] >= b'5' {
        digits += 1;
    }
    let scale = 10u128.pow(decimals);
    let rounded: f64 = format!(
        "{}.{:0width$}",
        digits / scale,
        digits % scale,
        width = places
    )
    .parse()
    .unwrap_or(value.abs());
    rounded.copysign(value)
}

/// C5's classes (`clasificacion`), spelt as the portal spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Classification {
    Crime,
    Emergency,
    FalseAlarm,
    MedicalEmergency,
}

impl Classification {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Crime => "DELITO",
            Self::Emergency => "EMERGENCIA",
            Self::FalseAlarm => "FALSA ALARMA",
            Self::MedicalEmergency => "URGENCIAS MEDICAS",
        }
    }
}

/// Traffic types with people hurt: C5 classes those reports as medical emergencies (a collision
/// with injuries, a pedestrian, motorcyclist or cyclist hit, people trapped), the others
/// (damage only, a rollover, a vehicle over an edge, a death) as emergencies.
const TRAFFIC_WITH_INJURED: &[&str] = &[
    "TRAFFIC-INJURY",
    "TRAFFIC-PEDESTRIAN",
    "TRAFFIC-MOTORCYCLE",
    "TRAFFIC-CYCLIST",
    "TRAFFIC-TRAPPED",
];

/// The class of a report of `category` (type `code`), closed with `closing`: `FALSA ALARMA`
/// when it was closed false, whatever its type; otherwise medical types are `URGENCIAS
/// MEDICAS`, crimes and gender violence `DELITO`, traffic with people hurt `URGENCIAS
/// MEDICAS`, and everything else (fire, public order, hazards, disasters, missing persons,
/// other traffic) `EMERGENCIA`.
pub fn classification(
    category: Category,
    code: &str,
    closing: Option<ClosingCode>,
) -> Classification {
    if closing == Some(ClosingCode::False) {
        return Classification::FalseAlarm;
    }
    match category {
        Category::Medical => Classification::MedicalEmergency,
        Category::Crime | Category::GenderViolence => Classification::Crime,
        Category::Traffic if TRAFFIC_WITH_INJURED.contains(&code) => {
            Classification::MedicalEmergency
        }
        Category::Traffic
        | Category::Fire
        | Category::PublicOrder
        | Category::MissingPerson
        | Category::Hazmat
        | Category::NaturalDisaster
        | Category::Other => Classification::Emergency,
    }
}

/// What the store reads of a call for the export: nothing of the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedCall {
    pub folio: String,
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    /// Where the call is (its latest location).
    pub point: GeoPoint,
    /// The type the call taker noted, for a call without an incident.
    pub incident_type_hint: String,
    pub outcome: Outcome,
}

/// What became of a published call.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Neither linked nor disposed yet.
    Open,
    /// Disposed as a prank, at `at`.
    Prank { at: DateTime<Utc> },
    /// Linked to an incident.
    Linked(ReportedIncident),
}

/// What the export reads of a call's incident.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedIncident {
    pub incident_type: Option<String>,
    pub area: String,
    pub close_area: Option<String>,
    pub closing_code: Option<ClosingCode>,
    pub closed_at: Option<DateTime<Utc>>,
    /// This call opened this incident (the incident's creation names it).
    pub opened_by_this_call: bool,
}

/// One published row: [`crate::reporting::open_data`]'s columns, before spelling.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenDataRow {
    pub folio: String,
    pub area_start: String,
    pub area_close: String,
    /// "" when never triaged.
    pub incident_type: String,
    /// The catalogue's name of the type ("" when none, or a type the catalogue lost).
    pub incident_type_name: String,
    pub channel: Channel,
    /// None when the row has no type (and was not closed false).
    pub classification: Option<Classification>,
    /// None while open.
    pub closing_code: Option<ClosingCode>,
    pub create_time: DateTime<Utc>,
    pub close_time: Option<DateTime<Utc>>,
    pub point: GeoPoint,
}

/// The closing code published for a call's incident: `D` for a report that did not open it or
/// whose incident was a duplicate, else the incident's code.
pub fn closing_code(incident: &ReportedIncident) -> Option<ClosingCode> {
    if !incident.opened_by_this_call || incident.closing_code == Some(ClosingCode::Duplicate) {
        Some(ClosingCode::Duplicate)
    } else {
        incident.closing_code
    }
}

/// The row published for `call`, its coordinates kept to `decimals` places.
pub fn row(call: &ReportedCall, catalogue: &Catalogue, decimals: u32) -> OpenDataRow {
    let (incident_type, area_start, area_close, closing, close_time) = match &call.outcome {
        Outcome::Open => (call.incident_type_hint.clone(), "", "", None, None),
        Outcome::Prank { at } => (
            call.incident_type_hint.clone(),
            "",
            "",
            Some(ClosingCode::False),
            Some(*at),
        ),
        Outcome::Linked(incident) => (
            incident.incident_type.clone().unwrap_or_default(),
            incident.area.as_str(),
            incident.close_area.as_deref().unwrap_or_default(),
            closing_code(incident),
            incident.closed_at,
        ),
    };
    let known = catalogue.get(&incident_type);
    let classification = match known {
        Some(known) => Some(classification(known.category, &known.code, closing)),
        None if closing == Some(ClosingCode::False) => Some(Classification::FalseAlarm),
        None => None,
    };
    let point = GeoPoint::new(
        round_coordinate(call.point.latitude(), decimals),
        round_coordinate(call.point.longitude(), decimals),
    )
    // Rounding a point on the globe to 2 or more places keeps it on the globe.
    .unwrap_or(call.point);
    OpenDataRow {
        folio: call.folio.clone(),
        area_start: area_start.to_owned(),
        area_close: area_close.to_owned(),
        incident_type_name: known.map(|t| t.display_name.clone()).unwrap_or_default(),
        incident_type,
        channel: call.channel,
        classification,
        closing_code: closing,
        create_time: call.received_at,
        close_time,
        point,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        let text = include_str!("../../../../catalogue/incident_types.toml");
        Catalogue::from_toml(text).expect("the shipped catalogue")
    }

    #[test]
    fn coordinates_round_half_away_from_zero_on_their_decimal_spelling() {
        assert_eq!(round_coordinate(19.2925, 3), 19.293);
        assert_eq!(round_coordinate(-99.1325, 3), -99.133);
        assert_eq!(round_coordinate(-99.13249, 3), -99.132);
        assert_eq!(round_coordinate(19.29277998, 2), 19.29);
        assert_eq!(round_coordinate(19.995, 2), 20.0);
        assert_eq!(round_coordinate(-0.0005, 3), -0.001);
        assert_eq!(round_coordinate(19.4, 6), 19.4);
        assert_eq!(round_coordinate(-179.9999995, 6), -180.0);
        assert_eq!(round_coordinate(0.0, 3), 0.0);
        // Already short enough: the value itself.
        assert_eq!(round_coordinate(-99.12574, 6), -99.12574);
    }

    #[test]
    fn decimals_are_two_to_six_and_zero_means_three() {
        assert_eq!(decimals("coordinate_decimals", 0), Ok(3));
        assert_eq!(decimals("coordinate_decimals", 2), Ok(2));
        assert_eq!(decimals("coordinate_decimals", 6), Ok(6));
        for bad in [1, 7, -3] {
            let error = decimals("coordinate_decimals", bad).unwrap_err();
            assert_eq!(
                error.iter().next().map(|v| v.field.as_str()),
                Some("coordinate_decimals")
            );
        }
    }

    #[test]
    fn every_type_of_the_catalogue_has_a_c5_class() {
        use Classification::*;
        let catalogue = catalogue();
        let class = |code: &str, closing| {
            let known = catalogue.get(code).expect(code);
            classification(known.category, code, closing)
        };
        assert_eq!(class("TRAFFIC-COLLISION", None), Emergency);
        assert_eq!(class("TRAFFIC-ROLLOVER", None), Emergency);
        assert_eq!(class("TRAFFIC-FATALITY", None), Emergency);
        assert_eq!(class("TRAFFIC-INJURY", None), MedicalEmergency);
        assert_eq!(class("TRAFFIC-PEDESTRIAN", None), MedicalEmergency);
        assert_eq!(class("MED-CARDIAC-ARREST", None), MedicalEmergency);
        assert_eq!(class("CRIME-ROBBERY", None), Crime);
        assert_eq!(class("GV-DOMESTIC", None), Crime);
        assert_eq!(class("FIRE-STRUCTURE", None), Emergency);
        assert_eq!(
            class("TRAFFIC-INJURY", Some(ClosingCode::False)),
            FalseAlarm
        );
        // Every traffic type named as one with people hurt exists.
        for code in TRAFFIC_WITH_INJURED {
            assert_eq!(
                catalogue.get(code).map(|t| t.category),
                Some(Category::Traffic)
            );
        }
    }

    fn call(outcome: Outcome) -> ReportedCall {
        ReportedCall {
            folio: "C5/200601/00001".into(),
            channel: Channel::Voice911,
            received_at: "2020-06-01T17:00:00Z".parse().unwrap(),
            point: GeoPoint::new(19.43255, -99.13325).unwrap(),
            incident_type_hint: "TRAFFIC-INJURY".into(),
            outcome,
        }
    }

    fn incident(opened: bool, closing: Option<ClosingCode>) -> ReportedIncident {
        ReportedIncident {
            incident_type: Some("TRAFFIC-COLLISION".into()),
            area: "CUAUHTEMOC".into(),
            close_area: closing.map(|_| "CUAUHTEMOC".into()),
            closing_code: closing,
            closed_at: closing.map(|_| "2020-06-01T18:00:00Z".parse().unwrap()),
            opened_by_this_call: opened,
        }
    }

    #[test]
    fn a_report_that_did_not_open_its_incident_is_a_duplicate() {
        let catalogue = catalogue();
        let opener = row(
            &call(Outcome::Linked(incident(
                true,
                Some(ClosingCode::Confirmed),
            ))),
            &catalogue,
            3,
        );
        assert_eq!(opener.closing_code, Some(ClosingCode::Confirmed));
        assert_eq!(opener.incident_type, "TRAFFIC-COLLISION");
        assert_eq!(opener.classification, Some(Classification::Emergency));
        assert_eq!(opener.area_close, "CUAUHTEMOC");
        assert_eq!(
            (opener.point.latitude(), opener.point.longitude()),
            (19.433, -99.133)
        );
        let linked = row(
            &call(Outcome::Linked(incident(
                false,
                Some(ClosingCode::Confirmed),
            ))),
            &catalogue,
            3,
        );
        assert_eq!(linked.closing_code, Some(ClosingCode::Duplicate));
        // Even the one that opened it, once the incident is closed as a duplicate of another.
        let merged = row(
            &call(Outcome::Linked(incident(
                true,
                Some(ClosingCode::Duplicate),
            ))),
            &catalogue,
            3,
        );
        assert_eq!(merged.closing_code, Some(ClosingCode::Duplicate));
        let linked_open = row(&call(Outcome::Linked(incident(false, None))), &catalogue, 3);
        assert_eq!(linked_open.closing_code, Some(ClosingCode::Duplicate));
        assert_eq!(linked_open.close_time, None);
        let open = row(&call(Outcome::Linked(incident(true, None))), &catalogue, 3);
        assert_eq!((open.closing_code, open.area_close.as_str()), (None, ""));
    }

    #[test]
    fn a_prank_is_a_false_alarm_and_an_open_call_has_no_code() {
        let catalogue = catalogue();
        let at: DateTime<Utc> = "2020-06-01T17:05:00Z".parse().unwrap();
        let prank = row(&call(Outcome::Prank { at }), &catalogue, 4);
        assert_eq!(prank.closing_code, Some(ClosingCode::False));
        assert_eq!(prank.classification, Some(Classification::FalseAlarm));
        assert_eq!(prank.incident_type, "TRAFFIC-INJURY");
        assert_eq!(prank.close_time, Some(at));
        assert_eq!(prank.point.latitude(), 19.4326);
        let open = row(&call(Outcome::Open), &catalogue, 3);
        assert_eq!(open.closing_code, None);
        assert_eq!(open.classification, Some(Classification::MedicalEmergency));
        assert_eq!(open.incident_type_name, "Collision with injuries");
        let untyped = ReportedCall {
            incident_type_hint: String::new(),
            ..call(Outcome::Open)
        };
        let untyped = row(&untyped, &catalogue, 3);
        assert_eq!(
            (untyped.classification, untyped.incident_type_name.as_str()),
            (None, "")
        );
    }
}
