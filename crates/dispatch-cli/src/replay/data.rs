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

    /// The time zone the data's clock is written in: a bare date in `--from`/`--to` is a day
    /// of that calendar.
    pub fn time_zone(self) -> Tz {
        match self {
            Self::C5 => chrono_tz::America::Mexico_City,
            Self::Sf => chrono_tz::America::Los_Angeles,
            Self::Montgomery => chrono_tz::America::New_York,
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
#[derive(Debug, Clone, Default)]
pub struct Row {
    /// Position in replay order (by received time).
    pub index: usize,
    /// The data's own id (C5 folio, SF call number, ...).
    pub key: String,
    pub received: DateTime<Utc>,
    pub lat: f64,
    pub lon: f64,
    pub channel: pb::CallChannel,
    /// The data's channel when the replay does not know it and chose `channel` as the nearest.
    pub channel_mapped_from: Option<String>,
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
    /// Units the data says were sent (SF), in the data's dispatch order.
    pub units: Vec<SentUnit>,
    /// The data's station area (SF).
    pub station_area: String,
    /// The data's own incident number (SF), which says which calls were one emergency.
    pub incident_number: String,
}

/// A unit the data says was sent to a call, with the times the data gives for it.
#[derive(Debug, Clone, Default)]
pub struct SentUnit {
    /// The data's unit id: "E32", "T3", "85".
    pub id: String,
    /// The data's unit type: ENGINE, TRUCK, MEDIC, ...
    pub kind: String,
    pub als: bool,
    /// The data's "Unit sequence in call dispatch" (1 = sent first).
    pub sequence: u32,
    pub dispatched: Option<DateTime<Utc>>,
    pub en_route: Option<DateTime<Utc>>,
    pub on_scene: Option<DateTime<Utc>>,
    /// Transport DtTm: left the scene with a patient.
    pub transporting: Option<DateTime<Utc>>,
    /// Hospital DtTm: arrived at the hospital.
    pub at_hospital: Option<DateTime<Utc>>,
    pub available: Option<DateTime<Utc>>,
}

impl SentUnit {
    /// The station an engine or truck belongs to: San Francisco numbers them after it (E32
    /// and T3 are stations 32 and 3's).
    pub fn home_station(&self) -> Option<u32> {
        if !matches!(self.kind.as_str(), "ENGINE" | "TRUCK") {
            return None;
        }
        let digits = self.id.strip_prefix(['E', 'T'])?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    }

    /// Real travel: en route to on scene, when the data has both in that order.
    pub fn travel(&self) -> Option<Duration> {
        (self.on_scene? - self.en_route?)
            .to_std()
            .ok()
            .filter(|d| !d.is_zero())
    }
}

/// A `--from`/`--to` bound: an RFC 3339 time, or a date (its midnight in `tz`, the data's
/// calendar).
pub fn instant(flag: &str, text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .and_then(|midnight| tz.from_local_datetime(&midnight).earliest())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| {
            format!(
                "{flag} {text:?}: say a date like 2020-08-01 (midnight in {tz}, the data's clock) or an RFC 3339 time like 2020-08-01T00:00:00-05:00"
            )
        })
}

/// A row of the file the replay could not use, or read differently from how it is written.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Note {
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// What reading a file made of its rows, so that a replay accounts for every one.
#[derive(Debug, Default, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Quality {
    /// Data rows in the file (the header not counted).
    pub rows_in_file: usize,
    /// Rows not replayed, each with why.
    pub skipped: Vec<Note>,
    /// Rows that add a unit to a call an earlier row started (SF: one row per unit sent).
    pub merged: usize,
    /// Calls read but left out by --limit.
    pub beyond_limit: usize,
    /// Rows replayed with a time read differently from how it is written, each with why.
    pub times_adjusted: Vec<Note>,
}

impl Quality {
    fn skip(&mut self, line: u64, reason: impl Into<String>) {
        self.skipped.push(Note {
            line,
            reason: reason.into(),
        });
    }

