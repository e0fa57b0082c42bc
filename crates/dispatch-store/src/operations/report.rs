//! What an operation's report reads, in one read-only REPEATABLE READ transaction: the
//! operation's incidents with their assignments' times, and the staged units' assignments over
//! the window. The city's intervals are `Store::interval_times`, read apart.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use dispatch_domain::directory::UnitType;
use dispatch_domain::ids::{IncidentId, OperationId, UnitId};
use dispatch_domain::operation::report::{OperationIncident, StagedAssignment};
use dispatch_domain::reporting::Period;
use dispatch_domain::reporting::intervals::{AssignmentTimes, IncidentTimes};

use crate::error::parse;
use crate::schema::{assignments, incident_operations, units};
use crate::{Error, Store};

/// The operation's side of its report.
#[derive(Debug, Clone, Default)]
pub struct OperationReportInputs {
    pub incidents: Vec<OperationIncident>,
    pub times: Vec<IncidentTimes>,
    pub staged: Vec<StagedAssignment>,
}

/// An incident of the operation: id, type, priority, first call, area, station area.
type IncidentTuple = (
    Uuid,
    Option<String>,
    Option<i16>,
    DateTime<Utc>,
    String,
    String,
);

/// A staged unit's assignment: unit, incident, dispatched, cleared, released.
type StagedTuple = (
    Uuid,
    Uuid,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

type AssignmentTuple = (
    Uuid,
    Uuid,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

impl Store {
    pub async fn operation_report_inputs(
        &self,
        operation: OperationId,
        staged: &[UnitId],
        period: &Period,
    ) -> Result<OperationReportInputs, Error> {
        let mut conn = self.conn().await?;
        let staged: Vec<Uuid> = staged.iter().map(|u| u.0).collect();
        conn.build_transaction()
            .read_only()
            .repeatable_read()
            .run(async |conn| {
                let rows: Vec<IncidentTuple> = incident_operations::table
                    .filter(incident_operations::operation_id.eq(operation.0))
                    .filter(incident_operations::duplicate_of.is_null())
                    .filter(incident_operations::first_call_at.ge(period.start))
                    .filter(incident_operations::first_call_at.lt(period.end))
                    .order((incident_operations::first_call_at, incident_operations::id))
                    .select((
                        incident_operations::id,
                        incident_operations::incident_type,
                        incident_operations::priority,
                        incident_operations::first_call_at,
                        incident_operations::area,
                        incident_operations::station_area,
                    ))
                    .load(conn)
                    .await?;
                let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
                let on_incidents: Vec<AssignmentTuple> = assignments::table
                    .filter(assignments::incident_id.eq_any(&ids))
                    .select((
                        assignments::incident_id,
                        assignments::unit_id,
                        assignments::dispatched_at,
                        assignments::en_route_at,
                        assignments::on_scene_at,
                        assignments::transporting_at,
                        assignments::at_hospital_at,
                        assignments::cleared_at,
                        assignments::released_at,
                    ))
                    .load(conn)
                    .await?;
                let unit_ids: Vec<Uuid> = on_incidents.iter().map(|a| a.1).collect();
                let types: HashMap<Uuid, UnitType> = units::table
                    .filter(units::id.eq_any(&unit_ids))
                    .select((units::id, units::unit_type))
                    .load::<(Uuid, String)>(conn)
                    .await?
                    .into_iter()
                    .map(|(id, text)| Ok((id, parse("unit type", &text, UnitType::parse)?)))
                    .collect::<Result<_, Error>>()?;
                let mut index: HashMap<Uuid, usize> = HashMap::new();
                let mut inputs = OperationReportInputs::default();
                for (id, incident_type, priority, first_call, area, station_area) in rows {
                    index.insert(id, inputs.times.len());
                    inputs.incidents.push(OperationIncident {
                        id: IncidentId(id),
                        incident_type: incident_type.clone(),
                        first_call,
                    });
                    inputs.times.push(IncidentTimes {
                        first_call,
                        incident_type,
                        priority,
                        area,
                        station_area,
                        assignments: Vec::new(),
                    });
                }
                for (
                    incident,
                    unit,
                    dispatched,
                    en_route,
                    on_scene,
                    transporting,
                    at_hospital,
                    cleared,
                    released,
                ) in on_incidents
                {
                    let (Some(&i), Some(&unit_type)) = (index.get(&incident), types.get(&unit))
                    else {
                        continue;
                    };
                    inputs.times[i].assignments.push(AssignmentTimes {
                        unit_type,
                        agency: "".into(),
                        home_station: "".into(),
                        dispatched,
                        en_route,
                        on_scene,
                        transporting,
                        at_hospital,
                        cleared,
                        released,
                    });
                }
                let of_staged: Vec<StagedTuple> = assignments::table
                    .filter(assignments::unit_id.eq_any(&staged))
                    .filter(assignments::dispatched_at.lt(period.end))
                    .filter(
                        assignments::cleared_at
                            .is_null()
                            .or(assignments::cleared_at.gt(period.start)),
                    )
                    .select((
                        assignments::unit_id,
                        assignments::incident_id,
                        assignments::dispatched_at,
                        assignments::cleared_at,
                        assignments::released_at,
                    ))
                    .load(conn)
                    .await?;
                inputs.staged = of_staged
                    .into_iter()
                    .map(
                        |(unit, incident, dispatched, cleared, released)| StagedAssignment {
                            unit: UnitId(unit),
                            dispatched,
                            left: cleared.or(released),
                            inside: index.contains_key(&incident),
                        },
                    )
                    .collect();
                Ok::<_, Error>(inputs)
            })
            .await
    }
}
