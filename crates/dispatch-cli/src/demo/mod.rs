//! `demo load`: the Mexico City demo, created through the public API only.
//!
//! Idempotent: what exists (by code or call sign) is reused, what is missing is created with a
//! request id derived from its name and the seed, so an interrupted load resumes and a second
//! load creates nothing. Tokens are issued only for roles whose token in the credentials file
//! is missing or no longer valid.

pub mod city;
mod operations;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use clap::Args;
use dispatch_proto::v1 as pb;
use futures::StreamExt as _;

use crate::Ctx;
use crate::client::Clients;
use crate::error::{CliError, Result};
use crate::output::{Format, Table};
use crate::parse;

pub use city::{City, Size};

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// full: all 16 alcaldías, about 1,300 units; small: four alcaldías, a few dozen units.
    #[arg(long, value_enum, default_value = "full")]
    pub size: Size,
    /// Where to write the issued tokens, one per role. It holds secrets: keep it private.
    #[arg(long, default_value = "demo-credentials.env")]
    pub credentials_file: PathBuf,
    /// Seed of the positions (the same seed gives the same city).
    #[arg(long, default_value_t = 2020)]
    pub seed: u64,
    /// Open incidents to leave in the city, as the demo call taker would have opened them
    /// (a call each, spread over the alcaldías by population, of assorted types): a console to
    /// look at under load. Idempotent: a second load with the same number creates none.
    #[arg(long, default_value_t = 0)]
    pub open_incidents: usize,
    /// Also plan the demo's operations: tonight's concert in the Zócalo (C2 Móvil Centro, the
    /// 20 SSC patrols nearest the square staged, its cameras, the Guardia Nacional taking part)
    /// and a standing watch zone in Iztapalapa. Off by default: staged patrols are kept out of
    /// recommendations elsewhere while the concert runs.
    #[arg(long)]
    pub operations: bool,
}

/// Incident types of the demo's open incidents, about as often as a centre sees them.
const OPEN_INCIDENT_TYPES: [(&str, &str); 12] = [
    (
        "TRAFFIC-COLLISION",
        "Choque entre dos autos, sin heridos aparentes",
    ),
    ("TRAFFIC-INJURY", "Choque con una persona herida"),
    ("MED-FALL", "Persona mayor caída en la calle"),
    ("MED-BREATHING", "Persona con dificultad para respirar"),
    ("MED-CHEST-PAIN", "Hombre con dolor en el pecho"),
    ("CRIME-ROBBERY", "Asalto a transeúnte, el agresor huyó"),
    (
        "CRIME-SUSPICIOUS",
        "Personas sospechosas rondando un domicilio",
    ),
    ("ORDER-DISTURBANCE", "Fiesta con música a alto volumen"),
    ("ORDER-FIGHT", "Riña entre varias personas"),
    ("GV-DOMESTIC", "Vecina escucha gritos y golpes"),
    ("FIRE-SMOKE", "Sale humo de un local cerrado"),
    ("HAZARD-ELECTRICAL", "Cable de luz caído sobre la banqueta"),
];

/// Fixed namespace of the demo's request ids.
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d3c_2a4e_9b1f_4c6d_8e2a_5f70_1c3b_9d01);

fn request_id(seed: u64, what: &str) -> String {
    uuid::Uuid::new_v5(&NAMESPACE, format!("demo/v1/{seed}/{what}").as_bytes()).to_string()
}

const CONCURRENCY: usize = 8;

/// Found and created counts, per kind of resource.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub counts: BTreeMap<&'static str, Count>,
    pub credentials_file: String,
    pub credentials_issued: usize,
    pub positions_reported: usize,
    /// Open incidents asked for that exist (created now or by an earlier load).
    pub open_incidents: usize,
    /// Requests the server refused for now (over its rate limit, unavailable) and that were
    /// sent again: the load still completes.
    pub retries: crate::retry::Counts,
}

#[derive(Debug, Default, Clone, Copy, serde::Serialize)]
pub struct Count {
    pub existing: usize,
    pub created: usize,
}

impl Summary {
    fn add(&mut self, kind: &'static str, created: bool) {
        let count = self.counts.entry(kind).or_default();
        if created {
            count.created += 1;
        } else {
            count.existing += 1;
        }
    }
}