    /// The time and place `read` made of the row at `line`; `None` when it could not (the row
    /// is skipped with why). A time read differently from how it is written gets a note.
    fn placed<P>(
        &mut self,
        line: u64,
        read: Result<(ReadTime, P), String>,
    ) -> Option<(DateTime<Utc>, P)> {
        match read {
            Ok(((time, adjusted), place)) => {
                if let Some(reason) = adjusted {
                    self.times_adjusted.push(Note { line, reason });
                }
                Some((time, place))
            }
            Err(reason) => {
                self.skip(line, reason);
                None
            }
        }
    }

    /// A record the CSV reader could not read (bad UTF-8, say) is skipped; an I/O error ends
    /// the read.
    fn unreadable(&mut self, error: csv::Error) -> anyhow::Result<()> {
        if matches!(error.kind(), csv::ErrorKind::Io(_)) {
            return Err(error.into());
        }
        self.rows_in_file += 1;
        let line = error.position().map_or(0, csv::Position::line);
        self.skip(line, format!("unreadable: {error}"));
        Ok(())
    }
}

/// The rows of a file, in replay order, and what reading it made of every row.
#[derive(Debug)]
pub struct Data {
    pub rows: Vec<Row>,
    pub quality: Quality,
}

pub fn read(dataset: Dataset, path: &Path, limit: Option<usize>) -> anyhow::Result<Data> {
    let mut file = File::open(dataset, path)?;
    let mut rows = match dataset {
        Dataset::C5 => read_c5(&mut file)?,
        Dataset::Sf => read_sf(&mut file)?,
        Dataset::Montgomery => read_montgomery(&mut file)?,
    };
    let mut quality = file.quality;
    rows.sort_by_key(|r| r.received);
    if dataset == Dataset::Sf {
        // A call of an incident an earlier call already started duplicates it.
        let mut seen = std::collections::HashSet::new();
        for row in &mut rows {
            row.duplicate_in_data = Some(!seen.insert(row.incident_number.clone()));
        }
    }
    if let Some(limit) = limit {
        quality.beyond_limit = rows.len().saturating_sub(limit);
        rows.truncate(limit);
    }
    for (i, row) in rows.iter_mut().enumerate() {
        row.index = i;
    }
    quality.skipped.sort_by_key(|n| n.line);
    quality.times_adjusted.sort_by_key(|n| n.line);
    Ok(Data { rows, quality })
}

/// A data set's file being read: its records, its header, and what reading made of its rows
/// so far.
struct File<'a> {
    dataset: Dataset,
    path: &'a Path,
    reader: csv::Reader<std::fs::File>,
    headers: csv::StringRecord,
    quality: Quality,
}

impl<'a> File<'a> {
    fn open(dataset: Dataset, path: &'a Path) -> anyhow::Result<Self> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_path(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let headers = reader.headers()?.clone();
        Ok(Self {
            dataset,
            path,
            reader,
            headers,
            quality: Quality::default(),
        })
    }

    /// The position of the column `name`.
    fn column(&self, name: &str) -> anyhow::Result<usize> {
        self.headers
            .iter()
            .position(|h| h.trim() == name)
            .with_context(|| {
                format!(
                    "{} has no column {name:?}: is it the {} data set?",
                    self.path.display(),
                    self.dataset.label()
                )
            })
    }

    /// The positions of the columns `names`, in that order.
    fn columns<const N: usize>(&self, names: [&str; N]) -> anyhow::Result<[usize; N]> {
        let mut positions = [0; N];
        for (position, name) in positions.iter_mut().zip(names) {
            *position = self.column(name)?;
        }
        Ok(positions)
    }

    /// Hands every data row to `each`, counted in the quality; a record the CSV reader cannot
    /// read is counted and skipped, an I/O error ends the read.
    fn for_each_record(
        &mut self,
        mut each: impl FnMut(&mut Quality, &Record),
    ) -> anyhow::Result<()> {
        for record in self.reader.records() {
            let fields = match record {
                Ok(fields) => fields,
                Err(error) => {
                    self.quality.unreadable(error)?;
                    continue;
                }
            };
            self.quality.rows_in_file += 1;
            let line = fields.position().map_or(0, csv::Position::line);
            each(&mut self.quality, &Record { line, fields });
        }
        Ok(())
    }
}

/// A data row of the file: its line (the header is line 1) and its fields.
struct Record {
    line: u64,
    fields: csv::StringRecord,
}

impl Record {
    /// The field in column `i` (empty when the row is short).
    fn get(&self, i: usize) -> &str {
        self.fields.get(i).unwrap_or_default()
    }
}

