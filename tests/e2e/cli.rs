//! dispatchctl against a real server: every command runs in-process through
//! `dispatch_cli::run`, with its output and exit code checked as a script would see them.
//!
//! Not covered yet: `tail incidents` and `tail units`, whose RPCs answer UNIMPLEMENTED until
//! the console feeds land; `tail referrals` is.

use std::collections::HashSet;

use dispatch_proto::v1 as pb;
use dispatch_tests::{TestServer, repo_root};
use serde_json::Value;

/// What one dispatchctl invocation gave back.
#[derive(Debug)]
struct Run {
    code: u8,
    out: String,
    err: String,
}

impl Run {
    /// The first stdout line as JSON.
    fn json(&self) -> Value {
        self.json_lines().into_iter().next().expect("a JSON line")
    }

    fn json_lines(&self) -> Vec<Value> {
        self.out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    fn ok(self) -> Self {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.out, self.err);
        self
    }

    /// stdout's only line, for `-q`.
    fn name(&self) -> String {
        self.out.trim().to_owned()
    }
}

async fn ctl(server: &TestServer, token: &str, args: &[&str]) -> Run {
    let address = format!("http://{}", server.address);
    let mut argv = vec!["dispatchctl", "--server", &address, "--token", token];
    argv.extend_from_slice(args);
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = dispatch_cli::run(argv, &mut out, &mut err).await;
    Run {
        code,
        out: String::from_utf8(out).expect("utf-8 stdout"),
        err: String::from_utf8(err).expect("utf-8 stderr"),
    }
}

async fn token(server: &TestServer, role: pb::Role) -> String {
    server.person(role, "cli").await.1
}

/// Takes a call near the Zócalo and opens its incident; returns (call, incident).
async fn incident(server: &TestServer, taker: &str, incident_type: &str) -> (String, String) {
    let call = ctl(
        server,
        taker,
        &[
            "call",
            "take",
            "--at",
            "19.4326,-99.1332",
            "--type",
            incident_type,
            "-q",
            "Choque",
            "frente",
            "a",
            "Catedral",
        ],
    )
    .await
    .ok()
    .name();
    let incident = ctl(server, taker, &["call", "open", &call, "-q"])
        .await
        .ok()
        .name();
    assert!(incident.starts_with("incidents/"), "{incident}");
    (call, incident)
}

/// One of the real data sets, referenced where it lives (never copied into the repository):
/// `DISPATCH_REPLAY_DATA`, `../shared/data` beside the repository, or `/work/shared/data`.
/// `None` on a machine that has none of them: the replay tests then say so and stop.
pub(crate) fn data_file(name: &str) -> Option<String> {
    let mut places = Vec::new();
    if let Ok(dir) = std::env::var("DISPATCH_REPLAY_DATA") {
        places.push(std::path::PathBuf::from(dir));
    }
    places.push(repo_root().join("../shared/data"));
    places.push(std::path::PathBuf::from("/work/shared/data"));
    let found = places
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .map(|path| path.display().to_string());
    if found.is_none() {
        eprintln!("{name} not found (set DISPATCH_REPLAY_DATA): this replay test is skipped");
    }
    found
}

