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

    /// Asserts stdout holds every one of `texts`.
    fn assert_out_has(&self, texts: &[&str]) {
        for text in texts {
            assert!(
                self.out.contains(text),
                "{text:?} missing from\n{}",
                self.out
            );
        }
    }

    /// Asserts stderr holds every one of `texts`.
    fn assert_err_has(&self, texts: &[&str]) {
        for text in texts {
            assert!(
                self.err.contains(text),
                "{text:?} missing from\n{}",
                self.err
            );
        }
    }

    /// stdout's only line, for `-q`.
    fn name(&self) -> String {
        self.out.trim().to_owned()
    }
}

/// dispatchctl as the holder of one token, against one server.
struct Ctl<'a> {
    server: &'a TestServer,
    token: String,
}

impl<'a> Ctl<'a> {
    fn new(server: &'a TestServer, token: &str) -> Self {
        Self {
            server,
            token: token.to_owned(),
        }
    }

    /// As a new principal in `role`.
    async fn role(server: &'a TestServer, role: pb::Role) -> Self {
        Self::new(server, &server.person(role, "cli").await.1)
    }

    /// Runs one command line, written as a shell would split it: words part at spaces, and a
    /// 'quoted phrase' is one word.
    async fn run(&self, line: &str) -> Run {
        self.args(&words(line)).await
    }

    /// Runs `line`, which must succeed.
    async fn ok(&self, line: &str) -> Run {
        self.run(line).await.ok()
    }

    /// Runs `line`, which must succeed, and reads its first stdout line as JSON.
    async fn json(&self, line: &str) -> Value {
        self.ok(line).await.json()
    }

    /// Runs `line`, which must succeed, and gives its only stdout line (for `-q`).
    async fn name(&self, line: &str) -> String {
        self.ok(line).await.name()
    }

    /// Runs `args`, which must succeed, and reads its first stdout line as JSON.
    async fn json_args(&self, args: &[&str]) -> Value {
        self.args(args).await.ok().json()
    }

    async fn args(&self, args: &[&str]) -> Run {
        let address = format!("http://{}", self.server.address);
        let mut argv = vec!["dispatchctl", "--server", &address, "--token", &self.token];
        argv.extend_from_slice(args);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = dispatch_cli::run(argv, &mut out, &mut err).await;
        Run {
            code,
            out: String::from_utf8(out).expect("utf-8 stdout"),
            err: String::from_utf8(err).expect("utf-8 stderr"),
        }
    }
}

/// `line`'s words: split at spaces outside single quotes.
fn words(line: &str) -> Vec<&str> {
    line.split('\'')
        .enumerate()
        .flat_map(|(i, part)| {
            if i % 2 == 1 {
                vec![part]
            } else {
                part.split_whitespace().collect()
            }
        })
        .collect()
}

#[test]
fn command_lines_split_like_a_shell() {
    assert_eq!(
        words("call take --at 1,2 'Choque con un herido' -q ''"),
        [
            "call",
            "take",
            "--at",
            "1,2",
            "Choque con un herido",
            "-q",
            ""
        ]
    );
}

