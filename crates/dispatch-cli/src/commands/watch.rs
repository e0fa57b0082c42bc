//! `tail`: follows a live feed (the protocol of event.proto): the snapshot, then the events,
//! resuming after the last sequence seen when the connection drops, and starting over from a
//! snapshot when the server asks for a resync.

use std::pin::Pin;
use std::time::Duration;

use dispatch_proto::v1 as pb;
use futures::{Stream, StreamExt as _};

use crate::Ctx;
use crate::cli::{Feed, TailArgs};
use crate::client::Clients;
use crate::error::{CliError, Result};
use crate::output::{self, Format};
use crate::parse;

/// One stream message, reduced to what the loop needs.
enum Item {
    Snapshot(String),
    Complete { sequence: i64, count: i32 },
    Event { sequence: i64, line: String },
    Resync(String),
    Heartbeat(i64),
}

type Messages =
    Pin<Box<dyn Stream<Item = Result<(Item, serde_json::Value), tonic::Status>> + Send>>;

/// A Watch response: every feed sends the same five kinds of item, each feed its own types.
trait FeedMessage: output::Proto + Send + 'static {
    fn into_item(self) -> Item;
}

/// [`FeedMessage`] for each feed's response, given how its snapshot items and events read.
macro_rules! feed_messages {
    ($($response:ty: $items:path, $snapshot_line:expr, $event_line:expr;)*) => {$(
        impl FeedMessage for $response {
            fn into_item(self) -> Item {
                use $items as I;
                match self.item {
                    Some(I::Snapshot(snapshot)) => Item::Snapshot($snapshot_line(&snapshot)),
                    Some(I::SnapshotComplete(c)) => Item::Complete {
                        sequence: c.sequence,
                        count: c.item_count,
                    },
                    Some(I::Event(event)) => Item::Event {
                        sequence: event.sequence,
                        line: $event_line(&event),
                    },
                    Some(I::ResyncRequired(r)) => Item::Resync(r.description),
                    Some(I::Heartbeat(h)) => Item::Heartbeat(h.sequence),
                    None => Item::Heartbeat(0),
                }
            }
        }
    )*};
}

feed_messages! {
    pb::WatchIncidentsResponse: pb::watch_incidents_response::Item, incident_line, incident_event_line;
    pb::WatchUnitsResponse: pb::watch_units_response::Item, unit_line, unit_event_line;
    pb::WatchReferralsResponse: pb::watch_referrals_response::Item, referral_line, referral_event_line;
}

fn incident_event_line(e: &pb::IncidentEvent) -> String {
    let entry = e.entry.clone().unwrap_or_default();
    let incident = incident_line(&e.incident.clone().unwrap_or_default());
    let kind = output::timeline_kind(entry.kind);
    let left = left_filter(e.left_filter);
    format!("{kind}  {incident}{left}  {}", entry.description)
}

fn unit_event_line(e: &pb::UnitEvent) -> String {
    let unit = unit_line(&e.unit.clone().unwrap_or_default());
    let kind = output::unit_event_kind(e.kind);
    format!("{kind}  {unit}{}", left_filter(e.left_filter))
}

fn referral_event_line(e: &pb::ReferralEvent) -> String {
    let entry = e.entry.clone().unwrap_or_default();
    let referral = referral_line(&e.referral.clone().unwrap_or_default());
    let kind = output::referral_entry_kind(entry.kind);
    let left = left_filter(e.left_filter);
    let note = if entry.note.is_empty() {
        String::new()
    } else {
        format!("  {}", entry.note)
    };
    format!("{kind}  {referral}{left}{note}")
}

fn left_filter(left: bool) -> &'static str {
    if left { "  (left the filter)" } else { "" }
}

/// The messages of `stream`, each with its JSON for `--output json`.
fn messages<M: FeedMessage>(stream: tonic::Streaming<M>) -> Messages {
    Box::pin(stream.map(|message| {
        let message = message?;
        let json = output::to_json(&message).unwrap_or_default();
        Ok((message.into_item(), json))
    }))
}

fn statuses<E: Into<i32>>(
    texts: &[String],
    parse: fn(&str) -> Result<E, String>,
) -> Result<Vec<i32>, tonic::Status> {
    texts
        .iter()
        .map(|t| {
            parse(t)
                .map(Into::into)
                .map_err(|e| tonic::Status::invalid_argument(format!("--status: {e}")))
        })
        .collect()
}

