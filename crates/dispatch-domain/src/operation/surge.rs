//! A synthetic surge of calls inside a crowd, replayed through duplicate search as a call taker
//! would work it: each call, in order, is linked to the most likely open incident the ranking
//! offers, or opens a new one. The figures say how many real emergencies ended up sharing an
//! incident (wrongly linked) and how many were split over several (calls not linked).
//!
//! Deterministic (a fixed seed), so the figures in README.md are reproducible with
//! `cargo test -p dispatch-domain surge -- --nocapture`.

use chrono::{DateTime, Duration, Utc};

use crate::call::Channel;
use crate::duplicates::{
    CallProbe, Candidate, DuplicatePolicy, LikelihoodModel, NearbyIncident, rank,
};
use crate::ids::IncidentId;
use crate::incident::IncidentStatus;
use crate::location::GeoPoint;

use super::CrowdRule;

/// One synthetic call: which real emergency it is about, and what the call taker has.
#[derive(Debug, Clone, PartialEq)]
pub struct SurgeCall {
    pub emergency: usize,
    pub probe: CallProbe,
}

/// What the replay did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SurgeFigures {
    pub calls: usize,
    pub emergencies: usize,
    /// Incidents opened: the ideal is one per emergency.
    pub incidents: usize,
    /// Calls linked to an existing incident.
    pub linked: usize,
    /// Calls linked to an incident about another emergency.
    pub linked_wrongly: usize,
    /// Emergencies that share an incident with another one (their calls are mixed).
    pub emergencies_merged: usize,
    /// Emergencies whose calls opened more than one incident.
    pub emergencies_split: usize,
}

/// A tiny deterministic generator (SplitMix64): no randomness crate for one replay.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The kinds of emergency a crowd calls about.
const SURGE_TYPES: [&str; 5] = ["ASSAULT", "MEDICAL", "LOST-PERSON", "THEFT", "CRUSH"];

/// `calls` calls over `minutes` about `emergencies` emergencies in the rectangle from `south_west`
/// to `north_east` (the Zócalo is about 240 m by 200 m). Each emergency happens at a point in
/// the first two thirds of the period and is called about from around it (phones 10 to 60 m
/// off, a few hundred metres for the vaguest) over the next ten minutes; the call taker has
/// the type for two calls in three when duplicates are searched.
pub fn synthetic(
    seed: u64,
    start: DateTime<Utc>,
    south_west: GeoPoint,
    north_east: GeoPoint,
    calls: usize,
    minutes: i64,
    emergencies: usize,
) -> Vec<SurgeCall> {
    let mut rng = SplitMix(seed);
    let period_ms = minutes * 60_000;
    let metres_per_degree = 111_320.0;
    let places: Vec<(GeoPoint, DateTime<Utc>, &str)> = (0..emergencies)
        .map(|i| {
            let latitude = south_west.latitude()
                + rng.next() * (north_east.latitude() - south_west.latitude());
            let longitude = south_west.longitude()
                + rng.next() * (north_east.longitude() - south_west.longitude());
            let at = start + Duration::milliseconds((rng.next() * period_ms as f64 * 0.67) as i64);
            let point = GeoPoint::new(latitude, longitude).expect("inside the rectangle");
            (point, at, SURGE_TYPES[i % SURGE_TYPES.len()])
        })
        .collect();
    let mut list: Vec<SurgeCall> = (0..calls)
        .map(|i| {
            // Every emergency gets calls; the rest go to emergencies at random.
            let emergency = if i < emergencies {
                i
            } else {
                ((rng.next() * emergencies as f64) as usize).min(emergencies - 1)
            };
            let (point, at, kind) = places[emergency];
            let uncertainty_m = if rng.next() < 0.1 {
                200.0 + rng.next() * 300.0
            } else {
                10.0 + rng.next() * 50.0
            };
            let offset_m = uncertainty_m * 0.5;
            let cos_lat = point.latitude().to_radians().cos();
            let latitude = point.latitude() + rng.normal() * offset_m / metres_per_degree;
            let longitude =
                point.longitude() + rng.normal() * offset_m / (metres_per_degree * cos_lat);
            let received_at = at + Duration::milliseconds((rng.next() * 600_000.0) as i64);
            let incident_type = if rng.next() < 0.67 {
                kind.to_owned()
            } else {
                String::new()
            };
            SurgeCall {
                emergency,
                probe: CallProbe {
                    point: GeoPoint::new(latitude, longitude).unwrap_or(point),
                    uncertainty_m,
                    received_at,
                    incident_type,
                    channel: Some(Channel::Voice911),
                },
            }
        })
        .collect();
    list.sort_by_key(|c| c.probe.received_at);
    list
}

