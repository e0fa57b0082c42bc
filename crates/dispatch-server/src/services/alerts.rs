//! `PublicAlertService`: public warnings about incidents, issued as CAP 1.2 messages. A handler
//! reads what the message needs (the incident, the warning's earlier messages), writes the CAP
//! document once, and the store records it as issued; the public feed (`http::alerts`) serves
//! the stored documents unchanged.

use chrono::Utc;

use dispatch_domain::ids::AlertId;
use dispatch_domain::incident::Incident;
use dispatch_proto::v1 as pb;
use dispatch_proto::v1::public_alert_service_server::PublicAlertService;
use dispatch_standards::cap::{self, CapTime, MsgType, Token};
use dispatch_store::alerts::{NewAlert, StoredAlert, Warning};

use super::request;
use super::rpc::{Caller, service};
use crate::auth::note_resource;
use crate::edge::alerts::{
    AlertContent, AreaShape, CancelAlert, IssueAlert, ListAlerts, UpdateAlert, alert_message,
};
use crate::error::Error;

service! {
    /// Public warnings (CAP 1.2): issue, update, cancel, read.
    PublicAlerts: PublicAlertService {
        rpc issue_alert(IssueAlertRequest) -> IssueAlertResponse;
        rpc update_alert(UpdateAlertRequest) -> UpdateAlertResponse;
        rpc cancel_alert(CancelAlertRequest) -> CancelAlertResponse;
        rpc get_alert(GetAlertRequest) -> GetAlertResponse;
        rpc list_alerts(ListAlertsRequest) -> ListAlertsResponse;
    }
}

/// Who the centre's warnings come from: CAP `<sender>` and `<senderName>`.
#[derive(Debug, Clone)]
pub struct AlertSender {
    pub sender: Token,
    pub name: Option<String>,
}

/// A document this server wrote that CAP's rules refuse is a bug, not the caller's fault.
fn internal(what: &str, violations: &dispatch_domain::Violations) -> Error {
    Error::Store(dispatch_store::Error::Internal(format!(
        "{what}: {violations}"
    )))
}

/// A stored message as a later one references it.
fn reference(stored: &StoredAlert) -> Result<cap::Reference, Error> {
    let alert = &stored.alert;
    let bad = |v| internal("a stored alert's reference", &v);
    Ok(cap::Reference {
        sender: Token::new("sender", &alert.sender).map_err(bad)?,
        identifier: Token::new("identifier", &alert.identifier).map_err(bad)?,
        sent: CapTime::parse("sent", &alert.sent).map_err(bad)?,
    })
}

/// One CAP message about `incident`, written now: what is said (`content`, none for a Cancel)
/// and what it follows (`warning`, none for a first Alert).
struct Draft<'a> {
    msg_type: MsgType,
    incident: &'a Incident,
    content: Option<&'a AlertContent>,
    warning: Option<&'a Warning>,
    note: Option<String>,
}

