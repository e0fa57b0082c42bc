//! The three data sets, each read through a small column mapping into the same shape: one
//! call with its time, place, channel, an incident type of the catalogue with the answers a
//! call taker would have got, and what the data says happened.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use chrono::{DateTime, NaiveDateTime, TimeZone as _, Utc};
use chrono_tz::Tz;
use dispatch_proto::v1 as pb;

/// An answer the data implies, overriding the replay's defaults.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Yes(bool),
    Choice(&'static str),
}

/// A data set the replay knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Dataset {
    /// Mexico City C5 road incidents, 2020 (replays on the demo city).
    C5,
    /// San Francisco Fire Department calls for service, April 2020 (its own fleet).
    Sf,
    /// Montgomery County (PA) 911 dispatches, December 2015 (a synthetic fleet).
    Montgomery,
}

impl Dataset {
    pub fn file_name(self) -> &'static str {
        match self {
            Self::C5 => "c5_incidentes_viales_2020.csv",
            Self::Sf => "sf_fire_calls_2020-04.csv",
            Self::Montgomery => "montgomery_pa_911_2015-12.csv",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::C5 => "c5",
            Self::Sf => "sf",
            Self::Montgomery => "montgomery",
        }
    }
}

/// One call to replay.
#[derive(Debug, Clone)]
pub struct Row {
    /// Position in replay order (by received time).
    pub index: usize,
    /// The data's own id (C5 folio, SF call number, ...).
    pub key: String,
    pub received: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    pub channel: pb::CallChannel,
    pub source: pb::LocationSource,
    pub uncertainty_m: f64,
    pub account: String,
    pub incident_type: &'static str,
    pub answers: Vec<(&'static str, Answer)>,
    /// Whether the data says this report duplicated another (C5's closing code D).
    pub duplicate_in_data: Option<bool>,
    /// How the incident it opens is closed.
    pub closing: pb::ClosingCode,
    /// Time on scene the data implies (SF), if any.
    pub scene: Option<Duration>,
    /// Units the data says were sent (SF): (unit id, unit type, ALS).
    pub units: Vec<(String, String, bool)>,
    /// The data's station area (SF).
    pub station_area: String,
}

pub fn read(dataset: Dataset, path: &Path, limit: Option<usize>) -> anyhow::Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("opening {}", path.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| -> anyhow::Result<usize> {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!(
                    "{} has no column {name:?}: is it the {} data set?",
                    path.display(),
                    dataset.label()
                )
            })
    };
    let mut rows = match dataset {
        Dataset::C5 => read_c5(&mut reader, &column)?,
        Dataset::Sf => read_sf(&mut reader, &column)?,
        Dataset::Montgomery => read_montgomery(&mut reader, &column)?,
    };
    rows.sort_by_key(|r| r.received);
    if let Some(limit) = limit {
        rows.truncate(limit);
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row.index = i;
    }
    Ok(rows)
}

type Reader = csv::Reader<std::fs::File>;

fn local(tz: Tz, text: &str, format: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), format).ok()?;
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A stable number in [0, 1) for a row, for the few answers the data does not say.
fn chance(key: &str, salt: &str) -> f64 {
    crate::demo::city::Rng::for_name(0x5eed, &format!("{salt}/{key}")).unit()
}

fn read_c5(
    reader: &mut Reader,
    column: &dyn Fn(&str) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<Row>> {
    let folio = column("folio")?;
    let alcaldia = column("alcaldia_inicio")?;
    let kind = column("incidente_c4")?;
    let entry = column("tipo_entrada")?;
    let class = column("clasificacion")?;
    let code = column("codigo_cierre")?;
    let created = column("creado")?;
    let lat = column("lat")?;
    let lon = column("lon")?;
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let get = |i: usize| record.get(i).unwrap_or_default();
        let (Some(received), Some(lat), Some(lon)) = (
            local(
                chrono_tz::America::Mexico_City,
                get(created),
                "%Y-%m-%d %H:%M:%S",
            ),
            number(get(lat)),
            number(get(lon)),
        ) else {
            continue;
        };
        let key = get(folio).to_owned();
        let (channel, source, uncertainty_m) = c5_channel(get(entry));
        let (incident_type, answers) = c5_type(get(kind), &key);
        let closing_code = get(code).trim().to_owned();
        rows.push(Row {
            index: 0,
            account: format!(
                "{}: {} ({}), {}, {}",
                key,
                get(kind),
                get(alcaldia),
                get(entry),
                get(class)
            ),
            key,
            received,
            lat,
            lon,
            channel,
            source,
            uncertainty_m,
            incident_type,
            answers,
            duplicate_in_data: Some(closing_code == "D"),
            closing: match closing_code.as_str() {
                "N" => pb::ClosingCode::Negative,
                "F" => pb::ClosingCode::False,
                "I" => pb::ClosingCode::Informative,
                _ => pb::ClosingCode::Confirmed,
            },
            scene: None,
            units: Vec::new(),
            station_area: String::new(),
        });
    }
    Ok(rows)
}

