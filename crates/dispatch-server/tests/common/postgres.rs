//! What the failover and backup tests share: PostgreSQL's client programs run as the clusters'
//! user, and reading back through gRPC and the store what a centre holds (calls, the feed).

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

use dispatch_domain::event::{CallEvent, Event};
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::call_intake_service_client::CallIntakeServiceClient;
use dispatch_proto::v1::unit_assignment_service_client::UnitAssignmentServiceClient;
use dispatch_proto::v1::watch_units_response::Item;
use dispatch_store::cluster;
use dispatch_tests::Authed;
use nix::unistd::User;

/// The user clusters run as when the tests run as root (PostgreSQL refuses root).
fn postgres_user() -> Option<User> {
    nix::unistd::geteuid().is_root().then(|| {
        User::from_name("postgres")
            .ok()
            .flatten()
            .expect("a postgres user")
    })
}

/// Runs a PostgreSQL client program (`pg_basebackup`, `pg_ctl`, `pg_dump`...) as the user the
/// clusters run as, and says what it printed; panics when it fails.
pub fn run_as_postgres(program: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut command = Command::new(client_program(program));
    command.args(args).envs(env.iter().copied());
    if let Some(user) = postgres_user() {
        use std::os::unix::process::CommandExt as _;
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `program` of the same PostgreSQL as the clusters' server: beside `postgres`, or beside what
/// it links to (a `postgres` linked onto PATH may come without the client programs).
fn client_program(program: &str) -> std::path::PathBuf {
    let bin_dir = cluster::find_bin_dir().expect("PostgreSQL binaries");
    let beside = bin_dir.join(program);
    if beside.is_file() {
        return beside;
    }
    std::fs::canonicalize(bin_dir.join("postgres"))
        .ok()
        .and_then(|server| Some(server.parent()?.join(program)))
        .filter(|linked| linked.is_file())
        .unwrap_or_else(|| panic!("no {program} beside {}", bin_dir.display()))
}

/// A directory the clusters' user owns (and only it may enter: PostgreSQL insists on it for
/// data directories).
pub fn private_dir(path: &Path) {
    std::fs::create_dir_all(path).expect("directory");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("permissions");
    if let Some(user) = postgres_user() {
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).expect("chown");
    }
}

/// The password of the superuser of the cluster rooted at `root`.
pub fn password(root: &Path) -> String {
    std::fs::read_to_string(root.join("pg-password"))
        .expect("password file")
        .trim()
        .to_owned()
}

/// Every call a server lists, by name.
pub async fn list_all_calls(
    calls: &mut CallIntakeServiceClient<Authed>,
) -> HashMap<String, pb::Call> {
    let mut listed = HashMap::new();
    let mut page_token = String::new();
    loop {
        let page = calls
            .list_calls(pb::ListCallsRequest {
                page_size: 500,
                page_token,
                ..Default::default()
            })
            .await
            .expect("ListCalls")
            .into_inner();
        for call in page.calls {
            let name = call.name.clone();
            assert!(
                listed.insert(name.clone(), call).is_none(),
                "{name} listed twice"
            );
        }
        if page.next_page_token.is_empty() {
            return listed;
        }
        page_token = page.next_page_token;
    }
}

/// The feed position a server's follower has reached, as a new WatchUnits stream reports it.
pub async fn follower_position(units: &mut UnitAssignmentServiceClient<Authed>) -> i64 {
    let mut stream = units
        .watch_units(pb::WatchUnitsRequest::default())
        .await
        .expect("watch")
        .into_inner();
    loop {
        match stream.message().await.expect("ok").and_then(|m| m.item) {
            Some(Item::SnapshotComplete(done)) => return done.sequence,
            Some(Item::Snapshot(_) | Item::Heartbeat(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// The whole feed, checked dense and ordered: positions 1..=head, each event once.
pub async fn read_feed(store: &dispatch_store::Store) -> Vec<dispatch_store::feed::FeedEvent> {
    let head = store.feed_head().await.expect("feed head");
    let mut feed: Vec<dispatch_store::feed::FeedEvent> = Vec::new();
    let mut seqs = HashSet::new();
    loop {
        let after = feed.last().map_or(0, |event| event.position);
        let events = store.feed_after(after, 1000).await.expect("feed");
        if events.is_empty() {
            break;
        }
        for event in events {
            assert_eq!(
                event.position,
                after_of(&feed) + 1,
                "the feed has a gap or a reorder"
            );
            assert!(
                seqs.insert(event.seq),
                "event {} published twice",
                event.seq
            );
            feed.push(event);
        }
    }
    assert_eq!(after_of(&feed), head, "the feed ends at its head");
    feed
}

fn after_of(feed: &[dispatch_store::feed::FeedEvent]) -> i64 {
    feed.last().map_or(0, |event| event.position)
}

/// How many `call_received` events the feed holds per call name.
pub fn calls_received(feed: &[dispatch_store::feed::FeedEvent]) -> HashMap<String, usize> {
    let mut received: HashMap<String, usize> = HashMap::new();
    for event in feed {
        if let (Event::Call(CallEvent::Received { .. }), Some(call)) = (&event.event, event.call) {
            *received.entry(call.name()).or_default() += 1;
        }
    }
    received
}

/// Polls until a server's follower reaches `head`, within `patience`.
pub async fn wait_for_follower(
    units: &mut UnitAssignmentServiceClient<Authed>,
    head: i64,
    patience: std::time::Duration,
) {
    let started = std::time::Instant::now();
    loop {
        let position = follower_position(units).await;
        if position == head {
            return;
        }
        assert!(
            started.elapsed() < patience,
            "a follower stayed at {position}; the feed's head is {head}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// `dispatchd` in this process on `url` with `config`, on a port-0 listener: its channel once
/// health says SERVING, and the task serving.
pub async fn serve_in_process(
    url: &str,
    config: dispatch_server::Config,
    patience: std::time::Duration,
) -> (tonic::transport::Channel, tokio::task::JoinHandle<()>) {
    let store = dispatch_store::Store::connect(config.store_config(url.to_owned()))
        .await
        .expect("store");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    let task = tokio::spawn(async move {
        dispatch_server::serve(&config, store, listener, std::future::pending())
            .await
            .expect("dispatchd serves");
    });
    let channel = dispatch_tests::process::channel(&address.to_string());
    super::wait_for_health(
        &channel,
        tonic_health::pb::health_check_response::ServingStatus::Serving,
        patience,
    )
    .await;
    (channel, task)
}
