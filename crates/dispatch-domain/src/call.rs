//! A call: one report from one channel, before or after it joins an incident.

use chrono::{DateTime, Duration, Utc};

/// Kept here for callers that name it by its old place; the rule belongs to every text field.
pub use crate::error::check_length;
use crate::ids::{CallId, IncidentId, OperationId};
use crate::location::Location;
use crate::{Error, Violations};

pub const MAX_ACCOUNT_CHARS: usize = 8_000;
pub const MAX_CALLER_NAME_CHARS: usize = 200;
pub const MAX_NOTE_CHARS: usize = 4_000;
pub const MAX_DEVICE_ID_CHARS: usize = 128;
pub const MAX_TYPE_CODE_CHARS: usize = 64;

/// How far ahead of the server's clock a gateway's timestamp may be (clock skew).
pub const MAX_CLOCK_SKEW: Duration = Duration::seconds(60);

text_enum! {
    /// Where a report came from (C5's `tipo_entrada`).
    pub enum Channel {
        Voice911 => "voice_911",
        App911 => "app_911",
        PanicButton => "panic_button",
        Camera => "camera",
        Radio => "radio",
        SocialMedia => "social_media",
        /// Mexico City's *765 women's line.
        WomensLine => "womens_line",
        PlateReader => "plate_reader",
        AlarmCompany => "alarm_company",
        Text => "text",
        PartnerApp => "partner_app",
    }
}

text_enum! {
    pub enum CallState {
        /// Taken, not yet part of an incident.
        Open => "open",
        Linked => "linked",
        /// Closed without an incident.
        Disposed => "disposed",
    }
}

text_enum! {
    /// Why a call never became an incident. Most calls to 911 are not emergencies.
    pub enum Disposition {
        HangUp => "hang_up",
        Prank => "prank",
        Misdial => "misdial",
        InformationRequest => "information_request",
        NonEmergencyReferred => "non_emergency_referred",
        Test => "test",
        Abandoned => "abandoned",
        Other => "other",
    }
}

/// A callback number: E.164 (`+525555555555`) or a local short form of digits, `*` and `#`
/// (`*765`, `089`). Spaces, dashes, dots and parentheses are accepted and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackNumber(String);