fn c5_channel(entry: &str) -> (pb::CallChannel, pb::LocationSource, f64) {
    use pb::CallChannel as C;
    use pb::LocationSource as S;
    match entry.trim() {
        "LLAMADA APP911" => (C::App911, S::Device, 15.0),
        "BOTÓN DE AUXILIO" => (C::PanicButton, S::FixedDevice, 30.0),
        "CÁMARA" => (C::Camera, S::FixedDevice, 30.0),
        "RADIO" => (C::Radio, S::Dispatcher, 50.0),
        "REDES" => (C::SocialMedia, S::CallerDescribed, 300.0),
        "APLICATIVOS" => (C::PartnerApp, S::Device, 30.0),
        _ => (C::Voice911, S::CallerDescribed, 50.0),
    }
}

/// C5's `incidente_c4` as a catalogue type, with what its name says about the answers.
fn c5_type(kind: &str, key: &str) -> (&'static str, Vec<(&'static str, Answer)>) {
    use Answer::Yes;
    let kind = kind.trim().to_lowercase();
    // About one injured person in seven is not alert: those get an ALS unit.
    let unconscious = chance(key, "alert") < 0.15;
    if kind.starts_with("cadáver") || kind.starts_with("cadaver") {
        return (
            "TRAFFIC-FATALITY",
            vec![("death_certain", Yes(true)), ("others_injured", Yes(false))],
        );
    }
    if kind.contains("prensados") || kind.contains("persona atrapada") {
        return ("TRAFFIC-TRAPPED", vec![("fire", Yes(false))]);
    }
    if kind.contains("desbarrancado") {
        return (
            "TRAFFIC-DROP",
            vec![("into_water", Yes(false)), ("people_inside", Yes(true))],
        );
    }
    if kind.contains("volcadura") {
        let inside = chance(key, "inside") < 0.3;
        return (
            "TRAFFIC-ROLLOVER",
            vec![
                ("people_inside", Yes(inside)),
                ("all_alert", Yes(!unconscious)),
            ],
        );
    }
    if kind.contains("atropellad") {
        return (
            "TRAFFIC-PEDESTRIAN",
            vec![("under_vehicle", Yes(false)), ("alert", Yes(!unconscious))],
        );
    }
    if kind.contains("motociclista") {
        return (
            "TRAFFIC-MOTORCYCLE",
            vec![
                ("alert", Yes(!unconscious)),
                ("thrown_or_under", Yes(false)),
            ],
        );
    }
    if kind.contains("ciclista") {
        return (
            "TRAFFIC-CYCLIST",
            vec![
                ("alert", Yes(!unconscious)),
                ("head_injury", Yes(false)),
                ("under_vehicle", Yes(false)),
            ],
        );
    }
    if kind.contains("con lesionados") {
        return (
            "TRAFFIC-INJURY",
            vec![("all_alert", Yes(!unconscious)), ("fire", Yes(false))],
        );
    }
    if kind.contains("varado") {
        return ("TRAFFIC-COLLISION", vec![("blocking", Yes(true))]);
    }
    (
        "TRAFFIC-COLLISION",
        vec![("anyone_hurt", Yes(false)), ("fuel_leak", Yes(false))],
    )
}

