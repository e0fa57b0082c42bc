//! The directory and security: agencies, stations, cameras, principals, credentials, audit.

use std::io::Write;

use dispatch_proto::v1 as pb;

use crate::Ctx;
use crate::cli::{AgencyCmd, AuditCmd, CameraCmd, CredentialCmd, PrincipalCmd, StationCmd};
use crate::error::{CliError, Result};
use crate::output::{self, Table};
use crate::parse;

use super::reply::{Answer as _, names};

use super::units::optional_name;

pub async fn whoami(ctx: &mut Ctx<'_>) -> Result<()> {
    let clients = ctx.clients().await?;
    let response = clients
        .directory()
        .get_current_principal(pb::GetCurrentPrincipalRequest {})
        .await
        .answer("GetCurrentPrincipal")?;
    let p = response.principal.clone().unwrap_or_default();
    let credential = response.credential.clone();
    ctx.emit(&response, &p.name, |out| {
        write_principal(out, &p)?;
        output::write_fields(out, &[("credential", credential)])
    })
}

fn write_principal(out: &mut dyn Write, p: &pb::Principal) -> std::io::Result<()> {
    output::write_fields(
        out,
        &[
            ("principal", p.name.clone()),
            ("name", p.display_name.clone()),
            ("role", output::role(p.role)),
            ("agency", p.agency.clone()),
            ("unit", p.unit.clone()),
            ("partner", p.partner.clone()),
        ],
    )
}

pub async fn agency(ctx: &mut Ctx<'_>, command: AgencyCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut directory = clients.directory();
    match command {
        AgencyCmd::List => {
            let response = directory
                .list_agencies(pb::ListAgenciesRequest {
                    page_size: 500,
                    ..Default::default()
                })
                .await
                .answer("ListAgencies")?;
            let headers = ["AGENCY", "CODE", "KIND", "NAME"];
            ctx.emit_table(&response, &response.agencies, headers, |a| {
                vec![
                    a.name.clone(),
                    a.code.clone(),
                    output::agency_kind(a.kind),
                    a.display_name.clone(),
                ]
            })
        }
        AgencyCmd::Create { code, name, kind } => {
            let response = directory
                .create_agency(pb::CreateAgencyRequest {
                    request_id: ctx.request_id(""),
                    agency: Some(pb::Agency {
                        code,
                        display_name: name,
                        kind: kind.into(),
                        ..Default::default()
                    }),
                })
                .await
                .answer("CreateAgency")?;
            let a = response.agency.clone().unwrap_or_default();
            ctx.emit(&response, &a.name, |out| {
                writeln!(
                    out,
                    "{} {} ({})",
                    a.name,
                    a.code,
                    output::agency_kind(a.kind)
                )
            })
        }
    }
}

pub async fn station(ctx: &mut Ctx<'_>, command: StationCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut directory = clients.directory();
    match command {
        StationCmd::List { agency } => {
            let all = crate::client::pages(usize::MAX, async |page_size, page_token| {
                directory
                    .list_stations(pb::ListStationsRequest {
                        page_size,
                        page_token,
                        agency: optional_name("agencies", &agency),
                        bounding_box: None,
                    })
                    .await
                    .answer("ListStations")
            })
            .await?;
            let headers = ["STATION", "AGENCY", "CODE", "LOCATION", "NAME"];
            ctx.emit_table(&all, &all.stations, headers, |s| {
                vec![
                    s.name.clone(),
                    s.agency.clone(),
                    s.code.clone(),
                    output::point(s.location.as_ref()),
                    s.display_name.clone(),
                ]
            })
        }
        StationCmd::Create {
            agency,
            code,
            name,
            at,
            address,
        } => {
            let response = directory
                .create_station(pb::CreateStationRequest {
                    request_id: ctx.request_id(""),
                    station: Some(pb::Station {
                        agency: parse::name("agencies", &agency),
                        code,
                        display_name: name,
                        location: Some(at),
                        address,
                        ..Default::default()
                    }),
                })
                .await
                .answer("CreateStation")?;
            let s = response.station.clone().unwrap_or_default();
            ctx.emit(&response, &s.name, |out| {
                writeln!(
                    out,
                    "{} {} at {}",
                    s.name,
                    s.code,
                    output::point(s.location.as_ref())
                )
            })
        }
    }
}

