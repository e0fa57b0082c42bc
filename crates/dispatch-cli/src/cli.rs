//! The command line: global options and one subcommand tree per area.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use dispatch_proto::v1 as pb;

use crate::client::DEFAULT_SERVER;
use crate::parse;

#[derive(Debug, Parser)]
#[command(
    name = "dispatchctl",
    version,
    about = "Command-line client for dispatchd: take calls, triage, dispatch, refer, administer",
    after_help = crate::error::EXIT_CODES_HELP
)]
pub struct Cli {
    /// dispatchd's gRPC address.
    #[arg(long, env = "DISPATCH_SERVER", default_value = DEFAULT_SERVER, global = true)]
    pub server: String,

    /// Bearer token (dsp_...) of the principal to act as.
    #[arg(long, env = "DISPATCH_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,

    /// For an https:// server: the PEM certificate of the CA that issued dispatchd's
    /// certificate.
    #[arg(long, env = "DISPATCH_CA_FILE", global = true)]
    pub ca_file: Option<PathBuf>,

    /// For mutual TLS: a PEM client certificate registered as a credential (dispatchctl
    /// principals credential issue --kind client-certificate); no token is needed with it.
    #[arg(
        long,
        env = "DISPATCH_CLIENT_CERT",
        global = true,
        requires = "client_key"
    )]
    pub client_cert: Option<PathBuf>,

    /// The PEM private key of --client-cert.
    #[arg(
        long,
        env = "DISPATCH_CLIENT_KEY",
        global = true,
        requires = "client_cert"
    )]
    pub client_key: Option<PathBuf>,

    /// Print results as JSON (the protobuf JSON mapping of the response), one document per line.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print only the name of the resource created or shown (for X=$(dispatchctl ... -q)).
    #[arg(short, long, global = true, conflicts_with = "json")]
    pub quiet: bool,

    /// Idempotency key of the mutation (a UUID); reuse it to retry safely. Default: a new one.
    #[arg(long, global = true, value_parser = parse::uuid)]
    pub request_id: Option<uuid::Uuid>,

    /// Longest time one request may take.
    #[arg(long, global = true, default_value = "30s", value_parser = parse::duration)]
    pub timeout: std::time::Duration,

    /// Requests per second sent with one token, at most: keep it below the server's
    /// DISPATCH_RATE_LIMIT (200 by default); 0 sends as fast as it can. When the server refuses
    /// one as over its limit anyway, dispatchctl slows down and sends it again.
    #[arg(long, env = "DISPATCH_CLIENT_RATE", global = true, default_value_t = crate::retry::DEFAULT_RATE)]
    pub rate: f64,

    /// Times a request the server refuses with RESOURCE_EXHAUSTED or UNAVAILABLE is sent again
    /// (the same request, request id included, so a mutation never applies twice), backing off
    /// with jitter, for at most a minute in all; 0 never retries.
    #[arg(long, global = true, default_value_t = 9)]
    pub retries: u32,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Prints the server's health (exit 0 when SERVING, 1 otherwise, 2 when it cannot ask).
    Health {
        /// A service name such as dispatch.v1.CallIntakeService; empty means the whole server.
        #[arg(long, default_value = "")]
        service: String,
        /// Keep asking for up to this many seconds until it is SERVING.
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    /// Shows who the token belongs to.
    Whoami,
    /// Call intake: take a call, see duplicates, link it or open an incident, dispose of it.
    #[command(subcommand)]
    Call(CallCmd),
    /// Incidents: triage, recommend and assign units, lifecycle, notes, merges.
    #[command(subcommand)]
    Incident(IncidentCmd),
    /// The incident type catalogue and its triage questions.
    #[command(subcommand, name = "type")]
    IncidentType(TypeCmd),
    /// Units: list, status, positions, create.
    #[command(subcommand)]
    Unit(UnitCmd),
    /// Victim-care referrals: suggest partners, refer, and (as a partner) accept or decline.
    #[command(subcommand)]
    Referral(ReferralCmd),
    /// Partner agencies: list, create, capacity.
    #[command(subcommand)]
    Partner(PartnerCmd),
    /// Responding agencies.
    #[command(subcommand)]
    Agency(AgencyCmd),
    /// Stations of agencies.
    #[command(subcommand)]
    Station(StationCmd),
    /// Cameras, panic buttons and plate readers.
    #[command(subcommand)]
    Camera(CameraCmd),
    /// Principals (who may call the API).
    #[command(subcommand)]
    Principal(PrincipalCmd),
    /// Credentials: issue a bearer token, revoke, list.
    #[command(subcommand)]
    Credential(CredentialCmd),
    /// The audit trail (supervisors and admins).
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Reports supervisors are judged by: intervals, hot spots, utilization, duplicates,
    /// open data (supervisors and admins).
    #[command(subcommand)]
    Report(ReportCmd),
    /// Planned operations: mass events and standing watch zones, staged units, watch orders.
    #[command(subcommand)]
    Operation(crate::commands::operations::OperationCmd),
    /// Follows a live feed (incidents, units or referrals) until interrupted.
    Tail(TailArgs),
    /// The Mexico City demo.
    #[command(subcommand)]
    Demo(DemoCmd),
    /// Replays a CSV of historical calls through the API, as call takers and dispatchers would.
    Replay(crate::replay::ReplayArgs),
    /// The console map's base layer, from an OpenStreetMap extract (no server needed).
    #[command(subcommand)]
    Map(crate::commands::map::MapCmd),
    /// Refits a judgment's parameter file from real data (no server needed for CSV input).
    #[command(subcommand)]
    Fit(crate::commands::fit::FitCmd),
}

