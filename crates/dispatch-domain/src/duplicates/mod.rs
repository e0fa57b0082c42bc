//! Which open incidents a new call may be reporting again.
//!
//! Most reports are repeats: 46 % of C5's 2020 road incidents were closed as duplicates. A call
//! taker is shown the likely incidents, ranked, each with why it matched, and links or opens a new
//! one. The defaults come from that data (see `DuplicatePolicy::default`).

pub mod fit;
pub mod history;
pub mod likelihood;
pub mod params;

use chrono::{DateTime, Duration, Timelike, Utc};

pub use likelihood::{LikelihoodModel, PairFeatures};
pub use params::ParamsError;

use crate::call::Channel;
use crate::ids::IncidentId;
use crate::incident::IncidentStatus;
use crate::location::GeoPoint;

/// How wide to look and what counts as the same kind of emergency.
#[derive(Debug, Clone, PartialEq)]
pub struct DuplicatePolicy {
    /// Radius around the call, before either report's uncertainty is added.
    pub base_radius_m: f64,
    /// The radius never grows past this, however vague the locations.
    pub max_radius_m: f64,
    /// How long after an incident's latest call a new call may still be the same emergency.
    pub window: Duration,
    /// Incident type codes that may describe one emergency (an escalation from "collision
    /// without injuries" to "with injuries" is the same collision). A type is always compatible
    /// with itself; an unknown type is compatible with everything.
    pub compatible_groups: Vec<Vec<String>>,
    /// At most this many candidates are returned.
    pub max_candidates: usize,
}

impl Default for DuplicatePolicy {
    /// Measured on C5's 2020 road incidents (33,069 records, 15,386 closed as duplicates), looking
    /// for an earlier incident still open: 500 m / 120 min finds one for 43.2 % of duplicates
    /// against 2.8 % of confirmed non-duplicates (false leads); 1,000 m adds 2 points of hits for
    /// twice the false leads, 30 min loses a quarter of the hits. Matching only the same type
    /// loses a fifth of the hits, so all road types form one group.
    fn default() -> Self {
        Self {
            base_radius_m: 500.0,
            max_radius_m: 2_000.0,
            window: Duration::minutes(120),
            compatible_groups: vec![
                [
                    "TRAFFIC-COLLISION",
                    "TRAFFIC-INJURY",
                    "TRAFFIC-TRAPPED",
                    "TRAFFIC-PEDESTRIAN",
                    "TRAFFIC-MOTORCYCLE",
                    "TRAFFIC-CYCLIST",
                    "TRAFFIC-ROLLOVER",
                    "TRAFFIC-DROP",
                    "TRAFFIC-FATALITY",
                ]
                .map(String::from)
                .to_vec(),
            ],
            max_candidates: 5,
        }
    }
}

impl DuplicatePolicy {
    /// The search radius for a call: grows with how uncertain each report's location is.
    pub fn radius_m(&self, call_uncertainty_m: f64, incident_uncertainty_m: f64) -> f64 {
        (self.base_radius_m + call_uncertainty_m + incident_uncertainty_m).min(self.max_radius_m)
    }

