//! Parsing command-line values: enum names in their short form, points, durations, times and
//! resource names. Errors say what would have been accepted.

use chrono::{DateTime, Utc};
use dispatch_proto::v1 as pb;

fn parse_enum<E: Copy>(
    text: &str,
    prefix: &str,
    from_name: fn(&str) -> Option<E>,
    all: fn() -> Vec<String>,
) -> Result<E, String> {
    let normalised = text.trim().to_ascii_uppercase().replace(['-', ' '], "_");
    let full = if normalised.starts_with(prefix) {
        normalised
    } else {
        format!("{prefix}{normalised}")
    };
    match from_name(&full) {
        Some(value) if !full.ends_with("_UNSPECIFIED") => Ok(value),
        _ => Err(format!(
            "unknown value {text:?}; one of: {}",
            all().join(", ")
        )),
    }
}

macro_rules! enum_parsers {
    (
        parsed: [$($fn:ident: $ty:ty => $prefix:literal),* $(,)?],
        shown: [$($shown:tt)*] $(,)?
    ) => {
        $(
            /// Parses the short (`voice-911`) or full (`CALL_CHANNEL_VOICE_911`) name.
            pub fn $fn(text: &str) -> Result<$ty, String> {
                parse_enum(text, $prefix, <$ty>::from_str_name, || {
                    (1..64)
                        .filter_map(|i| <$ty>::try_from(i).ok())
                        .map(|v| crate::output::short(v.as_str_name(), $prefix))
                        .collect()
                })
            }
        )*
    };
}

crate::output::wire_enums!(enum_parsers);

/// "19.4326,-99.1332" (latitude first, as people write it).
pub fn point(text: &str) -> Result<pb::GeoPoint, String> {
    let (lat, lon) = text
        .split_once(',')
        .ok_or_else(|| format!("{text:?} is not LAT,LON (e.g. 19.4326,-99.1332)"))?;
    let number = |part: &str, what: &str| {
        part.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or_else(|| format!("{what} {part:?} in {text:?} is not a number"))
    };
    Ok(pb::GeoPoint {
        latitude: number(lat, "latitude")?,
        longitude: number(lon, "longitude")?,
    })
}

/// "90d", "12h", "30m", "45s" (or a bare number of seconds).
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |i| (&text[..i], &text[i..]));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 5m, 2h or 90d"))?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        "w" => 7.0 * 86400.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?}; use s, m, h, d or w"
            ));
        }
    };
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?} is not a duration"));
    }
    Ok(std::time::Duration::from_secs_f64(value * scale))
}

/// An RFC 3339 time ("2025-06-01T12:00:00Z" or with an offset), or "now".
pub fn time(text: &str) -> Result<DateTime<Utc>, String> {
    if text.eq_ignore_ascii_case("now") {
        return Ok(Utc::now());
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time like 2025-06-01T12:00:00Z: {e}"))
}

pub fn timestamp(time: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        nanos: i32::try_from(time.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

/// A UUID for --request-id.
pub fn uuid(text: &str) -> Result<uuid::Uuid, String> {
    uuid::Uuid::parse_str(text.trim()).map_err(|_| format!("{text:?} is not a UUID"))
}

/// A resource name of `collection`: accepts "incidents/<uuid>" or the bare UUID.
pub fn name(collection: &str, text: &str) -> String {
    let text = text.trim();
    if text.contains('/') {
        text.to_owned()
    } else {
        format!("{collection}/{text}")
    }
}

/// `question=value` for triage.
pub fn answer(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(q, v)| (q.trim().to_owned(), v.trim().to_owned()))
        .filter(|(q, _)| !q.is_empty())
        .ok_or_else(|| format!("{text:?} is not QUESTION=VALUE (e.g. breathing=no)"))
}

/// `capability=count` (or a bare capability, count 1) for plan overrides.
pub fn requirement(text: &str) -> Result<pb::PlanRequirement, String> {
    let (capability, count) = match text.split_once(['=', ':']) {
        Some((c, n)) => (
            c.trim(),
            n.trim()
                .parse::<i32>()
                .map_err(|_| format!("{text:?}: the count must be a number"))?,
        ),
        None => (text.trim(), 1),
    };
    Ok(pb::PlanRequirement {
        capability: capability.to_owned(),
        count,
        description: String::new(),
    })
}

/// Yes/no answers as people type them.
pub fn yes_no(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "si" | "sí" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// A polygon given as "lat,lon;lat,lon;lat,lon...".
pub fn polygon(text: &str) -> Result<pb::Polygon, String> {
    let points = text
        .split(';')
        .filter(|p| !p.trim().is_empty())
        .map(point)
        .collect::<Result<Vec<_>, _>>()?;
    if points.len() < 3 {
        return Err(format!(
            "{text:?}: a service area needs at least 3 points, as LAT,LON;LAT,LON;LAT,LON"
        ));
    }
    Ok(pb::Polygon { points })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_parse_in_short_and_full_form() {
        assert_eq!(channel("voice-911"), Ok(pb::CallChannel::Voice911));
        assert_eq!(channel("CALL_CHANNEL_APP_911"), Ok(pb::CallChannel::App911));
        assert_eq!(unit_status("en route"), Ok(pb::UnitStatus::EnRoute));
        let error = channel("fax").unwrap_err();
        assert!(error.contains("voice-911"), "{error}");
        assert!(channel("unspecified").is_err());
    }

    #[test]
    fn points_durations_and_names() {
        let p = point("19.4326, -99.1332").unwrap();
        assert_eq!((p.latitude, p.longitude), (19.4326, -99.1332));
        assert!(point("19.4").is_err());
        assert_eq!(duration("90d").unwrap().as_secs(), 90 * 86400);
        assert_eq!(duration("45").unwrap().as_secs(), 45);
        assert!(duration("3 parsecs").is_err());
        assert_eq!(name("calls", "abc"), "calls/abc");
        assert_eq!(name("calls", "calls/abc"), "calls/abc");
        assert_eq!(requirement("als=2").unwrap().count, 2);
    }
}