fn rpc(name: &'static str) -> impl Fn(tonic::Status) -> CliError {
    move |status| CliError::rpc(name, &status)
}

pub async fn load(ctx: &mut Ctx<'_>, args: LoadArgs) -> Result<()> {
    let clients = ctx.clients().await?;
    clients
        .require_admin(
            "demo load",
            "demo load needs an admin token (it creates principals and credentials): \
             use the token dispatchd printed on its first start, or DISPATCH_ADMIN_TOKEN",
        )
        .await?;
    let city = City::new(args.size, args.seed);
    let mut summary = Summary::default();
    ctx.note(&format!(
        "Loading the Mexico City demo ({} stations, {} units, {} devices, {} partners) into {}",
        city.stations.len(),
        city.units.len(),
        city.cameras.len(),
        city.partners.len(),
        ctx.server
    ));
    let previous = read_env_file(&args.credentials_file);
    // The principals bound to nothing first: listing units takes a staff role, not admin.
    let unbound: Vec<&city::PrincipalSpec> = city::PRINCIPALS
        .iter()
        .filter(|p| p.bound_to.is_none())
        .collect();
    let mut principals = ensure_principals(
        &clients,
        &unbound,
        &Built::default(),
        args.seed,
        &mut summary,
    )
    .await?;
    let mut tokens = ensure_credentials(&clients, &principals, &previous, &mut summary).await?;
    let supervisor =
        clients.with_token(tokens.get("SUPERVISOR_TOKEN").map_or("", String::as_str))?;
    let built = build(
        &clients,
        &supervisor,
        &city::AGENCIES,
        &city,
        args.seed,
        &mut summary,
    )
    .await?;
    let bound: Vec<&city::PrincipalSpec> = city::PRINCIPALS
        .iter()
        .filter(|p| p.bound_to.is_some())
        .collect();
    let more = ensure_principals(&clients, &bound, &built, args.seed, &mut summary).await?;
    tokens.extend(ensure_credentials(&clients, &more, &previous, &mut summary).await?);
    principals.extend(more);
    write_credentials(&args.credentials_file, &ctx.server, &principals, &tokens)?;
    if let Some(gateway) = tokens.get("GATEWAY_TOKEN") {
        summary.positions_reported =
            report_positions(&clients.with_token(gateway)?, &supervisor, &city).await?;
    }
    if args.operations {
        operations::ensure_operations(&supervisor, &city, args.seed, &mut summary).await?;
    }
    if args.open_incidents > 0 {
        let call_taker =
            clients.with_token(tokens.get("CALL_TAKER_TOKEN").map_or("", String::as_str))?;
        summary.open_incidents =
            open_incidents(&call_taker, args.open_incidents, args.seed).await?;
    }
    summary.credentials_file = args.credentials_file.display().to_string();
    summary.retries = clients.retries();

    match ctx.format {
        Format::Json => {
            writeln!(
                ctx.out,
                "{}",
                serde_json::to_string(&summary).map_err(anyhow::Error::from)?
            )?;
        }
        Format::Name => writeln!(ctx.out, "{}", args.credentials_file.display())?,
        Format::Table => {
            let mut table = Table::new(["WHAT", "EXISTING", "CREATED"]);
            for (kind, count) in &summary.counts {
                table.row(vec![
                    (*kind).to_owned(),
                    count.existing.to_string(),
                    count.created.to_string(),
                ]);
            }
            table.write(ctx.out)?;
            writeln!(ctx.out)?;
            writeln!(
                ctx.out,
                "Positions reported for {} available units.",
                summary.positions_reported
            )?;
            if summary.open_incidents > 0 {
                writeln!(ctx.out, "Open incidents: {}.", summary.open_incidents)?;
            }
            if summary.retries.retries > 0 {
                writeln!(
                    ctx.out,
                    "Requests the server asked to send again (sent again, same request ids): {}.",
                    summary.retries.summary()
                )?;
            }
            writeln!(
                ctx.out,
                "Tokens: {} ({} newly issued). It holds secrets: keep it private.",
                args.credentials_file.display(),
                summary.credentials_issued
            )?;
            writeln!(ctx.out)?;
            writeln!(ctx.out, "Next:")?;
            writeln!(
                ctx.out,
                "  set -a; . {}; set +a",
                args.credentials_file.display()
            )?;
            writeln!(
                ctx.out,
                "  DISPATCH_TOKEN=$CALL_TAKER_TOKEN dispatchctl call take --at 19.4326,-99.1332 --type TRAFFIC-INJURY \"Choque con un herido frente a Catedral\""
            )?;
        }
    }
    Ok(())
}