pub async fn camera(ctx: &mut Ctx<'_>, command: CameraCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    match command {
        CameraCmd::List { limit } => {
            let response = clients
                .directory()
                .list_cameras(pb::ListCamerasRequest {
                    page_size: crate::client::page_size(limit, 0),
                    ..Default::default()
                })
                .await
                .answer("ListCameras")?;
            let names = names(&response.cameras);
            ctx.emit(&response, &names, |out| {
                write_cameras(out, response.cameras.iter().map(|c| (c, None)))
            })
        }
        CameraCmd::Create {
            code,
            kind,
            at,
            description,
            agency,
        } => {
            let response = clients
                .directory()
                .create_camera(pb::CreateCameraRequest {
                    request_id: ctx.request_id(""),
                    camera: Some(pb::Camera {
                        code,
                        kind: kind.into(),
                        location: Some(at),
                        description,
                        agency: optional_name("agencies", &agency),
                        active: true,
                        ..Default::default()
                    }),
                })
                .await
                .answer("CreateCamera")?;
            let c = response.camera.clone().unwrap_or_default();
            ctx.emit(&response, &c.name, |out| {
                write_cameras(out, std::iter::once((&c, None)))
            })
        }
        CameraCmd::Near {
            incident,
            at,
            radius,
        } => {
            let target = match (incident.is_empty(), at) {
                (false, _) => pb::nearest_cameras_request::Target::Incident(parse::name(
                    "incidents",
                    &incident,
                )),
                (true, Some(point)) => pb::nearest_cameras_request::Target::Point(point),
                (true, None) => {
                    return Err(CliError::local(
                        "say where: --incident NAME or --at LAT,LON",
                    ));
                }
            };
            let response = clients
                .units()
                .nearest_cameras(pb::NearestCamerasRequest {
                    target: Some(target),
                    radius_m: radius,
                    limit: 0,
                    kinds: Vec::new(),
                })
                .await
                .answer("NearestCameras")?;
            let names = join_names(
                response
                    .hits
                    .iter()
                    .filter_map(|h| h.camera.as_ref())
                    .map(|c| &c.name),
            );
            ctx.emit(&response, &names, |out| {
                write_cameras(
                    out,
                    response
                        .hits
                        .iter()
                        .filter_map(|h| h.camera.as_ref().map(|c| (c, Some(h.distance_m)))),
                )
            })
        }
    }
}

fn write_cameras<'a>(
    out: &mut dyn Write,
    cameras: impl Iterator<Item = (&'a pb::Camera, Option<f64>)>,
) -> std::io::Result<()> {
    let headers = [
        "DEVICE",
        "CODE",
        "KIND",
        "LOCATION",
        "DISTANCE",
        "DESCRIPTION",
    ];
    Table::of(headers, cameras, |(c, distance)| {
        vec![
            c.name.clone(),
            c.code.clone(),
            output::device_kind(c.kind),
            output::point(c.location.as_ref()),
            distance.map(output::metres).unwrap_or_default(),
            c.description.clone(),
        ]
    })
    .write(out)
}