/// Where a caller is.
#[derive(Debug, Args)]
pub struct LocationArgs {
    /// The point, LAT,LON.
    #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
    pub at: pb::GeoPoint,
    /// Uncertainty radius in metres.
    #[arg(long, default_value_t = 50.0)]
    pub uncertainty: f64,
    /// How the location was obtained: device, network, caller-described, fixed-device,
    /// dispatcher.
    #[arg(long, default_value = "device", value_parser = parse::location_source)]
    pub source: pb::LocationSource,
    /// Street address or landmark.
    #[arg(long, default_value = "")]
    pub address: String,
}

impl LocationArgs {
    pub fn location(&self) -> pb::Location {
        pb::Location {
            point: Some(self.at),
            uncertainty_m: self.uncertainty,
            source: self.source.into(),
            civic_address: self.address.clone(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum CallCmd {
    /// Takes a new call and shows the open incidents it may duplicate.
    #[command(visible_alias = "create")]
    Take {
        #[command(flatten)]
        location: LocationArgs,
        /// How it came in: voice-911, app-911, panic-button, camera, radio, social-media,
        /// womens-line, plate-reader, alarm-company, text, partner-app.
        #[arg(long, default_value = "voice-911", value_parser = parse::channel)]
        channel: pb::CallChannel,
        /// Callback number (E.164 like +525512345678, or a short form like *765).
        #[arg(long, default_value = "")]
        callback: String,
        /// Caller's name.
        #[arg(long, default_value = "")]
        caller_name: String,
        /// Caller's language (BCP-47, e.g. es-MX, nah).
        #[arg(long, default_value = "")]
        language: String,
        /// Incident type hint (see `dispatchctl type list`).
        #[arg(long = "type", default_value = "")]
        incident_type: String,
        /// Code of the camera or panic button that produced the report.
        #[arg(long, default_value = "")]
        device: String,
        /// When the call reached the centre (RFC 3339); default now.
        #[arg(long, value_parser = parse::time)]
        received: Option<chrono::DateTime<chrono::Utc>>,
        /// When it was answered (RFC 3339 or "now").
        #[arg(long, value_parser = parse::time)]
        answered: Option<chrono::DateTime<chrono::Utc>>,
        /// The caller's account, in their words.
        #[arg(trailing_var_arg = true)]
        account: Vec<String>,
    },
    /// Shows one call.
    Get { call: String },
    /// Lists calls, newest first.
    List {
        /// Only these states: open, linked, disposed.
        #[arg(long, value_delimiter = ',', value_parser = parse::call_state)]
        state: Vec<pb::CallState>,
        /// Only these channels.
        #[arg(long, value_delimiter = ',', value_parser = parse::channel)]
        channel: Vec<pb::CallChannel>,
        /// Only calls linked to this incident.
        #[arg(long, default_value = "")]
        incident: String,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Recomputes the open incidents a call may duplicate.
    Duplicates {
        call: String,
        /// At most this many candidates (0: the server's default).
        #[arg(long, default_value_t = 0)]
        max: i32,
    },
    /// Links an open call to an incident (a duplicate report).
    Link {
        call: String,
        incident: String,
        /// A note for the incident's timeline.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Opens a new incident from an open call.
    Open {
        call: String,
        /// Incident type code; default the call's hint.
        #[arg(long = "type", default_value = "")]
        incident_type: String,
        /// Short summary; default the start of the call's account.
        #[arg(long, default_value = "")]
        summary: String,
    },
    /// Closes an open call without an incident (hang-up, prank, ...).
    Dispose {
        call: String,
        /// hang-up, prank, misdial, information-request, non-emergency-referred, test,
        /// abandoned, other.
        #[arg(long, value_parser = parse::disposition)]
        disposition: pb::CallDisposition,
        /// Required for "other".
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Records a new location for a caller on the move.
    Locate {
        call: String,
        #[command(flatten)]
        location: LocationArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum IncidentCmd {
    /// Shows an incident with its calls, assignments and timeline.
    Get {
        incident: String,
        /// Leave out calls, notes, timeline and triage history.
        #[arg(long)]
        basic: bool,
    },
    /// Lists incidents, newest first.
    List {
        /// Only these statuses: new, triaged, dispatched, on-scene, resolved, closed, cancelled.
        #[arg(long, value_delimiter = ',', value_parser = parse::incident_status)]
        status: Vec<pb::IncidentStatus>,
        /// Only these type codes.
        #[arg(long = "type", value_delimiter = ',')]
        incident_type: Vec<String>,
        /// Only priority at least this.
        #[arg(long)]
        min_priority: Option<i32>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Shows the triage questions of an incident (or of --type).
    Questions {
        incident: Option<String>,
        #[arg(long = "type")]
        incident_type: Option<String>,
    },
    /// Triages with answers to the type's key questions: decides priority and response plan.
    Triage {
        incident: String,
        /// Use this type's protocol (and change the incident's type to it).
        #[arg(long = "type", default_value = "")]
        incident_type: String,
        /// QUESTION=VALUE, repeated: yes/no, a number, or one of the choices.
        #[arg(short, long = "answer", value_parser = parse::answer)]
        answers: Vec<(String, String)>,
    },
    /// Recommends the nearest suitable units for the response plan.
    Recommend {
        incident: String,
        /// Candidates per requirement, alternates included (0: the server's default).
        #[arg(long, default_value_t = 0)]
        max_candidates: i32,
        /// Fill this plan instead of the incident's: CAPABILITY=COUNT, repeated.
        #[arg(long = "plan", value_parser = parse::requirement)]
        plan: Vec<pb::PlanRequirement>,
    },
    /// Assigns units: the picks of a recommendation, or the units you name.
    Assign {
        incident: String,
        /// The recommendation followed; without --unit its picked candidates are assigned.
        #[arg(long, default_value = "")]
        recommendation: String,
        /// Units to assign, repeated or comma-separated.
        #[arg(long = "unit", value_delimiter = ',')]
        units: Vec<String>,
        /// Why you deviate from the recommendation (required when you do).
        #[arg(long, default_value = "")]
        override_reason: String,
    },
    /// Takes a committed unit off the incident.
    Release {
        incident: String,
        unit: String,
        #[arg(long)]
        reason: String,
    },
    /// Moves the incident to on-scene or resolved.
    Status {
        incident: String,
        #[arg(value_parser = parse::incident_status)]
        status: pb::IncidentStatus,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Changes type, summary or priority (reads the current etag first).
    Update {
        incident: String,
        #[arg(long = "type")]
        incident_type: Option<String>,
        #[arg(long)]
        summary: Option<String>,
        #[arg(long)]
        priority: Option<i32>,
        /// Why the priority is overridden (required with --priority).
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Adds a note.
    Note {
        incident: String,
        #[arg(trailing_var_arg = true, required = true)]
        text: Vec<String>,
    },
    /// Closes with a C5 closing code: confirmed, negative, duplicate, false, informative.
    Close {
        incident: String,
        #[arg(long, value_parser = parse::closing_code)]
        code: pb::ClosingCode,
        /// The surviving incident (with --code duplicate).
        #[arg(long, default_value = "")]
        duplicate_of: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Cancels (opened in error, withdrawn); assigned units are released.
    Cancel {
        incident: String,
        #[arg(long)]
        reason: String,
    },
    /// Merges DUPLICATE into SURVIVOR (calls, timeline, assignments move; DUPLICATE closes).
    Merge {
        survivor: String,
        duplicate: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Prints the incident as it is now as a NENA EIDO (NENA-STA-021.1b JSON), the document
    /// other emergency systems exchange; -q prints its incident tracking identifier.
    Eido { incident: String },
}

#[derive(Debug, Subcommand)]
pub enum TypeCmd {
    /// Lists the incident types.
    List {
        /// Only these categories: medical, fire, crime, traffic, gender-violence, ...
        #[arg(long, value_delimiter = ',', value_parser = parse::category)]
        category: Vec<pb::IncidentCategory>,
    },
    /// Shows one type with its triage questions.
    Get { code: String },
}

#[derive(Debug, Subcommand)]
pub enum UnitCmd {
    /// Lists units by call sign.
    List {
        #[arg(long, default_value = "")]
        agency: String,
        #[arg(long, default_value = "")]
        station: String,
        /// Only these statuses: available, dispatched, en-route, on-scene, ...
        #[arg(long, value_delimiter = ',', value_parser = parse::unit_status)]
        status: Vec<pb::UnitStatus>,
        /// Only these types: patrol, als-ambulance, engine, ...
        #[arg(long = "type", value_delimiter = ',', value_parser = parse::unit_type)]
        unit_type: Vec<pb::UnitType>,
        /// Only units with every one of these capabilities.
        #[arg(long = "capability", value_delimiter = ',')]
        capabilities: Vec<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Shows one unit.
    Get { unit: String },
    /// Sets a unit's status: en-route, on-scene, transporting, at-hospital, available
    /// (clears it from its incident), out-of-service.
    Status {
        unit: String,
        #[arg(value_parser = parse::unit_status)]
        status: pb::UnitStatus,
        /// Guard: the incident the unit must be committed to.
        #[arg(long, default_value = "")]
        incident: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Reports a unit's position (gateways and the unit itself).
    Position {
        unit: String,
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: pb::GeoPoint,
        /// Accuracy in metres.
        #[arg(long, default_value_t = 10.0)]
        accuracy: f64,
    },
    /// Creates a unit (supervisors and admins).
    Create {
        #[arg(long)]
        call_sign: String,
        #[arg(long)]
        agency: String,
        #[arg(long = "type", value_parser = parse::unit_type)]
        unit_type: pb::UnitType,
        /// Capabilities, repeated or comma-separated; default those of the type.
        #[arg(long = "capability", value_delimiter = ',')]
        capabilities: Vec<String>,
        #[arg(long, default_value = "")]
        station: String,
        /// Create it out of service (default: available).
        #[arg(long)]
        out_of_service: bool,
    },
    /// Takes a unit out of service for good.
    Decommission {
        unit: String,
        #[arg(long)]
        reason: String,
    },
}

/// Who the referral is for.
#[derive(Debug, Args)]
pub struct VictimArgs {
    /// Pseudonym used by staff.
    #[arg(long, default_value = "")]
    pub alias: String,
    /// Real name, only when needed for care.
    #[arg(long, default_value = "")]
    pub full_name: String,
    /// child, adolescent, adult, older-adult, unknown.
    #[arg(long, default_value = "unknown", value_parser = parse::age_range)]
    pub age_range: pb::AgeRange,
    #[arg(long, default_value = "")]
    pub gender: String,
    #[arg(long, default_value = "")]
    pub language: String,
    /// A safe way to reach the victim, as CHANNEL:VALUE (phone:+5255..., sms:..., email:...).
    #[arg(long)]
    pub safe_contact: Option<String>,
    /// Safety notes (e.g. "aggressor lives at the address").
    #[arg(long, default_value = "")]
    pub safety_notes: String,
}

#[derive(Debug, Subcommand)]
#[expect(
    clippy::large_enum_variant,
    reason = "parsed once per process; boxing would only complicate the clap derive"
)]
pub enum ReferralCmd {
    /// Partners that serve a location and offer the needs, best first.
    Suggest {
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: pb::GeoPoint,
        /// medical, psychological, legal, shelter, social-program, child-protection,
        /// follow-up-calls; repeated or comma-separated.
        #[arg(long = "need", value_delimiter = ',', required = true, value_parser = parse::need)]
        needs: Vec<pb::ReferralNeed>,
    },
    /// Refers a victim of an incident to a partner.
    Create {
        incident: String,
        #[arg(long)]
        partner: String,
        #[arg(long = "need", value_delimiter = ',', required = true, value_parser = parse::need)]
        needs: Vec<pb::ReferralNeed>,
        #[command(flatten)]
        victim: VictimArgs,
        /// Who consented ("victim", "mother (guardian)"); consent is required unless
        /// --life-threat-handoff.
        #[arg(long)]
        consent_by: Option<String>,
        /// What the consent covers.
        #[arg(long, default_value = "share contact details with the partner")]
        consent_scope: String,
        /// Life-threat medical hand-off to a hospital, without consent.
        #[arg(long)]
        life_threat_handoff: bool,
        #[arg(long, default_value = "")]
        notes: String,
    },
    /// Lists referrals (a partner sees only its own).
    List {
        #[arg(long, default_value = "")]
        partner: String,
        #[arg(long, default_value = "")]
        incident: String,
        #[arg(long, value_delimiter = ',', value_parser = parse::referral_status)]
        status: Vec<pb::ReferralStatus>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Shows one referral with its history and follow-ups.
    Get { referral: String },
    /// The partner accepts.
    Accept {
        referral: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// The partner declines, with a reason.
    Decline {
        referral: String,
        #[arg(long)]
        reason: String,
    },
    /// Moves to in-progress, on-hold, completed or cancelled.
    Status {
        referral: String,
        #[arg(value_parser = parse::referral_status)]
        status: pb::ReferralStatus,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Re-addresses a declined referral to another partner.
    Readdress {
        referral: String,
        #[arg(long)]
        partner: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Records a follow-up contact (completes a scheduled one with --follow-up).
    FollowUp {
        referral: String,
        /// reached-safe, reached-needs-support, reached-in-danger, not-reached,
        /// declined-contact, other.
        #[arg(long, value_parser = parse::follow_up_outcome)]
        outcome: pb::FollowUpOutcome,
        #[arg(long, default_value = "")]
        follow_up: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Lists follow-ups, earliest due first (--status overdue for the work list).
    FollowUps {
        #[arg(long, default_value = "")]
        referral: String,
        #[arg(long, value_delimiter = ',', value_parser = parse::follow_up_status)]
        status: Vec<pb::FollowUpStatus>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

#[derive(Debug, Subcommand)]
pub enum PartnerCmd {
    /// Lists partner agencies.
    List {
        /// Only partners serving this point.
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        serves: Option<pb::GeoPoint>,
        #[arg(long = "need", value_delimiter = ',', value_parser = parse::need)]
        needs: Vec<pb::ReferralNeed>,
    },
    /// Shows one partner (a partner principal: its own, when PARTNER is left out).
    Get { partner: Option<String> },
    /// Creates a partner agency with its service area (supervisors and admins).
    Create {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// hospital, red-cross, womens-centre, shelter, legal-aid, psychological-care,
        /// child-protection, social-program, other.
        #[arg(long, value_parser = parse::partner_kind)]
        kind: pb::PartnerKind,
        #[arg(long = "service", value_delimiter = ',', required = true, value_parser = parse::need)]
        services: Vec<pb::ReferralNeed>,
        /// A service area polygon, LAT,LON;LAT,LON;LAT,LON...; repeated.
        #[arg(long = "area", value_parser = parse::polygon, allow_hyphen_values = true)]
        areas: Vec<pb::Polygon>,
        /// A GeoJSON file with a Polygon or MultiPolygon service area; repeated.
        #[arg(long = "area-geojson")]
        area_files: Vec<PathBuf>,
        /// The office or facility, LAT,LON.
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: pb::GeoPoint,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long, default_value_t = 0)]
        available: i32,
        #[arg(long, default_value_t = 0)]
        total: i32,
    },
    /// Sets capacity and diversion (a partner principal: its own when PARTNER is left out).
    Capacity {
        partner: Option<String>,
        #[arg(long)]
        available: i32,
        #[arg(long)]
        total: i32,
        /// Accept no new referrals for now.
        #[arg(long)]
        not_accepting: bool,
        #[arg(long, default_value = "")]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgencyCmd {
    List,
    Create {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        /// police, fire, ems, red-cross, civil-protection, federal, other.
        #[arg(long, value_parser = parse::agency_kind)]
        kind: pb::AgencyKind,
    },
}

#[derive(Debug, Subcommand)]
pub enum StationCmd {
    List {
        #[arg(long, default_value = "")]
        agency: String,
    },
    Create {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: pb::GeoPoint,
        #[arg(long, default_value = "")]
        address: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CameraCmd {
    List {
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    Create {
        #[arg(long)]
        code: String,
        /// camera, panic-button, plate-reader.
        #[arg(long, value_parser = parse::device_kind)]
        kind: pb::DeviceKind,
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: pb::GeoPoint,
        #[arg(long, default_value = "")]
        description: String,
        #[arg(long, default_value = "")]
        agency: String,
    },
    /// Devices near an incident or a point, nearest first.
    Near {
        #[arg(long, default_value = "")]
        incident: String,
        #[arg(long, value_parser = parse::point, allow_hyphen_values = true)]
        at: Option<pb::GeoPoint>,
        /// Search radius in metres.
        #[arg(long, default_value_t = 500.0)]
        radius: f64,
    },
}

#[derive(Debug, Subcommand)]
pub enum PrincipalCmd {
    List {
        #[arg(long, value_delimiter = ',', value_parser = parse::role)]
        role: Vec<pb::Role>,
    },
    /// Creates a principal (admins), optionally with a bearer token at once.
    Create {
        /// call-taker, dispatcher, supervisor, video-operator, field-unit, partner-agency,
        /// gateway, admin.
        #[arg(long, value_parser = parse::role)]
        role: pb::Role,
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "")]
        agency: String,
        /// For field-unit: the unit it acts for.
        #[arg(long, default_value = "")]
        unit: String,
        /// For partner-agency: the partner it acts for.
        #[arg(long, default_value = "")]
        partner: String,
        /// Also issue a bearer token (printed once).
        #[arg(long)]
        issue_token: bool,
    },
    /// Changes a principal (admins): its name, role and binding, or disables it. Disabling it
    /// or changing its role or binding ends its open streams on every dispatchd.
    Update {
        principal: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = parse::role)]
        role: Option<pb::Role>,
        /// The agency; "" clears it.
        #[arg(long)]
        agency: Option<String>,
        /// The unit (a field unit's); "" clears it.
        #[arg(long)]
        unit: Option<String>,
        /// The partner (a partner agency's); "" clears it.
        #[arg(long)]
        partner: Option<String>,
        /// Its credentials stop authenticating until it is enabled again.
        #[arg(long, conflicts_with = "enable")]
        disable: bool,
        #[arg(long)]
        enable: bool,
        /// Why (kept in the event log).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CredentialCmd {
    /// Issues a bearer token for a principal (admins). The token is printed once. With
    /// --certificate-sha256, registers a client certificate instead (mutual TLS).
    Issue {
        principal: String,
        #[arg(long, default_value = "")]
        description: String,
        /// A client certificate credential: the SHA-256 of the certificate's DER encoding, as
        /// `openssl x509 -noout -fingerprint -sha256 -in partner.pem` prints it (colons allowed).
        #[arg(long)]
        certificate_sha256: Option<String>,
        /// Lifetime, e.g. 90d; default the server's (365 days).
        #[arg(long, value_parser = parse::duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// Revokes a credential at once.
    Revoke {
        credential: String,
        #[arg(long)]
        reason: String,
    },
    /// Lists credentials (never secrets).
    List {
        #[arg(long, default_value = "")]
        principal: String,
        /// Include revoked and expired ones.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    List {
        #[arg(long, default_value = "")]
        principal: String,
        #[arg(long, default_value = "")]
        resource: String,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
}

/// The period a report covers.
#[derive(Debug, Clone, Args)]
pub struct PeriodArgs {
    /// Start (inclusive): an RFC 3339 time, or a date YYYY-MM-DD (midnight in --zone).
    #[arg(long)]
    pub from: String,
    /// End (exclusive): an RFC 3339 time, or a date YYYY-MM-DD (midnight in --zone).
    #[arg(long)]
    pub to: String,
    /// IANA time zone of hours of day and week, and of dates.
    #[arg(long, default_value = "America/Mexico_City")]
    pub zone: String,
}

#[derive(Debug, Subcommand)]
pub enum ReportCmd {
    /// The period's calls as Mexico City's open-data portal publishes C5's incidents: CSV with
    /// the portal's columns (--out FILE or --csv), a table, or --json.
    OpenData(crate::commands::open_data::OpenDataArgs),
    /// Incidents per H3 cell over a period, against the period of the same length before it.
    HotSpots(crate::commands::report_hot_spots::HotSpotsArgs),
    /// Response-time intervals (call processing, turnout, travel...) with p50/p90 and
    /// compliance with NFPA targets, optionally grouped.
    Intervals {
        #[command(flatten)]
        period: PeriodArgs,
        /// Group by up to two of: incident-type, priority, agency, unit-type, area,
        /// station-area, hour-of-day (comma-separated).
        #[arg(long, value_delimiter = ',', value_parser = parse::report_dimension)]
        by: Vec<pb::ReportDimension>,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// Unit-hour utilization per unit, unit type and station, and first-due performance.
    Utilization {
        #[command(flatten)]
        period: PeriodArgs,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
    /// The share of duplicate calls by channel and hour of day.
    Duplicates {
        #[command(flatten)]
        period: PeriodArgs,
        /// Print CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

/// Which feed to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Feed {
    Incidents,
    Units,
    Referrals,
}

#[derive(Debug, Args)]
pub struct TailArgs {
    pub feed: Feed,
    /// Resume after this sequence (no snapshot); 0 starts with a snapshot.
    #[arg(long, default_value_t = 0)]
    pub after: i64,
    /// Only these statuses (incident, unit or referral statuses, as the feed).
    #[arg(long, value_delimiter = ',')]
    pub status: Vec<String>,
    /// Only this agency (incidents, units) or partner (referrals).
    #[arg(long, default_value = "")]
    pub agency: String,
    #[arg(long, default_value = "")]
    pub partner: String,
    /// Stop after this many events (snapshot items not counted); default: run until interrupted.
    #[arg(long)]
    pub count: Option<u64>,
    /// Stop when the snapshot is complete.
    #[arg(long)]
    pub snapshot_only: bool,
    /// Leave the snapshot out of the output (it still sets the resume point).
    #[arg(long)]
    pub no_snapshot: bool,
}

#[derive(Debug, Subcommand)]
pub enum DemoCmd {
    /// Loads the Mexico City demo through the public API (admin token). Idempotent.
    Load(crate::demo::LoadArgs),
}
