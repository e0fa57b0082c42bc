//! Section 3b (issue 23): a surge. 10,000 calls in five minutes about 300 open incidents of the
//! demo city (Mexico City: most around a concert in the Zócalo, a festival at the Autódromo, a
//! match at the Estadio Azteca and the demo's watch zone in Iztapalapa, the rest spread over
//! the 16 alcaldías), taken by 64 call takers through `CreateCall` at the times the calls
//! arrive (open loop: a call waits for a free call taker when all 64 are busy). Its latency is
//! timed from the call's scheduled arrival and from its send, overall and per 30-second slice.
//!
//! Then the same calls (same content and received times, new request ids) are replayed on a
//! fresh copy of the same starting database by one call taker, one at a time, and every call's
//! top duplicate suggestion is compared with the surge's: a busy centre should suggest what a
//! quiet one does.
//!
//! The calls are only created, never linked, so what the suggestions depend on is the seeded
//! incidents (identical: both databases are copies of one seeded template) and the calls stored
//! so far, through the local call rate of the duplicate likelihood (dispatch-store's
//! `density.rs`: calls received within 1 km in the days before the call). The rate is the same
//! offset for every candidate of a call, so it cannot reorder them; it can only move the
//! likeliest across the model's threshold. Under load, earlier calls still in flight are not
//! counted yet, so a surge call can only see a lower rate than its quiet replay, and so a
//! suggestion where the replay has none.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use dispatch_cli::demo::city::{ALCALDIAS, offset};
use dispatch_domain::location::GeoPoint;
use dispatch_geo::synthetic::SplitMix64;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use tokio::sync::{Mutex, mpsc};

use crate::cpu::{Cpu, CpuClock};
use crate::pg;
use crate::report::{Bench, Line, Samples, Summary, ms, show};
use crate::server::{self, Authed, Server};

#[derive(Debug, Clone)]
pub struct Options {
    /// Calls in the surge.
    pub calls: usize,
    /// The window they arrive in.
    pub seconds: f64,
    /// Open incidents they are about.
    pub incidents: usize,
    /// Concurrent call takers, one HTTP/2 connection and one principal each.
    pub call_takers: usize,
    pub seed: u64,
}

/// Latency is reported per slice of the arrival window: "throughout" is the worst slice.
const SLICE: Duration = Duration::from_secs(30);

/// The duplicate model's density radius (catalogue/duplicate_model.toml, `density.radius_m`):
/// only for the diagnosis of differing suggestions.
const DENSITY_RADIUS_M: f64 = 1_000.0;

/// A place where a mass event puts incidents, and how many calls each of them draws.
#[derive(Debug)]
struct Hot {
    name: &'static str,
    latitude: f64,
    longitude: f64,
    radius_m: f64,
    /// Share of the incidents.
    share: f64,
}

const HOT: [Hot; 4] = [
    Hot {
        // The demo's planned operation: tonight's concert (dispatch-cli demo/operations.rs).
        name: "Zócalo (concert)",
        latitude: 19.432_608,
        longitude: -99.133_209,
        radius_m: 400.0,
        share: 0.20,
    },
    Hot {
        name: "Autódromo Hermanos Rodríguez (festival)",
        latitude: 19.404_8,
        longitude: -99.090_7,
        radius_m: 600.0,
        share: 0.12,
    },
    Hot {
        name: "Estadio Azteca (match)",
        latitude: 19.302_9,
        longitude: -99.150_5,
        radius_m: 500.0,
        share: 0.10,
    },
    Hot {
        // The demo's standing watch zone.
        name: "Ermita Iztapalapa (watch zone)",
        latitude: 19.358_0,
        longitude: -99.060_0,
        radius_m: 1_200.0,
        share: 0.08,
    },
];

/// How many more calls, on average, an incident in a crowd draws than one elsewhere.
const CROWD_WEIGHT: f64 = 3.0;

/// Types of the incidents in the crowds, and elsewhere in the city (all in the catalogue).
const EVENT_TYPES: &[&str] = &[
    "EVENT-CROWD-CRUSH",
    "EVENT-FIGHT",
    "ORDER-FIGHT",
    "CRIME-ASSAULT",
    "MED-UNCONSCIOUS",
    "MED-BREATHING",
    "MED-CHEST-PAIN",
    "MISSING-CHILD",
    "CRIME-ROBBERY",
    "MED-HEMORRHAGE",
];
const CITY_TYPES: &[&str] = &[
    "TRAFFIC-COLLISION",
    "TRAFFIC-INJURY",
    "TRAFFIC-PEDESTRIAN",
    "MED-CHEST-PAIN",
    "CRIME-ROBBERY",
    "GV-DOMESTIC",
    "FIRE-STRUCTURE",
    "FIRE-SMOKE",
    "ORDER-FIGHT",
    "MED-UNCONSCIOUS",
];

/// Types the catalogue (catalogue/incident_types.toml, `compatible_types`) makes compatible
/// with `code`: what a caller may call the same emergency.
fn compatible(code: &str) -> &'static [&'static str] {
    match code {
        "EVENT-CROWD-CRUSH" => &["EVENT-FIGHT"],
        "EVENT-FIGHT" => &["ORDER-FIGHT", "EVENT-CROWD-CRUSH"],
        "ORDER-FIGHT" => &["CRIME-ASSAULT", "EVENT-FIGHT"],
        "CRIME-ASSAULT" => &["MED-HEMORRHAGE", "ORDER-FIGHT"],
        "MED-UNCONSCIOUS" => &["MED-CARDIAC-ARREST"],
        "MED-BREATHING" => &["MED-CHEST-PAIN", "MED-CARDIAC-ARREST"],
        "MED-CHEST-PAIN" => &["MED-BREATHING", "MED-CARDIAC-ARREST"],
        "MISSING-CHILD" => &["CRIME-KIDNAPPING"],
        "MED-HEMORRHAGE" => &["CRIME-ASSAULT"],
        "TRAFFIC-COLLISION" => &["TRAFFIC-INJURY", "TRAFFIC-PEDESTRIAN"],
        "TRAFFIC-INJURY" => &["TRAFFIC-COLLISION", "FIRE-VEHICLE"],
        "TRAFFIC-PEDESTRIAN" => &["TRAFFIC-COLLISION", "TRAFFIC-INJURY"],
        "GV-DOMESTIC" => &["GV-WOMENS-LINE"],
        "FIRE-STRUCTURE" => &["FIRE-SMOKE", "FIRE-ALARM"],
        "FIRE-SMOKE" => &["FIRE-STRUCTURE"],
        _ => &[],
    }
}

