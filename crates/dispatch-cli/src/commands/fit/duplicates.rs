//! `dispatchctl fit duplicates`: fits the duplicate likelihood's parameter file
//! (`catalogue/duplicate_model.toml`) from a C5-format CSV or from the centre's own calls.
//!
//! The fit is the domain's (`duplicates::fit`), over the history taken again with the server's
//! own duplicate search (`duplicates::history`); this command only reads the data and writes the
//! file. From a CSV the truth is C5's closing code D (a repeat, of which incident not recorded);
//! from the centre's history it is the incident each call was linked to.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use dispatch_domain::call::Channel;
use dispatch_domain::duplicates::DuplicatePolicy;
use dispatch_domain::duplicates::fit::{FitOptions, Fitted, Training, fit_history};
use dispatch_domain::duplicates::history::{HistoricalCall, History, LinkFigures, Truth};
use dispatch_domain::duplicates::likelihood::LikelihoodModel;
use dispatch_domain::location::GeoPoint;
use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::commands::reply::Answer as _;
use crate::error::{CliError, Result};
use crate::replay::data::{self, Dataset, Row};

#[derive(Debug, Args)]
pub struct FitDuplicatesArgs {
    /// A C5-format CSV (C5's closing code D marks a report that repeated another).
    #[arg(long, value_name = "FILE", required_unless_present = "history")]
    pub c5: Option<PathBuf>,

    /// Fit on this centre's own calls (dispatchd at --server, an admin or supervisor token):
    /// the incident each call taker linked each call to.
    #[arg(long, conflicts_with = "c5")]
    pub history: bool,

    /// Fit on the calls received before this time (RFC 3339, or a date meaning 00:00 UTC); the
    /// later ones are the held-out check. All calls when not given.
    #[arg(long, value_name = "TIME", value_parser = parse_cut)]
    pub before: Option<DateTime<Utc>>,

    /// The parameter file whose threshold, density radius and days and priors (callback number,
    /// device, rare channels) the fit keeps.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "catalogue/duplicate_model.toml"
    )]
    pub base: PathBuf,

    /// Where to write the fitted file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "catalogue/duplicate_model.toml"
    )]
    pub out: PathBuf,
}

/// A time given as RFC 3339, or a date meaning its 00:00 UTC.
pub fn parse_cut(text: &str) -> std::result::Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|day| day.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("{text:?} is neither a date (2020-08-01) nor an RFC 3339 time"))
}

pub async fn run(ctx: &mut Ctx<'_>, args: FitDuplicatesArgs) -> Result<()> {
    let base_text = std::fs::read_to_string(&args.base)
        .map_err(|error| CliError::local(format!("reading {}: {error}", args.base.display())))?;
    let base = LikelihoodModel::from_toml(&base_text)
        .map_err(|error| CliError::local(format!("{}: {error}", args.base.display())))?;
    let (calls, source) = if let Some(path) = &args.c5 {
        (c5_calls(path)?, c5_source(path, args.before))
    } else {
        let calls = centre_calls(ctx).await?;
        (
            calls,
            "this centre's own calls (dispatchctl fit duplicates --history)".to_owned(),
        )
    };
    let policy = DuplicatePolicy::default();
    let fitted = fit(&base, &policy, &calls, args.before, &source)
        .map_err(|error| CliError::local(format!("cannot fit: {error}")))?;
    std::fs::write(&args.out, fitted.model.to_toml())
        .map_err(|error| CliError::local(format!("writing {}: {error}", args.out.display())))?;
    let w = &fitted.model.weights;
    writeln!(
        ctx.out,
        "{} written: fitted on {} calls ({} with a candidate, {} of them repeats), {} regression rows",
        args.out.display(),
        fitted.training.calls,
        fitted.training.with_candidates,
        fitted.training.repeats_with_candidates,
        fitted.fitted.rows
    )?;
    writeln!(
        ctx.out,
        "weights: bias {:.3}, ln(d+10) {:.3}, same point {:.3}, ln(s+60) {:.3}, same type {:.3}, \
         ln(linked calls) {:.3}; calibration {:.3} + {:.3}·z",
        w.bias,
        w.log_distance,
        w.same_point,
        w.log_since_latest_call,
        w.same_type,
        w.log_linked_calls,
        fitted.model.calibration.intercept,
        fitted.model.calibration.slope
    )?;
    if let Some(held_out) = fitted.held_out {
        writeln!(
            ctx.out,
            "held out (received from the cut on): {}",
            describe(&held_out)
        )?;
    }
    Ok(())
}

