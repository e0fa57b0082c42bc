//! Planned operations over time, over gRPC on real PostgreSQL (issue 24): ListOperations a page
//! at a time (a liaison's pages hold only its agency's operations); StandDownOperation ends the
//! window now, releasing the staged units (recommended and sent anywhere again, and free to be
//! staged for another operation: the exclusion constraint sees the shortened window) and
//! ending the tagging of calls inside the zones.

use chrono::{Duration, Utc};
use dispatch_proto::v1 as pb;
use dispatch_tests::fixtures::{
    self, ZOCALO, agency, assign_request, call_at, create_call, incident_at, offset,
};
use dispatch_tests::{TestServer, assert_invalid, request_id};
use tonic::Code;

use crate::operations::{concert, offered, operations_as, picked, recommend, square, timestamp};

fn planned(name: &str, agencies: Vec<String>, units: Vec<String>) -> pb::CreateOperationRequest {
    let now = Utc::now();
    pb::CreateOperationRequest {
        request_id: request_id(),
        operation: Some(pb::Operation {
            display_name: name.into(),
            zones: vec![square(ZOCALO, 0.2)],
            start_time: timestamp(now + Duration::seconds(1)),
            end_time: timestamp(now + Duration::hours(3)),
            agencies,
            staged_units: units,
            ..Default::default()
        }),
    }
}

async fn list_page(
    server: &TestServer,
    token: &str,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListOperationsResponse, tonic::Status> {
    operations_as(server, token)
        .list_operations(pb::ListOperationsRequest {
            page_size,
            page_token: page_token.into(),
        })
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread")]
async fn operations_are_listed_newest_first_a_page_at_a_time() {
    let server = TestServer::start().await;
    let federal = agency(&server, "GN", pb::AgencyKind::Police).await;
    let mut made = Vec::new();
    for (name, agencies) in [
        ("Marcha 8M", vec![federal.clone()]),
        ("Partido en el Azteca", Vec::new()),
        ("Concierto", vec![federal.clone()]),
    ] {
        let operation = operations_as(&server, &server.token)
            .create_operation(planned(name, agencies, Vec::new()))
            .await
            .expect("create")
            .into_inner()
            .operation
            .expect("operation");
        made.push(operation.name);
    }
    let first = list_page(&server, &server.token, 2, "")
        .await
        .expect("page 1");
    let names: Vec<&str> = first.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec![made[2].as_str(), made[1].as_str()]);
    assert!(!first.next_page_token.is_empty());
    let second = list_page(&server, &server.token, 2, &first.next_page_token)
        .await
        .expect("page 2");
    let names: Vec<&str> = second.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, vec![made[0].as_str()]);
    assert_eq!(second.next_page_token, "", "the last page");
    assert_invalid(
        list_page(&server, &server.token, 2, "not-a-token").await,
        "a token this server never issued",
        &["page_token"],
    );

    // A liaison's pages hold only the operations its agency takes part in.
    let (_, liaison) = fixtures::enrol(
        &mut server.directory_as(&server.admin_token),
        pb::Principal {
            display_name: "gn-liaison".into(),
            role: pb::Role::Liaison.into(),
            agency: federal,
            ..Default::default()
        },
    )
    .await;
    let first = list_page(&server, &liaison, 1, "").await.expect("page 1");
    assert_eq!(first.operations[0].name, made[2]);
    let second = list_page(&server, &liaison, 1, &first.next_page_token)
        .await
        .expect("page 2");
    assert_eq!(second.operations.len(), 1);
    assert_eq!(second.operations[0].name, made[0]);
    assert_eq!(
        second.next_page_token, "",
        "the other operation is not the liaison's"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stood_down_operation_releases_its_staged_units_and_tags_no_more_calls() {
    let concert = concert().await;
    let server = &concert.server;
    let staged = &concert.staged.name;
    // While it is in force the staged patrol, though nearest, is kept from an incident outside.
    let outside = incident_at(server, offset(ZOCALO, 0.7, 0.1)).await;
    assert!(!offered(&recommend(server, &outside.name).await).contains(staged));

    // Only a supervisor stands it down.
    let (_, dispatcher) = server.person(pb::Role::Dispatcher, "dispatcher").await;
    let refused = operations_as(server, &dispatcher)
        .stand_down_operation(pb::StandDownOperationRequest {
            request_id: request_id(),
            name: concert.operation.name.clone(),
        })
        .await
        .expect_err("a dispatcher");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    let before = Utc::now();
    let stood_down = operations_as(server, &server.token)
        .stand_down_operation(pb::StandDownOperationRequest {
            request_id: request_id(),
            name: concert.operation.name.clone(),
        })
        .await
        .expect("stand down")
        .into_inner()
        .operation
        .expect("operation");
    assert!(!stood_down.active, "{stood_down:?}");
    let end = stood_down.end_time.expect("an end");
    assert!(end.seconds >= before.timestamp() - 1 && end.seconds <= Utc::now().timestamp() + 1);
    // Twice is refused: it has ended.
    let again = operations_as(server, &server.token)
        .stand_down_operation(pb::StandDownOperationRequest {
            request_id: request_id(),
            name: concert.operation.name.clone(),
        })
        .await
        .expect_err("ended");
    assert_eq!(again.code(), Code::FailedPrecondition, "{again:?}");

    // The patrol is recommended for the incident outside and sent without a reason.
    let recommendation = recommend(server, &outside.name).await;
    assert_eq!(picked(&recommendation), vec![staged.clone()]);
    server
        .units()
        .assign_units(assign_request(
            &outside.name,
            &[staged],
            &recommendation.name,
            "",
        ))
        .await
        .expect("no longer reserved");
    // A call inside the Zócalo is no longer the operation's.
    let call = create_call(server, call_at(ZOCALO, 10.0))
        .await
        .call
        .expect("call");
    assert_eq!(call.operation, "");
    // And the patrol may be staged for the next operation: PostgreSQL's exclusion constraint
    // sees the shortened window.
    operations_as(server, &server.token)
        .create_operation(planned(
            "Después del concierto",
            Vec::new(),
            vec![staged.clone()],
        ))
        .await
        .expect("staged again");
}