    pub fn type_match(&self, call_type: &str, incident_type: &str) -> TypeMatch {
        if call_type.is_empty() || incident_type.is_empty() {
            TypeMatch::Unknown
        } else if call_type == incident_type {
            TypeMatch::Same
        } else if self.compatible_groups.iter().any(|group| {
            group.iter().any(|t| t == call_type) && group.iter().any(|t| t == incident_type)
        }) {
            TypeMatch::Compatible
        } else {
            TypeMatch::Incompatible
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeMatch {
    Same,
    Compatible,
    /// One side has no type yet.
    Unknown,
    Incompatible,
}

/// The call being taken, as far as duplicate search needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallProbe {
    pub point: GeoPoint,
    pub uncertainty_m: f64,
    pub received_at: DateTime<Utc>,
    pub incident_type: String,
    /// How the call came in; `None` for a search by location alone.
    pub channel: Option<Channel>,
}

/// An open incident near the call, as read from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NearbyIncident {
    pub id: IncidentId,
    pub folio: String,
    pub incident_type: String,
    pub status: IncidentStatus,
    pub point: GeoPoint,
    pub uncertainty_m: f64,
    /// When the incident was opened.
    pub created_at: DateTime<Utc>,
    pub last_call_at: DateTime<Utc>,
    pub linked_call_count: i32,
    pub same_callback_number: bool,
    pub same_source_device: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    WithinRadius,
    WithinTimeWindow,
    CompatibleType,
    SameType,
    SameCallbackNumber,
    SameSourceDevice,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub incident: NearbyIncident,
    pub distance_m: f64,
    /// From the incident's creation to this call's received time, never negative (call.proto):
    /// a back-entered call received before the incident was opened has age zero.
    pub age: Duration,
    /// From the incident's latest call to this call (what the time window is about); negative
    /// for a back-entered call older than the incident's latest call.
    pub since_latest_call: Duration,
    /// The calibrated probability, 0–1, that the call reports this incident
    /// (`LikelihoodModel::likelihood`).
    pub likelihood: f64,
    /// The same as `likelihood`, kept for the contract's older `score` field.
    pub score: f64,
    pub reasons: Vec<Reason>,
    pub explanation: String,
}

/// What the model sees of the pair (`call`, `incident`), or `None` when the incident cannot be
/// the same emergency at all: not open, outside the time window, of an incompatible type, or
/// outside the radius (the policy's base radius plus both reports' uncertainty, capped) unless
/// the same phone or device called about it.
pub fn pair_features(
    policy: &DuplicatePolicy,
    call: &CallProbe,
    incident: &NearbyIncident,
    local_calls_per_day: f64,
) -> Option<PairFeatures> {
    let gate = gate(policy, call, incident)?;
    Some(PairFeatures {
        distance_m: gate.distance_m,
        since_latest_call_s: (call.received_at - incident.last_call_at)
            .num_milliseconds()
            .max(0) as f64
            / 1000.0,
        type_match: gate.type_match,
        channel: call.channel,
        linked_call_count: incident.linked_call_count,
        same_callback_number: incident.same_callback_number,
        same_source_device: incident.same_source_device,
        local_calls_per_day,
        hour: call.received_at.hour(),
    })
}

/// Where a pair stands against the policy's hard limits.
struct Gate {
    distance_m: f64,
    radius_m: f64,
    within_radius: bool,
    type_match: TypeMatch,
}

fn gate(policy: &DuplicatePolicy, call: &CallProbe, incident: &NearbyIncident) -> Option<Gate> {
    if !incident.status.is_open() {
        return None;
    }
    let distance_m = call.point.distance_m(&incident.point);
    let radius_m = policy.radius_m(call.uncertainty_m, incident.uncertainty_m);
    let within_radius = distance_m <= radius_m;
    let within_window = (call.received_at - incident.last_call_at).abs() <= policy.window;
    let type_match = policy.type_match(&call.incident_type, &incident.incident_type);
    // The same phone or the same camera calling again about something open is a strong lead even
    // a little outside the radius (a caller on the move), but never outside the window.
    let same_source = incident.same_callback_number || incident.same_source_device;
    if !within_window || type_match == TypeMatch::Incompatible || !(within_radius || same_source) {
        return None;
    }
    Some(Gate {
        distance_m,
        radius_m,
        within_radius,
        type_match,
    })
}

/// The incidents that `call` likely reports again, most likely first (ties: nearer, then by id):
/// those that pass the policy's gate (`pair_features`) with a likelihood at or above the model's
/// threshold, at most `policy.max_candidates`. `local_calls_per_day` is the call rate around
/// the call (`Density`), the same for every incident.
pub fn rank(
    policy: &DuplicatePolicy,
    model: &LikelihoodModel,
    call: &CallProbe,
    nearby: Vec<NearbyIncident>,
    local_calls_per_day: f64,
) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = nearby
        .into_iter()
        .filter_map(|incident| assess(policy, model, call, incident, local_calls_per_day))
        .filter(|candidate| candidate.likelihood >= model.threshold)
        .collect();
    candidates.sort_by(|a, b| {
        b.likelihood
            .total_cmp(&a.likelihood)
            .then(a.distance_m.total_cmp(&b.distance_m))
            .then(a.incident.id.cmp(&b.incident.id))
    });
    candidates.truncate(policy.max_candidates);
    candidates
}