/// Opens `count` incidents as the call taker of `staff`, each from its own call; request ids
/// derived from the seed and the index make a second load a replay that creates nothing.
async fn open_incidents(staff: &Clients, count: usize, seed: u64) -> Result<usize> {
    let population: f64 = city::ALCALDIAS.iter().map(|a| a.population_m).sum();
    let opened = futures::stream::iter(0..count)
        .map(|index| async move {
            let mut rng = city::Rng::for_name(seed, &format!("open-incident/{index}"));
            // An alcaldía by population, then a point in it.
            let mut pick = rng.unit() * population;
            let alcaldia = city::ALCALDIAS
                .iter()
                .find(|a| {
                    pick -= a.population_m;
                    pick <= 0.0
                })
                .unwrap_or(&city::ALCALDIAS[0]);
            let (lat, lon) = rng.around(alcaldia.lat, alcaldia.lon, alcaldia.radius_km * 0.8);
            let kind =
                usize::try_from(rng.next_u64() % OPEN_INCIDENT_TYPES.len() as u64).unwrap_or(0);
            let (incident_type, account) = OPEN_INCIDENT_TYPES[kind];
            let call = staff
                .calls()
                .create_call(pb::CreateCallRequest {
                    request_id: request_id(seed, &format!("open-incident/{index}/call")),
                    channel: pb::CallChannel::Voice911.into(),
                    location: Some(pb::Location {
                        point: Some(pb::GeoPoint {
                            latitude: round6(lat),
                            longitude: round6(lon),
                        }),
                        uncertainty_m: 30.0,
                        source: pb::LocationSource::Device.into(),
                        civic_address: String::new(),
                    }),
                    account: account.to_owned(),
                    incident_type_hint: incident_type.to_owned(),
                    language: "es-MX".into(),
                    ..Default::default()
                })
                .await
                .map_err(rpc("CreateCall"))?
                .into_inner()
                .call
                .unwrap_or_default();
            staff
                .calls()
                .open_incident_from_call(pb::OpenIncidentFromCallRequest {
                    request_id: request_id(seed, &format!("open-incident/{index}/incident")),
                    name: call.name,
                    ..Default::default()
                })
                .await
                .map_err(rpc("OpenIncidentFromCall"))?;
            Ok::<_, CliError>(())
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut count = 0;
    for result in opened {
        result?;
        count += 1;
    }
    Ok(count)
}

/// What a build left in the directory.
#[derive(Debug, Default)]
pub struct Built {
    /// Units in service, by call sign.
    pub units: HashMap<String, pb::Unit>,
    /// Partner agencies by code.
    pub partners: HashMap<String, String>,
}

/// Makes sure `agencies` and everything in `city` exist: reuses what does (by code or call
/// sign), creates the rest with request ids derived from their names and `seed`.
///
/// `clients` writes (an admin); `staff` lists units, which admins may not.
pub async fn build(
    clients: &Clients,
    staff: &Clients,
    agencies: &[city::AgencySpec],
    city: &City,
    seed: u64,
    summary: &mut Summary,
) -> Result<Built> {
    let agencies = ensure_agencies(clients, agencies, seed, summary).await?;
    let stations = ensure_stations(clients, city, &agencies, seed, summary).await?;
    let units = ensure_units(clients, staff, city, &agencies, &stations, seed, summary).await?;
    if !city.cameras.is_empty() {
        ensure_cameras(clients, city, &agencies, seed, summary).await?;
    }
    let partners = if city.partners.is_empty() {
        HashMap::new()
    } else {
        ensure_partners(clients, city, seed, summary).await?
    };
    Ok(Built { units, partners })
}

/// Every item of a list RPC, all pages.
macro_rules! list_all {
    ($client:expr, $method:ident, $ty:ident { $($field:ident : $value:expr),* $(,)? }, $items:ident, $name:literal) => {
        crate::client::pages(usize::MAX, async |page_size, page_token| {
            let request = pb::$ty {
                $($field: $value,)*
                page_size,
                page_token,
                ..Default::default()
            };
            let result = $client.$method(request).await;
            result.map(tonic::Response::into_inner).map_err(rpc($name))
        })
        .await?
        .$items
    };
}

async fn ensure_agencies(
    clients: &Clients,
    wanted: &[city::AgencySpec],
    seed: u64,
    summary: &mut Summary,
) -> Result<HashMap<String, String>> {
    let existing = list_all!(
        clients.directory(),
        list_agencies,
        ListAgenciesRequest {},
        agencies,
        "ListAgencies"
    );
    let mut by_code: HashMap<String, String> =
        existing.into_iter().map(|a| (a.code, a.name)).collect();
    for spec in wanted {
        if by_code.contains_key(spec.code) {
            summary.add("agencies", false);
            continue;
        }
        let request = pb::CreateAgencyRequest {
            request_id: request_id(seed, &format!("agency/{}", spec.code)),
            agency: Some(pb::Agency {
                code: spec.code.into(),
                display_name: spec.name.into(),
                kind: spec.kind.into(),
                ..Default::default()
            }),
        };
        let result = clients.directory().create_agency(request).await;
        let agency = result
            .map_err(rpc("CreateAgency"))?
            .into_inner()
            .agency
            .unwrap_or_default();
        by_code.insert(agency.code, agency.name);
        summary.add("agencies", true);
    }
    Ok(by_code)
}

fn agency_of(agencies: &HashMap<String, String>, code: &str) -> Result<String> {
    agencies
        .get(code)
        .cloned()
        .ok_or_else(|| CliError::local(format!("agency {code} is missing after creating it")))
}

/// Stations by "AGENCY/CODE".
async fn ensure_stations(
    clients: &Clients,
    city: &City,
    agencies: &HashMap<String, String>,
    seed: u64,
    summary: &mut Summary,
) -> Result<HashMap<String, String>> {
    let code_of: HashMap<&String, &String> = agencies.iter().map(|(c, n)| (n, c)).collect();
    let existing = list_all!(
        clients.directory(),
        list_stations,
        ListStationsRequest {},
        stations,
        "ListStations"
    );
    let mut by_key: HashMap<String, String> = existing
        .into_iter()
        .filter_map(|s| {
            code_of
                .get(&s.agency)
                .map(|agency| (format!("{agency}/{}", s.code), s.name))
        })
        .collect();
    let mut missing = Vec::new();
    for spec in &city.stations {
        let key = format!("{}/{}", spec.agency, spec.code);
        if by_key.contains_key(&key) {
            summary.add("stations", false);
        } else {
            missing.push((key, spec, agency_of(agencies, spec.agency)?));
        }
    }
    let created: Vec<Result<(String, String)>> = futures::stream::iter(missing)
        .map(|(key, spec, agency)| async move {
            let request = pb::CreateStationRequest {
                request_id: request_id(seed, &format!("station/{key}")),
                station: Some(pb::Station {
                    agency,
                    code: spec.code.clone(),
                    display_name: spec.name.clone(),
                    location: Some(pb::GeoPoint {
                        latitude: round6(spec.lat),
                        longitude: round6(spec.lon),
                    }),
                    address: spec.address.clone(),
                    ..Default::default()
                }),
            };
            let result = clients.directory().create_station(request).await;
            let station = result
                .map_err(rpc("CreateStation"))?
                .into_inner()
                .station
                .unwrap_or_default();
            Ok((key, station.name))
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for result in created {
        let (key, name) = result?;
        by_key.insert(key, name);
        summary.add("stations", true);
    }
    Ok(by_key)
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Every unit in service, by call sign.
pub async fn units_by_call_sign(clients: &Clients) -> Result<HashMap<String, pb::Unit>> {
    let units = list_all!(
        clients.units(),
        list_units,
        ListUnitsRequest {},
        units,
        "ListUnits"
    );
    Ok(units
        .into_iter()
        .map(|u| (u.call_sign.clone(), u))
        .collect())
}

async fn ensure_units(
    clients: &Clients,
    staff: &Clients,
    city: &City,
    agencies: &HashMap<String, String>,
    stations: &HashMap<String, String>,
    seed: u64,
    summary: &mut Summary,
) -> Result<HashMap<String, pb::Unit>> {
    let mut by_sign = units_by_call_sign(staff).await?;
    let mut missing = Vec::new();
    for spec in &city.units {
        if by_sign.contains_key(&spec.call_sign) {
            summary.add("units", false);
        } else {
            let station = stations.get(&spec.station).cloned().unwrap_or_default();
            missing.push((spec, agency_of(agencies, spec.agency)?, station));
        }
    }
    let progress = crate::output::progress_bar(missing.len() as u64, "units");
    let created: Vec<Result<pb::Unit>> = futures::stream::iter(missing)
        .map(|(spec, agency, station)| {
            let progress = progress.clone();
            async move {
                let request = pb::CreateUnitRequest {
                    request_id: request_id(seed, &format!("unit/{}", spec.call_sign)),
                    unit: Some(pb::Unit {
                        call_sign: spec.call_sign.clone(),
                        agency,
                        unit_type: spec.unit_type.into(),
                        capabilities: spec.capabilities.clone(),
                        home_station: station,
                        status: pb::UnitStatus::Available.into(),
                        ..Default::default()
                    }),
                };
                let result = clients.directory().create_unit(request).await;
                progress.inc(1);
                Ok(result
                    .map_err(rpc("CreateUnit"))?
                    .into_inner()
                    .unit
                    .unwrap_or_default())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    progress.finish_and_clear();
    for result in created {
        let unit = result?;
        by_sign.insert(unit.call_sign.clone(), unit);
        summary.add("units", true);
    }
    Ok(by_sign)
}

async fn ensure_cameras(
    clients: &Clients,
    city: &City,
    agencies: &HashMap<String, String>,
    seed: u64,
    summary: &mut Summary,
) -> Result<()> {
    let existing = list_all!(
        clients.directory(),
        list_cameras,
        ListCamerasRequest {
            include_inactive: true
        },
        cameras,
        "ListCameras"
    );
    let codes: std::collections::HashSet<String> = existing.into_iter().map(|c| c.code).collect();
    let c5 = agencies.get("C5").cloned().unwrap_or_default();
    let mut missing = Vec::new();
    for spec in &city.cameras {
        if codes.contains(&spec.code) {
            summary.add("cameras and panic buttons", false);
        } else {
            missing.push(spec);
        }
    }
    let progress = crate::output::progress_bar(missing.len() as u64, "devices");
    let results: Vec<Result<()>> = futures::stream::iter(missing)
        .map(|spec| {
            let c5 = c5.clone();
            let progress = progress.clone();
            async move {
                let request = pb::CreateCameraRequest {
                    request_id: request_id(seed, &format!("camera/{}", spec.code)),
                    camera: Some(pb::Camera {
                        code: spec.code.clone(),
                        kind: spec.kind.into(),
                        location: Some(pb::GeoPoint {
                            latitude: round6(spec.lat),
                            longitude: round6(spec.lon),
                        }),
                        description: spec.description.clone(),
                        agency: c5,
                        active: true,
                        ..Default::default()
                    }),
                };
                let result = clients.directory().create_camera(request).await;
                progress.inc(1);
                result.map(|_| ()).map_err(rpc("CreateCamera"))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    progress.finish_and_clear();
    for result in results {
        result?;
        summary.add("cameras and panic buttons", true);
    }
    Ok(())
}

/// Partners by code.
async fn ensure_partners(
    clients: &Clients,
    city: &City,
    seed: u64,
    summary: &mut Summary,
) -> Result<HashMap<String, String>> {
    let existing = list_all!(
        clients.directory(),
        list_partner_agencies,
        ListPartnerAgenciesRequest {},
        partner_agencies,
        "ListPartnerAgencies"
    );
    let mut by_code: HashMap<String, String> =
        existing.into_iter().map(|p| (p.code, p.name)).collect();
    for spec in &city.partners {
        if by_code.contains_key(spec.code) {
            summary.add("partner agencies", false);
            continue;
        }
        let (area_name, polygon) = city::area(spec.area);
        let request = pb::CreatePartnerAgencyRequest {
            request_id: request_id(seed, &format!("partner/{}", spec.code)),
            partner_agency: Some(pb::PartnerAgency {
                code: spec.code.into(),
                display_name: spec.name.into(),
                kind: spec.kind.into(),
                services: spec.services.iter().map(|s| (*s).into()).collect(),
                service_areas: vec![pb::ServiceArea {
                    display_name: area_name,
                    shape: Some(pb::service_area::Shape::Polygon(polygon)),
                }],
                capacity: Some(pb::Capacity {
                    available_slots: spec.available,
                    total_slots: spec.total,
                    ..Default::default()
                }),
                location: Some(pb::GeoPoint {
                    latitude: spec.lat,
                    longitude: spec.lon,
                }),
                address: spec.address.into(),
                ..Default::default()
            }),
        };
        let result = clients.directory().create_partner_agency(request).await;
        let partner = result
            .map_err(rpc("CreatePartnerAgency"))?
            .into_inner()
            .partner_agency
            .unwrap_or_default();
        by_code.insert(partner.code, partner.name);
        summary.add("partner agencies", true);
    }
    Ok(by_code)
}

/// Principals by the credentials file key of their role.
async fn ensure_principals(
    clients: &Clients,
    specs: &[&city::PrincipalSpec],
    built: &Built,
    seed: u64,
    summary: &mut Summary,
) -> Result<BTreeMap<&'static str, pb::Principal>> {
    let existing = list_all!(
        clients.directory(),
        list_principals,
        ListPrincipalsRequest {},
        principals,
        "ListPrincipals"
    );
    let mut found = BTreeMap::new();
    for spec in specs {
        if let Some(p) = existing
            .iter()
            .find(|p| p.display_name == spec.name && p.role == spec.role as i32)
        {
            summary.add("principals", false);
            found.insert(spec.env, p.clone());
            continue;
        }
        let (unit, partner) = match (spec.role, spec.bound_to) {
            (pb::Role::FieldUnit, Some(sign)) => (
                built
                    .units
                    .get(sign)
                    .map(|u| u.name.clone())
                    .ok_or_else(|| CliError::local(format!("the demo unit {sign} is missing")))?,
                String::new(),
            ),
            (pb::Role::PartnerAgency, Some(code)) => (
                String::new(),
                built.partners.get(code).cloned().ok_or_else(|| {
                    CliError::local(format!("the demo partner {code} is missing"))
                })?,
            ),
            _ => (String::new(), String::new()),
        };
        let principal = ensure_principal(
            clients,
            spec.role,
            spec.name,
            unit,
            partner,
            &request_id(seed, &format!("principal/{}", spec.env)),
        )
        .await?;
        summary.add("principals", true);
        found.insert(spec.env, principal);
    }
    Ok(found)
}

/// Creates one principal.
pub async fn ensure_principal(
    clients: &Clients,
    role: pb::Role,
    name: &str,
    unit: String,
    partner: String,
    request_id: &str,
) -> Result<pb::Principal> {
    let request = pb::CreatePrincipalRequest {
        request_id: request_id.to_owned(),
        principal: Some(pb::Principal {
            display_name: name.into(),
            role: role.into(),
            unit,
            partner,
            ..Default::default()
        }),
    };
    let result = clients.directory().create_principal(request).await;
    Ok(result
        .map_err(rpc("CreatePrincipal"))?
        .into_inner()
        .principal
        .unwrap_or_default())
}

/// Every principal.
pub async fn all_principals(clients: &Clients) -> Result<Vec<pb::Principal>> {
    Ok(list_all!(
        clients.directory(),
        list_principals,
        ListPrincipalsRequest {},
        principals,
        "ListPrincipals"
    ))
}

/// KEY=VALUE lines of an env file; comments and blanks skipped.
pub fn read_env_file(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_owned(),
                v.trim().trim_matches('\'').trim_matches('"').to_owned(),
            )
        })
        .collect()
}

/// Tokens by file key: kept when the file's token is still valid, issued otherwise.
async fn ensure_credentials(
    clients: &Clients,
    principals: &BTreeMap<&'static str, pb::Principal>,
    previous: &HashMap<String, String>,
    summary: &mut Summary,
) -> Result<BTreeMap<&'static str, String>> {
    let mut tokens = BTreeMap::new();
    for (env, principal) in principals {
        // A token in the file is kept when it still authenticates as this principal.
        let valid = match previous.get(*env) {
            Some(token) if !token.is_empty() => match clients.with_token(token) {
                Ok(holder) => holder
                    .directory()
                    .get_current_principal(pb::GetCurrentPrincipalRequest {})
                    .await
                    .ok()
                    .and_then(|r| r.into_inner().principal)
                    .is_some_and(|p| p.name == principal.name),
                Err(_) => false,
            },
            _ => false,
        };
        if valid {
            tokens.insert(*env, previous.get(*env).cloned().unwrap_or_default());
            continue;
        }
        let issued = issue_token(clients, &principal.name, "dispatchctl demo load", None).await?;
        summary.credentials_issued += 1;
        tokens.insert(*env, issued.token);
    }
    Ok(tokens)
}

/// Issues a bearer token (a fresh request id: a token is shown only once).
pub async fn issue_token(
    clients: &Clients,
    principal: &str,
    description: &str,
    expire_time: Option<prost_types::Timestamp>,
) -> Result<pb::IssueCredentialResponse> {
    Ok(clients
        .directory()
        .issue_credential(pb::IssueCredentialRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            principal: principal.to_owned(),
            kind: pb::CredentialKind::BearerToken.into(),
            description: description.into(),
            expire_time,
            certificate_sha256: String::new(),
        })
        .await
        .map_err(rpc("IssueCredential"))?
        .into_inner())
}

fn write_credentials(
    path: &Path,
    server: &str,
    principals: &BTreeMap<&'static str, pb::Principal>,
    tokens: &BTreeMap<&'static str, String>,
) -> Result<()> {
    let mut text = String::new();
    text.push_str("# dispatchctl demo credentials: bearer tokens, one per role. SECRET: keep this file private.\n");
    text.push_str("# Use:  set -a; . ./demo-credentials.env; set +a; DISPATCH_TOKEN=$DISPATCHER_TOKEN dispatchctl ...\n");
    text.push_str(&format!("DISPATCH_SERVER={server}\n"));
    for spec in &city::PRINCIPALS {
        let Some(principal) = principals.get(spec.env) else {
            continue;
        };
        text.push_str(&format!(
            "# {} ({}, {}){}\n",
            principal.display_name,
            crate::output::role(principal.role),
            principal.name,
            [principal.unit.as_str(), principal.partner.as_str()]
                .iter()
                .find(|s| !s.is_empty())
                .map(|s| format!(" acting for {s}"))
                .unwrap_or_default()
        ));
        text.push_str(&format!(
            "{}={}\n",
            spec.env,
            tokens.get(spec.env).cloned().unwrap_or_default()
        ));
        match spec.role {
            pb::Role::FieldUnit => text.push_str(&format!("FIELD_UNIT={}\n", principal.unit)),
            pb::Role::PartnerAgency => text.push_str(&format!("PARTNER={}\n", principal.partner)),
            _ => {}
        }
    }
    let temporary = path.with_extension("env.tmp");
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)
            .map_err(|e| CliError::local(format!("writing {}: {e}", temporary.display())))?;
        file.write_all(text.as_bytes())
            .map_err(|e| CliError::local(format!("writing {}: {e}", temporary.display())))?;
    }
    std::fs::rename(&temporary, path)
        .map_err(|e| CliError::local(format!("writing {}: {e}", path.display())))?;
    Ok(())
}

/// Reports the home positions of `city`'s available units (as the AVL gateway), fresh now.
/// `staff` lists the units.
pub async fn report_positions(gateway: &Clients, staff: &Clients, city: &City) -> Result<usize> {
    let current = units_by_call_sign(staff).await?;
    let now = parse::timestamp(chrono::Utc::now());
    let reports: Vec<pb::PositionReport> = city
        .units
        .iter()
        .filter_map(|spec| {
            let unit = current.get(&spec.call_sign)?;
            (unit.status == pb::UnitStatus::Available as i32).then(|| pb::PositionReport {
                unit: unit.name.clone(),
                point: Some(pb::GeoPoint {
                    latitude: round6(spec.lat),
                    longitude: round6(spec.lon),
                }),
                accuracy_m: 15.0,
                heading_deg: None,
                speed_mps: Some(0.0),
                fix_time: Some(now),
            })
        })
        .collect();
    let mut accepted = 0usize;
    for chunk in reports.chunks(500) {
        let request = pb::ReportPositionBatchRequest {
            request_id: uuid::Uuid::new_v4().to_string(),
            reports: chunk.to_vec(),
        };
        let result = gateway.units().report_position_batch(request).await;
        let response = result.map_err(rpc("ReportPositionBatch"))?.into_inner();
        accepted +=
            usize::try_from(response.accepted_count + response.superseded_count).unwrap_or(0);
    }
    Ok(accepted)
}