/// One seeded open incident.
#[derive(Debug, Clone)]
struct Incident {
    id: uuid::Uuid,
    folio: String,
    incident_type: &'static str,
    latitude: f64,
    longitude: f64,
    uncertainty_m: f64,
    /// Its first call came in this long before the database was seeded.
    age: Duration,
    first_caller: String,
    /// Index into `HOT`, or `None` for the rest of the city.
    hot: Option<usize>,
    /// Relative number of calls it draws.
    weight: f64,
    /// When, in the window, its burst of calls peaks (seconds).
    burst_s: f64,
}

/// One call of the surge, in arrival order.
#[derive(Debug, Clone)]
struct Planned {
    /// Arrival, from the start of the window (strictly increasing).
    offset: Duration,
    /// The incident it is about (index into the incidents).
    incident: usize,
    latitude: f64,
    longitude: f64,
    uncertainty_m: f64,
    network: bool,
    callback_number: String,
    type_hint: &'static str,
}

impl Planned {
    /// The request a call taker sends; `window_start` is the received time of offset zero.
    fn request(&self, window_start: DateTime<Utc>) -> pb::CreateCallRequest {
        let received = window_start
            + chrono::Duration::from_std(self.offset).unwrap_or_else(|_| chrono::Duration::zero());
        pb::CreateCallRequest {
            request_id: server::request_id(),
            channel: pb::CallChannel::Voice911.into(),
            received_time: Some(server::timestamp(received)),
            callback_number: self.callback_number.clone(),
            location: Some(pb::Location {
                point: Some(pb::GeoPoint {
                    latitude: self.latitude,
                    longitude: self.longitude,
                }),
                uncertainty_m: self.uncertainty_m,
                source: if self.network {
                    pb::LocationSource::Network
                } else {
                    pb::LocationSource::Device
                }
                .into(),
                civic_address: String::new(),
            }),
            account: "Llama desde el evento: hay una emergencia cerca, mucha gente alrededor."
                .into(),
            incident_type_hint: self.type_hint.into(),
            ..Default::default()
        }
    }
}

/// The incidents and the calls, from the seed alone.
#[derive(Debug)]
struct Scenario {
    incidents: Vec<Incident>,
    calls: Vec<Planned>,
}

fn normal(rng: &mut SplitMix64) -> f64 {
    let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// A point uniformly within `radius_m` of (lat, lon).
fn around(rng: &mut SplitMix64, latitude: f64, longitude: f64, radius_m: f64) -> (f64, f64) {
    let r_km = radius_m / 1_000.0 * rng.next_f64().sqrt();
    let angle = rng.next_f64() * std::f64::consts::TAU;
    offset(latitude, longitude, r_km * angle.cos(), r_km * angle.sin())
}

/// Great-circle metres on the sphere the store's local call rate measures with.
fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    match (GeoPoint::new(a.0, a.1), GeoPoint::new(b.0, b.1)) {
        (Ok(a), Ok(b)) => a.distance_m(&b),
        _ => f64::INFINITY,
    }
}