pub async fn principal(ctx: &mut Ctx<'_>, command: PrincipalCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut directory = clients.directory();
    match command {
        PrincipalCmd::List { role } => {
            let response = directory
                .list_principals(pb::ListPrincipalsRequest {
                    page_size: 500,
                    roles: role.iter().map(|r| (*r).into()).collect(),
                    ..Default::default()
                })
                .await
                .answer("ListPrincipals")?;
            let headers = ["PRINCIPAL", "ROLE", "NAME", "BOUND TO"];
            ctx.emit_table(&response, &response.principals, headers, |p| {
                vec![
                    p.name.clone(),
                    output::role(p.role),
                    p.display_name.clone(),
                    [p.unit.as_str(), p.partner.as_str(), p.agency.as_str()]
                        .into_iter()
                        .find(|s| !s.is_empty())
                        .unwrap_or_default()
                        .to_owned(),
                ]
            })
        }
        PrincipalCmd::Create {
            role,
            name,
            agency,
            unit,
            partner,
            issue_token,
        } => {
            let response = directory
                .create_principal(pb::CreatePrincipalRequest {
                    request_id: ctx.request_id(""),
                    principal: Some(pb::Principal {
                        display_name: name,
                        role: role.into(),
                        agency: optional_name("agencies", &agency),
                        unit: optional_name("units", &unit),
                        partner: optional_name("partners", &partner),
                        ..Default::default()
                    }),
                })
                .await
                .answer("CreatePrincipal")?;
            let p = response.principal.clone().unwrap_or_default();
            if issue_token {
                let issued = directory
                    .issue_credential(pb::IssueCredentialRequest {
                        request_id: ctx.request_id("issue-credential"),
                        principal: p.name.clone(),
                        kind: pb::CredentialKind::BearerToken.into(),
                        description: "issued with the principal by dispatchctl".into(),
                        ..Default::default()
                    })
                    .await
                    .answer("IssueCredential")?;
                let token = issued.token.clone();
                ctx.emit(&response, &p.name, |out| write_principal(out, &p))?;
                return print_token(ctx, &issued, &token);
            }
            ctx.emit(&response, &p.name, |out| write_principal(out, &p))
        }
        PrincipalCmd::Update {
            principal,
            name,
            role,
            agency,
            unit,
            partner,
            disable,
            enable,
            reason,
        } => {
            let name_of = parse::name("principals", &principal);
            let mut p = directory
                .get_principal(pb::GetPrincipalRequest {
                    name: name_of.clone(),
                })
                .await
                .answer("GetPrincipal")?
                .principal
                .unwrap_or_default();
            let mut paths = Vec::new();
            if let Some(name) = name {
                p.display_name = name;
                paths.push("display_name");
            }
            if let Some(role) = role {
                p.role = role.into();
                paths.push("role");
            }
            for (path, collection, value, field) in [
                ("agency", "agencies", agency, &mut p.agency),
                ("unit", "units", unit, &mut p.unit),
                ("partner", "partners", partner, &mut p.partner),
            ] {
                if let Some(value) = value {
                    *field = optional_name(collection, &value);
                    paths.push(path);
                }
            }
            if disable || enable {
                p.disabled = disable;
                paths.push("disabled");
            }
            if paths.is_empty() {
                return Err(CliError::local(
                    "nothing to change: give --name, --role, --agency, --unit, --partner, \
                     --disable or --enable",
                ));
            }
            let response = directory
                .update_principal(pb::UpdatePrincipalRequest {
                    request_id: ctx.request_id(""),
                    principal: Some(p),
                    update_mask: Some(prost_types::FieldMask {
                        paths: paths.into_iter().map(str::to_owned).collect(),
                    }),
                    reason,
                })
                .await
                .answer("UpdatePrincipal")?;
            let p = response.principal.clone().unwrap_or_default();
            ctx.emit(&response, &p.name, |out| {
                write_principal(out, &p)?;
                output::write_fields(out, &[("disabled", output::time(p.disable_time.as_ref()))])
            })
        }
    }
}

fn print_token(ctx: &mut Ctx<'_>, issued: &pb::IssueCredentialResponse, token: &str) -> Result<()> {
    let credential = issued.credential.clone().unwrap_or_default();
    ctx.emit(issued, token, |out| {
        output::write_fields(
            out,
            &[
                ("credential", credential.name.clone()),
                ("expires", output::time(credential.expire_time.as_ref())),
                ("token", token.to_owned()),
            ],
        )?;
        if token.is_empty() {
            writeln!(
                out,
                "(a retry of an earlier request: the token was shown only the first time)"
            )
        } else {
            writeln!(
                out,
                "Keep the token secret: it is shown only now. Use it as DISPATCH_TOKEN."
            )
        }
    })
}