fn assess(
    policy: &DuplicatePolicy,
    model: &LikelihoodModel,
    call: &CallProbe,
    incident: NearbyIncident,
    local_calls_per_day: f64,
) -> Option<Candidate> {
    let Gate {
        distance_m,
        radius_m,
        within_radius,
        type_match,
    } = gate(policy, call, &incident)?;
    let features = pair_features(policy, call, &incident, local_calls_per_day)?;
    let likelihood = model.likelihood(&features);
    let since_latest_call = call.received_at - incident.last_call_at;
    let age = (call.received_at - incident.created_at).max(Duration::zero());

    let mut reasons = Vec::new();
    if within_radius {
        reasons.push(Reason::WithinRadius);
    }
    reasons.push(Reason::WithinTimeWindow);
    match type_match {
        TypeMatch::Same => reasons.push(Reason::SameType),
        TypeMatch::Compatible => reasons.push(Reason::CompatibleType),
        TypeMatch::Unknown | TypeMatch::Incompatible => {}
    }
    if incident.same_callback_number {
        reasons.push(Reason::SameCallbackNumber);
    }
    if incident.same_source_device {
        reasons.push(Reason::SameSourceDevice);
    }

    let explanation = format!(
        "{:.0} % likely the same: {} is {:.0} m away (radius {:.0} m), {} old, latest call {} \
         ago, {}{}{}, {:.1} calls a day within {:.0} m",
        likelihood * 100.0,
        incident.folio,
        distance_m,
        radius_m,
        human_duration(age),
        human_duration(since_latest_call),
        match type_match {
            TypeMatch::Same => "same type",
            TypeMatch::Compatible => "compatible type",
            TypeMatch::Unknown | TypeMatch::Incompatible => "type not yet known",
        },
        if incident.same_callback_number {
            ", same callback number"
        } else {
            ""
        },
        if incident.same_source_device {
            ", same device"
        } else {
            ""
        },
        local_calls_per_day,
        model.density.radius_m,
    );
    Some(Candidate {
        incident,
        distance_m,
        age,
        since_latest_call,
        likelihood,
        score: likelihood,
        reasons,
        explanation,
    })
}