/// Replays `calls` in order: each is linked to the top candidate duplicate search ranks (under
/// `rule` when given: the operation's own), or opens an incident. Without a rule the local
/// call rate is what the store would count: `ordinary_per_day` plus the surge's calls so far
/// over the model's density days; with one, the rule's.
pub fn replay(
    city: &DuplicatePolicy,
    model: &LikelihoodModel,
    rule: Option<&CrowdRule>,
    calls: &[SurgeCall],
    ordinary_per_day: f64,
) -> SurgeFigures {
    struct Opened {
        incident: NearbyIncident,
        emergencies: Vec<usize>,
    }
    let policy = rule.map_or_else(|| city.clone(), |rule| rule.policy(city));
    let mut opened: Vec<Opened> = Vec::new();
    let mut figures = SurgeFigures {
        calls: calls.len(),
        ..SurgeFigures::default()
    };
    let days = f64::from(model.density.days.max(1));
    for (taken, call) in calls.iter().enumerate() {
        let local_calls_per_day = match rule {
            Some(rule) => rule.local_calls_per_day,
            None => ordinary_per_day + taken as f64 / days,
        };
        let nearby: Vec<NearbyIncident> = opened.iter().map(|o| o.incident.clone()).collect();
        let candidates: Vec<Candidate> =
            rank(&policy, model, &call.probe, nearby, local_calls_per_day)
                .into_iter()
                .filter(|c| rule.is_none_or(|rule| rule.keeps(c)))
                .collect();
        match candidates.first() {
            Some(best) => {
                figures.linked += 1;
                let target = opened
                    .iter_mut()
                    .find(|o| o.incident.id == best.incident.id)
                    .expect("ranked from these");
                if !target.emergencies.contains(&call.emergency) {
                    figures.linked_wrongly += 1;
                    target.emergencies.push(call.emergency);
                } else if target.emergencies[0] != call.emergency {
                    figures.linked_wrongly += 1;
                }
                target.incident.linked_call_count += 1;
                target.incident.last_call_at =
                    target.incident.last_call_at.max(call.probe.received_at);
                if target.incident.incident_type.is_empty() {
                    target.incident.incident_type = call.probe.incident_type.clone();
                }
            }
            None => {
                let n = opened.len() as u128;
                opened.push(Opened {
                    incident: NearbyIncident {
                        id: IncidentId(uuid::Uuid::from_u128(n + 1)),
                        folio: format!("S-{n}"),
                        incident_type: call.probe.incident_type.clone(),
                        status: IncidentStatus::New,
                        point: call.probe.point,
                        uncertainty_m: call.probe.uncertainty_m,
                        created_at: call.probe.received_at,
                        last_call_at: call.probe.received_at,
                        linked_call_count: 1,
                        same_callback_number: false,
                        same_source_device: false,
                    },
                    emergencies: vec![call.emergency],
                });
            }
        }
    }
    figures.incidents = opened.len();
    let emergencies: usize = calls.iter().map(|c| c.emergency + 1).max().unwrap_or(0);
    figures.emergencies = emergencies;
    for emergency in 0..emergencies {
        let holding: Vec<&Opened> = opened
            .iter()
            .filter(|o| o.emergencies.contains(&emergency))
            .collect();
        if holding.len() > 1 {
            figures.emergencies_split += 1;
        }
        if holding.iter().any(|o| o.emergencies.len() > 1) {
            figures.emergencies_merged += 1;
        }
    }
    figures
}
