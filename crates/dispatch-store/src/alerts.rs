//! Public warnings: each CAP message as issued (the document kept exactly as published), the
//! first Alert of a warning and the Updates and Cancel that reference it. Append-only: a
//! message a consumer may already hold is never changed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use dispatch_domain::ids::{AlertId, IncidentId};
use dispatch_standards::cap::{MsgType, Status};

use crate::error::parse;
use crate::schema::public_alerts;
use crate::{Error, Idempotency, Page, Store, TimeCursor, Written, find_one, newest_first_after};

/// A CAP message to record, its document already written.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub id: AlertId,
    pub identifier: String,
    pub sender: String,
    /// `<sent>` as the document spells it.
    pub sent: String,
    pub sent_at: DateTime<Utc>,
    pub status: Status,
    pub msg_type: MsgType,
    /// The warning's first message, for an Update or Cancel.
    pub original: Option<AlertId>,
    pub incident: IncidentId,
    pub headline: String,
    pub cap_xml: String,
}

/// A CAP message as issued.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredAlert {
    pub alert: NewAlert,
    pub issued_by: String,
    pub created_at: DateTime<Utc>,
}

impl StoredAlert {
    /// The warning this message belongs to: its original Alert.
    pub fn warning(&self) -> AlertId {
        self.alert.original.unwrap_or(self.alert.id)
    }
}

/// A warning: its original Alert and the messages that followed, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub original: StoredAlert,
    pub later: Vec<StoredAlert>,
}

impl Warning {
    /// Its etag's version: how many messages it has.
    pub fn version(&self) -> i64 {
        1 + i64::try_from(self.later.len()).unwrap_or(i64::MAX - 1)
    }

    pub fn cancelled(&self) -> bool {
        self.later
            .iter()
            .any(|m| m.alert.msg_type == MsgType::Cancel)
    }

    /// Every message, oldest first.
    pub fn messages(&self) -> impl Iterator<Item = &StoredAlert> {
        std::iter::once(&self.original).chain(&self.later)
    }
}

impl Store {
    /// Records a message. An Update or Cancel needs its warning to exist, be the same sender's
    /// and incident's, and not be cancelled (FAILED_PRECONDITION naming the warning), and, when
    /// `expected_version` is given, to have that many messages (else stale).
    pub async fn issue_alert(
        &self,
        key: &Idempotency,
        actor: &str,
        alert: &NewAlert,
        expected_version: Option<i64>,
    ) -> Result<Written<StoredAlert>, Error> {
        self.write_once(
            key,
            &alert.id.name(),
            async |conn| {
                if let Some(original) = alert.original {
                    check_follows(conn, alert, original, expected_version).await?;
                }
                insert(conn, actor, alert).await
            },
            async |conn, claimed| {
                let id = claimed.resource(alert.id, AlertId::parse_name)?;
                load_alert(conn, id).await
            },
        )
        .await
    }

    pub async fn get_alert(&self, id: AlertId) -> Result<StoredAlert, Error> {
        load_alert(&mut *self.conn().await?, id).await
    }

    /// The message issued as `identifier` (what the public feed links to). Identifiers are
    /// unique per sender, and this server's are UUIDs, so unique whatever the sender was
    /// configured to be when each was issued.
    pub async fn get_alert_by_identifier(&self, identifier: String) -> Result<StoredAlert, Error> {
        let query = public_alerts::table
            .filter(public_alerts::identifier.eq(identifier.clone()))
            .order(public_alerts::created_at.asc())
            .select(AlertRow::as_select());
        find_one(&mut *self.conn().await?, query, || {
            format!("alert {identifier:?}")
        })
        .await
    }

    /// The warning `id` belongs to, with every message of it.
    pub async fn get_warning(&self, id: AlertId) -> Result<Warning, Error> {
        let mut conn = self.conn().await?;
        let message = load_alert(&mut conn, id).await?;
        load_warning(&mut conn, message.warning()).await
    }

    /// Messages newest first, optionally those about one incident.
    pub async fn list_alerts(
        &self,
        incident: Option<IncidentId>,
        page: &Page<TimeCursor>,
    ) -> Result<(Vec<StoredAlert>, Option<TimeCursor>), Error> {
        let mut query = public_alerts::table
            .select(AlertRow::as_select())
            .order((public_alerts::created_at.desc(), public_alerts::id.desc()))
            .into_boxed();
        if let Some(incident) = incident {
            query = query.filter(public_alerts::incident_id.eq(incident.0));
        }
        let query = page.query(query, |query, after| {
            query.filter(newest_first_after!(
                public_alerts::created_at,
                public_alerts::id,
                after
            ))
        });
        page.finish(
            query.load(&mut *self.conn().await?).await?,
            |row: &AlertRow| TimeCursor {
                time: row.created_at,
                id: row.id,
            },
        )
    }
}