impl CallbackNumber {
    pub fn parse(text: &str) -> Result<Self, String> {
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let valid = if let Some(digits) = compact.strip_prefix('+') {
            (7..=15).contains(&digits.len())
                && digits.chars().all(|c| c.is_ascii_digit())
                && !digits.starts_with('0')
        } else {
            (2..=15).contains(&compact.len())
                && compact
                    .chars()
                    .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        };
        if valid {
            Ok(Self(compact))
        } else {
            Err(format!(
                "must be E.164 (+ then 7 to 15 digits) or a local number of 2 to 15 digits, * \
                 or #, got {:?}",
                text.chars().take(40).collect::<String>()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated request to record a call.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCall {
    pub channel: Channel,
    pub received_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub back_entered: bool,
    pub callback_number: Option<CallbackNumber>,
    pub caller_name: String,
    pub language: String,
    pub location: Location,
    pub account: String,
    pub incident_type_hint: String,
    pub source_device_id: String,
}

/// A validated request to open a new incident from an open call, at the call's location.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFromCall {
    pub call: CallId,
    /// The incident's type; `None` takes the call's hint, if it has one.
    pub incident_type: Option<String>,
    /// The incident's summary; empty takes the call taker's account of the call.
    pub summary: String,
    pub expected_version: Option<i64>,
}

/// The raw parts of a call as they arrive, before validation.
#[derive(Debug, Clone)]
pub struct CallDraft {
    pub channel: Option<Channel>,
    pub received_at: Option<DateTime<Utc>>,
    pub answered_at: Option<DateTime<Utc>>,
    pub back_entered: bool,
    pub callback_number: String,
    pub caller_name: String,
    pub language: String,
    pub location: Result<Location, Violations>,
    pub account: String,
    pub incident_type_hint: String,
    pub source_device_id: String,
}

impl CallDraft {
    /// Validates every field at once; `now` is the server's clock.
    pub fn validate(self, now: DateTime<Utc>) -> Result<NewCall, Violations> {
        let mut violations = Violations::new();
        if self.channel.is_none() {
            violations.add("channel", "required: the channel the report came from");
        }
        let received_at = self.received_at.unwrap_or(now);
        if received_at > now + MAX_CLOCK_SKEW {
            violations.add("received_time", "is in the future");
        }
        if let Some(answered_at) = self.answered_at {
            if answered_at < received_at {
                violations.add("answered_time", "is before received_time");
            }
            if answered_at > now + MAX_CLOCK_SKEW {
                violations.add("answered_time", "is in the future");
            }
        }
        // A back-entered call is one taken on paper: it must say when it really came in.
        if self.back_entered && self.received_at.is_none() {
            violations.add(
                "received_time",
                "required for a back-entered call: the original time",
            );
        }
        let callback_number = if self.callback_number.is_empty() {
            None
        } else {
            match CallbackNumber::parse(&self.callback_number) {
                Ok(number) => Some(number),
                Err(message) => {
                    violations.add("callback_number", message);
                    None
                }
            }
        };
        check_length(
            &mut violations,
            "caller_name",
            &self.caller_name,
            MAX_CALLER_NAME_CHARS,
        );
        if !is_language_tag(&self.language) {
            violations.add("language", "must be a BCP 47 language tag such as es-MX");
        }
        check_length(&mut violations, "account", &self.account, MAX_ACCOUNT_CHARS);
        if !self.incident_type_hint.is_empty() && !is_type_code(&self.incident_type_hint) {
            violations.add(
                "incident_type_hint",
                "must be an incident type code: A-Z, 0-9, '_' or '-', at most 64",
            );
        }
        check_length(
            &mut violations,
            "source_device_id",
            &self.source_device_id,
            MAX_DEVICE_ID_CHARS,
        );
        let location = violations.collect(self.location.map_err(|v| v.within("location")));
        match (self.channel, location) {
            (Some(channel), Some(location)) if violations.is_empty() => Ok(NewCall {
                channel,
                received_at,
                answered_at: self.answered_at,
                back_entered: self.back_entered,
                callback_number,
                caller_name: self.caller_name,
                language: self.language,
                location,
                account: self.account,
                incident_type_hint: self.incident_type_hint,
                source_device_id: self.source_device_id,
            }),
            _ => Err(violations),
        }
    }
}

/// Empty, or a BCP 47-shaped tag (`es`, `es-MX`, `nah`, `zh-Hant-TW`).
pub fn is_language_tag(text: &str) -> bool {
    text.is_empty()
        || (text.len() <= 35
            && text.split('-').enumerate().all(|(i, part)| {
                let len_ok = if i == 0 {
                    (2..=3).contains(&part.len())
                } else {
                    (1..=8).contains(&part.len())
                };
                len_ok && part.chars().all(|c| c.is_ascii_alphanumeric())
            }))
}

/// Incident type codes as the catalogue writes them (`MVAINJY`, `TRAFFIC-COLLISION`).
pub fn is_type_code(text: &str) -> bool {
    (1..=MAX_TYPE_CODE_CHARS).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A recorded call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: CallId,
    pub folio: String,
    pub state: CallState,
    pub call_taker: String,
    pub incident: Option<IncidentId>,
    pub disposition: Option<Disposition>,
    pub disposition_note: String,
    pub details: NewCall,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    /// The planned operation whose zones the call came in inside while it was in force.
    pub operation: Option<OperationId>,
}

impl Call {
    /// A location update is for a caller still being handled.
    pub fn check_can_update_location(&self) -> Result<(), Error> {
        match self.state {
            CallState::Open | CallState::Linked => Ok(()),
            CallState::Disposed => Err(self.wrong_state("update its location")),
        }
    }

    pub fn check_can_link(&self, incident: IncidentId) -> Result<(), Error> {
        match (self.state, self.incident) {
            (CallState::Open, _) => Ok(()),
            (CallState::Linked, Some(current)) if current == incident => Ok(()),
            _ => Err(self.wrong_state("be linked to an incident")),
        }
    }

    pub fn check_can_open_incident(&self) -> Result<(), Error> {
        match self.state {
            CallState::Open => Ok(()),
            CallState::Linked | CallState::Disposed => Err(self.wrong_state("open an incident")),
        }
    }

    pub fn check_can_dispose(&self) -> Result<(), Error> {
        match self.state {
            CallState::Open => Ok(()),
            CallState::Linked | CallState::Disposed => Err(self.wrong_state("be disposed of")),
        }
    }

    fn wrong_state(&self, action: &str) -> Error {
        let current = match (self.state, self.incident) {
            (CallState::Linked, Some(incident)) => format!("linked to {incident}"),
            (state, _) => state.to_string(),
        };
        Error::WrongState {
            subject: self.id.name(),
            current,
            action: action.to_owned(),
        }
    }
}

/// The folio a C5-style centre reads on the radio: `PREFIX/YYMMDD/NNNNN`.
pub fn folio(prefix: &str, day: chrono::NaiveDate, number: u32) -> String {
    format!("{prefix}/{}/{number:05}", day.format("%y%m%d"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::location::{GeoPoint, LocationSource};

    fn draft() -> CallDraft {
        CallDraft {
            channel: Some(Channel::Voice911),
            received_at: None,
            answered_at: None,
            back_entered: false,
            callback_number: "+52 55 1234 5678".into(),
            caller_name: String::new(),
            language: "es-MX".into(),
            location: Location::new(
                GeoPoint::new(19.43, -99.13),
                30.0,
                Some(LocationSource::Device),
                String::new(),
            ),
            account: "choque".into(),
            incident_type_hint: String::new(),
            source_device_id: String::new(),
        }
    }

    #[test]
    fn a_good_draft_validates_and_defaults_received_time_to_now() {
        let now = Utc::now();
        let call = draft().validate(now).unwrap();
        assert_eq!(call.received_at, now);
        assert_eq!(call.callback_number.unwrap().as_str(), "+525512345678");
    }

    #[test]
    fn every_bad_field_is_named() {
        let now = Utc::now();
        let mut bad = draft();
        bad.channel = None;
        bad.callback_number = "call me".into();
        bad.account = "x".repeat(MAX_ACCOUNT_CHARS + 1);
        bad.language = "not a tag".into();
        bad.received_at = Some(now + Duration::hours(1));
        bad.location = Location::new(GeoPoint::new(f64::NAN, 0.0), -5.0, None, String::new());
        let violations = bad.validate(now).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "channel",
                "received_time",
                "callback_number",
                "language",
                "account",
                "location.point.latitude",
                "location.uncertainty_m",
                "location.source"
            ]
        );
    }

    #[test]
    fn callback_numbers() {
        for good in ["+525555555555", "*765", "911", "089", "55 1234-5678"] {
            assert!(CallbackNumber::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "+0123456789",
            "+12",
            "abc",
            "1",
            "+1234567890123456",
            "55;DROP",
        ] {
            assert!(CallbackNumber::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn back_entered_calls_need_their_original_time() {
        let mut paper = draft();
        paper.back_entered = true;
        let violations = paper.validate(Utc::now()).unwrap_err();
        assert_eq!(violations.iter().next().unwrap().field, "received_time");
    }

    #[test]
    fn folio_format() {
        let day = chrono::NaiveDate::from_ymd_opt(2020, 2, 7).unwrap();
        assert_eq!(folio("C5", day, 9738), "C5/200207/09738");
    }
}