impl PublicAlerts {
    fn write(&self, draft: Draft<'_>) -> Result<NewAlert, Error> {
        let sender = &self.state.alert_sender;
        let id = AlertId::new_v7();
        let sent = CapTime::utc(Utc::now());
        let references = match draft.warning {
            Some(warning) => warning
                .messages()
                .map(reference)
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let identifier = Token::new("identifier", &id.0.to_string())
            .map_err(|v| internal("an alert identifier", &v))?;
        let folio = Token::new("incidents", &draft.incident.folio)
            .map_err(|v| internal("an incident folio", &v))?;
        let infos = draft
            .content
            .map(|content| infos(content, draft.incident, sender))
            .unwrap_or_default();
        let alert = cap::Alert {
            identifier,
            sender: sender.sender.clone(),
            sent,
            status: draft
                .content
                .map(|c| c.status)
                .or(draft.warning.map(|w| w.original.alert.status))
                .unwrap_or(cap::Status::Actual),
            msg_type: draft.msg_type,
            source: None,
            scope: cap::Scope::Public,
            note: draft.note,
            references,
            incidents: vec![folio],
            infos,
        };
        alert
            .validate()
            .map_err(|v| internal("a CAP document", &v))?;
        let headline = match (draft.content, draft.warning) {
            (Some(content), _) => content
                .texts
                .first()
                .map(|t| t.headline.clone().unwrap_or_else(|| t.event.clone()))
                .unwrap_or_default(),
            (None, Some(warning)) => warning.original.alert.headline.clone(),
            (None, None) => String::new(),
        };
        Ok(NewAlert {
            id,
            identifier: alert.identifier.as_str().to_owned(),
            sender: alert.sender.as_str().to_owned(),
            sent: alert.sent.to_string(),
            sent_at: alert.sent.to_utc(),
            status: alert.status,
            msg_type: alert.msg_type,
            original: draft.warning.map(|w| w.original.alert.id),
            incident: draft.incident.id,
            headline,
            cap_xml: alert.to_xml(),
        })
    }

    /// The answer of a mutation: the message with its warning as it now stands.
    async fn answer(&self, stored: StoredAlert) -> Result<pb::Alert, Error> {
        note_resource(stored.alert.id.name());
        let warning = self.state.store.get_warning(stored.alert.id).await?;
        Ok(alert_message(&stored, Some(&warning)))
    }

    async fn issue_alert(
        &self,
        caller: Caller,
        command: IssueAlert,
    ) -> Result<pb::IssueAlertResponse, Error> {
        let store = &self.state.store;
        let incident = store.get_incident(command.incident).await?;
        let new = self.write(Draft {
            msg_type: MsgType::Alert,
            incident: &incident,
            content: Some(&command.content),
            warning: None,
            note: None,
        })?;
        let key = caller.key(command.mutation);
        let issued = store.issue_alert(&key, caller.actor(), &new, None).await?;
        Ok(pb::IssueAlertResponse {
            alert: Some(self.answer(issued.value).await?),
        })
    }

    async fn update_alert(
        &self,
        caller: Caller,
        command: UpdateAlert,
    ) -> Result<pb::UpdateAlertResponse, Error> {
        let store = &self.state.store;
        let warning = store.get_warning(command.alert).await?;
        let incident = store.get_incident(warning.original.alert.incident).await?;
        let new = self.write(Draft {
            msg_type: MsgType::Update,
            incident: &incident,
            content: Some(&command.content),
            warning: Some(&warning),
            note: None,
        })?;
        let key = caller.key(command.mutation);
        let issued = store.issue_alert(&key, caller.actor(), &new, command.etag);
        Ok(pb::UpdateAlertResponse {
            alert: Some(self.answer(issued.await?.value).await?),
        })
    }

    async fn cancel_alert(
        &self,
        caller: Caller,
        command: CancelAlert,
    ) -> Result<pb::CancelAlertResponse, Error> {
        let store = &self.state.store;
        let warning = store.get_warning(command.alert).await?;
        let incident = store.get_incident(warning.original.alert.incident).await?;
        let new = self.write(Draft {
            msg_type: MsgType::Cancel,
            incident: &incident,
            content: None,
            warning: Some(&warning),
            note: Some(command.note),
        })?;
        let key = caller.key(command.mutation);
        let issued = store.issue_alert(&key, caller.actor(), &new, command.etag);
        Ok(pb::CancelAlertResponse {
            alert: Some(self.answer(issued.await?.value).await?),
        })
    }

    async fn get_alert(
        &self,
        _: Caller,
        request: pb::GetAlertRequest,
    ) -> Result<pb::GetAlertResponse, Error> {
        let id = AlertId::parse_name("name", &request.name)?;
        let store = &self.state.store;
        let stored = store.get_alert(id).await?;
        let warning = store.get_warning(id).await?;
        Ok(pb::GetAlertResponse {
            alert: Some(alert_message(&stored, Some(&warning))),
        })
    }

    async fn list_alerts(
        &self,
        _: Caller,
        query: ListAlerts,
    ) -> Result<pb::ListAlertsResponse, Error> {
        let (alerts, next) = self
            .state
            .store
            .list_alerts(query.incident, &query.page)
            .await?;
        Ok(pb::ListAlertsResponse {
            alerts: alerts.iter().map(|a| alert_message(a, None)).collect(),
            next_page_token: request::time_token(next),
        })
    }
}

/// One `<info>` per language, each with the one area.
fn infos(content: &AlertContent, incident: &Incident, sender: &AlertSender) -> Vec<cap::Info> {
    content
        .texts
        .iter()
        .map(|text| cap::Info {
            language: text.language.clone(),
            categories: content.categories.clone(),
            event: text.event.clone(),
            response_types: content.response_types.clone(),
            urgency: content.urgency,
            severity: content.severity,
            certainty: content.certainty,
            event_codes: Vec::new(),
            effective: None,
            expires: content.expires.map(CapTime::utc),
            sender_name: sender.name.clone(),
            headline: text.headline.clone(),
            description: text.description.clone(),
            instruction: Some(text.instruction.clone()),
            contact: None,
            parameters: Vec::new(),
            areas: vec![area(&content.area, incident, &text.area_description)],
        })
        .collect()
}

fn area(shape: &AreaShape, incident: &Incident, description: &str) -> cap::Area {
    let (polygons, circles) = match shape {
        AreaShape::Polygon(polygon) => (vec![polygon.clone()], vec![]),
        AreaShape::Circle { center, radius_km } => (
            vec![],
            vec![cap::Circle {
                center: center.unwrap_or(incident.location.point),
                radius_km: *radius_km,
            }],
        ),
    };
    cap::Area {
        description: description.to_owned(),
        polygons,
        circles,
    }
}