fn read_sf(
    reader: &mut Reader,
    column: &dyn Fn(&str) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<Row>> {
    let call_number = column("Call Number")?;
    let unit_id = column("Unit ID")?;
    let call_type = column("Call Type")?;
    let received = column("Received DtTm")?;
    let dispatch = column("Dispatch DtTm")?;
    let on_scene = column("On Scene DtTm")?;
    let available = column("Available DtTm")?;
    let disposition = column("Call Final Disposition")?;
    let group = column("Call Type Group")?;
    let station_area = column("Station Area")?;
    let unit_type = column("Unit Type")?;
    let als = column("ALS Unit")?;
    let location = column("Location")?;
    let address = column("Address")?;
    let format = "%m/%d/%Y %I:%M:%S %p";
    let tz = chrono_tz::America::Los_Angeles;
    let mut calls: std::collections::HashMap<String, (Row, Vec<Duration>)> =
        std::collections::HashMap::new();
    for record in reader.records() {
        let record = record?;
        let get = |i: usize| record.get(i).unwrap_or_default();
        let key = get(call_number).to_owned();
        let unit = (
            get(unit_id).to_owned(),
            get(unit_type).to_owned(),
            get(als).eq_ignore_ascii_case("true"),
        );
        let scene = match (
            local(tz, get(on_scene), format),
            local(tz, get(available), format),
        ) {
            (Some(start), Some(end)) if end > start => (end - start).to_std().ok(),
            _ => match (
                local(tz, get(dispatch), format),
                local(tz, get(available), format),
            ) {
                (Some(start), Some(end)) if end > start => (end - start).to_std().ok(),
                _ => None,
            },
        };
        if let Some((row, scenes)) = calls.get_mut(&key) {
            row.units.push(unit);
            scenes.extend(scene);
            continue;
        }
        let Some(received) = local(tz, get(received), format) else {
            continue;
        };
        let Some((lat, lon)) = sf_point(get(location)) else {
            continue;
        };
        let (incident_type, answers) = sf_type(get(call_type), get(group));
        let row = Row {
            index: 0,
            account: format!(
                "SF {key}: {} at {} ({})",
                get(call_type),
                get(address),
                get(group)
            ),
            key: key.clone(),
            received,
            lat,
            lon,
            channel: pb::CallChannel::Voice911,
            source: pb::LocationSource::CallerDescribed,
            uncertainty_m: 30.0,
            incident_type,
            answers,
            duplicate_in_data: None,
            closing: match get(disposition) {
                "No Merit" | "Unable to Locate" | "Gone on Arrival" | "Cancelled" => {
                    pb::ClosingCode::Negative
                }
                _ => pb::ClosingCode::Confirmed,
            },
            scene: None,
            units: vec![unit],
            station_area: get(station_area).to_owned(),
        };
        calls.insert(key, (row, scene.into_iter().collect()));
    }
    Ok(calls
        .into_values()
        .map(|(mut row, mut scenes)| {
            scenes.sort();
            row.scene = scenes.get(scenes.len() / 2).copied();
            row
        })
        .collect())
}

/// "(37.73, -122.42)".
pub fn sf_point(text: &str) -> Option<(f64, f64)> {
    let inner = text.trim().trim_start_matches('(').trim_end_matches(')');
    let (lat, lon) = inner.split_once(',')?;
    Some((number(lat)?, number(lon)?))
}

fn sf_type(call_type: &str, group: &str) -> (&'static str, Vec<(&'static str, Answer)>) {
    use Answer::{Choice, Yes};
    let life_threat = group == "Potentially Life-Threatening";
    match call_type {
        "Medical Incident" => ("MED-SICK", vec![("alert", Yes(!life_threat))]),
        "Alarms" => (
            "FIRE-ALARM",
            vec![
                ("signs_of_fire", Yes(false)),
                ("building", Choice("commercial")),
            ],
        ),
        "Structure Fire" => (
            "FIRE-STRUCTURE",
            vec![
                ("people_trapped", Yes(false)),
                ("flames_visible", Yes(false)),
                ("building", Choice("apartment")),
            ],
        ),
        "Traffic Collision" => (
            "TRAFFIC-INJURY",
            vec![("all_alert", Yes(!life_threat)), ("fire", Yes(false))],
        ),
        "Outside Fire" => ("FIRE-WILDLAND", vec![("size", Choice("small"))]),
        "Gas Leak (Natural and LP Gases)" => ("FIRE-GAS-LEAK", vec![("source", Choice("unknown"))]),
        "Water Rescue" => ("RESCUE-WATER", vec![("in_water_now", Yes(true))]),
        "Smoke Investigation (Outside)" => ("FIRE-SMOKE", vec![("inside_building", Yes(false))]),
        "Vehicle Fire" => (
            "FIRE-VEHICLE",
            vec![("vehicle", Choice("car")), ("people_inside", Yes(false))],
        ),
        "Electrical Hazard" => ("HAZARD-ELECTRICAL", Vec::new()),
        "Odor (Strange / Unknown)" => ("HAZMAT-UNKNOWN", Vec::new()),
        "Fuel Spill" => ("HAZMAT-SPILL", vec![("volume", Choice("small"))]),
        _ => ("UNKNOWN-PROBLEM", Vec::new()),
    }
}