async fn open(clients: &Clients, args: &TailArgs, after: i64) -> Result<Messages, tonic::Status> {
    let agency = || super::units::optional_name("agencies", &args.agency);
    Ok(match args.feed {
        Feed::Incidents => messages(
            clients
                .triage()
                .watch_incidents(pb::WatchIncidentsRequest {
                    bounding_box: None,
                    statuses: statuses(&args.status, parse::incident_status)?,
                    min_priority: None,
                    agency: agency(),
                    after_sequence: after,
                })
                .await?
                .into_inner(),
        ),
        Feed::Units => messages(
            clients
                .units()
                .watch_units(pb::WatchUnitsRequest {
                    bounding_box: None,
                    agency: agency(),
                    station: String::new(),
                    unit_types: Vec::new(),
                    statuses: statuses(&args.status, parse::unit_status)?,
                    after_sequence: after,
                })
                .await?
                .into_inner(),
        ),
        Feed::Referrals => messages(
            clients
                .referrals()
                .watch_referrals(pb::WatchReferralsRequest {
                    partner: super::units::optional_name("partners", &args.partner),
                    statuses: statuses(&args.status, parse::referral_status)?,
                    after_sequence: after,
                })
                .await?
                .into_inner(),
        ),
    })
}

fn incident_line(i: &pb::Incident) -> String {
    format!(
        "{}  {}  {}  {}  p{}  {}",
        i.name,
        i.folio,
        output::incident_status(i.status),
        if i.incident_type.is_empty() {
            "-"
        } else {
            &i.incident_type
        },
        i.priority,
        output::clip(&i.summary, 40)
    )
}

fn unit_line(u: &pb::Unit) -> String {
    format!(
        "{}  {}  {}  {}  {}",
        u.name,
        u.call_sign,
        output::unit_type(u.unit_type),
        output::unit_status(u.status),
        output::point(u.position.as_ref().and_then(|p| p.point.as_ref()))
    )
}

fn referral_line(r: &pb::Referral) -> String {
    format!(
        "{}  {}  {}  {}",
        r.name,
        output::referral_status(r.status),
        r.partner,
        output::list(r.needs.iter().map(|n| output::need(*n)))
    )
}

pub async fn run(ctx: &mut Ctx<'_>, args: TailArgs) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut after = args.after;
    let mut events = 0u64;
    let mut backoff = Duration::from_millis(200);
    let rpc = match args.feed {
        Feed::Incidents => "WatchIncidents",
        Feed::Units => "WatchUnits",
        Feed::Referrals => "WatchReferrals",
    };
    loop {
        let mut stream = match open(&clients, &args, after).await {
            Ok(stream) => stream,
            Err(status) if status.code() == tonic::Code::Unavailable => {
                ctx.note(&format!(
                    "{rpc}: unavailable; retrying after sequence {after}"
                ));
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(10));
                continue;
            }
            Err(status) => return Err(CliError::rpc(rpc, &status)),
        };
        loop {
            let message = match stream.next().await {
                Some(Ok(message)) => message,
                Some(Err(status)) if status.code() == tonic::Code::Unavailable => {
                    ctx.note(&format!(
                        "{rpc}: connection lost; resuming after sequence {after}"
                    ));
                    break;
                }
                Some(Err(status)) => return Err(CliError::rpc(rpc, &status)),
                None => {
                    // The server ended the stream (shutting down): resume where we were.
                    ctx.note(&format!(
                        "{rpc}: stream ended; resuming after sequence {after}"
                    ));
                    break;
                }
            };
            backoff = Duration::from_millis(200);
            let (item, json) = message;
            let print_json = |ctx: &mut Ctx<'_>| -> Result<()> {
                if ctx.format == Format::Json {
                    writeln!(ctx.out, "{json}")?;
                    ctx.out.flush()?;
                }
                Ok(())
            };
            match item {
                Item::Snapshot(line) => {
                    if !args.no_snapshot {
                        print_json(ctx)?;
                        if ctx.format == Format::Table {
                            writeln!(ctx.out, "snapshot  {line}")?;
                        }
                    }
                }
                Item::Complete { sequence, count } => {
                    after = sequence;
                    print_json(ctx)?;
                    if ctx.format == Format::Table {
                        writeln!(
                            ctx.out,
                            "-- snapshot complete: {count} items, at sequence {sequence}"
                        )?;
                        ctx.out.flush()?;
                    }
                    if args.snapshot_only {
                        return Ok(());
                    }
                }
                Item::Event { sequence, line } => {
                    after = sequence;
                    events += 1;
                    print_json(ctx)?;
                    match ctx.format {
                        Format::Table => writeln!(ctx.out, "#{sequence}  {line}")?,
                        Format::Name => writeln!(ctx.out, "{sequence}")?,
                        Format::Json => {}
                    }
                    ctx.out.flush()?;
                    if args.count.is_some_and(|n| events >= n) {
                        return Ok(());
                    }
                }
                Item::Resync(why) => {
                    ctx.note(&format!(
                        "{rpc}: resync required ({why}); starting over from a snapshot"
                    ));
                    print_json(ctx)?;
                    after = 0;
                    break;
                }
                Item::Heartbeat(sequence) => {
                    if sequence > after {
                        after = sequence;
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}
