use super::*;

fn t(seconds: i64) -> DateTime<Utc> {
    "2020-04-07T12:00:00Z".parse::<DateTime<Utc>>().unwrap() + Duration::seconds(seconds)
}

fn unit(unit_type: UnitType, dispatched: i64) -> AssignmentTimes {
    AssignmentTimes {
        unit_type,
        agency: "SFFD".into(),
        home_station: "S1".into(),
        dispatched: t(dispatched),
        en_route: None,
        on_scene: None,
        transporting: None,
        at_hospital: None,
        cleared: None,
        released: None,
    }
}

fn arrived(mut a: AssignmentTimes, en_route: i64, on_scene: i64, cleared: i64) -> AssignmentTimes {
    a.en_route = Some(t(en_route));
    a.on_scene = Some(t(on_scene));
    a.cleared = Some(t(cleared));
    a
}

fn incident(assignments: Vec<AssignmentTimes>) -> IncidentTimes {
    IncidentTimes {
        first_call: t(0),
        incident_type: Some("MED-CARDIAC".into()),
        priority: Some(8),
        area: "Coyoacán".into(),
        station_area: "S1".into(),
        assignments,
    }
}

fn query(group_by: Vec<Dimension>) -> IntervalQuery {
    let period = Period::new("period", Some(t(-3600)), Some(t(3600)), "UTC").unwrap();
    IntervalQuery::new(period, group_by, Vec::new()).unwrap()
}

fn stats(group: &Group, kind: IntervalKind) -> &Statistics {
    group.intervals.iter().find(|s| s.interval == kind).unwrap()
}

#[test]
fn nearest_rank_is_a_measured_value() {
    let sorted: Vec<Duration> = (1..=10).map(Duration::seconds).collect();
    assert_eq!(nearest_rank(&sorted, 0.5), Duration::seconds(5));
    assert_eq!(nearest_rank(&sorted, 0.9), Duration::seconds(9));
    assert_eq!(nearest_rank(&sorted, 0.91), Duration::seconds(10));
    assert_eq!(nearest_rank(&sorted[..1], 0.9), Duration::seconds(1));
    let three: Vec<Duration> = [4, 7, 30].map(Duration::seconds).to_vec();
    assert_eq!(nearest_rank(&three, 0.5), Duration::seconds(7));
}

#[test]
fn unit_intervals_and_their_exclusions() {
    let mut engine = arrived(unit(UnitType::Engine, 60), 100, 340, 1000);
    assert_eq!(
        engine.outcome(IntervalKind::Turnout),
        Some(Outcome::Measured(Duration::seconds(40)))
    );
    assert_eq!(
        engine.outcome(IntervalKind::Travel),
        Some(Outcome::Measured(Duration::seconds(240)))
    );
    assert_eq!(
        engine.outcome(IntervalKind::OnScene),
        Some(Outcome::Measured(Duration::seconds(660)))
    );
    assert_eq!(
        engine.outcome(IntervalKind::Transport),
        None,
        "did not transport"
    );
    assert_eq!(engine.outcome(IntervalKind::CallProcessing), None);
    // Cancelled on the way: released before on scene.
    let mut cancelled = unit(UnitType::Engine, 60);
    cancelled.en_route = Some(t(90));
    cancelled.released = Some(t(120));
    assert_eq!(
        cancelled.outcome(IntervalKind::Travel),
        Some(Outcome::Cancelled)
    );
    assert_eq!(
        cancelled.outcome(IntervalKind::OnScene),
        Some(Outcome::Cancelled)
    );
    assert_eq!(
        cancelled.outcome(IntervalKind::Turnout),
        Some(Outcome::Measured(Duration::seconds(30)))
    );
    // On scene without an en route status: turnout and travel are missing, never guessed.
    let mut skipped = arrived(unit(UnitType::Engine, 60), 0, 300, 900);
    skipped.en_route = None;
    assert_eq!(
        skipped.outcome(IntervalKind::Turnout),
        Some(Outcome::Missing)
    );
    assert_eq!(
        skipped.outcome(IntervalKind::Travel),
        Some(Outcome::Missing)
    );
    // A back-entry error: on scene before en route.
    engine.on_scene = Some(t(90));
    assert_eq!(
        engine.outcome(IntervalKind::Travel),
        Some(Outcome::Negative)
    );
    // A transport: on scene ends when it leaves for hospital.
    let mut medic = arrived(unit(UnitType::AlsAmbulance, 60), 70, 400, 3000);
    medic.transporting = Some(t(1000));
    medic.at_hospital = Some(t(1600));
    assert_eq!(
        medic.outcome(IntervalKind::OnScene),
        Some(Outcome::Measured(Duration::seconds(600)))
    );
    assert_eq!(
        medic.outcome(IntervalKind::Transport),
        Some(Outcome::Measured(Duration::seconds(600)))
    );
    assert_eq!(
        medic.outcome(IntervalKind::AtHospital),
        Some(Outcome::Measured(Duration::seconds(1400)))
    );
}