/// The fitted model (its numbers rounded for a stable file) and what it was fitted and checked on.
#[derive(Debug)]
pub struct Fit {
    pub model: LikelihoodModel,
    pub fitted: Fitted,
    pub training: Training,
    /// At the model's threshold, a call taker following its suggestions, on the calls from
    /// `before` on; `None` without a cut or without later calls.
    pub held_out: Option<LinkFigures>,
}

/// Fits `base` on `calls` (sorted by received time) before `before`, checks it on the rest, and
/// records where the numbers came from in the model's `fitted_on`.
pub fn fit(
    base: &LikelihoodModel,
    policy: &DuplicatePolicy,
    calls: &[HistoricalCall],
    before: Option<DateTime<Utc>>,
    source: &str,
) -> std::result::Result<Fit, Box<dyn std::error::Error + Send + Sync>> {
    let history = History::new(policy, calls, &base.density)?;
    let (fitted, training) = fit_history(base, &history, before, &FitOptions::default())?;
    let mut model = rounded(&fitted.model);
    let held_out = before
        .map(|cut| {
            LinkFigures::of(calls, &history.follow_model(&model), |c| {
                c.received_at >= cut
            })
        })
        .filter(|figures| figures.repeats + figures.others > 0);
    model.fitted_on = format!(
        "{source}: {} calls{}, {} with a candidate ({} repeats); multiple-instance EM logistic \
         with the fixed -ln(local rate) offset, Platt step on the training calls' top \
         suggestions, hour factors from their UTC hours. Kept from the base file: threshold, \
         density radius and days, and what the data has no examples of (callback number and \
         device weights, rare channels).{}",
        training.calls,
        before.map_or(String::new(), |cut| format!(
            " received before {}",
            cut.format("%Y-%m-%dT%H:%M:%SZ")
        )),
        training.with_candidates,
        training.repeats_with_candidates,
        held_out.map_or(String::new(), |figures| format!(
            " Held out (from the cut on, a call taker following the suggestions): {}.",
            describe(&figures)
        )),
    );
    Ok(Fit {
        model,
        fitted,
        training,
        held_out,
    })
}

fn describe(figures: &LinkFigures) -> String {
    format!(
        "recall {:.3} ({} of {} repeats linked), false links {:.3} ({} of {} other calls)",
        figures.recall().unwrap_or(0.0),
        figures.repeats_linked,
        figures.repeats,
        figures.false_rate().unwrap_or(0.0),
        figures.others_linked,
        figures.others
    )
}

/// Four decimals: the file reads the same on every machine whatever the last bits of `ln`.
fn rounded(model: &LikelihoodModel) -> LikelihoodModel {
    let round = |x: f64| (x * 1e4).round() / 1e4;
    let mut model = model.clone();
    let w = &mut model.weights;
    for value in [
        &mut w.bias,
        &mut w.log_distance,
        &mut w.same_point,
        &mut w.log_since_latest_call,
        &mut w.same_type,
        &mut w.compatible_type,
        &mut w.log_linked_calls,
        &mut w.same_callback_number,
        &mut w.same_source_device,
    ] {
        *value = round(*value);
    }
    for value in w.channel.values_mut() {
        *value = round(*value);
    }
    model.calibration.intercept = round(model.calibration.intercept);
    model.calibration.slope = round(model.calibration.slope);
    for value in &mut model.density.hour_factor {
        *value = round(*value);
    }
    model
}

fn c5_source(path: &Path, before: Option<DateTime<Utc>>) -> String {
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    format!(
        "dispatchctl fit duplicates --c5 {file}{} (truth: codigo_cierre = D)",
        before.map_or(String::new(), |cut| format!(
            " --before {}",
            cut.format("%Y-%m-%d")
        ))
    )
}

/// A C5-format CSV's calls as the replay reads them.
pub fn c5_calls(path: &Path) -> Result<Vec<HistoricalCall>> {
    let data = data::read(Dataset::C5, path, None)?;
    Ok(historical_calls(&data.rows))
}

/// The replay's rows as history: the data's D as the truth (SF and Montgomery have none: every
/// call is its own emergency).
pub fn historical_calls(rows: &[Row]) -> Vec<HistoricalCall> {
    rows.iter()
        .filter_map(|row| {
            Some(HistoricalCall {
                point: GeoPoint::new(row.lat, row.lon).ok()?,
                uncertainty_m: row.uncertainty_m,
                received_at: row.received,
                incident_type: row.incident_type.to_owned(),
                channel: channel(row.channel),
                callback_number: None,
                source_device: None,
                truth: Truth::Repeat(row.duplicate_in_data.unwrap_or(false)),
            })
        })
        .collect()
}