/// A time as read from the file, and a note when it had to be read differently from how it is
/// written.
type ReadTime = (DateTime<Utc>, Option<String>);

/// A local time of `tz` written as `format`, and a note when it had to be read differently.
/// A time in the hour skipped when the clocks went forward (it does not exist) is read with
/// the offset in force just before: the writer's clock had not moved yet. A time in the hour
/// repeated when they went back is the first of the two.
fn local(tz: Tz, column: &str, text: &str, format: &str) -> Result<ReadTime, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{column} is empty"));
    }
    let naive = NaiveDateTime::parse_from_str(text, format).map_err(|_| {
        let example = chrono::NaiveDate::from_ymd_opt(2020, 6, 15)
            .and_then(|day| day.and_hms_opt(13, 45, 0))
            .map(|t| t.format(format).to_string())
            .unwrap_or_default();
        format!("{column} {text:?} is not a date and time like {example:?}")
    })?;
    if let Some(t) = tz.from_local_datetime(&naive).earliest() {
        return Ok((t.with_timezone(&Utc), None));
    }
    let after_gap = tz
        .from_local_datetime(&(naive + chrono::Duration::hours(1)))
        .earliest()
        .ok_or_else(|| format!("{column} {text:?} does not exist in {tz}"))?;
    Ok((
        after_gap.with_timezone(&Utc),
        Some(format!(
            "{column} {text:?} does not exist in {tz} (the clocks went forward): read as {}",
            after_gap.format("%Y-%m-%d %H:%M:%S %:z")
        )),
    ))
}

/// A row's time, written `%Y-%m-%d %H:%M:%S` in `tz`, and its point; each `(column, text)`,
/// the column named in the reason a row is skipped.
fn time_and_point(
    tz: Tz,
    time: (&str, &str),
    lat: (&str, &str),
    lon: (&str, &str),
) -> Result<(ReadTime, (f64, f64)), String> {
    let time = local(tz, time.0, time.1, "%Y-%m-%d %H:%M:%S")?;
    let point = (
        coordinate(lat.0, lat.1, 90.0)?,
        coordinate(lon.0, lon.1, 180.0)?,
    );
    Ok((time, point))
}

/// A coordinate of `column`, within `-limit..=limit`.
fn coordinate(column: &str, text: &str, limit: f64) -> Result<f64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("{column} is empty"));
    }
    let value = number(text).ok_or_else(|| format!("{column} {text:?} is not a number"))?;
    if value.abs() > limit {
        return Err(format!("{column} {value} is outside -{limit}..{limit}"));
    }
    Ok(value)
}

