use chrono::TimeZone as _;

use super::surge::{replay, synthetic};
use super::*;
use crate::duplicates::LikelihoodModel;

const SHIPPED: &str = include_str!("../../../../catalogue/duplicate_model.toml");

fn at(lat: f64, lon: f64) -> GeoPoint {
    GeoPoint::new(lat, lon).unwrap()
}

/// The Zócalo, roughly: 240 m by 200 m around the flagpole.
fn zocalo() -> Polygon {
    Polygon::new(vec![
        at(19.4316, -99.1345),
        at(19.4316, -99.1320),
        at(19.4337, -99.1320),
        at(19.4337, -99.1345),
    ])
    .unwrap()
}

fn concert(start: DateTime<Utc>, hours: i64) -> Operation {
    Operation {
        spec: NewOperation {
            id: OperationId(uuid::Uuid::from_u128(1)),
            name: "Concierto en el Zócalo".into(),
            zones: vec![zocalo()],
            window: Window::new("window", start, Some(start + Duration::hours(hours))).unwrap(),
            agencies: Vec::new(),
            command_post: None,
            staged: vec![UnitId(uuid::Uuid::from_u128(7))],
            cameras: Vec::new(),
            crowd_rule: None,
        },
        created_by: "test".into(),
        created_at: start,
    }
}

#[test]
fn a_window_must_end_after_it_starts() {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
    let err = Window::new("operation.window", start, Some(start)).unwrap_err();
    assert_eq!(err.to_string(), "operation.window.end: must be after start");
    assert!(
        Window::new("w", start, None)
            .unwrap()
            .contains(start + Duration::days(900))
    );
}

#[test]
fn a_staged_unit_is_reserved_for_its_zones_while_the_operation_runs() {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 18, 0, 0).unwrap();
    let unit = UnitId(uuid::Uuid::from_u128(7));
    let inside = at(19.4326, -99.1332);
    let outside = at(19.40, -99.15);
    let staging = Staging::new(vec![concert(start, 6)], start + Duration::hours(1));
    assert!(staging.refusal(unit, &inside).is_none());
    assert!(
        staging
            .refusal(unit, &outside)
            .unwrap()
            .contains("staged for operations/")
    );
    assert_eq!(staging.reserved_elsewhere(&outside), vec![unit]);
    assert!(staging.reserved_elsewhere(&inside).is_empty());
    // After the window the unit is ordinary again.
    let later = Staging::new(vec![concert(start, 6)], start + Duration::hours(7));
    assert!(later.refusal(unit, &outside).is_none());
}

/// The surge of issue 24: 300 calls in 30 minutes inside the Zócalo about 25 emergencies,
/// replayed under the city's duplicate rule and under the operation's.
#[test]
fn surge_in_the_zocalo_is_kept_apart_by_the_crowd_rule() {
    let model = LikelihoodModel::from_toml(SHIPPED).unwrap();
    let city = DuplicatePolicy::default();
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap();
    let calls = synthetic(
        24,
        start,
        at(19.4316, -99.1345),
        at(19.4337, -99.1320),
        300,
        30,
        25,
    );
    assert_eq!(calls.len(), 300);
    let inside = calls
        .iter()
        .filter(|c| zocalo().contains(&c.probe.point))
        .count();
    assert!(inside >= 240, "{inside} of 300 inside the square");
    // The Zócalo on an ordinary day: some ten calls a day within a kilometre.
    let density = 10.0;
    let without = replay(&city, &model, None, &calls, density);
    let with = replay(&city, &model, Some(&CrowdRule::default()), &calls, density);
    println!("surge without the operation's rule: {without:?}");
    println!("surge with the operation's rule:    {with:?}");
    assert_eq!(without.emergencies, 25);
    // The city's rule counts the surge itself as the local call rate, so it links nothing:
    // every repeat opens an incident of its own.
    assert_eq!(without.incidents, 300, "{without:?}");
    // The operation's rule links repeats, and few of its links are to another emergency.
    assert!(with.incidents < 200, "{with:?}");
    assert!(with.linked_wrongly * 5 < with.linked, "{with:?}");
}

#[test]
fn only_an_operation_in_force_is_stood_down_and_its_window_ends_then() {
    let start = Utc.with_ymd_and_hms(2026, 12, 7, 20, 0, 0).unwrap();
    let window = concert(start, 4).spec.window;
    let at = start + Duration::hours(1);
    let stood_down = window.stood_down("operations/x", at).unwrap();
    assert_eq!(stood_down.end, Some(at));
    assert!(!stood_down.contains(at));
    assert!(stood_down.contains(at - Duration::seconds(1)));
    for (when, state) in [
        (start - Duration::minutes(1), "not started"),
        (start + Duration::hours(5), "ended"),
    ] {
        match window.stood_down("operations/x", when) {
            Err(crate::Error::WrongState { current, .. }) => assert_eq!(current, state),
            other => panic!("{other:?}"),
        }
    }
}