fn read_montgomery(
    reader: &mut Reader,
    column: &dyn Fn(&str) -> anyhow::Result<usize>,
) -> anyhow::Result<Vec<Row>> {
    let lat = column("lat")?;
    let lng = column("lng")?;
    let title = column("title")?;
    let time = column("timeStamp")?;
    let twp = column("twp")?;
    let addr = column("addr")?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record?;
        let get = |i: usize| record.get(i).unwrap_or_default();
        let (Some(received), Some(lat), Some(lon)) = (
            local(chrono_tz::America::New_York, get(time), "%Y-%m-%d %H:%M:%S"),
            number(get(lat)),
            number(get(lng)),
        ) else {
            continue;
        };
        let (incident_type, answers) = montgomery_type(get(title));
        rows.push(Row {
            index: 0,
            key: format!("MC-{i}"),
            account: format!("{} at {}, {}", get(title), get(addr), get(twp)),
            received,
            lat,
            lon,
            channel: pb::CallChannel::Voice911,
            source: pb::LocationSource::CallerDescribed,
            uncertainty_m: 75.0,
            incident_type,
            answers,
            duplicate_in_data: None,
            closing: pb::ClosingCode::Confirmed,
            scene: None,
            units: Vec::new(),
            station_area: String::new(),
        });
    }
    Ok(rows)
}

fn montgomery_type(title: &str) -> (&'static str, Vec<(&'static str, Answer)>) {
    use Answer::{Choice, Yes};
    let (discipline, nature) = title.split_once(':').unwrap_or(("", title));
    let nature = nature.trim().trim_end_matches('-').trim();
    let has = |word: &str| nature.contains(word);
    match discipline.trim() {
        "Traffic" => {
            if has("FIRE") {
                (
                    "FIRE-VEHICLE",
                    vec![("vehicle", Choice("car")), ("people_inside", Yes(false))],
                )
            } else if has("LEAKING FUEL") {
                ("TRAFFIC-COLLISION", vec![("fuel_leak", Yes(true))])
            } else if has("DISABLED") || has("OBSTRUCTION") || has("HAZARDOUS") || has("DEBRIS") {
                (
                    "TRAFFIC-COLLISION",
                    vec![("anyone_hurt", Yes(false)), ("blocking", Yes(true))],
                )
            } else {
                ("TRAFFIC-COLLISION", vec![("anyone_hurt", Yes(false))])
            }
        }
        "Fire" => {
            if has("FIRE ALARM") {
                ("FIRE-ALARM", vec![("signs_of_fire", Yes(false))])
            } else if has("VEHICLE ACCIDENT") {
                ("TRAFFIC-COLLISION", vec![("anyone_hurt", Yes(false))])
            } else if has("GAS") {
                ("FIRE-GAS-LEAK", vec![("source", Choice("unknown"))])
            } else if has("BUILDING FIRE") {
                ("FIRE-STRUCTURE", vec![("building", Choice("house"))])
            } else if has("CARBON MONOXIDE") {
                ("HAZMAT-LEAK", Vec::new())
            } else if has("VEHICLE FIRE") {
                ("FIRE-VEHICLE", vec![("vehicle", Choice("car"))])
            } else if has("WOODS") || has("FIELD") || has("BRUSH") {
                ("FIRE-WILDLAND", vec![("size", Choice("small"))])
            } else if has("ELECTRICAL") {
                ("HAZARD-ELECTRICAL", Vec::new())
            } else if has("LEAKING FUEL") || has("FLUIDS") {
                ("HAZMAT-SPILL", vec![("volume", Choice("small"))])
            } else if has("RESCUE") || has("SPECIAL SERVICE") || has("POLICE") || has("HELICOPTER")
            {
                ("UNKNOWN-PROBLEM", Vec::new())
            } else {
                ("FIRE-SMOKE", vec![("inside_building", Yes(false))])
            }
        }
        _ => {
            if has("CARDIAC") {
                ("MED-CHEST-PAIN", Vec::new())
            } else if has("RESPIRATORY") || has("CHOKING") {
                ("MED-BREATHING", Vec::new())
            } else if has("FALL") {
                ("MED-FALL", Vec::new())
            } else if has("VEHICLE ACCIDENT") {
                ("TRAFFIC-INJURY", Vec::new())
            } else if has("SEIZURE") {
                ("MED-SEIZURE", vec![("still_seizing", Yes(false))])
            } else if has("UNCONSCIOUS") || has("UNRESPONSIVE") || has("SYNCOPAL") {
                ("MED-UNCONSCIOUS", Vec::new())
            } else if has("STROKE") || has("CVA") {
                ("MED-STROKE", vec![("onset", Choice("unknown"))])
            } else if has("OVERDOSE") {
                ("MED-OVERDOSE", vec![("substance", Choice("unknown"))])
            } else if has("DIABETIC") {
                ("MED-DIABETIC", Vec::new())
            } else if has("HEMORRHAG") || has("LACERATION") || has("STABBING") {
                ("MED-HEMORRHAGE", vec![("severity", Choice("minor"))])
            } else if has("ALLERGIC") {
                ("MED-ALLERGIC", Vec::new())
            } else if has("ASSAULT") {
                (
                    "CRIME-ASSAULT",
                    vec![("ongoing", Yes(false)), ("weapon", Choice("unknown"))],
                )
            } else if has("MATERNITY") {
                ("MED-CHILDBIRTH", Vec::new())
            } else if has("BUILDING FIRE") {
                ("FIRE-STRUCTURE", vec![("building", Choice("house"))])
            } else {
                ("MED-SICK", Vec::new())
            }
        }
    }
}