/// Takes a call near the Zócalo and opens its incident; returns (call, incident).
async fn incident(taker: &Ctl<'_>, incident_type: &str) -> (String, String) {
    let call = taker
        .name(&format!(
            "call take --at 19.4326,-99.1332 --type {incident_type} -q Choque frente a Catedral"
        ))
        .await;
    let incident = taker.name(&format!("call open {call} -q")).await;
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
    let taker = Ctl::role(&server, pb::Role::CallTaker).await;
    let first = taker
        .json("--json call take --at 19.4326,-99.1332 --type TRAFFIC-INJURY 'Choque con un herido'")
        .await;
    assert_eq!(first["call"]["state"], "CALL_STATE_OPEN");
    assert_eq!(
        first["duplicateCandidates"].as_array().map(Vec::len),
        Some(0)
    );
    let first_call = first["call"]["name"].as_str().expect("name").to_owned();
    let incident = taker.name(&format!("call open {first_call} -q")).await;

    // A second report 40 m away: the table shows the incident as the top suggestion.
    let second = taker
        .ok("call take --at 19.4329,-99.1334 --type TRAFFIC-COLLISION 'Otro choque ahí'")
        .await;
    second.assert_out_has(&["Possible duplicates", &incident]);
    let second_call = second
        .out
        .lines()
        .find_map(|l| l.strip_prefix("call:"))
        .map(|n| n.trim().to_owned())
        .expect("the call's name in the table");
    let duplicates = taker
        .json(&format!("--json call duplicates {second_call}"))
        .await;
    assert_eq!(
        duplicates["duplicateCandidates"][0]["incident"],
        incident.as_str()
    );

    taker
        .ok(&format!(
            "call link {second_call} {incident} --note 'same crash'"
        ))
        .await;
    let linked = taker.json(&format!("--json call get {second_call}")).await;
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
    let again = taker
        .run(&format!("call dispose {second_call} --disposition prank"))
        .await;
    assert_eq!(again.code, 4, "{again:?}");
    again.assert_err_has(&[&second_call]);

    // A hang-up is disposed of; the list shows it.
    let hang_up = taker.name("call take --at 19.40,-99.10 -q").await;
    taker
        .ok(&format!("call dispose {hang_up} --disposition hang-up"))
        .await;
    let listed = taker.ok("call list --state disposed").await;
    listed.assert_out_has(&[&hang_up, "disposed"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_recommend_assign_and_the_unit_lifecycle() {
    let server = TestServer::start().await;
    let supervisor = Ctl::new(&server, &server.token);
    let taker = Ctl::role(&server, pb::Role::CallTaker).await;
    let dispatcher = Ctl::role(&server, pb::Role::Dispatcher).await;
    let gateway = Ctl::role(&server, pb::Role::Gateway).await;

    let ems = supervisor
        .name("agency create --code ERUM --name ERUM --kind ems -q")
        .await;
    let police = supervisor
        .name("agency create --code SSC --name SSC --kind police -q")
        .await;
    let ambulance = supervisor
        .name(&format!(
            "unit create --call-sign A-01 --agency {ems} --type als-ambulance -q"
        ))
        .await;
    let patrol = supervisor
        .name(&format!(
            "unit create --call-sign P-01 --agency {police} --type patrol --capability patrol -q"
        ))
        .await;
    for (unit, at) in [
        (&ambulance, "19.4300,-99.1400"),
        (&patrol, "19.4350,-99.1300"),
    ] {
        gateway.ok(&format!("unit position {unit} --at {at}")).await;
    }

    let (_, incident) = incident(&taker, "TRAFFIC-INJURY").await;
    let questions = dispatcher
        .ok(&format!("incident questions {incident}"))
        .await;
    questions.assert_out_has(&["all_alert", "fire"]);

    // A yes/no question answered with anything else is caught before the server is asked.
    let bad = dispatcher
        .run(&format!("incident triage {incident} -a fire=maybe"))
        .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    bad.assert_err_has(&["answer yes or no"]);
    // A required question left out is the server's INVALID_ARGUMENT, with the questions named.
    let missing = dispatcher
        .run(&format!("incident triage {incident} -a fire=no"))
        .await;
    assert_eq!(missing.code, 2, "{missing:?}");
    missing.assert_err_has(&["all_alert"]);

    let triaged = dispatcher
        .json(&format!(
            "--json incident triage {incident} --answer all_alert=no --answer fire=no"
        ))
        .await;
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

    let recommendation = dispatcher
        .json(&format!("--json incident recommend {incident}"))
        .await;
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

    let assigned = dispatcher
        .json(&format!(
            "--json incident assign {incident} --recommendation {name}"
        ))
        .await;
    assert_eq!(assigned["incident"]["status"], "INCIDENT_STATUS_DISPATCHED");
    assert_eq!(assigned["units"].as_array().map(Vec::len), Some(2));

    // The ambulance's crew reports from the field; the dispatcher releases the patrol.
    let (_, crew) = server
        .principal(pb::Role::FieldUnit, "crew", Some(&ambulance), None)
        .await;
    let crew = Ctl::new(&server, &crew);
    crew.ok(&format!("unit status {ambulance} en-route")).await;
    let on_scene = crew
        .json(&format!(
            "--json unit status {ambulance} on-scene --incident {incident}"
        ))
        .await;
    assert_eq!(on_scene["incident"]["status"], "INCIDENT_STATUS_ON_SCENE");
    // A field unit speaks only for its own unit: the patrol is not found to it.
    let not_mine = crew.run(&format!("unit status {patrol} en-route")).await;
    assert_eq!(not_mine.code, 3, "{not_mine:?}");
    dispatcher
        .ok(&format!(
            "incident release {incident} {patrol} --reason 'traffic under control'"
        ))
        .await;
    let cleared = crew
        .json(&format!("--json unit status {ambulance} available"))
        .await;
    assert_eq!(cleared["unit"]["status"], "UNIT_STATUS_AVAILABLE");
    dispatcher
        .ok(&format!("incident status {incident} resolved"))
        .await;
    let closed = dispatcher
        .json(&format!(
            "--json incident close {incident} --code confirmed"
        ))
        .await;
    assert_eq!(closed["incident"]["status"], "INCIDENT_STATUS_CLOSED");
    assert_eq!(closed["incident"]["closingCode"], "CLOSING_CODE_CONFIRMED");

    let shown = dispatcher.ok(&format!("incident get {incident}")).await;
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
    let units = dispatcher.ok("unit list --status available").await;
    units.assert_out_has(&["A-01", "P-01"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victim_is_referred_and_the_partner_accepts_declines_and_follows_the_feed() {
    let server = TestServer::start().await;
    let supervisor = Ctl::new(&server, &server.token);
    let admin = Ctl::new(&server, &server.admin_token);
    let taker = Ctl::role(&server, pb::Role::CallTaker).await;
    let dispatcher = Ctl::role(&server, pb::Role::Dispatcher).await;
    let area = "19.30,-99.12;19.30,-98.96;19.40,-98.96;19.40,-99.12";
    let partner = supervisor
        .name(&format!(
            "partner create --code REFUGIO-IZT --name 'Refugio Iztapalapa' --kind shelter \
             --service shelter,legal --area {area} --at 19.35,-99.05 --available 4 --total 12 -q"
        ))
        .await;
    let lines = admin
        .ok(&format!(
            "--json principal create --role partner-agency --name 'Refugio intake' \
             --partner {partner} --issue-token"
        ))
        .await
        .json_lines();
    assert_eq!(lines[0]["principal"]["role"], "ROLE_PARTNER_AGENCY");
    let partner_token = Ctl::new(&server, lines[1]["token"].as_str().expect("a token"));

    let suggested = taker
        .json("--json referral suggest --at 19.35,-99.06 --need shelter")
        .await;
    assert_eq!(suggested["suggestions"][0]["partner"], partner.as_str());

    let (_, incident) = incident(&taker, "GV-DOMESTIC").await;
    let refer = |alias: &'static str| {
        let (taker, incident, partner) = (&taker, &incident, &partner);
        async move {
            taker
                .name(&format!(
                    "referral create {incident} --partner {partner} --need shelter \
                     --alias '{alias}' --age-range adult --consent-by victim \
                     --safe-contact sms:+525512345678 -q"
                ))
                .await
        }
    };
    // Without consent (and no hand-off) the CLI says what is missing.
    let no_consent = taker
        .run(&format!(
            "referral create {incident} --partner {partner} --need shelter --alias X"
        ))
        .await;
    assert_eq!(no_consent.code, 1);
    no_consent.assert_err_has(&["--consent-by"]);
    let first = refer("Victima A").await;

    // The partner's feed: a snapshot, then resume from its sequence to see what follows.
    let snapshot = partner_token
        .ok("--json tail referrals --snapshot-only")
        .await
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

    let listed = partner_token.ok("referral list").await;
    listed.assert_out_has(&[&first, "requested"]);
    partner_token
        .ok(&format!("referral accept {first} --note 'we call today'"))
        .await;
    let event = partner_token
        .json(&format!("--json tail referrals --after {after} --count 1"))
        .await;
    assert_eq!(event["event"]["referral"]["name"], first.as_str());
    assert_eq!(
        event["event"]["referral"]["status"],
        "REFERRAL_STATUS_ACCEPTED"
    );
    let table = partner_token
        .ok(&format!("tail referrals --after {after} --count 1"))
        .await;
    assert!(
        table.out.starts_with('#') && table.out.contains("accepted"),
        "{}",
        table.out
    );

    let second = refer("Victima B").await;
    let declined = partner_token
        .json(&format!(
            "--json referral decline {second} --reason 'no beds tonight'"
        ))
        .await;
    assert_eq!(declined["referral"]["status"], "REFERRAL_STATUS_DECLINED");
    // Declining twice: the state does not allow it.
    let twice = partner_token
        .run(&format!("referral decline {second} --reason again"))
        .await;
    assert_eq!(twice.code, 4, "{twice:?}");

    let capacity = partner_token
        .json("--json partner capacity --available 0 --total 12 --not-accepting")
        .await;
    assert_eq!(capacity["partnerAgency"]["capacity"]["notAccepting"], true);
    // A partner sees only its own referrals: the dispatcher's view has both, with the history.
    let shown = dispatcher.ok(&format!("referral get {first}")).await;
    shown.assert_out_has(&["accepted", "we call today"]);
    // Call takers may not list referrals.
    let denied = taker.run("referral list").await;
    assert_eq!(denied.code, 6, "{denied:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_issues_and_revokes_credentials() {
    let server = TestServer::start().await;
    let admin = Ctl::new(&server, &server.admin_token);
    let principal = admin
        .name("principal create --role dispatcher --name 'Ana Dispatcher' -q")
        .await;
    let issued = admin
        .json(&format!(
            "--json credential issue {principal} --description 'night shift' --expires-in 30d"
        ))
        .await;
    let token = issued["token"].as_str().expect("token");
    assert!(token.starts_with("dsp_"), "{token}");
    let token = Ctl::new(&server, token);
    let credential = issued["credential"]["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let table = admin.ok(&format!("credential issue {principal}")).await;
    table.assert_out_has(&["shown only now"]);

    let me = token.json("--json whoami").await;
    assert_eq!(me["principal"]["name"], principal.as_str());
    assert_eq!(me["principal"]["role"], "ROLE_DISPATCHER");
    let listed = admin
        .ok(&format!("credential list --principal {principal}"))
        .await;
    listed.assert_out_has(&[&credential, "night shift"]);

    admin
        .ok(&format!(
            "credential revoke {credential} --reason 'left the centre'"
        ))
        .await;
    let refused = token.run("whoami").await;
    assert_eq!(refused.code, 6, "{refused:?}");
    // Only admins issue credentials.
    let denied = token.run(&format!("credential issue {principal}")).await;
    assert_eq!(denied.code, 6, "{denied:?}");
    let principals = admin.ok("principal list --role dispatcher").await;
    principals.assert_out_has(&["Ana Dispatcher"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_codes_and_json_output_are_what_scripts_expect() {
    let server = TestServer::start().await;
    let taker = Ctl::role(&server, pb::Role::CallTaker).await;

    let invalid = taker.run("call take --at 95,-99.13 --callback abc").await;
    assert_eq!(invalid.code, 2, "{invalid:?}");
    invalid.assert_err_has(&["location.point.latitude", "callback_number"]);
    let invalid_json = taker.run("--json call take --at 95,-99.13").await;
    assert_eq!(invalid_json.code, 2);
    let error: Value = serde_json::from_str(invalid_json.err.trim()).expect("a JSON error");
    assert_eq!(error["error"]["code"], "INVALID_ARGUMENT");
    assert_eq!(
        error["error"]["fieldViolations"][0]["field"],
        "location.point.latitude"
    );

    let missing = taker
        .run("call get calls/01a226e1-4b3a-71cd-9dec-000000000000")
        .await;
    assert_eq!(missing.code, 3, "{missing:?}");
    let stranger = Ctl::new(&server, "dsp_not_a_real_token")
        .run("whoami")
        .await;
    assert_eq!(stranger.code, 6, "{stranger:?}");
    stranger.assert_err_has(&["DISPATCH_TOKEN"]);
    let not_allowed = taker
        .run("agency create --code X --name X --kind ems")
        .await;
    assert_eq!(not_allowed.code, 6, "{not_allowed:?}");
    let no_token = Ctl::new(&server, "").run("whoami").await;
    assert_eq!(no_token.code, 1, "{no_token:?}");
    no_token.assert_err_has(&["set DISPATCH_TOKEN or pass --token"]);
    let usage = taker.run("call take").await;
    assert_eq!(usage.code, 1, "{usage:?}");
    usage.assert_err_has(&["--at"]);
    let bad_point = taker.run("call take --at north").await;
    assert_eq!(bad_point.code, 1, "{bad_point:?}");
    let help = taker.run("--help").await;
    assert_eq!(help.code, 0);
    help.assert_out_has(&["Exit codes:"]);

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
            &taker.token,
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
    let once = taker.json_args(&take).await;
    let twice = taker.json_args(&take).await;
    assert_eq!(once["call"]["name"], twice["call"]["name"]);
    assert_eq!(twice["replayed"], true);
    // The same id for something else is refused: exit 4 and what to do.
    let reused = taker
        .run(&format!(
            "--request-id {id} call take --at 19.43,-99.13 Otro"
        ))
        .await;
    assert_eq!(reused.code, 4, "{reused:?}");
    reused.assert_err_has(&["--request-id"]);
    assert_eq!(server.count("calls").await, 1);

    // Every list answers JSON a script can read.
    for args in [
        &["--json", "call", "list"][..],
        &["--json", "incident", "list"],
        &["--json", "type", "list"],
        &["--json", "unit", "list"],
    ] {
        Ctl::new(&server, &server.token).json_args(args).await;
    }
    let types = taker.ok("type list --category traffic").await;
    assert!(
        types.out.contains("TRAFFIC-INJURY") && !types.out.contains("MED-"),
        "{}",
        types.out
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_city_loads_twice_without_duplicating_anything() {
    let server = TestServer::start().await;
    let admin = Ctl::new(&server, &server.admin_token);
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

    let first = admin.json_args(&load).await;
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

    let second = admin.json_args(&load).await;
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
        let me = Ctl::new(&server, &env[key]).json("--json whoami").await;
        assert_eq!(me["principal"]["role"], role, "{key}");
    }
    // A dispatcher of the demo gets a recommendation near the Zócalo at once.
    let (_, incident) = incident(
        &Ctl::new(&server, &env["CALL_TAKER_TOKEN"]),
        "TRAFFIC-INJURY",
    )
    .await;
    let dispatcher = Ctl::new(&server, &env["DISPATCHER_TOKEN"]);
    dispatcher
        .ok(&format!(
            "incident triage {incident} -a all_alert=yes -a fire=no"
        ))
        .await;
    let recommended = dispatcher
        .json(&format!("--json incident recommend {incident}"))
        .await;
    assert_eq!(
        int(&recommended["recommendation"]["totalShortfall"]),
        0,
        "{recommended}"
    );
    // A revoked token in the file is replaced on the next load.
    let gateway = Ctl::new(&server, &env["GATEWAY_TOKEN"])
        .json("--json whoami")
        .await;
    let gateway = gateway["principal"]["name"].as_str().expect("a name");
    let credentials = admin
        .json(&format!("--json credential list --principal {gateway}"))
        .await;
    let gateway_credential = credentials["credentials"][0]["name"]
        .as_str()
        .expect("the gateway's credential")
        .to_owned();
    admin
        .ok(&format!(
            "credential revoke {gateway_credential} --reason rotated"
        ))
        .await;
    let third = admin.json_args(&load).await;
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
async fn load_small_demo(admin: &Ctl<'_>, credentials: &str) {
    admin
        .ok(&format!(
            "demo load --size small --credentials-file {credentials}"
        ))
        .await;
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
    let admin = Ctl::new(&server, &server.admin_token);
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
        // The second half of the slice: every call is replayed, the figures count these.
        "--from",
        "2020-06-01T12:00:00-05:00",
    ];

    // Without the demo city there is nothing to dispatch: the CLI says what to run.
    let early = admin.args(&replay).await;
    assert_eq!(early.code, 1, "{early:?}");
    early.assert_err_has(&["demo load"]);

    let dir = scratch_dir("dispatchctl-replay");
    let credentials = dir.join("creds.env").display().to_string();
    load_small_demo(&admin, &credentials).await;
    let report = admin.json_args(&replay).await;
    assert_consistent(&report, 200);
    let duplicates = &report["duplicates"];
    let count = |k: &str| int(&duplicates[k]);
    let (tp, fp, fn_, tn) = (
        count("linkedAndDuplicateInData"),
        count("linkedNotDuplicateInData"),
        count("openedButDuplicateInData"),
        count("openedNotDuplicateInData"),
    );
    // Only the calls received from --from on are counted: the second half of the slice.
    assert_eq!(
        report["windowFrom"], "2020-06-01T17:00:00+00:00",
        "{report}"
    );
    let in_window = int(&report["callsInWindow"]);
    assert!((50..150).contains(&in_window), "{report}");
    assert_eq!(tp + fp + fn_ + tn, in_window, "{report}");
    assert_eq!(count("calls"), in_window, "{report}");
    assert!(tp + fp <= int(&report["duplicatesLinked"]), "{report}");
    let rate = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("a rate: {report}"));
    assert_eq!(rate(&duplicates["recall"]), tp as f64 / (tp + fn_) as f64);
    assert_eq!(
        rate(&duplicates["falseLinkRate"]),
        fp as f64 / (fp + tn) as f64
    );
    // The curve starts at the run itself and links fewer calls as the threshold rises.
    let points = duplicates["curve"]["points"].as_array().expect("a curve");
    assert!(points.len() >= 2, "{report}");
    assert_eq!(int(&points[0]["linked"]), tp + fp, "{report}");
    assert_eq!(points[0]["recall"], duplicates["recall"], "{report}");
    assert_eq!(
        points[0]["falseLinkRate"], duplicates["falseLinkRate"],
        "{report}"
    );
    for pair in points.windows(2) {
        assert!(
            rate(&pair[1]["threshold"]) > rate(&pair[0]["threshold"]),
            "{report}"
        );
        assert!(
            int(&pair[1]["linked"]) <= int(&pair[0]["linked"]),
            "{report}"
        );
        assert!(
            rate(&pair[1]["recall"]) <= rate(&pair[0]["recall"]),
            "{report}"
        );
    }
    assert!(
        duplicates["curve"]["note"]
            .as_str()
            .unwrap_or_default()
            .contains("not by rerunning"),
        "{report}"
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
    let staff = admin.json("--json credential list").await;
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
    let admin = Ctl::new(&server, &server.admin_token);
    let (Some(sf), Some(montgomery)) = (
        data_file("sf_fire_calls_2020-04.csv"),
        data_file("montgomery_pa_911_2015-12.csv"),
    ) else {
        return;
    };
    let report = admin
        .json(&format!(
            "--json replay --dataset sf --file {sf} --limit 80 --lifecycle short"
        ))
        .await;
    assert_consistent(&report, 80);
    // In SF's records every call is its own incident: every link is a false one.
    let duplicates = &report["duplicates"];
    assert!(
        duplicates["truth"]
            .as_str()
            .unwrap_or_default()
            .contains("incident numbers"),
        "{report}"
    );
    assert_eq!(int(&duplicates["calls"]), 80, "{report}");
    assert_eq!(int(&duplicates["openedButDuplicateInData"]), 0, "{report}");
    // Following the data, a call the call taker would link opens its own incident as SF's
    // incident numbers say; the duplicate figures count the call taker's judgement.
    let judged = int(&report["duplicatesLinked"]) + int(&report["linksNotFollowed"]);
    assert_eq!(
        int(&duplicates["linkedNotDuplicateInData"]),
        judged,
        "{report}"
    );
    assert!(duplicates["recall"].is_null(), "{report}");
    assert_eq!(
        duplicates["falseLinkRate"].as_f64(),
        Some(judged as f64 / 80.0),
        "{report}"
    );
    // The units sent are the ones SF sent; the server's ETA for each engine or truck going
    // from its own station into its own area is set against SF's real travel time.
    assert_eq!(
        int(&report["unitsSentAsInData"]),
        int(&report["unitsAssigned"]),
        "{report}"
    );
    assert!(int(&report["unitsAssigned"]) > 80, "{report}");
    let travel = &report["travel"];
    let runs = travel["runs"].as_i64().expect("runs");
    let with_eta = travel["withEta"].as_i64().expect("runs with an ETA");
    assert!(with_eta > 0, "{report}");
    assert_eq!(
        runs,
        with_eta
            + travel["stalePosition"].as_i64().unwrap_or(-1)
            + travel["notACandidate"].as_i64().unwrap_or(-1),
        "{report}"
    );
    let median = travel["medianAbsErrorS"].as_f64().expect("a median error");
    let p90 = travel["p90AbsErrorS"].as_f64().expect("a p90 error");
    assert!(0.0 <= median && median <= p90, "{report}");
    let engines = travel["callsWithAnEngine"].as_i64().expect("calls");
    assert!(engines > 0, "{report}");
    assert!(
        (0..=engines).contains(&travel["topEngineWasTheFirstSent"].as_i64().unwrap_or(-1)),
        "{report}"
    );
    assert!(
        report["stations"]
            .as_str()
            .unwrap_or_default()
            .contains("sf_fire_stations.csv"),
        "{report}"
    );
    // Every engine and truck stands at its own station, where it went back when it cleared.
    let stations_csv = data_file("sf_fire_stations.csv").expect("the SF stations");
    let stations: std::collections::HashMap<String, (f64, f64)> =
        std::fs::read_to_string(&stations_csv)
            .expect("the stations file")
            .lines()
            .skip(1)
            .filter_map(|line| {
                let mut fields = line.splitn(4, ',');
                let number = fields.next()?.to_owned();
                let lat = fields.next()?.parse().ok()?;
                let lon = fields.next()?.parse().ok()?;
                Some((number, (lat, lon)))
            })
            .collect();
    let units = Ctl::new(&server, &server.token)
        .json("--json unit list --limit 500")
        .await;
    let mut placed = 0;
    for unit in units["units"].as_array().expect("units") {
        let call_sign = unit["callSign"].as_str().unwrap_or_default();
        let Some(number) = call_sign
            .strip_prefix("SF-E")
            .or_else(|| call_sign.strip_prefix("SF-T"))
        else {
            continue;
        };
        let Some((lat, lon)) = stations.get(number) else {
            continue;
        };
        let point = &unit["position"]["point"];
        let (at_lat, at_lon) = (
            point["latitude"].as_f64().unwrap_or_default(),
            point["longitude"].as_f64().unwrap_or_default(),
        );
        assert!(
            (at_lat - lat).abs() < 1e-6 && (at_lon - lon).abs() < 1e-6,
            "{call_sign} at {at_lat},{at_lon}, station {number} at {lat},{lon}"
        );
        placed += 1;
    }
    assert!(placed > 10, "{units}");

    let report = admin
        .json(&format!(
            "--json replay --dataset montgomery --file {montgomery} --limit 80"
        ))
        .await;
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
    let admin = Ctl::new(&server, &server.admin_token);
    let dir = scratch_dir("dispatchctl-demo-limit");
    let file = dir.join("demo-credentials.env").display().to_string();
    let summary = admin
        .json(&format!(
            "--json demo load --size small --credentials-file {file}"
        ))
        .await;

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
    let me = Ctl::new(&server, &env["DISPATCHER_TOKEN"])
        .json("--json whoami")
        .await;
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
    let admin = Ctl::new(&server, &server.admin_token);
    let dir = scratch_dir("dispatchctl-replay-flaws");
    let csv = dir.join("c5_other_year.csv");
    std::fs::write(&csv, C5_WITH_FLAWS).expect("writing the CSV");
    let csv = csv.display().to_string();
    let credentials = dir.join("creds.env").display().to_string();
    load_small_demo(&admin, &credentials).await;

    let report = admin
        .json(&format!(
            "--json replay --dataset c5 --file {csv} --workers 2"
        ))
        .await;
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
    let table = admin
        .ok(&format!(
            "replay --dataset c5 --file {csv} --limit 1 --no-progress --from 2020-04-01 --to 2020-06-01"
        ))
        .await;
    for line in [
        "rows in the file: 8 (1 replayed, 3 skipped, 4 beyond --limit)",
        // A date is a day on the data's clock (Mexico City, UTC-6 on 1 April).
        "Figures below count the 1 calls received from 2020-04-01T06:00:00+00:00 to 2020-06-01T05:00:00+00:00",
        "false-link rate 0.0 % (0 of 1 calls the data does not call duplicates were linked)",
        "recall n/a (0 of 0 duplicates in the data were linked)",
        "skipped: line 4: creado \"2020-02-30 25:00:00\" is not a date and time",
        "skipped: line 5: lat is empty",
        "skipped: line 9: lon \"abc\" is not a number",
    ] {
        assert!(table.out.contains(line), "{line:?} in\n{}", table.out);
    }

    // A window bound that is neither a date nor a time, or an empty window, is refused.
    let bad = admin
        .run(&format!(
            "replay --dataset c5 --file {csv} --from 14/04/2020"
        ))
        .await;
    assert_eq!(bad.code, 1, "{bad:?}");
    bad.assert_err_has(&["--from \"14/04/2020\": say a date like 2020-08-01"]);
    let empty_window = admin
        .run(&format!(
            "replay --dataset c5 --file {csv} --from 2020-06-02 --to 2020-06-01"
        ))
        .await;
    assert_eq!(empty_window.code, 1, "{empty_window:?}");
    empty_window.assert_err_has(&["must be before --to"]);

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
    let nothing = admin
        .run(&format!("replay --dataset c5 --file {}", empty.display()))
        .await;
    assert_eq!(nothing.code, 1, "{nothing:?}");
    nothing.assert_err_has(&["2 rows, 2 skipped; line 2: creado"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fit duplicates --history`: the centre's own calls, read back through ListCalls, with the
/// incident each was linked to as the truth. Twelve emergencies, each reported again 20 m and
/// 3 minutes later (linked; half from the same phone), and a different one 400 m and 20 minutes
/// later (opened on its own): the fit must find that nearer is likelier and the phone counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_centre_refits_the_duplicate_model_on_its_own_links() {
    let server = TestServer::start().await;
    let taker = Ctl::role(&server, pb::Role::CallTaker).await;
    let start = chrono::Utc::now() - chrono::Duration::hours(20);
    let take = async |lat: f64, minutes: i64, phone: &str| {
        let at = (start + chrono::Duration::minutes(minutes)).to_rfc3339();
        taker
            .name(&format!(
                "call take --at {lat},-99.1332 --type TRAFFIC-COLLISION --received {at} \
                 --callback {phone} -q Choque"
            ))
            .await
    };
    for k in 0..12_i64 {
        let lat = 19.30 + 0.02 * k as f64;
        let minutes = 90 * k;
        let phone = format!("+52550000{k:04}");
        let first = take(lat, minutes, &phone).await;
        let incident = taker.name(&format!("call open {first} -q")).await;
        let again_phone = if k % 2 == 0 {
            phone.clone()
        } else {
            format!("+52551111{k:04}")
        };
        let again = take(lat + 0.000_18, minutes + 3, &again_phone).await;
        taker.ok(&format!("call link {again} {incident}")).await;
        let other = take(lat + 0.0036, minutes + 20, &format!("+52552222{k:04}")).await;
        taker.ok(&format!("call open {other}")).await;
    }
    let supervisor = Ctl::role(&server, pb::Role::Supervisor).await;
    let out = std::env::temp_dir().join(format!("duplicate_model-{}.toml", uuid::Uuid::new_v4()));
    let base = repo_root().join("catalogue/duplicate_model.toml");
    let run = supervisor
        .args(&[
            "fit",
            "duplicates",
            "--history",
            "--base",
            &base.display().to_string(),
            "--out",
            &out.display().to_string(),
        ])
        .await
        .ok();
    run.assert_out_has(&["fitted on 36 calls (24 with a candidate, 12 of them repeats)"]);
    let text = std::fs::read_to_string(&out).expect("the fitted file");
    let _ = std::fs::remove_file(&out);
    let model = dispatch_domain::duplicates::LikelihoodModel::from_toml(&text).expect("valid");
    let shipped = dispatch_domain::duplicates::LikelihoodModel::from_toml(
        &std::fs::read_to_string(&base).expect("the shipped file"),
    )
    .expect("valid");
    assert!(model.weights.log_distance < 0.0, "{:?}", model.weights);
    assert!(
        model.weights.same_callback_number > 0.0
            && model.weights.same_callback_number != shipped.weights.same_callback_number,
        "{:?}",
        model.weights
    );
    // Kept from the base file: the data has no devices.
    assert_eq!(
        model.weights.same_source_device,
        shipped.weights.same_source_device
    );
    assert!(
        model.fitted_on.starts_with("this centre's own calls"),
        "{}",
        model.fitted_on
    );
}