fn scenario(options: &Options) -> Scenario {
    let mut rng = SplitMix64::new(options.seed ^ 0x5375_7267_6523);
    let window_s = options.seconds.max(1.0);
    let population: f64 = ALCALDIAS.iter().map(|a| a.population_m).sum();
    let mut incidents = Vec::with_capacity(options.incidents);
    let mut hot_counts: Vec<usize> = HOT
        .iter()
        .map(|h| (h.share * options.incidents as f64).round() as usize)
        .collect();
    for i in 0..options.incidents {
        let hot = hot_counts.iter().position(|&left| left > 0);
        let (latitude, longitude, types) = match hot {
            Some(k) => {
                hot_counts[k] -= 1;
                let place = &HOT[k];
                let (lat, lon) = around(&mut rng, place.latitude, place.longitude, place.radius_m);
                (lat, lon, EVENT_TYPES)
            }
            None => {
                // An alcaldía by population, then a point in it.
                let mut pick = rng.next_f64() * population;
                let alcaldia = ALCALDIAS
                    .iter()
                    .find(|a| {
                        pick -= a.population_m;
                        pick < 0.0
                    })
                    .unwrap_or(&ALCALDIAS[0]);
                let (lat, lon) = around(
                    &mut rng,
                    alcaldia.lat,
                    alcaldia.lon,
                    alcaldia.radius_km * 1_000.0,
                );
                (lat, lon, CITY_TYPES)
            }
        };
        let weight =
            (0.8 * normal(&mut rng)).exp() * if hot.is_some() { CROWD_WEIGHT } else { 1.0 };
        incidents.push(Incident {
            id: rng.uuid(),
            folio: format!("INC/SURGE/{i:05}"),
            incident_type: types[rng.below(types.len())],
            latitude,
            longitude,
            uncertainty_m: 20.0 + rng.next_f64() * 80.0,
            // Opened between 3 and 45 minutes before: inside the 120-minute duplicate window.
            age: Duration::from_secs_f64(180.0 + rng.next_f64() * 2_520.0),
            first_caller: format!("+5255{:08}", 10_000_000 + i),
            hot,
            weight,
            burst_s: rng.next_f64() * window_s,
        });
    }
    let mut cumulative = Vec::with_capacity(incidents.len());
    let mut total = 0.0;
    for incident in &incidents {
        total += incident.weight;
        cumulative.push(total);
    }
    let mut calls: Vec<Planned> = (0..options.calls)
        .map(|_| {
            let target = rng.next_f64() * total;
            let k = cumulative
                .partition_point(|&c| c <= target)
                .min(incidents.len().saturating_sub(1));
            let incident = &incidents[k];
            // Seven calls in ten arrive evenly over the window, three in a burst after the
            // incident's own peak (one that would fall past the window arrives evenly too).
            let burst = incident.burst_s + normal(&mut rng).abs() * 15.0;
            let at_s = if rng.chance(0.3) && burst < window_s {
                burst
            } else {
                rng.next_f64() * window_s
            };
            // The caller stands tens to a few hundred metres away; the phone's fix adds its
            // own error (device fixes mostly, a network fix for one call in ten).
            let network = rng.chance(0.1);
            let uncertainty_m = if network {
                150.0 + rng.next_f64() * 350.0
            } else if rng.chance(0.75) {
                5.0 + rng.next_f64() * 25.0
            } else {
                30.0 + rng.next_f64() * 70.0
            };
            let standing_m = (15.0 - 60.0 * rng.next_f64().max(1e-12).ln()).min(400.0);
            let bearing = rng.next_f64() * std::f64::consts::TAU;
            let north_m = standing_m * bearing.cos() + normal(&mut rng) * uncertainty_m / 2.0;
            let east_m = standing_m * bearing.sin() + normal(&mut rng) * uncertainty_m / 2.0;
            let (latitude, longitude) = offset(
                incident.latitude,
                incident.longitude,
                north_m / 1_000.0,
                east_m / 1_000.0,
            );
            // The same type mostly, a compatible one, none yet, or (rarely) another.
            let r = rng.next_f64();
            let alternatives = compatible(incident.incident_type);
            let pool = if incident.hot.is_some() {
                EVENT_TYPES
            } else {
                CITY_TYPES
            };
            let type_hint = if r < 0.65 {
                incident.incident_type
            } else if r < 0.80 && !alternatives.is_empty() {
                alternatives[rng.below(alternatives.len())]
            } else if r < 0.92 {
                ""
            } else {
                pool[rng.below(pool.len())]
            };
            Planned {
                offset: Duration::from_secs_f64(at_s.clamp(0.0, window_s - 1e-3)),
                incident: k,
                latitude,
                longitude,
                uncertainty_m,
                network,
                callback_number: String::new(),
                type_hint,
            }
        })
        .collect();
    calls.sort_by_key(|call| call.offset);
    // Strictly increasing received times (to the microsecond PostgreSQL keeps), so "the calls
    // received before this one" is the same set in both runs.
    let mut previous: Option<Duration> = None;
    for call in &mut calls {
        let mut at = Duration::from_micros(u64::try_from(call.offset.as_micros()).unwrap_or(0));
        if let Some(before) = previous
            && at <= before
        {
            at = before + Duration::from_micros(1);
        }
        call.offset = at;
        previous = Some(at);
    }
    // Callers: some call again (the incident's first caller, or a caller of this surge), the
    // rest are new numbers.
    let mut callers: Vec<Vec<String>> = vec![Vec::new(); incidents.len()];
    for (i, call) in calls.iter_mut().enumerate() {
        let earlier = &mut callers[call.incident];
        let r = rng.next_f64();
        call.callback_number = if r < 0.08 {
            incidents[call.incident].first_caller.clone()
        } else if r < 0.18 && !earlier.is_empty() {
            earlier[rng.below(earlier.len())].clone()
        } else {
            let number = format!("+5255{:08}", 90_000_000 + i);
            earlier.push(number.clone());
            number
        };
    }
    Scenario { incidents, calls }
}

/// What one call got.
#[derive(Debug, Clone, Default)]
struct Outcome {
    sent: Option<Instant>,
    done: Option<Instant>,
    error: Option<String>,
    /// Suggested incidents, most likely first: (incident name, likelihood).
    candidates: Vec<(String, f64)>,
    /// The top suggestion's explanation (it ends with the local call rate it used).
    top_explanation: String,
}

impl Outcome {
    fn top(&self) -> Option<&str> {
        self.candidates.first().map(|(name, _)| name.as_str())
    }
}

type Client = CallIntakeServiceClient<Authed>;

async fn take(client: &mut Client, request: pb::CreateCallRequest) -> Outcome {
    let sent = Instant::now();
    let result = client.create_call(request).await;
    let done = Instant::now();
    let mut outcome = Outcome {
        sent: Some(sent),
        done: Some(done),
        ..Outcome::default()
    };
    match result {
        Ok(response) => {
            let response = response.into_inner();
            if response.call.is_none() {
                outcome.error = Some("CreateCall answered no call".into());
            }
            outcome.top_explanation = response
                .duplicate_candidates
                .first()
                .map(|c| c.explanation.clone())
                .unwrap_or_default();
            outcome.candidates = response
                .duplicate_candidates
                .into_iter()
                .map(|c| (c.incident, c.likelihood))
                .collect();
        }
        Err(status) => outcome.error = Some(format!("CreateCall: {status}")),
    }
    outcome
}

