//! Synthetic fleets (dispatch-geo's generator: 90 % busy, around Mexico City) and loading them
//! into a dispatch database directly with SQL, as a migration from another CAD would.

use chrono::{DateTime, Utc};
use dispatch_geo::UnitState;
use dispatch_geo::synthetic::{FleetShape, Region, SplitMix64};

/// A 220 km square around Mexico City, as the geo crate's own benchmark uses.
pub const REGION: Region = Region {
    latitude: 19.4,
    longitude: -99.1,
    half_degrees: 1.0,
};

/// The city proper, where calls come from.
pub const CITY: Region = Region {
    latitude: 19.40,
    longitude: -99.13,
    half_degrees: 0.16,
};

/// `n` units, 90 % busy, 1 % without a position, 5 % with a stale one.
pub fn fleet(seed: u64, n: usize, now: DateTime<Utc>) -> Vec<UnitState> {
    let mut rng = SplitMix64::new(seed ^ n as u64);
    FleetShape::busy_city(REGION)
        .units(&mut rng, n, now)
        .collect()
}

const BATCH: usize = 20_000;

/// Inserts an agency and every unit of `fleet` (available ones `available`, the rest
/// `out_of_service`: a committed status would need an incident per unit). Returns the agency id.
pub async fn load_units(
    client: &tokio_postgres::Client,
    fleet: &[UnitState],
) -> anyhow::Result<String> {
    let agency = uuid::Uuid::new_v4().to_string();
    client
        .execute(
            "INSERT INTO agencies (id, code, display_name, kind) \
             VALUES ($1::text::uuid, 'BENCH', 'Benchmark fleet', 'police')",
            &[&agency],
        )
        .await?;
    let insert = client
        .prepare(
            "INSERT INTO units (id, agency_id, call_sign, unit_type, capabilities, status, \
                                latitude, longitude, accuracy_m, fix_time) \
             SELECT id::uuid, $1::text::uuid, call_sign, unit_type, \
                    string_to_array(capabilities, ','), status, \
                    latitude, longitude, CASE WHEN latitude IS NULL THEN NULL ELSE 10.0 END, \
                    fix_time \
             FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
                         $7::float8[], $8::float8[], $9::timestamptz[]) \
                  AS t(id, call_sign, unit_type, capabilities, status, latitude, longitude, \
                       fix_time)",
        )
        .await?;
    for (chunk_index, chunk) in fleet.chunks(BATCH).enumerate() {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut call_signs = Vec::with_capacity(chunk.len());
        let mut types = Vec::with_capacity(chunk.len());
        let mut capabilities = Vec::with_capacity(chunk.len());
        let mut statuses = Vec::with_capacity(chunk.len());
        let mut latitudes: Vec<Option<f64>> = Vec::with_capacity(chunk.len());
        let mut longitudes: Vec<Option<f64>> = Vec::with_capacity(chunk.len());
        let mut fix_times: Vec<Option<std::time::SystemTime>> = Vec::with_capacity(chunk.len());
        for (i, unit) in chunk.iter().enumerate() {
            ids.push(unit.id.to_string());
            call_signs.push(format!("U{:07}", chunk_index * BATCH + i));
            types.push(unit.unit_type.as_str().to_owned());
            capabilities.push(unit.capabilities.join(","));
            statuses.push(if unit.available {
                "available"
            } else {
                "out_of_service"
            });
            latitudes.push(unit.position.map(|f| f.point.latitude()));
            longitudes.push(unit.position.map(|f| f.point.longitude()));
            fix_times.push(unit.position.map(|f| f.fix_time.into()));
        }
        client
            .execute(
                &insert,
                &[
                    &agency,
                    &ids,
                    &call_signs,
                    &types,
                    &capabilities,
                    &statuses,
                    &latitudes,
                    &longitudes,
                    &fix_times,
                ],
            )
            .await?;
    }
    Ok(agency)
}