/// The wire channel as the domain's; `None` when unspecified.
pub fn channel(channel: pb::CallChannel) -> Option<Channel> {
    use pb::CallChannel as C;
    Some(match channel {
        C::Unspecified => return None,
        C::Voice911 => Channel::Voice911,
        C::App911 => Channel::App911,
        C::PanicButton => Channel::PanicButton,
        C::Camera => Channel::Camera,
        C::Radio => Channel::Radio,
        C::SocialMedia => Channel::SocialMedia,
        C::WomensLine => Channel::WomensLine,
        C::PlateReader => Channel::PlateReader,
        C::AlarmCompany => Channel::AlarmCompany,
        C::Text => Channel::Text,
        C::PartnerApp => Channel::PartnerApp,
    })
}

/// Every decided call of the centre (linked to an incident, or disposed without one), oldest
/// first; calls still open, or without a location, are left out.
async fn centre_calls(ctx: &mut Ctx<'_>) -> Result<Vec<HistoricalCall>> {
    let clients = ctx.clients().await?;
    let mut service = clients.calls();
    let all = crate::client::pages(usize::MAX, async |page_size, page_token| {
        service
            .list_calls(pb::ListCallsRequest {
                page_size,
                page_token,
                received: None,
                channels: Vec::new(),
                states: vec![pb::CallState::Linked.into(), pb::CallState::Disposed.into()],
                dispositions: Vec::new(),
                incident: String::new(),
            })
            .await
            .answer("ListCalls")
    })
    .await?;
    let mut calls: Vec<HistoricalCall> = all.calls.iter().filter_map(centre_call).collect();
    calls.sort_by_key(|c| c.received_at);
    Ok(calls)
}

fn centre_call(call: &pb::Call) -> Option<HistoricalCall> {
    let location = call.location.as_ref()?;
    let point = location.point.as_ref()?;
    let received = call.received_time.as_ref()?;
    let received_at =
        DateTime::from_timestamp(received.seconds, u32::try_from(received.nanos).ok()?)?;
    let text = |s: &str| (!s.trim().is_empty()).then(|| s.to_owned());
    let truth = match pb::CallState::try_from(call.state).ok()? {
        pb::CallState::Linked => Truth::Incident(Some(text(&call.incident)?)),
        pb::CallState::Disposed => Truth::Incident(None),
        pb::CallState::Open | pb::CallState::Unspecified => return None,
    };
    Some(HistoricalCall {
        point: GeoPoint::new(point.latitude, point.longitude).ok()?,
        uncertainty_m: location.uncertainty_m,
        received_at,
        incident_type: call.incident_type_hint.clone(),
        channel: channel(pb::CallChannel::try_from(call.channel).ok()?),
        callback_number: text(&call.callback_number),
        source_device: text(&call.source_device_id),
        truth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_is_a_date_or_a_time() {
        assert_eq!(
            parse_cut("2020-08-01").unwrap().to_rfc3339(),
            "2020-08-01T00:00:00+00:00"
        );
        assert_eq!(
            parse_cut("2020-08-01T05:00:00-05:00").unwrap().to_rfc3339(),
            "2020-08-01T10:00:00+00:00"
        );
        assert!(parse_cut("August").is_err());
    }

    /// The shipped parameter file is what this command makes of the C5 CSV.
    #[test]
    fn the_shipped_file_is_reproduced_from_the_csv() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let data_dir = std::env::var_os("DISPATCH_REPLAY_DATA")
            .map_or_else(|| root.join("../shared/data"), PathBuf::from);
        let csv = data_dir.join(Dataset::C5.file_name());
        let shipped_text =
            std::fs::read_to_string(root.join("catalogue/duplicate_model.toml")).unwrap();
        let shipped = LikelihoodModel::from_toml(&shipped_text).unwrap();
        let calls = c5_calls(&csv).unwrap();
        let before = parse_cut("2020-08-01").unwrap();
        let fit = fit(
            &shipped,
            &DuplicatePolicy::default(),
            &calls,
            Some(before),
            &c5_source(&csv, Some(before)),
        )
        .unwrap();
        assert_eq!(fit.model, shipped);
        assert_eq!(fit.model.to_toml(), shipped_text);
    }
}
