//! Output: readable tables by default, the protobuf JSON mapping with `--json`, bare names with
//! `--quiet`, and the small formatting helpers the tables share.

use std::io::Write;
use std::sync::OnceLock;

use anyhow::Context as _;
use dispatch_proto::v1 as pb;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Tables and key/value blocks for people.
    Table,
    /// One JSON document per result (the protobuf JSON mapping of the response message).
    Json,
    /// Only the name of the main resource, for `X=$(dispatchctl ... -q)`.
    Name,
}

/// A protobuf message whose full name is known, so it can be printed as JSON.
pub trait Proto: prost::Message + Sized {
    const NAME: &'static str;
}

macro_rules! proto_names {
    ($($t:ident),* $(,)?) => {
        $(impl Proto for pb::$t {
            const NAME: &'static str = concat!("dispatch.v1.", stringify!($t));
        })*
    };
}

proto_names!(
    CreateOperationResponse,
    GetOperationResponse,
    ListOperationsResponse,
    StageUnitsResponse,
    StandDownOperationResponse,
    AddWatchOrderResponse,
    ListCamerasToWatchResponse,
    GetOperationReportResponse,
    ExportOpenDataResponse,
    GetIncidentEidoResponse,
    GetIntervalReportResponse,
    GetUtilizationReportResponse,
    GetDuplicateReportResponse,
    CreateCallResponse,
    GetCallResponse,
    ListCallsResponse,
    UpdateCallLocationResponse,
    LinkCallToIncidentResponse,
    OpenIncidentFromCallResponse,
    DisposeCallResponse,
    FindDuplicateCandidatesResponse,
    ListIncidentTypesResponse,
    GetIncidentTypeResponse,
    TriageIncidentResponse,
    GetIncidentResponse,
    ListIncidentsResponse,
    UpdateIncidentResponse,
    AddIncidentNoteResponse,
    ChangeIncidentStatusResponse,
    MergeIncidentsResponse,
    CloseIncidentResponse,
    CancelIncidentResponse,
    SetUnitStatusResponse,
    ReportPositionBatchResponse,
    RecommendUnitsResponse,
    GetRecommendationResponse,
    AssignUnitsResponse,
    ReleaseUnitResponse,
    ListUnitsResponse,
    NearestCamerasResponse,
    SuggestPartnersResponse,
    CreateReferralResponse,
    GetReferralResponse,
    ListReferralsResponse,
    AcceptReferralResponse,
    DeclineReferralResponse,
    UpdateReferralStatusResponse,
    ReaddressReferralResponse,
    RecordFollowUpResponse,
    ListFollowUpsResponse,
    CreateAgencyResponse,
    ListAgenciesResponse,
    CreateStationResponse,
    ListStationsResponse,
    CreateUnitResponse,
    GetUnitResponse,
    DecommissionUnitResponse,
    CreateCameraResponse,
    ListCamerasResponse,
    CreatePartnerAgencyResponse,
    GetPartnerAgencyResponse,
    ListPartnerAgenciesResponse,
    UpdatePartnerCapacityResponse,
    CreatePrincipalResponse,
    ListPrincipalsResponse,
    GetCurrentPrincipalResponse,
    UpdatePrincipalResponse,
    IssueCredentialResponse,
    RevokeCredentialResponse,
    ListCredentialsResponse,
    ListAuditRecordsResponse,
    WatchIncidentsResponse,
    WatchUnitsResponse,
    WatchReferralsResponse,
    GetHotSpotReportResponse,
);

pub(crate) fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        DescriptorPool::decode(dispatch_proto::FILE_DESCRIPTOR_SET).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| anyhow::anyhow!("the built-in descriptor set is invalid: {e}"))
}