/// Opens the connection and authenticates once, so the first timed call does not pay for it.
async fn warm(client: &mut Client) {
    let _ = client
        .list_calls(pb::ListCallsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await;
}

/// What the surge did: each call's outcome, whether it arrived with every call taker busy,
/// when the window started and the received time of its offset zero.
type Surged = (Vec<Outcome>, Vec<bool>, Instant, DateTime<Utc>);

/// The surge: every call handed, at its arrival time, to the next free call taker.
async fn surge_run(
    server: &Server,
    tokens: &[String],
    calls: Arc<Vec<Planned>>,
) -> anyhow::Result<Surged> {
    let (tx, rx) = mpsc::unbounded_channel::<usize>();
    let rx = Arc::new(Mutex::new(rx));
    // Call takers holding a call (or about to take the one just handed over).
    let busy = Arc::new(AtomicUsize::new(0));
    // Every call taker's connection open and its principal known, and the server's database
    // pool grown to the concurrency, before the window: a centre's server is already running.
    let mut clients = Vec::with_capacity(tokens.len());
    for token in tokens {
        clients.push(server::calls(server.connection()?, token)?);
    }
    for _ in 0..3 {
        futures::future::join_all(clients.iter_mut().map(warm)).await;
    }
    let lead = Duration::from_millis(200);
    let start = Instant::now() + lead;
    let window_start = Utc::now() + chrono::Duration::from_std(lead)?;
    let mut takers = Vec::with_capacity(tokens.len());
    for mut client in clients {
        let rx = rx.clone();
        let calls = calls.clone();
        let busy = busy.clone();
        takers.push(tokio::spawn(async move {
            let mut taken = Vec::new();
            loop {
                // The lock is fair: call takers queue for the next call in turn.
                let next = rx.lock().await.recv().await;
                let Some(i) = next else { break };
                let request = calls[i].request(window_start);
                taken.push((i, take(&mut client, request).await));
                busy.fetch_sub(1, Ordering::SeqCst);
            }
            taken
        }));
    }
    let mut queued = vec![false; calls.len()];
    for (i, call) in calls.iter().enumerate() {
        tokio::time::sleep_until((start + call.offset).into()).await;
        queued[i] = busy.fetch_add(1, Ordering::SeqCst) >= tokens.len();
        tx.send(i).context("the call takers stopped")?;
    }
    drop(tx);
    let mut outcomes = vec![Outcome::default(); calls.len()];
    for taker in takers {
        for (i, outcome) in taker.await? {
            outcomes[i] = outcome;
        }
    }
    Ok((outcomes, queued, start, window_start))
}

/// The quiet replay: one call taker, one call at a time, in arrival order.
async fn quiet_run(
    server: &Server,
    token: &str,
    calls: &[Planned],
    window_start: DateTime<Utc>,
) -> anyhow::Result<Vec<Outcome>> {
    let mut client = server::calls(server.connection()?, token)?;
    warm(&mut client).await;
    let mut outcomes = Vec::with_capacity(calls.len());
    for call in calls {
        outcomes.push(take(&mut client, call.request(window_start)).await);
    }
    Ok(outcomes)
}

/// Seeds the incidents, each with its first call, into the database at `url`.
async fn seed(url: &str, incidents: &[Incident], now: SystemTime) -> anyhow::Result<()> {
    let db = pg::connect(url).await?;
    let ids: Vec<String> = incidents.iter().map(|i| i.id.to_string()).collect();
    let folios: Vec<&str> = incidents.iter().map(|i| i.folio.as_str()).collect();
    let types: Vec<&str> = incidents.iter().map(|i| i.incident_type).collect();
    let latitudes: Vec<f64> = incidents.iter().map(|i| i.latitude).collect();
    let longitudes: Vec<f64> = incidents.iter().map(|i| i.longitude).collect();
    let uncertainties: Vec<f64> = incidents.iter().map(|i| i.uncertainty_m).collect();
    let opened: Vec<SystemTime> = incidents.iter().map(|i| now - i.age).collect();
    let callers: Vec<&str> = incidents.iter().map(|i| i.first_caller.as_str()).collect();
    db.execute(
        "INSERT INTO incidents (id, folio, status, incident_type, latitude, longitude, \
                                uncertainty_m, location_source, summary, linked_call_count, \
                                first_call_at, last_call_at, created_by, created_at, updated_at) \
         SELECT id::uuid, folio, 'new', incident_type, latitude, longitude, uncertainty_m, \
                'device', 'benchmark surge incident', 1, opened, opened, 'bench', opened, opened \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::float8[], $5::float8[], \
                     $6::float8[], $7::timestamptz[]) \
              AS t(id, folio, incident_type, latitude, longitude, uncertainty_m, opened)",
        &[
            &ids,
            &folios,
            &types,
            &latitudes,
            &longitudes,
            &uncertainties,
            &opened,
        ],
    )
    .await
    .context("seeding the surge's open incidents")?;
    db.execute(
        "INSERT INTO calls (id, folio, channel, state, received_at, call_taker, callback_number, \
                            latitude, longitude, uncertainty_m, location_source, account, \
                            incident_id, incident_type_hint) \
         SELECT md5('surge-call' || i.folio)::uuid, 'C5/SURGE/' || i.folio, 'voice_911', \
                'linked', i.first_call_at, 'bench', t.caller, i.latitude, i.longitude, \
                i.uncertainty_m, 'device', 'first call', i.id, i.incident_type \
         FROM unnest($1::text[], $2::text[]) AS t(id, caller) \
              JOIN incidents i ON i.id = t.id::uuid",
        &[&ids, &callers],
    )
    .await
    .context("seeding the incidents' first calls")?;
    db.batch_execute("VACUUM ANALYZE").await?;
    Ok(())
}

/// A copy of the database `template` (which must have no connection open) named `name`.
async fn copy_database(
    cluster: &pg::PgCluster,
    template: &str,
    name: &str,
) -> anyhow::Result<String> {
    let admin = pg::connect(&cluster.url("postgres")).await?;
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    let mut attempt = 0;
    loop {
        // A connection just closed may linger a moment ("being accessed by other users").
        match admin
            .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .await
        {
            Ok(()) => return Ok(cluster.url(name)),
            Err(error) if attempt < 50 => {
                attempt += 1;
                let _ = error;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => {
                return Err(error).with_context(|| format!("copying {template} to {name}"));
            }
        }
    }
}

/// Latencies of one run.
#[derive(Debug)]
struct Timed {
    completed: usize,
    errors: usize,
    first_error: Option<String>,
    from_scheduled: Summary,
    from_send: Summary,
    /// From the arrival to the send: waiting for a free call taker.
    wait: Summary,
    /// From the start to the last answer.
    elapsed: Duration,
}

fn timed(outcomes: &[Outcome], scheduled: &[Instant], start: Instant) -> Timed {
    let mut from_scheduled = Samples::with_capacity(outcomes.len());
    let mut from_send = Samples::with_capacity(outcomes.len());
    let mut wait = Samples::with_capacity(outcomes.len());
    let mut errors = 0;
    let mut first_error = None;
    let mut last = start;
    for (outcome, &at) in outcomes.iter().zip(scheduled) {
        let (Some(sent), Some(done)) = (outcome.sent, outcome.done) else {
            errors += 1;
            continue;
        };
        last = last.max(done);
        if let Some(error) = &outcome.error {
            errors += 1;
            first_error.get_or_insert_with(|| error.clone());
            continue;
        }
        from_scheduled.push(done.saturating_duration_since(at));
        from_send.push(done - sent);
        wait.push(sent.saturating_duration_since(at));
    }
    Timed {
        completed: from_send.len(),
        errors,
        first_error,
        from_scheduled: from_scheduled.summary(),
        from_send: from_send.summary(),
        wait: wait.summary(),
        elapsed: last - start,
    }
}

/// How the surge's top suggestions compare with the quiet replay's.
#[derive(Debug, Default)]
struct Comparison {
    compared: usize,
    same: usize,
    same_none: usize,
    failed: usize,
    surge_only: usize,
    quiet_only: usize,
    /// Surge's top at rank k (index k - 2) of the quiet replay's list.
    lower: [usize; 4],
    elsewhere: usize,
    differing: Vec<usize>,
    /// Calls with a suggestion in either run, and how many of them have the same top.
    suggested: usize,
    suggested_same: usize,
    /// Same top, but its likelihood not the same (the local call rate differed).
    drifted: usize,
    max_drift: f64,
}

impl Comparison {
    fn differ(&self) -> usize {
        self.compared - self.same
    }

    fn share(&self) -> f64 {
        self.same as f64 / self.compared.max(1) as f64
    }
}

fn compare(surge: &[Outcome], quiet: &[Outcome]) -> Comparison {
    let mut c = Comparison::default();
    for (i, (s, q)) in surge.iter().zip(quiet).enumerate() {
        c.compared += 1;
        if s.error.is_some() || q.error.is_some() || s.done.is_none() || q.done.is_none() {
            c.failed += 1;
            c.differing.push(i);
            continue;
        }
        if s.top().is_some() || q.top().is_some() {
            c.suggested += 1;
        }
        match (s.top(), q.top()) {
            (a, b) if a == b => {
                c.same += 1;
                if a.is_none() {
                    c.same_none += 1;
                } else {
                    c.suggested_same += 1;
                    let drift = (s.candidates[0].1 - q.candidates[0].1).abs();
                    if drift > 1e-9 {
                        c.drifted += 1;
                        c.max_drift = c.max_drift.max(drift);
                    }
                }
                continue;
            }
            (Some(_), None) => c.surge_only += 1,
            (None, Some(_)) => c.quiet_only += 1,
            (Some(top), Some(_)) => match q.candidates.iter().position(|(name, _)| name == top) {
                Some(rank) if (1..=4).contains(&rank) => c.lower[rank - 1] += 1,
                _ => c.elsewhere += 1,
            },
            (None, None) => {}
        }
        c.differing.push(i);
    }
    c
}

/// "12.3" in "... 12.3 calls a day within 1000 m": the local rate the top suggestion used.
fn rate_of(explanation: &str) -> Option<f64> {
    let head = explanation.rsplit_once(" calls a day within")?.0;
    head.rsplit([' ', ','])
        .next()
        .and_then(|rate| rate.parse().ok())
}

/// For every call, the earlier calls (received before it) within the density radius whose
/// CreateCall had not returned when it was sent: ones its local call rate may have missed.
fn in_flight_nearby(calls: &[Planned], surge: &[Outcome], scheduled: &[Instant]) -> Vec<usize> {
    // No call answered later than this after its arrival.
    let horizon = surge
        .iter()
        .zip(scheduled)
        .filter_map(|(o, &at)| o.done.map(|done| done.saturating_duration_since(at)))
        .max()
        .unwrap_or_default();
    let mut counts = vec![0; calls.len()];
    for (i, (call, outcome)) in calls.iter().zip(surge).enumerate() {
        let Some(sent) = outcome.sent else { continue };
        for j in (0..i).rev() {
            // Arrivals are in order: once one arrived more than the horizon before this send,
            // it and every earlier call had answered.
            if sent.saturating_duration_since(scheduled[j]) > horizon {
                break;
            }
            let earlier = &calls[j];
            if surge[j].done.is_some_and(|done| done > sent)
                && distance_m(
                    (call.latitude, call.longitude),
                    (earlier.latitude, earlier.longitude),
                ) <= DENSITY_RADIUS_M
            {
                counts[i] += 1;
            }
        }
    }
    counts
}

fn folio_of<'a>(name: Option<&str>, folios: &'a HashMap<String, &'a str>) -> &'a str {
    match name {
        None => "none",
        Some(name) => folios.get(name).copied().unwrap_or("another incident"),
    }
}

pub async fn run(options: &Options, bench: Bench<'_>) -> anyhow::Result<()> {
    let Bench { cluster, report } = bench;
    let Scenario { incidents, calls } = scenario(options);
    let calls = Arc::new(calls);
    let offered = calls.len() as f64 / options.seconds.max(1.0);
    println!(
        "\n## 3b. Surge: {} calls in {:.0} s about {} open incidents from {} call takers, against a quiet replay of the same calls\n",
        calls.len(),
        options.seconds,
        incidents.len(),
        options.call_takers
    );
    let mut places = Vec::new();
    for (k, place) in HOT.iter().enumerate() {
        let n = incidents.iter().filter(|i| i.hot == Some(k)).count();
        let share = calls
            .iter()
            .filter(|c| incidents[c.incident].hot == Some(k))
            .count() as f64
            / calls.len().max(1) as f64;
        places.push(format!(
            "{n} around {} ({:.0} % of the calls)",
            place.name,
            share * 100.0
        ));
    }
    let spread = incidents.iter().filter(|i| i.hot.is_none()).count();
    let repeat = {
        let mut seen = std::collections::HashSet::new();
        calls
            .iter()
            .filter(|c| !seen.insert(c.callback_number.as_str()))
            .count()
    };
    println!(
        "Incidents (Mexico City, the demo's geography): {}, and {spread} over the 16 alcaldías by population; \
         each opened 3 to 45 min before with its first call. Calls ({offered:.1}/s offered, arrivals 70 % even \
         and 30 % in per-incident bursts) stand 15 to 400 m from their incident with a 5 to 500 m fix; 65 % give \
         the incident's type, 15 % a compatible one, 12 % none yet, 8 % another; {repeat} come from a number \
         that called before. Only CreateCall (nothing is linked). Open loop: each call goes at its arrival \
         time to the next free call taker (one HTTP/2 connection and one principal each); latency from the \
         arrival includes waiting for one. The quiet replay sends the same calls (same received times, new \
         request ids) one at a time from one call taker to a fresh copy of the same starting database.\n",
        places.join(", ")
    );

    // One seeded template, two copies: the surge's and the quiet replay's starting points.
    let template = "bench_surge_seed";
    let url = cluster.dispatch_database(template).await?;
    seed(&url, &incidents, SystemTime::now()).await?;
    let clock = CpuClock::new(cluster.root());

    let surge_url = copy_database(cluster, template, "bench_surge").await?;
    let server = Server::start(&surge_url).await?;
    let tokens = server
        .tokens(
            pb::Role::CallTaker,
            "bench-surge-call-taker",
            options.call_takers.max(1),
        )
        .await?;
    let cpu_before = clock.now();
    let (surge, queued, start, window_start) = surge_run(&server, &tokens, calls.clone()).await?;
    let surge_cpu = clock.now() - cpu_before;
    server.stop().await?;
    println!(
        "Received times from {} UTC (the duplicate model weighs the local call rate by the UTC hour).\n",
        window_start.format("%H:%M:%S")
    );
    let scheduled: Vec<Instant> = calls.iter().map(|c| start + c.offset).collect();
    let surge_timed = timed(&surge, &scheduled, start);

    let quiet_url = copy_database(cluster, template, "bench_surge_quiet").await?;
    let server = Server::start(&quiet_url).await?;
    let token = server
        .token(pb::Role::CallTaker, "bench-surge-quiet-call-taker")
        .await?;
    let quiet_start = Instant::now();
    let cpu_before = clock.now();
    let quiet = quiet_run(&server, &token, &calls, window_start).await?;
    let quiet_cpu = clock.now() - cpu_before;
    server.stop().await?;
    let sends: Vec<Instant> = quiet
        .iter()
        .map(|o| o.sent.unwrap_or(quiet_start))
        .collect();
    let quiet_timed = timed(&quiet, &sends, quiet_start);

    // Latency per 30-second slice of the arrival window.
    println!(
        "| slice s | calls | arrivals/s | p50 ms | p99 ms | max ms | p99 from send ms | arrived with all call takers busy | errors |"
    );
    println!(
        "|--------:|------:|-----------:|-------:|-------:|-------:|-----------------:|----------------------------------:|-------:|"
    );
    let slices = (options.seconds / SLICE.as_secs_f64()).ceil().max(1.0) as usize;
    let mut worst: Option<(usize, Summary, Summary)> = None;
    for slice in 0..slices {
        let mut from_scheduled = Samples::default();
        let mut from_send = Samples::default();
        let (mut arrivals, mut waited, mut errors) = (0, 0, 0);
        for (i, call) in calls.iter().enumerate() {
            let index = (call.offset.as_secs_f64() / SLICE.as_secs_f64()) as usize;
            if index.min(slices - 1) != slice {
                continue;
            }
            arrivals += 1;
            if queued[i] {
                waited += 1;
            }
            let outcome = &surge[i];
            match (outcome.sent, outcome.done, &outcome.error) {
                (Some(sent), Some(done), None) => {
                    from_scheduled.push(done.saturating_duration_since(scheduled[i]));
                    from_send.push(done - sent);
                }
                _ => errors += 1,
            }
        }
        let length = SLICE
            .as_secs_f64()
            .min(options.seconds - slice as f64 * SLICE.as_secs_f64());
        let (a, b) = (from_scheduled.summary(), from_send.summary());
        println!(
            "| {:>3}-{:<3} | {:>5} | {:>10.1} | {:>6.1} | {:>6.1} | {:>6.1} | {:>16.1} | {:>33} | {:>6} |",
            slice * 30,
            (slice + 1) * 30,
            arrivals,
            arrivals as f64 / length.max(1e-9),
            ms(a.p50),
            ms(a.p99),
            ms(a.max),
            ms(b.p99),
            waited,
            errors
        );
        if a.count > 0 && worst.is_none_or(|(_, w, _)| a.p99 > w.p99) {
            worst = Some((slice, a, b));
        }
    }
    println!();

    let comparison = compare(&surge, &quiet);
    let own_names: Vec<String> = incidents
        .iter()
        .map(|i| format!("incidents/{}", i.id))
        .collect();
    let folios: HashMap<String, &str> = incidents
        .iter()
        .zip(&own_names)
        .map(|(i, name)| (name.clone(), i.folio.as_str()))
        .collect();
    let suggestion_shares = |outcomes: &[Outcome]| {
        let n = outcomes.len().max(1) as f64;
        let with = outcomes.iter().filter(|o| o.top().is_some()).count() as f64 / n;
        let right = outcomes
            .iter()
            .zip(calls.iter())
            .filter(|(o, c)| o.top() == Some(own_names[c.incident].as_str()))
            .count() as f64
            / n;
        (with, right)
    };
    let (surge_with, surge_right) = suggestion_shares(&surge);
    let (quiet_with, quiet_right) = suggestion_shares(&quiet);
    println!(
        "| run | calls | errors | calls/s | p50 ms | p99 ms | max ms | CPU ms/call ours+PG | with a suggestion | top = its own incident |"
    );
    println!(
        "|---|------:|-------:|--------:|-------:|-------:|-------:|--------------------:|------------------:|-----------------------:|"
    );
    let per_call = |cpu: Cpu, n: usize| {
        let n = n.max(1) as f64;
        (
            (cpu.ours * 1e3 / n).max(0.0),
            (cpu.postgres * 1e3 / n).max(0.0),
        )
    };
    let (surge_ours, surge_pg) = per_call(surge_cpu, surge_timed.completed);
    let (quiet_ours, quiet_pg) = per_call(quiet_cpu, quiet_timed.completed);
    let rows = [
        (
            format!(
                "surge, {} call takers, open loop (from the arrival)",
                options.call_takers
            ),
            &surge_timed,
            surge_timed.from_scheduled,
            (surge_ours, surge_pg),
            (surge_with, surge_right),
        ),
        (
            "surge (from the send)".to_owned(),
            &surge_timed,
            surge_timed.from_send,
            (surge_ours, surge_pg),
            (surge_with, surge_right),
        ),
        (
            "quiet replay, 1 call taker, one at a time".to_owned(),
            &quiet_timed,
            quiet_timed.from_send,
            (quiet_ours, quiet_pg),
            (quiet_with, quiet_right),
        ),
    ];
    for (what, run, latency, (ours, pg), (with, right)) in rows {
        println!(
            "| {what} | {} | {} | {:.1} | {:.2} | {:.2} | {:.1} | {ours:.2}+{pg:.2} | {:.1} % | {:.1} % |",
            run.completed,
            run.errors,
            run.completed as f64 / run.elapsed.as_secs_f64().max(1e-9),
            ms(latency.p50),
            ms(latency.p99),
            ms(latency.max),
            with * 100.0,
            right * 100.0
        );
    }
    for (what, run) in [("surge", &surge_timed), ("quiet replay", &quiet_timed)] {
        if let Some(error) = &run.first_error {
            println!(
                "\n{what}: {} call(s) failed; the first: {error}",
                run.errors
            );
        }
    }
    println!(
        "\nWaiting for a free call taker: p99 {:.1} ms, max {:.1} ms.",
        ms(surge_timed.wait.p99),
        ms(surge_timed.wait.max)
    );

    let pending = in_flight_nearby(&calls, &surge, &scheduled);
    let exposed = pending.iter().filter(|&&n| n > 0).count();
    println!(
        "\nTop suggestion, surge against quiet replay: the same for {} of {} calls ({:.2} %; {} with none in both; \
         of the {} calls with a suggestion in either run, {} the same, {} of those with another likelihood, by \
         at most {:.4}). \
         Differing: {} — surge had one, the replay none: {}; the replay had one, surge none: {}; surge's top was \
         the replay's 2nd/3rd/4th/5th: {}/{}/{}/{}; elsewhere: {}; a call failed in either run: {}. \
         {} surge calls were sent while an earlier call within {:.0} m was still in flight (what their local \
         call rate may have missed).",
        comparison.same,
        comparison.compared,
        comparison.share() * 100.0,
        comparison.same_none,
        comparison.suggested,
        comparison.suggested_same,
        comparison.drifted,
        comparison.max_drift,
        comparison.differ(),
        comparison.surge_only,
        comparison.quiet_only,
        comparison.lower[0],
        comparison.lower[1],
        comparison.lower[2],
        comparison.lower[3],
        comparison.elsewhere,
        comparison.failed,
        exposed,
        DENSITY_RADIUS_M,
    );
    if !comparison.differing.is_empty() {
        println!(
            "\n| call | arrival s | about | surge top (likelihood, calls/day) | replay top (likelihood, calls/day) | earlier calls within 1 km in flight |"
        );
        println!("|---:|---:|---|---|---|---:|");
        for &i in comparison.differing.iter().take(10) {
            let describe = |o: &Outcome| match (&o.error, o.candidates.first()) {
                (Some(error), _) => format!("error: {error}"),
                (None, None) => "none".to_owned(),
                (None, Some((name, likelihood))) => format!(
                    "{} ({:.3}, {})",
                    folio_of(Some(name), &folios),
                    likelihood,
                    rate_of(&o.top_explanation).map_or("?".to_owned(), |r| format!("{r:.1}"))
                ),
            };
            println!(
                "| {i} | {:.3} | {} | {} | {} | {} |",
                calls[i].offset.as_secs_f64(),
                incidents[calls[i].incident].folio,
                describe(&surge[i]),
                describe(&quiet[i]),
                pending[i]
            );
        }
    }

    let (worst_slice, worst_p99, worst_send_p99) = worst.map_or((None, None, None), |(s, a, b)| {
        (Some(s as f64 * 30.0), Some(ms(a.p99)), Some(ms(b.p99)))
    });
    report.set("surge_calls", calls.len() as f64);
    report.set("surge_seconds", options.seconds);
    report.set("surge_incidents", incidents.len() as f64);
    report.set("surge_call_takers", options.call_takers as f64);
    report.set("surge_offered_per_s", offered);
    report.set(
        "surge_calls_per_s",
        surge_timed.completed as f64 / surge_timed.elapsed.as_secs_f64().max(1e-9),
    );
    report.set("surge_errors", surge_timed.errors as f64);
    report.set("surge_p50_ms", ms(surge_timed.from_scheduled.p50));
    report.set("surge_p99_ms", ms(surge_timed.from_scheduled.p99));
    report.set("surge_max_ms", ms(surge_timed.from_scheduled.max));
    report.set("surge_send_p50_ms", ms(surge_timed.from_send.p50));
    report.set("surge_send_p99_ms", ms(surge_timed.from_send.p99));
    report.set("surge_send_max_ms", ms(surge_timed.from_send.max));
    report.set("surge_wait_p99_ms", ms(surge_timed.wait.p99));
    report.set("surge_wait_max_ms", ms(surge_timed.wait.max));
    report.set("surge_worst_slice_p99_ms", worst_p99);
    report.set("surge_worst_slice_send_p99_ms", worst_send_p99);
    report.set("surge_worst_slice_start_s", worst_slice);
    report.set("surge_cpu_ms_ours", surge_ours);
    report.set("surge_cpu_ms_postgres", surge_pg);
    report.set("surge_quiet_p50_ms", ms(quiet_timed.from_send.p50));
    report.set("surge_quiet_p99_ms", ms(quiet_timed.from_send.p99));
    report.set("surge_quiet_errors", quiet_timed.errors as f64);
    report.set("surge_quiet_cpu_ms_ours", quiet_ours);
    report.set("surge_quiet_cpu_ms_postgres", quiet_pg);
    report.set("surge_same_top_share", comparison.share());
    report.set("surge_differing_calls", comparison.differ() as f64);
    report.set("surge_suggested_calls", comparison.suggested as f64);
    report.set("surge_suggested_same", comparison.suggested_same as f64);
    report.set(
        "surge_same_top_likelihood_drifted",
        comparison.drifted as f64,
    );
    report.set(
        "surge_queued_calls",
        queued.iter().filter(|&&q| q).count() as f64,
    );
    report.set("surge_differing_surge_only", comparison.surge_only as f64);
    report.set("surge_differing_quiet_only", comparison.quiet_only as f64);
    report.set("surge_with_suggestion_share", surge_with);
    report.set("surge_quiet_with_suggestion_share", quiet_with);
    report.set("surge_top_own_incident_share", surge_right);
    report.set("surge_quiet_top_own_incident_share", quiet_right);
    report.set("surge_calls_with_nearby_in_flight", exposed as f64);

    report.line(Line {
        what: format!(
            "Surge CreateCall p99, worst 30 s slice ({} calls / {:.0} s, {} call takers, from the arrival)",
            calls.len(),
            options.seconds,
            options.call_takers
        ),
        ours: show(worst_p99, "ms"),
        against: format!(
            "overall {}; quiet replay p99 {}",
            show(Some(ms(surge_timed.from_scheduled.p99)), "ms"),
            show(Some(ms(quiet_timed.from_send.p99)), "ms")
        ),
        target: "< 100 ms throughout".into(),
        met: worst_p99.map(|p99| p99 < 100.0 && surge_timed.errors == 0),
    });
    report.line(Line {
        what: "Surge: same top duplicate suggestion as a quiet replay".into(),
        ours: format!(
            "{:.2} % ({} differ)",
            comparison.share() * 100.0,
            comparison.differ()
        ),
        against: format!(
            "suggested: surge {:.1} %, replay {:.1} % of calls ({} of {} with one the same)",
            surge_with * 100.0,
            quiet_with * 100.0,
            comparison.suggested_same,
            comparison.suggested
        ),
        target: "100 %".into(),
        met: Some(comparison.differ() == 0),
    });

    for name in ["bench_surge", "bench_surge_quiet", template] {
        cluster.drop_database(name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            calls: 2_000,
            seconds: 60.0,
            incidents: 300,
            call_takers: 64,
            seed: 5,
        }
    }

    #[test]
    fn the_scenario_is_deterministic_and_ordered() {
        let (a, b) = (scenario(&options()), scenario(&options()));
        assert_eq!(a.incidents.len(), 300);
        assert_eq!(a.calls.len(), 2_000);
        for (x, y) in a.calls.iter().zip(&b.calls) {
            assert_eq!(x.offset, y.offset);
            assert_eq!(x.callback_number, y.callback_number);
            assert_eq!(x.latitude.to_bits(), y.latitude.to_bits());
        }
        assert!(a.calls.windows(2).all(|w| w[0].offset < w[1].offset));
        assert!(
            a.calls
                .last()
                .is_some_and(|c| c.offset <= Duration::from_secs(60))
        );
        // No pile-up: at most 1 % of the calls in any 100 ms.
        for w in a.calls.windows(20) {
            assert!(w[19].offset - w[0].offset > Duration::from_millis(100));
        }
        let hot = a.incidents.iter().filter(|i| i.hot.is_some()).count();
        assert_eq!(hot, 150);
    }

    #[test]
    fn calls_stand_near_their_incident() {
        let s = scenario(&options());
        let mut distances: Vec<f64> = s
            .calls
            .iter()
            .map(|c| {
                let i = &s.incidents[c.incident];
                distance_m((c.latitude, c.longitude), (i.latitude, i.longitude))
            })
            .collect();
        distances.sort_by(f64::total_cmp);
        let median = distances[distances.len() / 2];
        assert!((30.0..200.0).contains(&median), "{median}");
        assert!(distances[distances.len() * 99 / 100] < 1_000.0);
    }

    #[test]
    fn the_rate_is_read_from_the_explanation() {
        let text = "91 % likely the same: INC/1 is 120 m away (radius 350 m), 3 min old, latest \
                    call 1 min ago, same type, 1234.5 calls a day within 1000 m";
        assert_eq!(rate_of(text), Some(1234.5));
        assert_eq!(rate_of("no rate"), None);
    }
}