#[test]
fn incident_intervals_take_the_first_unit() {
    let medic = arrived(unit(UnitType::AlsAmbulance, 50), 70, 400, 3000);
    let engine = arrived(unit(UnitType::Engine, 45), 100, 300, 1000);
    let units = [medic, engine];
    let at = |kind| incident_outcome(kind, t(0), units.iter());
    assert_eq!(
        at(IntervalKind::CallProcessing),
        Some(Outcome::Measured(Duration::seconds(45)))
    );
    assert_eq!(
        at(IntervalKind::TotalResponse),
        Some(Outcome::Measured(Duration::seconds(300)))
    );
    // The engine arrived first: its travel, not the medic's.
    assert_eq!(
        at(IntervalKind::FirstArrivalTravel),
        Some(Outcome::Measured(Duration::seconds(200)))
    );
    assert_eq!(at(IntervalKind::Turnout), None);
    // No unit sent: missing; every unit released on the way: cancelled.
    assert_eq!(
        incident_outcome(IntervalKind::CallProcessing, t(0), [].iter()),
        Some(Outcome::Missing)
    );
    let mut gone = unit(UnitType::Engine, 45);
    gone.released = Some(t(100));
    assert_eq!(
        incident_outcome(IntervalKind::TotalResponse, t(0), [gone].iter()),
        Some(Outcome::Cancelled)
    );
    // Dispatched before the first call was received (a back-entered call): negative.
    assert_eq!(
        incident_outcome(
            IntervalKind::CallProcessing,
            t(0),
            [unit(UnitType::Engine, -5)].iter()
        ),
        Some(Outcome::Negative)
    );
}

#[test]
fn grouped_by_unit_type_incident_intervals_take_the_first_unit_of_each_type() {
    let medic = arrived(unit(UnitType::AlsAmbulance, 50), 70, 400, 3000);
    let engine = arrived(unit(UnitType::Engine, 45), 100, 300, 1000);
    let report = report(
        &query(vec![Dimension::UnitType]),
        &[incident(vec![medic, engine]), incident(Vec::new())],
    );
    assert_eq!(report.incidents, 2);
    assert_eq!(report.assignments, 2);
    let keys: Vec<_> = report.groups.iter().map(|g| g.keys[0].1.as_str()).collect();
    assert_eq!(keys, ["", "als_ambulance", "engine"]);
    let medic = &report.groups[1];
    assert_eq!(
        stats(medic, IntervalKind::CallProcessing).p50,
        Some(Duration::seconds(50))
    );
    assert_eq!(
        stats(medic, IntervalKind::TotalResponse).p50,
        Some(Duration::seconds(400))
    );
    // The incident without units: call processing missing, in the group without a unit type.
    let none = stats(&report.groups[0], IntervalKind::CallProcessing);
    assert_eq!((none.count, none.missing), (0, 1));
    let total = stats(&report.total, IntervalKind::CallProcessing);
    assert_eq!(
        (total.count, total.missing, total.p50),
        (1, 1, Some(Duration::seconds(45)))
    );
    assert_eq!(stats(&report.total, IntervalKind::Turnout).count, 2);
}

#[test]
fn compliance_counts_the_target_s_units_only() {
    // Four engines at four incidents: first engine travel 200, 230, 250, 500 s.
    let incidents: Vec<_> = [200, 230, 250, 500]
        .into_iter()
        .map(|travel| {
            incident(vec![arrived(
                unit(UnitType::Engine, 30),
                90,
                90 + travel,
                2000,
            )])
        })
        .collect();
    let report = report(&query(Vec::new()), &incidents);
    let travel = stats(&report.total, IntervalKind::FirstArrivalTravel);
    let engine = travel
        .compliance
        .iter()
        .find(|c| c.target.unit_type == Some(UnitType::Engine))
        .unwrap();
    assert_eq!((engine.count, engine.within), (4, 2));
    assert!(!engine.met);
    assert!((engine.share - 0.5).abs() < 1e-9);
    // No ALS unit in the data: the ALS travel target does not apply, so it is not listed.
    assert!(
        travel
            .compliance
            .iter()
            .all(|c| c.target.unit_type != Some(UnitType::AlsAmbulance))
    );
    // Turnout 60 s: engines are judged by the fire target (80 s).
    let turnout = stats(&report.total, IntervalKind::Turnout);
    assert_eq!(turnout.compliance.len(), 1);
    assert_eq!(
        turnout.compliance[0].target.threshold,
        Duration::seconds(80)
    );
    assert!(turnout.compliance[0].met);
}

#[test]
fn hour_of_day_is_read_in_the_period_s_zone() {
    let period = Period::new(
        "period",
        Some(t(-3600)),
        Some(t(3600)),
        "America/Los_Angeles",
    )
    .unwrap();
    let query = IntervalQuery::new(period, vec![Dimension::HourOfDay], Vec::new()).unwrap();
    let report = report(&query, &[incident(Vec::new())]);
    // 12:00 UTC on 7 April 2020 is 05:00 in Los Angeles (PDT).
    assert_eq!(
        report.groups[0].keys,
        [(Dimension::HourOfDay, "05".to_owned())]
    );
}

#[test]
fn a_query_refuses_too_many_or_repeated_dimensions() {
    let period = Period::new("period", Some(t(0)), Some(t(1)), "").unwrap();
    let dims = vec![Dimension::Area, Dimension::Area, Dimension::UnitType];
    let fields: Vec<_> = IntervalQuery::new(period, dims, Vec::new())
        .unwrap_err()
        .iter()
        .map(|v| v.field.clone())
        .collect();
    assert_eq!(fields, ["group_by", "group_by[1]"]);
    let bad = Target::new(None, None, Some(Duration::zero()), 1.5, String::new()).unwrap_err();
    let fields: Vec<_> = bad.iter().map(|v| v.field.clone()).collect();
    assert_eq!(fields, ["interval", "threshold", "percentile"]);
}