/// `message` in the protobuf JSON mapping (lowerCamelCase fields, enum names, RFC 3339 times),
/// default values included so scripts see every field.
pub fn to_json<M: Proto>(message: &M) -> anyhow::Result<serde_json::Value> {
    let descriptor = pool()?
        .get_message_by_name(M::NAME)
        .with_context(|| format!("{} is not in the descriptor set", M::NAME))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .with_context(|| format!("re-decoding {}", M::NAME))?;
    let options = SerializeOptions::new().skip_default_fields(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .with_context(|| format!("serialising {}", M::NAME))
}

/// Writes `message` as one line of JSON.
pub fn write_json<M: Proto>(out: &mut dyn Write, message: &M) -> anyhow::Result<()> {
    let value = to_json(message)?;
    writeln!(out, "{}", serde_json::to_string(&value)?)?;
    Ok(())
}

/// A plain aligned table: a header row, columns two spaces apart, like `kubectl get`.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(headers: [&str; N]) -> Self {
        Self {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// A table whose headers are known only at run time.
    pub fn new_dynamic(headers: &[String]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// A table with a row of `cells` for each of `items`.
    pub fn of<T, const N: usize>(
        headers: [&str; N],
        items: impl IntoIterator<Item = T>,
        cells: impl FnMut(T) -> Vec<String>,
    ) -> Self {
        Self {
            rows: items.into_iter().map(cells).collect(),
            ..Self::new(headers)
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn write(&self, out: &mut dyn Write) -> std::io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = widths.get_mut(i) {
                    *w = (*w).max(width(cell));
                }
            }
        }
        let line = |out: &mut dyn Write, cells: &[String]| -> std::io::Result<()> {
            let mut text = String::new();
            for (i, cell) in cells.iter().enumerate() {
                if i + 1 == cells.len() {
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    let pad = widths.get(i).copied().unwrap_or(0) - width(cell) + 2;
                    text.extend(std::iter::repeat_n(' ', pad));
                }
            }
            writeln!(out, "{}", text.trim_end())
        };
        line(out, &self.headers)?;
        for row in &self.rows {
            line(out, row)?;
        }
        Ok(())
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// A key/value block: keys aligned, empty values left out.
pub fn write_fields(out: &mut dyn Write, fields: &[(&str, String)]) -> std::io::Result<()> {
    let key_width = fields
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| width(k))
        .max()
        .unwrap_or(0);
    for (key, value) in fields {
        if value.is_empty() {
            continue;
        }
        let pad = key_width - width(key);
        writeln!(out, "{key}:{} {value}", " ".repeat(pad))?;
    }
    Ok(())
}

/// "a=1,b=2": each key with its count, in the map's order.
pub fn counts<K: std::fmt::Display>(counts: &std::collections::BTreeMap<K, u64>) -> String {
    counts
        .iter()
        .map(|(key, n)| format!("{key}={n}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The short, lower-case, dashed form of an enum value name: `CALL_CHANNEL_VOICE_911` with
/// prefix `CALL_CHANNEL_` gives `voice-911`.
pub fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix)
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace('_', "-")
}

/// Every wire enum the CLI names, once: its short-name function and its prefix. The `parsed`
/// ones are also read from the command line (`parse.rs`); the `shown` ones are only printed.
macro_rules! wire_enums {
    ($with:ident) => {
        $with! {
            parsed: [
                channel: pb::CallChannel => "CALL_CHANNEL_",
                call_state: pb::CallState => "CALL_STATE_",
                disposition: pb::CallDisposition => "CALL_DISPOSITION_",
                incident_status: pb::IncidentStatus => "INCIDENT_STATUS_",
                closing_code: pb::ClosingCode => "CLOSING_CODE_",
                unit_type: pb::UnitType => "UNIT_TYPE_",
                unit_status: pb::UnitStatus => "UNIT_STATUS_",
                location_source: pb::LocationSource => "LOCATION_SOURCE_",
                agency_kind: pb::AgencyKind => "AGENCY_KIND_",
                device_kind: pb::DeviceKind => "DEVICE_KIND_",
                partner_kind: pb::PartnerKind => "PARTNER_KIND_",
                need: pb::ReferralNeed => "REFERRAL_NEED_",
                referral_status: pb::ReferralStatus => "REFERRAL_STATUS_",
                follow_up_status: pb::FollowUpStatus => "FOLLOW_UP_STATUS_",
                follow_up_outcome: pb::FollowUpOutcome => "FOLLOW_UP_OUTCOME_",
                age_range: pb::AgeRange => "AGE_RANGE_",
                role: pb::Role => "ROLE_",
                category: pb::IncidentCategory => "INCIDENT_CATEGORY_",
                report_dimension: pb::ReportDimension => "REPORT_DIMENSION_",
            ],
            shown: [
                level: pb::DeterminantLevel => "DETERMINANT_LEVEL_",
                assignment_status: pb::AssignmentStatus => "ASSIGNMENT_STATUS_",
                timeline_kind: pb::TimelineEntryKind => "TIMELINE_ENTRY_KIND_",
                unit_event_kind: pb::UnitEventKind => "UNIT_EVENT_KIND_",
                referral_entry_kind: pb::ReferralHistoryEntryKind => "REFERRAL_HISTORY_ENTRY_KIND_",
                question_kind: pb::QuestionKind => "QUESTION_KIND_",
                discipline: pb::Discipline => "DISCIPLINE_",
                audit_action: pb::AuditAction => "AUDIT_ACTION_",
                audit_outcome: pb::AuditOutcome => "AUDIT_OUTCOME_",
                interval_kind: pb::IntervalKind => "INTERVAL_KIND_",
            ],
        }
    };
}
pub(crate) use wire_enums;

macro_rules! enum_shows {
    (
        parsed: [$($fn:ident: $ty:ty => $prefix:literal),* $(,)?],
        shown: [$($more_fn:ident: $more_ty:ty => $more_prefix:literal),* $(,)?] $(,)?
    ) => {
        $(enum_shows!(@one $fn: $ty => $prefix);)*
        $(enum_shows!(@one $more_fn: $more_ty => $more_prefix);)*
    };
    (@one $fn:ident: $ty:ty => $prefix:literal) => {
        /// The short name of a wire enum value (its number if unknown).
        pub fn $fn(value: i32) -> String {
            <$ty>::try_from(value)
                .map(|v| short(v.as_str_name(), $prefix))
                .unwrap_or_else(|_| value.to_string())
        }
    };
}

wire_enums!(enum_shows);

/// A coded outcome and its detail, "duplicate incidents/…"; empty while the code is unset.
pub fn coded(code: i32, name: fn(i32) -> String, detail: &str) -> String {
    if code == 0 {
        String::new()
    } else {
        format!("{} {detail}", name(code)).trim_end().to_owned()
    }
}

/// A timestamp as UTC RFC 3339 to the second; empty when unset.
pub fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.and_then(|t| chrono::DateTime::from_timestamp(t.seconds, 0))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// A duration for people: "45 s", "12 min", "3 h 5 min".
pub fn duration(d: Option<&prost_types::Duration>) -> String {
    d.map(|d| seconds(d.seconds)).unwrap_or_default()
}

pub fn seconds(s: i64) -> String {
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min", s / 60)
    } else {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    }
}

/// Metres for people: "350 m", "2.4 km".
pub fn metres(m: f64) -> String {
    if m < 1000.0 {
        format!("{m:.0} m")
    } else {
        format!("{:.1} km", m / 1000.0)
    }
}

pub fn point(p: Option<&pb::GeoPoint>) -> String {
    p.map(|p| format!("{:.5},{:.5}", p.latitude, p.longitude))
        .unwrap_or_default()
}

pub fn location(l: Option<&pb::Location>) -> String {
    let Some(l) = l else {
        return String::new();
    };
    let mut text = format!(
        "{} ±{} ({})",
        point(l.point.as_ref()),
        metres(l.uncertainty_m),
        location_source(l.source)
    );
    if !l.civic_address.is_empty() {
        text.push_str(", ");
        text.push_str(&l.civic_address);
    }
    text
}

/// Cuts `text` to at most `max` characters, with an ellipsis.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

pub fn list(items: impl IntoIterator<Item = String>) -> String {
    items.into_iter().collect::<Vec<_>>().join(",")
}

/// A plan as "als=1,patrol=2".
pub fn plan(plan: Option<&pb::ResponsePlan>) -> String {
    plan.map(|p| {
        list(
            p.requirements
                .iter()
                .map(|r| format!("{}={}", r.capability, r.count)),
        )
    })
    .unwrap_or_default()
}

/// A progress bar on stderr; drawn only on a terminal.
pub fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(len),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) = indicatif::ProgressStyle::with_template(&format!(
        "{{spinner}} {{bar:40}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}} left) {{msg}}"
    )) {
        bar.set_style(style);
    }
    bar
}