/// Questions whose "yes" is the normal, unremarkable answer (the patient is alert and
/// breathing): answered yes unless the data says otherwise. Every other yes/no question
/// defaults to no.
const NORMAL_YES: [&str; 7] = [
    "alert",
    "all_alert",
    "breathing",
    "breathing_normally",
    "awake_now",
    "full_sentences",
    "behaving_normally",
];

/// The answers to a protocol: the data's where it has one, otherwise an unremarkable default
/// for every required question ("unknown" or "other" for choices when offered).
pub fn answers(protocol: &pb::Protocol, given: &[(&'static str, Answer)]) -> Vec<pb::TriageAnswer> {
    use pb::triage_answer::Value;
    let mut out = Vec::new();
    for q in &protocol.questions {
        let kind = pb::QuestionKind::try_from(q.kind).unwrap_or(pb::QuestionKind::Unspecified);
        let value = match given.iter().find(|(id, _)| *id == q.id).map(|(_, a)| a) {
            Some(Answer::Yes(b)) if kind == pb::QuestionKind::YesNo => Some(Value::YesNo(*b)),
            Some(Answer::Choice(c))
                if kind == pb::QuestionKind::Choice && q.choices.iter().any(|x| x == c) =>
            {
                Some(Value::Choice((*c).to_owned()))
            }
            _ if !q.required => None,
            _ => match kind {
                pb::QuestionKind::YesNo => Some(Value::YesNo(NORMAL_YES.contains(&q.id.as_str()))),
                pb::QuestionKind::Choice => ["unknown", "other"]
                    .iter()
                    .find(|c| q.choices.iter().any(|x| x == *c))
                    .map(|c| (*c).to_owned())
                    .or_else(|| q.choices.first().cloned())
                    .map(Value::Choice),
                pb::QuestionKind::Number => Some(Value::Number(
                    q.min.unwrap_or(1.0).max(1.0).min(q.max.unwrap_or(f64::MAX)),
                )),
                pb::QuestionKind::Unspecified => None,
            },
        };
        if let Some(value) = value {
            out.push(pb::TriageAnswer {
                question_id: q.id.clone(),
                value: Some(value),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c5_times_are_mexico_city_local() {
        let t = local(
            chrono_tz::America::Mexico_City,
            "2020-06-15 12:00:00",
            "%Y-%m-%d %H:%M:%S",
        )
        .unwrap();
        // Mexico City kept daylight saving time in 2020: UTC-5 in June.
        assert_eq!(t.to_rfc3339(), "2020-06-15T17:00:00+00:00");
    }

    #[test]
    fn c5_kinds_map_to_catalogue_types() {
        assert_eq!(
            c5_type("accidente-choque sin lesionados", "x").0,
            "TRAFFIC-COLLISION"
        );
        assert_eq!(
            c5_type("accidente-choque con lesionados", "x").0,
            "TRAFFIC-INJURY"
        );
        assert_eq!(
            c5_type("lesionado-atropellado", "x").0,
            "TRAFFIC-PEDESTRIAN"
        );
        assert_eq!(c5_type("cadáver-atropellado", "x").0, "TRAFFIC-FATALITY");
        assert_eq!(
            c5_type("accidente-choque con prensados", "x").0,
            "TRAFFIC-TRAPPED"
        );
        assert_eq!(
            sf_point("(37.73217458500619, -122.42779351441527)"),
            Some((37.73217458500619, -122.42779351441527))
        );
    }
}