/// int64 fields are strings in the protobuf JSON mapping.
fn int(value: &Value) -> i64 {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("not an integer: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_taker_sees_the_duplicate_and_links_it() {
    let server = TestServer::start().await;
    let taker = token(&server, pb::Role::CallTaker).await;
    let first = ctl(
        &server,
        &taker,
        &[
            "--json",
            "call",
            "take",
            "--at",
            "19.4326,-99.1332",
            "--type",
            "TRAFFIC-INJURY",
            "Choque con un herido",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(first["call"]["state"], "CALL_STATE_OPEN");
    assert_eq!(
        first["duplicateCandidates"].as_array().map(Vec::len),
        Some(0)
    );
    let first_call = first["call"]["name"].as_str().expect("name").to_owned();
    let incident = ctl(&server, &taker, &["call", "open", &first_call, "-q"])
        .await
        .ok()
        .name();

    // A second report 40 m away: the table shows the incident as the top suggestion.
    let second = ctl(
        &server,
        &taker,
        &[
            "call",
            "take",
            "--at",
            "19.4329,-99.1334",
            "--type",
            "TRAFFIC-COLLISION",
            "Otro choque ahí",
        ],
    )
    .await
    .ok();
    assert!(second.out.contains("Possible duplicates"), "{}", second.out);
    assert!(second.out.contains(&incident), "{}", second.out);
    let second_call = second
        .out
        .lines()
        .find_map(|l| l.strip_prefix("call:"))
        .map(|n| n.trim().to_owned())
        .expect("the call's name in the table");
    let duplicates = ctl(
        &server,
        &taker,
        &["--json", "call", "duplicates", &second_call],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        duplicates["duplicateCandidates"][0]["incident"],
        incident.as_str()
    );

    ctl(
        &server,
        &taker,
        &[
            "call",
            "link",
            &second_call,
            &incident,
            "--note",
            "same crash",
        ],
    )
    .await
    .ok();
    let linked = ctl(&server, &taker, &["--json", "call", "get", &second_call])
        .await
        .ok()
        .json();
    assert_eq!(linked["call"]["state"], "CALL_STATE_LINKED");
    assert_eq!(linked["call"]["incident"], incident.as_str());
    let found = server
        .triage()
        .get_incident(pb::GetIncidentRequest {
            name: incident.clone(),
            view: pb::IncidentView::Basic.into(),
        })
        .await
        .expect("incident")
        .into_inner()
        .incident
        .expect("incident");
    assert_eq!(found.linked_call_count, 2);

    // A linked call cannot be disposed of: a conflict with its state, exit 4, naming the call.
    let again = ctl(
        &server,
        &taker,
        &["call", "dispose", &second_call, "--disposition", "prank"],
    )
    .await;
    assert_eq!(again.code, 4, "{again:?}");
    assert!(again.err.contains(&second_call), "{}", again.err);

    // A hang-up is disposed of; the list shows it.
    let hang_up = ctl(
        &server,
        &taker,
        &["call", "take", "--at", "19.40,-99.10", "-q"],
    )
    .await
    .ok()
    .name();
    ctl(
        &server,
        &taker,
        &["call", "dispose", &hang_up, "--disposition", "hang-up"],
    )
    .await
    .ok();
    let listed = ctl(&server, &taker, &["call", "list", "--state", "disposed"])
        .await
        .ok();
    assert!(
        listed.out.contains(&hang_up) && listed.out.contains("disposed"),
        "{}",
        listed.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_recommend_assign_and_the_unit_lifecycle() {
    let server = TestServer::start().await;
    let supervisor = server.token.clone();
    let taker = token(&server, pb::Role::CallTaker).await;
    let dispatcher = token(&server, pb::Role::Dispatcher).await;
    let gateway = token(&server, pb::Role::Gateway).await;

    let ems = ctl(
        &server,
        &supervisor,
        &[
            "agency", "create", "--code", "ERUM", "--name", "ERUM", "--kind", "ems", "-q",
        ],
    )
    .await
    .ok()
    .name();
    let police = ctl(
        &server,
        &supervisor,
        &[
            "agency", "create", "--code", "SSC", "--name", "SSC", "--kind", "police", "-q",
        ],
    )
    .await
    .ok()
    .name();
    let ambulance = ctl(
        &server,
        &supervisor,
        &[
            "unit",
            "create",
            "--call-sign",
            "A-01",
            "--agency",
            &ems,
            "--type",
            "als-ambulance",
            "-q",
        ],
    )
    .await
    .ok()
    .name();
    let patrol = ctl(
        &server,
        &supervisor,
        &[
            "unit",
            "create",
            "--call-sign",
            "P-01",
            "--agency",
            &police,
            "--type",
            "patrol",
            "--capability",
            "patrol",
            "-q",
        ],
    )
    .await
    .ok()
    .name();
    for (unit, at) in [
        (&ambulance, "19.4300,-99.1400"),
        (&patrol, "19.4350,-99.1300"),
    ] {
        ctl(&server, &gateway, &["unit", "position", unit, "--at", at])
            .await
            .ok();
    }

    let (_, incident) = incident(&server, &taker, "TRAFFIC-INJURY").await;
    let questions = ctl(&server, &dispatcher, &["incident", "questions", &incident])
        .await
        .ok();
    assert!(
        questions.out.contains("all_alert") && questions.out.contains("fire"),
        "{}",
        questions.out
    );

    // A yes/no question answered with anything else is caught before the server is asked.
    let bad = ctl(
        &server,
        &dispatcher,
        &["incident", "triage", &incident, "-a", "fire=maybe"],
    )
    .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    assert!(bad.err.contains("answer yes or no"), "{}", bad.err);
    // A required question left out is the server's INVALID_ARGUMENT, with the questions named.
    let missing = ctl(
        &server,
        &dispatcher,
        &["incident", "triage", &incident, "-a", "fire=no"],
    )
    .await;
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(missing.err.contains("all_alert"), "{}", missing.err);

    let triaged = ctl(
        &server,
        &dispatcher,
        &[
            "--json",
            "incident",
            "triage",
            &incident,
            "--answer",
            "all_alert=no",
            "--answer",
            "fire=no",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        triaged["triageRecord"]["determinant"]["code"],
        "TRAFFIC-INJURY-D-3"
    );
    let plan: HashSet<String> = triaged["triageRecord"]["responsePlan"]["requirements"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|r| r["capability"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(plan, HashSet::from(["als".to_owned(), "patrol".to_owned()]));

    let recommendation = ctl(
        &server,
        &dispatcher,
        &["--json", "incident", "recommend", &incident],
    )
    .await
    .ok()
    .json();
    let recommendation = &recommendation["recommendation"];
    assert_eq!(int(&recommendation["totalShortfall"]), 0);
    let picked: HashSet<String> = recommendation["fills"]
        .as_array()
        .expect("fills")
        .iter()
        .flat_map(|f| f["candidates"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["picked"] == true)
        .map(|c| c["unit"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(picked, HashSet::from([ambulance.clone(), patrol.clone()]));
    let name = recommendation["name"].as_str().expect("name");

    let assigned = ctl(
        &server,
        &dispatcher,
        &[
            "--json",
            "incident",
            "assign",
            &incident,
            "--recommendation",
            name,
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(assigned["incident"]["status"], "INCIDENT_STATUS_DISPATCHED");
    assert_eq!(assigned["units"].as_array().map(Vec::len), Some(2));

    // The ambulance's crew reports from the field; the dispatcher releases the patrol.
    let (_, crew) = server
        .principal(pb::Role::FieldUnit, "crew", Some(&ambulance), None)
        .await;
    ctl(&server, &crew, &["unit", "status", &ambulance, "en-route"])
        .await
        .ok();
    let on_scene = ctl(
        &server,
        &crew,
        &[
            "--json",
            "unit",
            "status",
            &ambulance,
            "on-scene",
            "--incident",
            &incident,
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(on_scene["incident"]["status"], "INCIDENT_STATUS_ON_SCENE");
    // A field unit speaks only for its own unit: the patrol is not found to it.
    let not_mine = ctl(&server, &crew, &["unit", "status", &patrol, "en-route"]).await;
    assert_eq!(not_mine.code, 3, "{not_mine:?}");
    ctl(
        &server,
        &dispatcher,
        &[
            "incident",
            "release",
            &incident,
            &patrol,
            "--reason",
            "traffic under control",
        ],
    )
    .await
    .ok();
    let cleared = ctl(
        &server,
        &crew,
        &["--json", "unit", "status", &ambulance, "available"],
    )
    .await
    .ok()
    .json();
    assert_eq!(cleared["unit"]["status"], "UNIT_STATUS_AVAILABLE");
    ctl(
        &server,
        &dispatcher,
        &["incident", "status", &incident, "resolved"],
    )
    .await
    .ok();
    let closed = ctl(
        &server,
        &dispatcher,
        &[
            "--json",
            "incident",
            "close",
            &incident,
            "--code",
            "confirmed",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(closed["incident"]["status"], "INCIDENT_STATUS_CLOSED");
    assert_eq!(closed["incident"]["closingCode"], "CLOSING_CODE_CONFIRMED");

    let shown = ctl(&server, &dispatcher, &["incident", "get", &incident])
        .await
        .ok();
    for expected in [
        "Timeline:",
        "unit-cleared",
        "unit-released",
        "closed",
        "A-01",
        "P-01",
    ] {
        assert!(
            shown.out.contains(expected),
            "{expected} missing from\n{}",
            shown.out
        );
    }
    let units = ctl(
        &server,
        &dispatcher,
        &["unit", "list", "--status", "available"],
    )
    .await
    .ok();
    assert!(
        units.out.contains("A-01") && units.out.contains("P-01"),
        "{}",
        units.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_is_referred_and_the_partner_accepts_declines_and_follows_the_feed() {
    let server = TestServer::start().await;
    let supervisor = server.token.clone();
    let admin = server.admin_token.clone();
    let taker = token(&server, pb::Role::CallTaker).await;
    let dispatcher = token(&server, pb::Role::Dispatcher).await;
    let area = "19.30,-99.12;19.30,-98.96;19.40,-98.96;19.40,-99.12";
    let partner = ctl(
        &server,
        &supervisor,
        &[
            "partner",
            "create",
            "--code",
            "REFUGIO-IZT",
            "--name",
            "Refugio Iztapalapa",
            "--kind",
            "shelter",
            "--service",
            "shelter,legal",
            "--area",
            area,
            "--at",
            "19.35,-99.05",
            "--available",
            "4",
            "--total",
            "12",
            "-q",
        ],
    )
    .await
    .ok()
    .name();
    let lines = ctl(
        &server,
        &admin,
        &[
            "--json",
            "principal",
            "create",
            "--role",
            "partner-agency",
            "--name",
            "Refugio intake",
            "--partner",
            &partner,
            "--issue-token",
        ],
    )
    .await
    .ok()
    .json_lines();
    assert_eq!(lines[0]["principal"]["role"], "ROLE_PARTNER_AGENCY");
    let partner_token = lines[1]["token"].as_str().expect("a token").to_owned();

    let suggested = ctl(
        &server,
        &taker,
        &[
            "--json",
            "referral",
            "suggest",
            "--at",
            "19.35,-99.06",
            "--need",
            "shelter",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(suggested["suggestions"][0]["partner"], partner.as_str());

    let (_, incident) = incident(&server, &taker, "GV-DOMESTIC").await;
    let refer = |alias: &'static str| {
        let (server, taker, incident, partner) = (&server, &taker, &incident, &partner);
        async move {
            ctl(
                server,
                taker,
                &[
                    "referral",
                    "create",
                    incident,
                    "--partner",
                    partner,
                    "--need",
                    "shelter",
                    "--alias",
                    alias,
                    "--age-range",
                    "adult",
                    "--consent-by",
                    "victim",
                    "--safe-contact",
                    "sms:+525512345678",
                    "-q",
                ],
            )
            .await
            .ok()
            .name()
        }
    };
    // Without consent (and no hand-off) the CLI says what is missing.
    let no_consent = ctl(
        &server,
        &taker,
        &[
            "referral",
            "create",
            &incident,
            "--partner",
            &partner,
            "--need",
            "shelter",
            "--alias",
            "X",
        ],
    )
    .await;
    assert_eq!(no_consent.code, 1);
    assert!(
        no_consent.err.contains("--consent-by"),
        "{}",
        no_consent.err
    );
    let first = refer("Victima A").await;

    // The partner's feed: a snapshot, then resume from its sequence to see what follows.
    let snapshot = ctl(
        &server,
        &partner_token,
        &["--json", "tail", "referrals", "--snapshot-only"],
    )
    .await
    .ok()
    .json_lines();
    let complete = snapshot
        .iter()
        .find(|l| l.get("snapshotComplete").is_some())
        .expect("snapshot complete");
    let after = int(&complete["snapshotComplete"]["sequence"]);
    assert!(
        snapshot
            .iter()
            .any(|l| l["snapshot"]["name"] == first.as_str())
    );

    let listed = ctl(&server, &partner_token, &["referral", "list"])
        .await
        .ok();
    assert!(
        listed.out.contains(&first) && listed.out.contains("requested"),
        "{}",
        listed.out
    );
    ctl(
        &server,
        &partner_token,
        &["referral", "accept", &first, "--note", "we call today"],
    )
    .await
    .ok();
    let event = ctl(
        &server,
        &partner_token,
        &[
            "--json",
            "tail",
            "referrals",
            "--after",
            &after.to_string(),
            "--count",
            "1",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(event["event"]["referral"]["name"], first.as_str());
    assert_eq!(
        event["event"]["referral"]["status"],
        "REFERRAL_STATUS_ACCEPTED"
    );
    let table = ctl(
        &server,
        &partner_token,
        &[
            "tail",
            "referrals",
            "--after",
            &after.to_string(),
            "--count",
            "1",
        ],
    )
    .await
    .ok();
    assert!(
        table.out.starts_with('#') && table.out.contains("accepted"),
        "{}",
        table.out
    );

    let second = refer("Victima B").await;
    let declined = ctl(
        &server,
        &partner_token,
        &[
            "--json",
            "referral",
            "decline",
            &second,
            "--reason",
            "no beds tonight",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(declined["referral"]["status"], "REFERRAL_STATUS_DECLINED");
    // Declining twice: the state does not allow it.
    let twice = ctl(
        &server,
        &partner_token,
        &["referral", "decline", &second, "--reason", "again"],
    )
    .await;
    assert_eq!(twice.code, 4, "{twice:?}");

    let capacity = ctl(
        &server,
        &partner_token,
        &[
            "--json",
            "partner",
            "capacity",
            "--available",
            "0",
            "--total",
            "12",
            "--not-accepting",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(capacity["partnerAgency"]["capacity"]["notAccepting"], true);
    // A partner sees only its own referrals: the dispatcher's view has both, with the history.
    let shown = ctl(&server, &dispatcher, &["referral", "get", &first])
        .await
        .ok();
    assert!(
        shown.out.contains("accepted") && shown.out.contains("we call today"),
        "{}",
        shown.out
    );
    // Call takers may not list referrals.
    let denied = ctl(&server, &taker, &["referral", "list"]).await;
    assert_eq!(denied.code, 6, "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_issues_and_revokes_credentials() {
    let server = TestServer::start().await;
    let admin = server.admin_token.clone();
    let principal = ctl(
        &server,
        &admin,
        &[
            "principal",
            "create",
            "--role",
            "dispatcher",
            "--name",
            "Ana Dispatcher",
            "-q",
        ],
    )
    .await
    .ok()
    .name();
    let issued = ctl(
        &server,
        &admin,
        &[
            "--json",
            "credential",
            "issue",
            &principal,
            "--description",
            "night shift",
            "--expires-in",
            "30d",
        ],
    )
    .await
    .ok()
    .json();
    let token = issued["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("dsp_"), "{token}");
    let credential = issued["credential"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let table = ctl(&server, &admin, &["credential", "issue", &principal])
        .await
        .ok();
    assert!(table.out.contains("shown only now"), "{}", table.out);

    let me = ctl(&server, &token, &["--json", "whoami"])
        .await
        .ok()
        .json();
    assert_eq!(me["principal"]["name"], principal.as_str());
    assert_eq!(me["principal"]["role"], "ROLE_DISPATCHER");
    let listed = ctl(
        &server,
        &admin,
        &["credential", "list", "--principal", &principal],
    )
    .await
    .ok();
    assert!(
        listed.out.contains(&credential) && listed.out.contains("night shift"),
        "{}",
        listed.out
    );

    ctl(
        &server,
        &admin,
        &[
            "credential",
            "revoke",
            &credential,
            "--reason",
            "left the centre",
        ],
    )
    .await
    .ok();
    let refused = ctl(&server, &token, &["whoami"]).await;
    assert_eq!(refused.code, 6, "{refused:?}");
    // Only admins issue credentials.
    let denied = ctl(&server, &token, &["credential", "issue", &principal]).await;
    assert_eq!(denied.code, 6, "{denied:?}");
    let principals = ctl(
        &server,
        &admin,
        &["principal", "list", "--role", "dispatcher"],
    )
    .await
    .ok();
    assert!(
        principals.out.contains("Ana Dispatcher"),
        "{}",
        principals.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_json_output_are_what_scripts_expect() {
    let server = TestServer::start().await;
    let taker = token(&server, pb::Role::CallTaker).await;

    let invalid = ctl(
        &server,
        &taker,
        &["call", "take", "--at", "95,-99.13", "--callback", "abc"],
    )
    .await;
    assert_eq!(invalid.code, 2, "{invalid:?}");
    assert!(
        invalid.err.contains("location.point.latitude") && invalid.err.contains("callback_number"),
        "{}",
        invalid.err
    );
    let invalid_json = ctl(
        &server,
        &taker,
        &["--json", "call", "take", "--at", "95,-99.13"],
    )
    .await;
    assert_eq!(invalid_json.code, 2);
    let error: Value = serde_json::from_str(invalid_json.err.trim()).expect("a JSON error");
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["fieldViolations"][0]["field"],
        "location.point.latitude"
    );

    let missing = ctl(
        &server,
        &taker,
        &["call", "get", "calls/01a226e1-4b3a-71cd-9dec-000000000000"],
    )
    .await;
    assert_eq!(missing.code, 3, "{missing:?}");
    let stranger = ctl(&server, "dsp_not_a_real_token", &["whoami"]).await;
    assert_eq!(stranger.code, 6, "{stranger:?}");
    assert!(stranger.err.contains("DISPATCH_TOKEN"), "{}", stranger.err);
    let not_allowed = ctl(
        &server,
        &taker,
        &[
            "agency", "create", "--code", "X", "--name", "X", "--kind", "ems",
        ],
    )
    .await;
    assert_eq!(not_allowed.code, 6, "{not_allowed:?}");
    let no_token = ctl(&server, "", &["whoami"]).await;
    assert_eq!(no_token.code, 1, "{no_token:?}");
    assert!(
        no_token.err.contains("set DISPATCH_TOKEN or pass --token"),
        "{}",
        no_token.err
    );
    let usage = ctl(&server, &taker, &["call", "take"]).await;
    assert_eq!(usage.code, 1, "{usage:?}");
    assert!(usage.err.contains("--at"), "{}", usage.err);
    let bad_point = ctl(&server, &taker, &["call", "take", "--at", "north"]).await;
    assert_eq!(bad_point.code, 1, "{bad_point:?}");
    let help = ctl(&server, &taker, &["--help"]).await;
    assert_eq!(help.code, 0);
    assert!(help.out.contains("Exit codes:"), "{}", help.out);

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let gone = dispatch_cli::run(
        [
            "dispatchctl",
            "--server",
            &format!("127.0.0.1:{port}"),
            "--token",
            &taker,
            "whoami",
        ],
        &mut out,
        &mut err,
    )
    .await;
    assert_eq!(gone, 5, "{}", String::from_utf8_lossy(&err));

    // --request-id makes a retry safe: the same call comes back, marked a replay.
    let id = "5d1b7a9e-3c2f-4e8a-9b6d-0f1e2d3c4b5a";
    let take = [
        "--json",
        "--request-id",
        id,
        "call",
        "take",
        "--at",
        "19.43,-99.13",
        "Un reporte",
    ];
    let once = ctl(&server, &taker, &take).await.ok().json();
    let twice = ctl(&server, &taker, &take).await.ok().json();
    assert_eq!(once["call"]["name"], twice["call"]["name"]);
    assert_eq!(twice["replayed"], true);
    // The same id for something else is refused: exit 4 and what to do.
    let reused = ctl(
        &server,
        &taker,
        &[
            "--request-id",
            id,
            "call",
            "take",
            "--at",
            "19.43,-99.13",
            "Otro",
        ],
    )
    .await;
    assert_eq!(reused.code, 4, "{reused:?}");
    assert!(reused.err.contains("--request-id"), "{}", reused.err);
    assert_eq!(server.count("calls").await, 1);

    // Every list answers JSON a script can read.
    for args in [
        &["--json", "call", "list"][..],
        &["--json", "incident", "list"],
        &["--json", "type", "list"],
        &["--json", "unit", "list"],
    ] {
        ctl(&server, &server.token, args).await.ok().json();
    }
    let types = ctl(&server, &taker, &["type", "list", "--category", "traffic"])
        .await
        .ok();
    assert!(
        types.out.contains("TRAFFIC-INJURY") && !types.out.contains("MED-"),
        "{}",
        types.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_loads_twice_without_duplicating_anything() {
    let server = TestServer::start().await;
    let admin = server.admin_token.clone();
    let dir = scratch_dir("dispatchctl-demo");
    let file = dir.join("demo-credentials.env");
    let file_arg = file.display().to_string();
    let load = [
        "--json",
        "demo",
        "load",
        "--size",
        "small",
        "--credentials-file",
        &file_arg,
        "--open-incidents",
        "12",
    ];

    let first = ctl(&server, &admin, &load).await.ok().json();
    assert_eq!(int(&first["openIncidents"]), 12, "{first}");
    assert_eq!(server.count("incidents").await, 12);
    assert_eq!(server.count("calls").await, 12);
    let created = |summary: &Value, kind: &str| int(&summary["counts"][kind]["created"]);
    let existing = |summary: &Value, kind: &str| int(&summary["counts"][kind]["existing"]);
    assert_eq!(created(&first, "agencies"), 8);
    assert!(created(&first, "units") > 40, "{first}");
    assert!(created(&first, "cameras and panic buttons") > 0, "{first}");
    assert_eq!(created(&first, "partner agencies"), 9);
    assert_eq!(created(&first, "principals"), 8);
    assert_eq!(int(&first["credentialsIssued"]), 8);
    assert_eq!(int(&first["positionsReported"]), created(&first, "units"));
    let units_before = server.count("units").await;
    let stations_before = server.count("stations").await;

    let second = ctl(&server, &admin, &load).await.ok().json();
    for kind in [
        "agencies",
        "stations",
        "units",
        "cameras and panic buttons",
        "partner agencies",
        "principals",
    ] {
        assert_eq!(created(&second, kind), 0, "{kind}: {second}");
        assert_eq!(existing(&second, kind), created(&first, kind), "{kind}");
    }
    assert_eq!(
        int(&second["credentialsIssued"]),
        0,
        "the tokens in the file are still valid"
    );
    assert_eq!(server.count("units").await, units_before);
    assert_eq!(server.count("stations").await, stations_before);
    assert_eq!(int(&second["openIncidents"]), 12);
    assert_eq!(
        server.count("incidents").await,
        12,
        "the same incidents, not new ones"
    );
    assert_eq!(server.count("calls").await, 12);

    // The file holds one token per role, private to its owner, and they work.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&file)
        .expect("the file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "{mode:o}");
    let env = dispatch_cli::demo::read_env_file(&file);
    for (key, role) in [
        ("CALL_TAKER_TOKEN", "ROLE_CALL_TAKER"),
        ("DISPATCHER_TOKEN", "ROLE_DISPATCHER"),
        ("PARTNER_AGENCY_TOKEN", "ROLE_PARTNER_AGENCY"),
        ("FIELD_UNIT_TOKEN", "ROLE_FIELD_UNIT"),
        ("ADMIN_TOKEN", "ROLE_ADMIN"),
    ] {
        let me = ctl(&server, &env[key], &["--json", "whoami"])
            .await
            .ok()
            .json();
        assert_eq!(me["principal"]["role"], role, "{key}");
    }
    // A dispatcher of the demo gets a recommendation near the Zócalo at once.
    let (_, incident) = incident(&server, &env["CALL_TAKER_TOKEN"], "TRAFFIC-INJURY").await;
    let dispatcher = &env["DISPATCHER_TOKEN"];
    ctl(
        &server,
        dispatcher,
        &[
            "incident",
            "triage",
            &incident,
            "-a",
            "all_alert=yes",
            "-a",
            "fire=no",
        ],
    )
    .await
    .ok();
    let recommended = ctl(
        &server,
        dispatcher,
        &["--json", "incident", "recommend", &incident],
    )
    .await
    .ok()
    .json();
    assert_eq!(
        int(&recommended["recommendation"]["totalShortfall"]),
        0,
        "{recommended}"
    );
    // A revoked token in the file is replaced on the next load.
    let gateway = ctl(&server, &env["GATEWAY_TOKEN"], &["--json", "whoami"])
        .await
        .ok()
        .json();
    let gateway = gateway["principal"]["name"].as_str().expect("a name");
    let credentials = ctl(
        &server,
        &admin,
        &["--json", "credential", "list", "--principal", gateway],
    )
    .await
    .ok()
    .json();
    let gateway_credential = credentials["credentials"][0]["name"]
        .as_str()
        .expect("the gateway's credential")
        .to_owned();
    ctl(
        &server,
        &admin,
        &[
            "credential",
            "revoke",
            &gateway_credential,
            "--reason",
            "rotated",
        ],
    )
    .await
    .ok();
    let third = ctl(&server, &admin, &load).await.ok().json();
    assert_eq!(int(&third["credentialsIssued"]), 1, "{third}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory under the system's temporary one, named `label-<random>`.
fn scratch_dir(label: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("{label}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// Loads the small demo city (the replays run on it), its credentials written to `credentials`.
async fn load_small_demo(server: &TestServer, admin: &str, credentials: &str) {
    ctl(
        server,
        admin,
        &[
            "demo",
            "load",
            "--size",
            "small",
            "--credentials-file",
            credentials,
        ],
    )
    .await
    .ok();
}

/// A replay's report must add up: every call linked or opened an incident, and every unit sent
/// came back.
fn assert_consistent(report: &Value, rows: i64) {
    let n = |k: &str| int(&report[k]);
    assert_eq!(n("rows"), rows, "{report}");
    // Every row of the file is accounted for.
    assert_eq!(
        n("rowsInFile"),
        n("rows") + n("rowsSkipped") + n("rowsMerged") + n("rowsBeyondLimit"),
        "{report}"
    );
    assert_eq!(
        usize::try_from(n("rowsSkipped")).ok(),
        report["skipped"].as_array().map(Vec::len),
        "{report}"
    );
    assert_eq!(n("calls"), rows, "{report}");
    assert_eq!(n("failedIntake"), 0, "{report}");
    assert_eq!(
        n("incidents") + n("duplicatesLinked"),
        n("calls"),
        "{report}"
    );
    assert_eq!(n("triaged"), n("incidents"), "{report}");
    assert_eq!(n("unitsCleared"), n("unitsAssigned"), "{report}");
    assert_eq!(n("incidentsClosed"), n("incidents"), "{report}");
    assert!(n("unitsAssigned") > 0, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
    assert_eq!(
        int(&report["latency"]["CreateCall"]["count"]),
        rows,
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slice_of_c5_replays_on_the_demo_city() {
    let server = TestServer::start().await;
    let admin = server.admin_token.clone();
    let Some(file) = data_file("c5_incidentes_viales_2020.csv") else {
        return;
    };
    let replay = [
        "--json",
        "replay",
        "--dataset",
        "c5",
        "--file",
        &file,
        "--limit",
        "200",
        "--workers",
        "4",
    ];

    // Without the demo city there is nothing to dispatch: the CLI says what to run.
    let early = ctl(&server, &admin, &replay).await;
    assert_eq!(early.code, 1, "{early:?}");
    assert!(early.err.contains("demo load"), "{}", early.err);

    let dir = scratch_dir("dispatchctl-replay");
    let credentials = dir.join("creds.env").display().to_string();
    load_small_demo(&server, &admin, &credentials).await;
    let report = ctl(&server, &admin, &replay).await.ok().json();
    assert_consistent(&report, 200);
    let duplicates = &report["duplicates"];
    let total: i64 = [
        "linkedAndDuplicateInData",
        "linkedNotDuplicateInData",
        "openedButDuplicateInData",
        "openedNotDuplicateInData",
    ]
    .iter()
    .map(|k| int(&duplicates[*k]))
    .sum();
    assert_eq!(total, 200, "{report}");
    assert_eq!(
        int(&duplicates["linkedAndDuplicateInData"]) + int(&duplicates["linkedNotDuplicateInData"]),
        int(&report["duplicatesLinked"])
    );
    // C5 closed 46 % of these reports as duplicates; the replay links a good share of them.
    assert!(
        duplicates["recall"].as_f64().unwrap_or_default() > 0.3,
        "{report}"
    );
    assert!(
        duplicates["precision"].as_f64().unwrap_or_default() > 0.6,
        "{report}"
    );
    // The calls carry the data's times: folios are numbered by the data's days.
    assert_eq!(server.count("calls").await, 200);

    // The replay's staff tokens are revoked when it ends.
    let staff = ctl(&server, &admin, &["--json", "credential", "list"])
        .await
        .ok()
        .json();
    let live_replay_tokens = staff["credentials"]
        .as_array()
        .expect("credentials")
        .iter()
        .filter(|c| {
            c["description"]
                .as_str()
                .unwrap_or_default()
                .starts_with("dispatchctl replay")
        })
        .count();
    assert_eq!(live_replay_tokens, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn san_francisco_and_montgomery_replay_on_fleets_built_from_their_data() {
    let server = TestServer::start().await;
    let admin = server.admin_token.clone();
    let (Some(sf), Some(montgomery)) = (
        data_file("sf_fire_calls_2020-04.csv"),
        data_file("montgomery_pa_911_2015-12.csv"),
    ) else {
        return;
    };
    let report = ctl(
        &server,
        &admin,
        &[
            "--json",
            "replay",
            "--dataset",
            "sf",
            "--file",
            &sf,
            "--limit",
            "80",
            "--lifecycle",
            "short",
        ],
    )
    .await
    .ok()
    .json();
    assert_consistent(&report, 80);
    assert!(report["duplicates"].is_null());
    // San Francisco's units by their real ids.
    let units = ctl(&server, &server.token, &["unit", "list", "--limit", "500"])
        .await
        .ok();
    assert!(units.out.contains("SF-"), "{}", units.out);

    let report = ctl(
        &server,
        &admin,
        &[
            "--json",
            "replay",
            "--dataset",
            "montgomery",
            "--file",
            &montgomery,
            "--limit",
            "80",
        ],
    )
    .await
    .ok()
    .json();
    assert_consistent(&report, 80);
}

/// A server that allows each principal only `rate` requests per second (bursts of twice that).
async fn server_limited_to(rate: f64) -> TestServer {
    let mut config = dispatch_server::Config::defaults();
    config.rate_limit = rate;
    TestServer::start_with(config).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_loads_in_one_go_against_a_low_rate_limit() {
    // A tenth of the default limit: dispatchctl's own pace (150/s) runs straight into it, is
    // refused, slows down and sends the refused requests again.
    let server = server_limited_to(20.0).await;
    let admin = server.admin_token.clone();
    let dir = scratch_dir("dispatchctl-demo-limit");
    let file = dir.join("demo-credentials.env").display().to_string();
    let summary = ctl(
        &server,
        &admin,
        &[
            "--json",
            "demo",
            "load",
            "--size",
            "small",
            "--credentials-file",
            &file,
        ],
    )
    .await
    .ok()
    .json();

    // Everything the city has was created, once.
    let city = dispatch_cli::demo::City::new(dispatch_cli::demo::Size::Small, 2020);
    let created = |kind: &str| int(&summary["counts"][kind]["created"]);
    assert_eq!(created("agencies"), 8, "{summary}");
    assert_eq!(created("stations"), city.stations.len() as i64, "{summary}");
    assert_eq!(created("units"), city.units.len() as i64, "{summary}");
    assert_eq!(
        created("cameras and panic buttons"),
        city.cameras.len() as i64,
        "{summary}"
    );
    assert_eq!(created("partner agencies"), 9, "{summary}");
    assert_eq!(created("principals"), 8, "{summary}");
    assert_eq!(int(&summary["credentialsIssued"]), 8, "{summary}");
    assert_eq!(
        int(&summary["positionsReported"]),
        city.units.len() as i64,
        "{summary}"
    );
    assert_eq!(server.count("units").await, city.units.len() as i64);
    assert_eq!(server.count("stations").await, city.stations.len() as i64);
    assert_eq!(server.count("agencies").await, 8);

    // It got there by being refused and sending the same requests again.
    let retries = &summary["retries"];
    assert!(int(&retries["retries"]) > 0, "{summary}");
    assert!(
        int(&retries["byCode"]["RESOURCE_EXHAUSTED"]) > 0,
        "{summary}"
    );
    assert_eq!(int(&retries["gaveUp"]), 0, "{summary}");

    // The tokens it wrote work.
    let env = dispatch_cli::demo::read_env_file(std::path::Path::new(&file));
    let me = ctl(&server, &env["DISPATCHER_TOKEN"], &["--json", "whoami"])
        .await
        .ok()
        .json();
    assert_eq!(me["principal"]["role"], "ROLE_DISPATCHER");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A C5-format file with what other years' files have: a date that is not one, a missing
/// coordinate, a channel this replay has never heard of (ZELLO), a time the clocks skipped.
const C5_WITH_FLAWS: &str = "\
folio,alcaldia_inicio,alcaldia_cierre,incidente_c4,tipo_entrada,clasificacion,codigo_cierre,creado,cerrado,lat,lon
C5/200615/00001,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,LLAMADA DEL 911,EMERGENCIA,A,2020-06-15 10:00:00,2020-06-15 11:00:00,19.4326,-99.1332
C5/200615/00002,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,ZELLO,EMERGENCIA,A,2020-06-15 10:05:00,2020-06-15 11:00:00,19.4420,-99.1500
C5/200615/00003,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,LLAMADA DEL 911,EMERGENCIA,A,2020-02-30 25:00:00,2020-06-15 11:00:00,19.4326,-99.1332
C5/200615/00004,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,RADIO,EMERGENCIA,A,2020-06-15 10:10:00,2020-06-15 11:00:00,,-99.1332
C5/200615/00005,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,RADIO,EMERGENCIA,A,2020-06-15 10:15:00,2020-06-15 11:00:00,19.4100,-99.1700
C5/200615/00006,IZTAPALAPA,IZTAPALAPA,accidente-choque sin lesionados,ZELLO,EMERGENCIA,A,2020-06-15 10:20:00,2020-06-15 11:00:00,19.3600,-99.0700
C5/200405/00007,IZTAPALAPA,IZTAPALAPA,accidente-choque sin lesionados,LLAMADA DEL 911,EMERGENCIA,A,2020-04-05 02:30:00,2020-04-05 04:00:00,19.3700,-99.0800
C5/200615/00008,CUAUHTEMOC,CUAUHTEMOC,accidente-choque sin lesionados,LLAMADA DEL 911,EMERGENCIA,A,2020-06-15 10:25:00,2020-06-15 11:00:00,19.4300,abc
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reports_every_row_it_skips_and_every_channel_it_maps() {
    let server = TestServer::start().await;
    let admin = server.admin_token.clone();
    let dir = scratch_dir("dispatchctl-replay-flaws");
    let csv = dir.join("c5_other_year.csv");
    std::fs::write(&csv, C5_WITH_FLAWS).expect("writing the CSV");
    let csv = csv.display().to_string();
    let credentials = dir.join("creds.env").display().to_string();
    load_small_demo(&server, &admin, &credentials).await;

    let report = ctl(
        &server,
        &admin,
        &[
            "--json",
            "replay",
            "--dataset",
            "c5",
            "--file",
            &csv,
            "--workers",
            "2",
        ],
    )
    .await
    .ok()
    .json();
    // Eight rows: five replayed, three skipped, each with its line and why.
    assert_eq!(int(&report["rowsInFile"]), 8, "{report}");
    assert_eq!(int(&report["rowsSkipped"]), 3, "{report}");
    assert_eq!(
        report["skipped"],
        serde_json::json!([
            {"line": 4, "reason": "creado \"2020-02-30 25:00:00\" is not a date and time like \"2020-06-15 13:45:00\""},
            {"line": 5, "reason": "lat is empty"},
            {"line": 9, "reason": "lon \"abc\" is not a number"},
        ]),
        "{report}"
    );
    assert_consistent(&report, 5);
    // ZELLO, a radio app, came in as radio: counted, not dropped.
    assert_eq!(
        report["channelsMapped"],
        serde_json::json!({"ZELLO → RADIO": 2}),
        "{report}"
    );
    assert_eq!(server.count("calls").await, 5);
    assert_eq!(server.count("calls WHERE channel = 'radio'").await, 3);
    // 02:30 on the day the clocks went forward never happened: read as standard time, said so.
    let adjusted = report["timesAdjusted"].as_array().expect("a list");
    assert_eq!(adjusted.len(), 1, "{report}");
    assert_eq!(int(&adjusted[0]["line"]), 8, "{report}");
    assert!(
        adjusted[0]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("the clocks went forward"),
        "{report}"
    );

    // The table says the same to a person, skipped rows included even when --limit leaves out
    // the rest.
    let table = ctl(
        &server,
        &admin,
        &[
            "replay",
            "--dataset",
            "c5",
            "--file",
            &csv,
            "--limit",
            "1",
            "--no-progress",
        ],
    )
    .await
    .ok();
    for line in [
        "rows in the file: 8 (1 replayed, 3 skipped, 4 beyond --limit)",
        "skipped: line 4: creado \"2020-02-30 25:00:00\" is not a date and time",
        "skipped: line 5: lat is empty",
        "skipped: line 9: lon \"abc\" is not a number",
    ] {
        assert!(table.out.contains(line), "{line:?} in\n{}", table.out);
    }

    // A file with nothing to replay says why.
    let empty = dir.join("nothing.csv");
    std::fs::write(
        &empty,
        C5_WITH_FLAWS
            .lines()
            .enumerate()
            .filter(|(i, _)| [0, 3, 4].contains(i))
            .map(|(_, l)| format!("{l}\n"))
            .collect::<String>(),
    )
    .expect("writing the CSV");
    let nothing = ctl(
        &server,
        &admin,
        &[
            "replay",
            "--dataset",
            "c5",
            "--file",
            &empty.display().to_string(),
        ],
    )
    .await;
    assert_eq!(nothing.code, 1, "{nothing:?}");
    assert!(
        nothing.err.contains("2 rows, 2 skipped; line 2: creado"),
        "{}",
        nothing.err
    );
    let _ = std::fs::remove_dir_all(&dir);
}