/// The checks an Update or Cancel passes, under the warning's lock (the same the table's
/// trigger takes, so an Update racing a Cancel waits for it and sees it).
async fn check_follows(
    conn: &mut AsyncPgConnection,
    alert: &NewAlert,
    original: AlertId,
    expected_version: Option<i64>,
) -> Result<(), Error> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtextextended('public_alert:' || $1, 0))")
        .bind::<diesel::sql_types::Text, _>(original.0.to_string())
        .execute(conn)
        .await?;
    let warning = load_warning(conn, original).await?;
    let subject = original.name();
    let refuse = |current: String| {
        Err(Error::from(dispatch_domain::Error::WrongState {
            subject: subject.clone(),
            current,
            action: format!("issue an {}", alert.msg_type.as_str()),
        }))
    };
    if warning.original.alert.sender != alert.sender {
        return refuse(format!("issued by {}", warning.original.alert.sender));
    }
    if warning.original.alert.incident != alert.incident {
        return refuse(format!("about {}", warning.original.alert.incident.name()));
    }
    if warning.cancelled() {
        return refuse("cancelled".into());
    }
    if expected_version.is_some_and(|v| v != warning.version()) {
        return Err(Error::Stale(subject));
    }
    Ok(())
}

async fn insert(conn: &mut AsyncPgConnection, actor: &str, alert: &NewAlert) -> Result<(), Error> {
    diesel::insert_into(public_alerts::table)
        .values((
            public_alerts::id.eq(alert.id.0),
            public_alerts::identifier.eq(&alert.identifier),
            public_alerts::sender.eq(&alert.sender),
            public_alerts::sent.eq(&alert.sent),
            public_alerts::sent_at.eq(alert.sent_at),
            public_alerts::status.eq(alert.status.as_str()),
            public_alerts::msg_type.eq(alert.msg_type.as_str()),
            public_alerts::original_id.eq(alert.original.map(|id| id.0)),
            public_alerts::original_sender.eq(alert.original.map(|_| &alert.sender)),
            public_alerts::incident_id.eq(alert.incident.0),
            public_alerts::issued_by.eq(actor),
            public_alerts::headline.eq(&alert.headline),
            public_alerts::cap_xml.eq(&alert.cap_xml),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

async fn load_alert(conn: &mut AsyncPgConnection, id: AlertId) -> Result<StoredAlert, Error> {
    let query = public_alerts::table
        .find(id.0)
        .select(AlertRow::as_select());
    find_one(conn, query, || id.name()).await
}

async fn load_warning(conn: &mut AsyncPgConnection, original: AlertId) -> Result<Warning, Error> {
    let original = load_alert(conn, original).await?;
    let later: Vec<AlertRow> = public_alerts::table
        .filter(public_alerts::original_id.eq(original.alert.id.0))
        .select(AlertRow::as_select())
        .order((public_alerts::created_at.asc(), public_alerts::id.asc()))
        .load(conn)
        .await?;
    Ok(Warning {
        original,
        later: later
            .into_iter()
            .map(StoredAlert::try_from)
            .collect::<Result<_, _>>()?,
    })
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = public_alerts, check_for_backend(diesel::pg::Pg))]
struct AlertRow {
    id: Uuid,
    identifier: String,
    sender: String,
    sent: String,
    sent_at: DateTime<Utc>,
    status: String,
    msg_type: String,
    original_id: Option<Uuid>,
    incident_id: Uuid,
    issued_by: String,
    headline: String,
    cap_xml: String,
    created_at: DateTime<Utc>,
}

impl TryFrom<AlertRow> for StoredAlert {
    type Error = Error;

    fn try_from(row: AlertRow) -> Result<Self, Error> {
        Ok(Self {
            alert: NewAlert {
                id: AlertId(row.id),
                identifier: row.identifier,
                sender: row.sender,
                sent: row.sent,
                sent_at: row.sent_at,
                status: parse("alert status", &row.status, Status::parse)?,
                msg_type: parse("alert message type", &row.msg_type, MsgType::parse)?,
                original: row.original_id.map(AlertId),
                incident: IncidentId(row.incident_id),
                headline: row.headline,
                cap_xml: row.cap_xml,
            },
            issued_by: row.issued_by,
            created_at: row.created_at,
        })
    }
}