fn number(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A stable number in [0, 1) for a row, for the few answers the data does not say.
fn chance(key: &str, salt: &str) -> f64 {
    crate::demo::city::Rng::for_name(0x5eed, &format!("{salt}/{key}")).unit()
}

fn read_c5(file: &mut File<'_>) -> anyhow::Result<Vec<Row>> {
    let [folio, alcaldia, kind, entry, class, code, created, lat, lon] = file.columns([
        "folio",
        "alcaldia_inicio",
        "incidente_c4",
        "tipo_entrada",
        "clasificacion",
        "codigo_cierre",
        "creado",
        "lat",
        "lon",
    ])?;
    let mut rows = Vec::new();
    file.for_each_record(|quality, record| {
        let get = |i: usize| record.get(i);
        let read = time_and_point(
            chrono_tz::America::Mexico_City,
            ("creado", get(created)),
            ("lat", get(lat)),
            ("lon", get(lon)),
        );
        let Some((received, (lat, lon))) = quality.placed(record.line, read) else {
            return;
        };
        let key = get(folio).to_owned();
        let (channel, channel_mapped_from) = c5_channel(get(entry));
        let (source, uncertainty_m) = channel_location(channel);
        let (incident_type, answers) = c5_type(get(kind), &key);
        let closing_code = get(code).trim().to_owned();
        rows.push(Row {
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
            channel_mapped_from,
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
            ..Row::default()
        });
    })?;
    Ok(rows)
}

/// C5's `tipo_entrada` as a channel, and the data's own name when the replay does not know it:
/// other years' files name channels this one does not (ZELLO, a push-to-talk radio app), and
/// those are mapped to the nearest channel by what their name says, never dropped.
fn c5_channel(entry: &str) -> (pb::CallChannel, Option<String>) {
    use pb::CallChannel as C;
    let entry = entry.trim();
    let known = match entry {
        "LLAMADA DEL 911" => Some(C::Voice911),
        "LLAMADA APP911" => Some(C::App911),
        "BOTÓN DE AUXILIO" => Some(C::PanicButton),
        "CÁMARA" => Some(C::Camera),
        "RADIO" => Some(C::Radio),
        "REDES" => Some(C::SocialMedia),
        "APLICATIVOS" => Some(C::PartnerApp),
        _ => None,
    };
    match known {
        Some(channel) => (channel, None),
        None => (nearest_channel(entry), Some(entry.to_owned())),
    }
}

/// The inverse of [`c5_channel`]: a channel as C5's `tipo_entrada` spells it. The seven C5
/// names for the channels C5 has; for the others, a name [`nearest_channel`] reads back as the
/// same channel (the open-data export writes these, and its round trip replays them).
pub fn c5_entry(channel: pb::CallChannel) -> &'static str {
    use pb::CallChannel as C;
    match channel {
        C::Voice911 | C::Unspecified => "LLAMADA DEL 911",
        C::App911 => "LLAMADA APP911",
        C::PanicButton => "BOTÓN DE AUXILIO",
        C::Camera => "CÁMARA",
        C::Radio => "RADIO",
        C::SocialMedia => "REDES",
        C::PartnerApp => "APLICATIVOS",
        C::WomensLine => "LÍNEA MUJERES *765",
        C::PlateReader => "LECTOR DE PLACAS",
        C::AlarmCompany => "EMPRESA DE ALARMAS",
        C::Text => "SMS",
    }
}

/// The channel an unknown intake name most likely means, by the words in it; a plain 911 call
/// when nothing in it says otherwise.
pub fn nearest_channel(name: &str) -> pb::CallChannel {
    use pb::CallChannel as C;
    let plain: String = name
        .to_uppercase()
        .chars()
        .map(|c| match c {
            'Á' => 'A',
            'É' => 'E',
            'Í' => 'I',
            'Ó' => 'O',
            'Ú' | 'Ü' => 'U',
            c => c,
        })
        .collect();
    let has = |words: &[&str]| words.iter().any(|w| plain.contains(w));
    if has(&["ZELLO", "RADIO", "PTT", "TETRA", "WALKIE", "FRECUENCIA"]) {
        C::Radio
    } else if has(&["765", "MUJER"]) {
        C::WomensLine
    } else if has(&["BOTON", "PANICO", "AUXILIO"]) {
        C::PanicButton
    } else if has(&["CAMARA", "VIDEO", "MONITOREO", "CCTV"]) {
        C::Camera
    } else if has(&["LECTOR", "PLACA", "LPR"]) {
        C::PlateReader
    } else if has(&["ALARMA"]) {
        C::AlarmCompany
    } else if has(&[
        "REDES",
        "TWITTER",
        "FACEBOOK",
        "WHATSAPP",
        "TELEGRAM",
        "INSTAGRAM",
        "TIKTOK",
    ]) {
        C::SocialMedia
    } else if has(&["SMS", "TEXTO", "MENSAJE", "CHAT"]) {
        C::Text
    } else if has(&["APP"]) && has(&["911"]) {
        C::App911
    } else if has(&["APLICA", "APP"]) {
        C::PartnerApp
    } else {
        C::Voice911
    }
}

/// The channel's name without its prefix: "RADIO".
pub fn channel_name(channel: pb::CallChannel) -> &'static str {
    let name = channel.as_str_name();
    name.strip_prefix("CALL_CHANNEL_").unwrap_or(name)
}