fn human_duration(duration: Duration) -> String {
    let seconds = duration.num_seconds().abs();
    let sign = if duration.num_seconds() < 0 { "-" } else { "" };
    if seconds < 60 {
        format!("{sign}{seconds} s")
    } else if seconds < 3600 {
        format!("{sign}{} min", seconds / 60)
    } else {
        format!("{sign}{} h {} min", seconds / 3600, (seconds % 3600) / 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../../catalogue/duplicate_model.toml");
    /// A quiet area: no calls nearby in the past week.
    const QUIET: f64 = 0.0;

    fn model() -> LikelihoodModel {
        LikelihoodModel::from_toml(SHIPPED).unwrap()
    }

    fn at(lat: f64, lon: f64) -> GeoPoint {
        GeoPoint::new(lat, lon).unwrap()
    }

    fn incident(
        n: u8,
        point: GeoPoint,
        minutes_ago: i64,
        incident_type: &str,
        now: DateTime<Utc>,
    ) -> NearbyIncident {
        NearbyIncident {
            id: IncidentId(uuid::Uuid::from_bytes([n; 16])),
            folio: format!("C5/201129/{n:05}"),
            incident_type: incident_type.into(),
            status: IncidentStatus::New,
            point,
            uncertainty_m: 0.0,
            created_at: now - Duration::minutes(minutes_ago),
            last_call_at: now - Duration::minutes(minutes_ago),
            linked_call_count: 1,
            same_callback_number: false,
            same_source_device: false,
        }
    }

    fn probe(now: DateTime<Utc>) -> CallProbe {
        CallProbe {
            point: at(19.4326, -99.1332),
            uncertainty_m: 0.0,
            received_at: now,
            incident_type: "TRAFFIC-INJURY".into(),
            channel: Some(Channel::Voice911),
        }
    }

    fn ranked(call: &CallProbe, nearby: Vec<NearbyIncident>, rate: f64) -> Vec<Candidate> {
        rank(&DuplicatePolicy::default(), &model(), call, nearby, rate)
    }

    fn ids(ranked: &[Candidate]) -> Vec<u8> {
        ranked
            .iter()
            .map(|c| c.incident.id.0.as_bytes()[0])
            .collect()
    }

    #[test]
    fn nearer_and_newer_ranks_first_and_far_or_old_is_left_out() {
        let now = Utc::now();
        let near = incident(1, at(19.4327, -99.1332), 2, "TRAFFIC-INJURY", now);
        let farther = incident(2, at(19.4350, -99.1332), 2, "TRAFFIC-INJURY", now);
        let too_far = incident(3, at(19.4500, -99.1332), 2, "TRAFFIC-INJURY", now);
        let too_old = incident(4, at(19.4326, -99.1332), 121, "TRAFFIC-INJURY", now);
        let ranked = ranked(&probe(now), vec![farther, too_far, too_old, near], QUIET);
        assert_eq!(ids(&ranked), [1, 2]);
        assert!(ranked[0].likelihood > ranked[1].likelihood);
        assert!(ranked[0].likelihood < 1.0 && ranked[1].likelihood > 0.0);
        assert_eq!(ranked[0].score, ranked[0].likelihood);
        assert!(ranked[0].reasons.contains(&Reason::SameType));
        assert!(
            ranked[0]
                .explanation
                .starts_with(&format!("{:.0} % likely", ranked[0].likelihood * 100.0)),
            "{}",
            ranked[0].explanation
        );
    }

    #[test]
    fn ranked_by_likelihood_not_by_distance() {
        let now = Utc::now();
        // 11 m away but its latest call was 100 minutes ago; 270 m away, called a minute ago
        // by five people.
        let near_stale = incident(1, at(19.4327, -99.1332), 100, "TRAFFIC-INJURY", now);
        let mut far_busy = incident(2, at(19.4350, -99.1332), 1, "TRAFFIC-INJURY", now);
        far_busy.linked_call_count = 5;
        let ranked = ranked(&probe(now), vec![near_stale, far_busy], QUIET);
        assert_eq!(ids(&ranked), [2, 1]);
        assert!(ranked[0].distance_m > ranked[1].distance_m);
        assert!(ranked[0].likelihood > ranked[1].likelihood);
    }

    #[test]
    fn below_the_threshold_is_not_suggested() {
        let now = Utc::now();
        let model = model();
        let policy = DuplicatePolicy::default();
        let call = probe(now);
        // Inside the gate (500 m radius, 120 min window) but 450 m and 100 min away.
        let unlikely = incident(1, at(19.4366, -99.1332), 100, "", now);
        let features = pair_features(&policy, &call, &unlikely, QUIET).expect("inside the gate");
        let likelihood = model.likelihood(&features);
        assert!(likelihood < model.threshold, "{likelihood}");
        assert!(ranked(&call, vec![unlikely.clone()], QUIET).is_empty());
        // A lower threshold shows it, with that likelihood.
        let mut lenient = model.clone();
        lenient.threshold = likelihood;
        let shown = rank(&policy, &lenient, &call, vec![unlikely], QUIET);
        assert_eq!(shown.len(), 1);
        assert_eq!(shown[0].likelihood, likelihood);
    }

    #[test]
    fn a_dense_area_lowers_the_likelihood_of_the_same_pair() {
        let now = Utc::now();
        let call = probe(now);
        let nearby = incident(1, at(19.4340, -99.1332), 10, "TRAFFIC-INJURY", now);
        let quiet = ranked(&call, vec![nearby.clone()], QUIET);
        assert_eq!(quiet.len(), 1);
        // Twenty unrelated calls a day within a kilometre, as in central San Francisco.
        let dense = rank(
            &DuplicatePolicy::default(),
            &LikelihoodModel {
                threshold: 1e-9,
                ..model()
            },
            &call,
            vec![nearby.clone()],
            20.0,
        );
        assert!(dense[0].likelihood < quiet[0].likelihood - 0.1);
        assert!(ranked(&call, vec![nearby], 20.0).is_empty());
    }

    #[test]
    fn a_radio_report_is_weighed_down() {
        let now = Utc::now();
        let nearby = incident(1, at(19.4340, -99.1332), 10, "TRAFFIC-INJURY", now);
        let policy = DuplicatePolicy::default();
        let model = model();
        let mut call = probe(now);
        let voice = model.likelihood(&pair_features(&policy, &call, &nearby, 1.0).unwrap());
        call.channel = Some(Channel::Radio);
        let radio = model.likelihood(&pair_features(&policy, &call, &nearby, 1.0).unwrap());
        assert!(radio < voice);
    }

    #[test]
    fn uncertainty_widens_the_radius() {
        let now = Utc::now();
        let mut call = probe(now);
        let away_900m = incident(1, at(19.4407, -99.1332), 1, "", now);
        assert!(ranked(&call, vec![away_900m.clone()], QUIET).is_empty());
        call.uncertainty_m = 500.0;
        assert_eq!(ranked(&call, vec![away_900m], QUIET).len(), 1);
    }

    #[test]
    fn incompatible_types_are_not_duplicates_but_escalations_are() {
        let now = Utc::now();
        let fire = incident(1, at(19.4326, -99.1332), 1, "FIRE-STRUCTURE", now);
        let minor = incident(2, at(19.4326, -99.1332), 1, "TRAFFIC-COLLISION", now);
        let policy = DuplicatePolicy::default();
        assert_eq!(pair_features(&policy, &probe(now), &fire, QUIET), None);
        let ranked = ranked(&probe(now), vec![fire, minor], QUIET);
        assert_eq!(ranked.len(), 1);
        assert!(ranked[0].reasons.contains(&Reason::CompatibleType));
    }

    #[test]
    fn age_runs_from_the_incidents_creation_and_is_never_negative() {
        let now = Utc::now();
        let mut old = incident(1, at(19.4326, -99.1332), 10, "", now);
        // Opened 90 minutes ago; its latest call came 10 minutes ago.
        old.created_at = now - Duration::minutes(90);
        let ranked_now = ranked(&probe(now), vec![old.clone()], QUIET);
        assert_eq!(ranked_now[0].age, Duration::minutes(90));
        assert_eq!(ranked_now[0].since_latest_call, Duration::minutes(10));
        // A back-entered call received before the incident was opened.
        let mut back = probe(now);
        back.received_at = now - Duration::minutes(100);
        let features = pair_features(&DuplicatePolicy::default(), &back, &old, QUIET).unwrap();
        assert_eq!(features.since_latest_call_s, 0.0);
        let ranked_back = ranked(&back, vec![old], QUIET);
        assert_eq!(ranked_back[0].age, Duration::zero());
    }

    #[test]
    fn closed_incidents_are_never_candidates() {
        let now = Utc::now();
        let mut closed = incident(1, at(19.4326, -99.1332), 1, "", now);
        closed.status = IncidentStatus::Closed;
        let policy = DuplicatePolicy::default();
        assert_eq!(pair_features(&policy, &probe(now), &closed, QUIET), None);
        assert!(ranked(&probe(now), vec![closed], QUIET).is_empty());
    }

    #[test]
    fn same_phone_counts_a_little_outside_the_radius() {
        let now = Utc::now();
        let mut moving = incident(1, at(19.4420, -99.1332), 5, "", now);
        assert!(ranked(&probe(now), vec![moving.clone()], QUIET).is_empty());
        moving.same_callback_number = true;
        let ranked = ranked(&probe(now), vec![moving], QUIET);
        assert_eq!(
            ranked[0].reasons,
            [Reason::WithinTimeWindow, Reason::SameCallbackNumber]
        );
    }

    #[test]
    fn features_carry_what_the_model_needs() {
        let now = "2020-07-01T17:30:00Z".parse::<DateTime<Utc>>().unwrap();
        let mut nearby = incident(1, at(19.4327, -99.1332), 3, "TRAFFIC-INJURY", now);
        nearby.linked_call_count = 4;
        nearby.same_source_device = true;
        let features =
            pair_features(&DuplicatePolicy::default(), &probe(now), &nearby, 2.5).unwrap();
        assert_eq!(features.hour, 17);
        assert_eq!(features.since_latest_call_s, 180.0);
        assert_eq!(features.type_match, TypeMatch::Same);
        assert_eq!(features.channel, Some(Channel::Voice911));
        assert_eq!(features.linked_call_count, 4);
        assert!(features.same_source_device && !features.same_callback_number);
        assert_eq!(features.local_calls_per_day, 2.5);
        assert!((features.distance_m - 11.1).abs() < 0.5, "{features:?}");
    }
}