pub async fn credential(ctx: &mut Ctx<'_>, command: CredentialCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let mut directory = clients.directory();
    match command {
        CredentialCmd::Issue {
            principal,
            description,
            expires_in,
            certificate_sha256,
        } => {
            let expire_time = match expires_in {
                None => None,
                Some(d) => Some(parse::timestamp(
                    chrono::Utc::now()
                        + chrono::Duration::from_std(d)
                            .map_err(|_| CliError::local("--expires-in is too long"))?,
                )),
            };
            let issued = directory
                .issue_credential(pb::IssueCredentialRequest {
                    request_id: ctx.request_id(""),
                    principal: parse::name("principals", &principal),
                    kind: match certificate_sha256 {
                        Some(_) => pb::CredentialKind::ClientCertificate.into(),
                        None => pb::CredentialKind::BearerToken.into(),
                    },
                    description,
                    expire_time,
                    certificate_sha256: certificate_sha256.unwrap_or_default(),
                })
                .await
                .answer("IssueCredential")?;
            let credential = issued.credential.clone().unwrap_or_default();
            if !credential.certificate_sha256.is_empty() {
                return ctx.emit(&issued, &credential.name, |out| {
                    output::write_fields(
                        out,
                        &[
                            ("credential", credential.name.clone()),
                            ("certificate_sha256", credential.certificate_sha256.clone()),
                            ("expires", output::time(credential.expire_time.as_ref())),
                        ],
                    )
                });
            }
            let token = issued.token.clone();
            print_token(ctx, &issued, &token)
        }
        CredentialCmd::Revoke { credential, reason } => {
            let response = directory
                .revoke_credential(pb::RevokeCredentialRequest {
                    request_id: ctx.request_id(""),
                    name: parse::name("credentials", &credential),
                    reason,
                })
                .await
                .answer("RevokeCredential")?;
            let c = response.credential.clone().unwrap_or_default();
            ctx.emit(&response, &c.name, |out| {
                writeln!(
                    out,
                    "{} revoked at {}",
                    c.name,
                    output::time(c.revoke_time.as_ref())
                )
            })
        }
        CredentialCmd::List { principal, all } => {
            let response = directory
                .list_credentials(pb::ListCredentialsRequest {
                    page_size: 500,
                    page_token: String::new(),
                    principal: optional_name("principals", &principal),
                    include_inactive: all,
                })
                .await
                .answer("ListCredentials")?;
            let headers = [
                "CREDENTIAL",
                "PRINCIPAL",
                "PREFIX",
                "EXPIRES",
                "REVOKED",
                "DESCRIPTION",
            ];
            ctx.emit_table(&response, &response.credentials, headers, |c| {
                vec![
                    c.name.clone(),
                    c.principal.clone(),
                    c.token_prefix.clone(),
                    output::time(c.expire_time.as_ref()),
                    output::time(c.revoke_time.as_ref()),
                    c.description.clone(),
                ]
            })
        }
    }
}

pub async fn audit(ctx: &mut Ctx<'_>, command: AuditCmd) -> Result<()> {
    let clients = ctx.clients().await?;
    let AuditCmd::List {
        principal,
        resource,
        limit,
    } = command;
    let response = clients
        .directory()
        .list_audit_records(pb::ListAuditRecordsRequest {
            page_size: crate::client::page_size(limit, 0),
            principal: optional_name("principals", &principal),
            resource,
            ..Default::default()
        })
        .await
        .answer("ListAuditRecords")?;
    let headers = [
        "TIME",
        "PRINCIPAL",
        "ACTION",
        "METHOD",
        "OUTCOME",
        "RESOURCE",
    ];
    ctx.emit_table(&response, &response.audit_records, headers, |r| {
        vec![
            output::time(r.time.as_ref()),
            r.principal.clone(),
            output::audit_action(r.action),
            r.method.clone(),
            output::audit_outcome(r.outcome),
            r.resource.clone(),
        ]
    })
}

fn join_names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names.cloned().collect::<Vec<_>>().join("\n")
}