/// Where the caller's location comes from on a channel, and how uncertain it is (metres).
fn channel_location(channel: pb::CallChannel) -> (pb::LocationSource, f64) {
    use pb::CallChannel as C;
    use pb::LocationSource as S;
    match channel {
        C::App911 => (S::Device, 15.0),
        C::PanicButton | C::Camera | C::PlateReader => (S::FixedDevice, 30.0),
        C::Radio => (S::Dispatcher, 50.0),
        C::SocialMedia | C::Text => (S::CallerDescribed, 300.0),
        C::PartnerApp => (S::Device, 30.0),
        C::Voice911 | C::WomensLine | C::AlarmCompany | C::Unspecified => {
            (S::CallerDescribed, 50.0)
        }
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

/// The inverse of [`c5_type`]: a catalogue type as C5's `incidente_c4` names it, one of the
/// names in C5's own data that [`c5_type`] reads back as the same type. `None` for a type C5's
/// road-incident data has no name for (the export then writes the catalogue's name).
pub fn c5_kind(incident_type: &str) -> Option<&'static str> {
    Some(match incident_type {
        "TRAFFIC-COLLISION" => "accidente-choque sin lesionados",
        "TRAFFIC-INJURY" => "accidente-choque con lesionados",
        "TRAFFIC-TRAPPED" => "accidente-choque con prensados",
        "TRAFFIC-PEDESTRIAN" => "lesionado-atropellado",
        "TRAFFIC-MOTORCYCLE" => "accidente-motociclista",
        "TRAFFIC-CYCLIST" => "accidente-ciclista",
        "TRAFFIC-ROLLOVER" => "accidente-volcadura",
        "TRAFFIC-DROP" => "accidente-vehiculo desbarrancado",
        "TRAFFIC-FATALITY" => "cadáver-accidente automovilístico",
        _ => return None,
    })
}

fn read_sf(file: &mut File<'_>) -> anyhow::Result<Vec<Row>> {
    let [
        call_number,
        incident_number,
        unit_id,
        call_type,
        received,
        dispatch,
        response,
        on_scene,
        transport,
        hospital,
        available,
        disposition,
        group,
        station_area,
        unit_type,
        als,
        sequence,
        location,
        address,
    ] = file.columns([
        "Call Number",
        "Incident Number",
        "Unit ID",
        "Call Type",
        "Received DtTm",
        "Dispatch DtTm",
        "Response DtTm",
        "On Scene DtTm",
        "Transport DtTm",
        "Hospital DtTm",
        "Available DtTm",
        "Call Final Disposition",
        "Call Type Group",
        "Station Area",
        "Unit Type",
        "ALS Unit",
        "Unit sequence in call dispatch",
        "Location",
        "Address",
    ])?;
    let format = "%m/%d/%Y %I:%M:%S %p";
    let tz = chrono_tz::America::Los_Angeles;
    let time = |text: &str| local(tz, "", text, format).ok().map(|(t, _)| t);
    let mut calls: std::collections::HashMap<String, (Row, Vec<Duration>)> =
        std::collections::HashMap::new();
    file.for_each_record(|quality, record| {
        let get = |i: usize| record.get(i);
        let key = get(call_number).to_owned();
        let unit = SentUnit {
            id: get(unit_id).to_owned(),
            kind: get(unit_type).to_owned(),
            als: get(als).eq_ignore_ascii_case("true"),
            sequence: get(sequence).trim().parse().unwrap_or(u32::MAX),
            dispatched: time(get(dispatch)),
            en_route: time(get(response)),
            on_scene: time(get(on_scene)),
            transporting: time(get(transport)),
            at_hospital: time(get(hospital)),
            available: time(get(available)),
        };
        let scene = [unit.on_scene, unit.dispatched]
            .into_iter()
            .find_map(|start| {
                let (start, end) = (start?, unit.available?);
                (end > start).then(|| (end - start).to_std().ok()).flatten()
            });
        if let Some((row, scenes)) = calls.get_mut(&key) {
            row.units.push(unit);
            scenes.extend(scene);
            quality.merged += 1;
            return;
        }
        if key.trim().is_empty() {
            quality.skip(record.line, "Call Number is empty");
            return;
        }
        let read = local(tz, "Received DtTm", get(received), format).and_then(|time| {
            let point = sf_point(get(location)).ok_or_else(|| {
                format!(
                    "Location {:?} is not a point like \"(37.77, -122.42)\"",
                    get(location)
                )
            })?;
            Ok((time, point))
        });
        let Some((received, (lat, lon))) = quality.placed(record.line, read) else {
            return;
        };
        let (incident_type, answers) = sf_type(get(call_type), get(group));
        let row = Row {
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
            closing: match get(disposition) {
                "No Merit" | "Unable to Locate" | "Gone on Arrival" | "Cancelled" => {
                    pb::ClosingCode::Negative
                }
                _ => pb::ClosingCode::Confirmed,
            },
            units: vec![unit],
            station_area: get(station_area).to_owned(),
            incident_number: get(incident_number).to_owned(),
            ..Row::default()
        };
        calls.insert(key, (row, scene.into_iter().collect()));
    })?;
    Ok(calls
        .into_values()
        .map(|(mut row, mut scenes)| {
            scenes.sort();
            row.scene = scenes.get(scenes.len() / 2).copied();
            row.units.sort_by_key(|u| (u.sequence, u.dispatched));
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

fn read_montgomery(file: &mut File<'_>) -> anyhow::Result<Vec<Row>> {
    let [lat, lng, title, time, twp, addr] =
        file.columns(["lat", "lng", "title", "timeStamp", "twp", "addr"])?;
    let mut rows = Vec::new();
    file.for_each_record(|quality, record| {
        // The file has no id of its own: its row number (counting unreadable rows) is one.
        let index = quality.rows_in_file - 1;
        let get = |i: usize| record.get(i);
        let read = time_and_point(
            chrono_tz::America::New_York,
            ("timeStamp", get(time)),
            ("lat", get(lat)),
            ("lng", get(lng)),
        );
        let Some((received, (lat, lon))) = quality.placed(record.line, read) else {
            return;
        };
        let (incident_type, answers) = montgomery_type(get(title));
        rows.push(Row {
            key: format!("MC-{index}"),
            account: format!("{} at {}, {}", get(title), get(addr), get(twp)),
            received,
            lat,
            lon,
            channel: pb::CallChannel::Voice911,
            source: pb::LocationSource::CallerDescribed,
            uncertainty_m: 75.0,
            incident_type,
            answers,
            closing: pb::ClosingCode::Confirmed,
            ..Row::default()
        });
    })?;
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
        let (t, adjusted) = local(
            chrono_tz::America::Mexico_City,
            "creado",
            "2020-06-15 12:00:00",
            "%Y-%m-%d %H:%M:%S",
        )
        .expect("a time");
        assert_eq!(adjusted, None);
        // Mexico City kept daylight saving time in 2020: UTC-5 in June.
        assert_eq!(t.to_rfc3339(), "2020-06-15T17:00:00+00:00");
    }

    #[test]
    fn a_time_the_clocks_skipped_is_read_not_dropped() {
        // Mexico City went to daylight time at 02:00 on 2020-04-05: 02:30 never happened.
        let (t, adjusted) = local(
            chrono_tz::America::Mexico_City,
            "creado",
            "2020-04-05 02:30:00",
            "%Y-%m-%d %H:%M:%S",
        )
        .expect("read");
        assert_eq!(t.to_rfc3339(), "2020-04-05T08:30:00+00:00");
        assert!(adjusted.expect("a note").contains("clocks went forward"));
        let bad = local(
            chrono_tz::America::Mexico_City,
            "creado",
            "2020-02-30 10:00:00",
            "%Y-%m-%d %H:%M:%S",
        )
        .expect_err("no such day");
        assert_eq!(
            bad,
            "creado \"2020-02-30 10:00:00\" is not a date and time like \"2020-06-15 13:45:00\""
        );
        assert_eq!(coordinate("lat", " ", 90.0), Err("lat is empty".into()));
        assert_eq!(
            coordinate("lat", "91.5", 90.0),
            Err("lat 91.5 is outside -90..90".into())
        );
    }

    #[test]
    fn window_bounds_are_days_of_the_data_or_exact_times() {
        let tz = chrono_tz::America::Los_Angeles;
        assert_eq!(
            instant("--from", "2020-04-14", tz).map(|t| t.to_rfc3339()),
            Ok("2020-04-14T07:00:00+00:00".into())
        );
        assert_eq!(
            instant("--to", "2020-04-21T00:00:00Z", tz).map(|t| t.to_rfc3339()),
            Ok("2020-04-21T00:00:00+00:00".into())
        );
        let bad = instant("--from", "14/04/2020", tz).expect_err("not a date");
        assert!(bad.starts_with("--from \"14/04/2020\""), "{bad}");
        let engine = SentUnit {
            id: "E32".into(),
            kind: "ENGINE".into(),
            ..SentUnit::default()
        };
        assert_eq!(engine.home_station(), Some(32));
        let medic = SentUnit {
            id: "85".into(),
            kind: "MEDIC".into(),
            ..SentUnit::default()
        };
        assert_eq!(medic.home_station(), None);
    }

    #[test]
    fn unknown_channels_map_to_the_nearest_one() {
        use pb::CallChannel as C;
        assert_eq!(c5_channel("RADIO"), (C::Radio, None));
        assert_eq!(c5_channel("LLAMADA DEL 911"), (C::Voice911, None));
        assert_eq!(c5_channel("ZELLO"), (C::Radio, Some("ZELLO".into())));
        for (name, channel) in [
            ("Zello", C::Radio),
            ("LÍNEA MUJERES *765", C::WomensLine),
            ("BOTON DE PANICO", C::PanicButton),
            ("CAMARA C2", C::Camera),
            ("WHATSAPP", C::SocialMedia),
            ("SMS", C::Text),
            ("APP 911", C::App911),
            ("APLICACIONES", C::PartnerApp),
            ("ALARMA VECINAL", C::AlarmCompany),
            ("LLAMADA 089", C::Voice911),
            ("", C::Voice911),
        ] {
            assert_eq!(nearest_channel(name), channel, "{name}");
        }
        assert_eq!(channel_name(C::Radio), "RADIO");
        // The export's names read back as the channel they were written for.
        for channel in [
            C::Voice911,
            C::App911,
            C::PanicButton,
            C::Camera,
            C::Radio,
            C::SocialMedia,
            C::WomensLine,
            C::PlateReader,
            C::AlarmCompany,
            C::Text,
            C::PartnerApp,
        ] {
            assert_eq!(c5_channel(c5_entry(channel)).0, channel, "{channel:?}");
        }
        // The seven C5 names are written as C5 writes them (read back with no mapping).
        for entry in [
            "LLAMADA DEL 911",
            "LLAMADA APP911",
            "BOTÓN DE AUXILIO",
            "CÁMARA",
            "RADIO",
            "REDES",
            "APLICATIVOS",
        ] {
            let (channel, mapped) = c5_channel(entry);
            assert_eq!((c5_entry(channel), mapped), (entry, None));
        }
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
        // Every traffic type of the shipped catalogue has a C5 name that reads back as it.
        let catalogue = dispatch_domain::triage::Catalogue::from_toml(include_str!(
            "../../../../catalogue/incident_types.toml"
        ))
        .expect("the shipped catalogue");
        let traffic: Vec<_> = catalogue
            .types()
            .filter(|t| t.category == dispatch_domain::triage::Category::Traffic)
            .collect();
        assert!(traffic.len() >= 9);
        for t in traffic {
            let written = c5_kind(&t.code).expect(&t.code);
            assert_eq!(c5_type(written, "x").0, t.code);
        }
        assert_eq!(c5_kind("MED-STROKE"), None);
        // Every name C5's 2020 data uses maps to a type whose C5 name maps back to it.
        for kind in [
            "accidente-choque con lesionados",
            "accidente-choque con prensados",
            "accidente-choque sin lesionados",
            "accidente-ciclista",
            "accidente-motociclista",
            "accidente-otros",
            "accidente-persona atrapada / desbarrancada",
            "accidente-vehiculo desbarrancado",
            "accidente-vehículo atrapado-varado",
            "accidente-volcadura",
            "cadáver-accidente automovilístico",
            "cadáver-atropellado",
            "detención ciudadana-accidente automovilístico",
            "detención ciudadana-atropellado",
            "lesionado-atropellado",
            "mi ciudad-calle-incidente de tránsito",
            "mi ciudad-taxi-incidente de tránsito",
            "sismo-choque con lesionados",
            "sismo-persona atropellada",
        ] {
            let incident_type = c5_type(kind, "x").0;
            let written = c5_kind(incident_type).expect(incident_type);
            assert_eq!(c5_type(written, "x").0, incident_type, "{kind}");
        }
        assert_eq!(
            sf_point("(37.73217458500619, -122.42779351441527)"),
            Some((37.73217458500619, -122.42779351441527))
        );
    }
}
