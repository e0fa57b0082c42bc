//! The assumed `qualFilter` syntax (see the parent module's doc): a JSON object in the string.

use serde_json::Value;

use dispatch_domain::ids::AgencyId;
use dispatch_domain::location::{Area, BoundingBox, GeoPoint};

use super::{Fields, Refusal, kind_of};

/// The filter of a `new` subscription (the assumed `qualFilter` syntax, see the module doc).
/// Empty: every incident the subscriber's principal may see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QualFilter {
    pub area: Option<Area>,
    /// Incident type codes of the catalogue; empty: every type.
    pub incident_types: Vec<String>,
    /// Incidents relevant to this agency (its discipline, or one of its units sent).
    pub agency: Option<AgencyId>,
}

impl QualFilter {
    /// Reads the assumed `qualFilter` syntax (see the module doc); problems name
    /// `qualFilter.<path>`.
    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let value: Value = serde_json::from_str(text).map_err(|error| {
            Refusal::bad(format!(
                "subscribe.qualFilter: must be a JSON object in a string: {error}"
            ))
        })?;
        let Value::Object(map) = &value else {
            return Err(Refusal::bad(format!(
                "subscribe.qualFilter: must be a JSON object, got {}",
                kind_of(&value)
            )));
        };
        Self::read(&Fields {
            path: "qualFilter",
            map,
        })
        .map_err(Refusal::bad)
    }

    fn read(fields: &Fields<'_>) -> Result<Self, String> {
        fields.only(&["area", "incidentTypes", "agency"])?;
        let area = match fields.object("area")? {
            None => None,
            Some(map) => Some(read_area(&Fields {
                path: &fields.at("area"),
                map,
            })?),
        };
        let incident_types = match fields.map.get("incidentTypes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::String(code) if !code.is_empty() => Ok(code.clone()),
                    other => Err(format!(
                        "qualFilter.incidentTypes[{i}]: must be an incident type code, got {}",
                        kind_of(other)
                    )),
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(format!(
                    "qualFilter.incidentTypes: must be an array of codes, got {}",
                    kind_of(other)
                ));
            }
        };
        let agency = match fields.optional_string("agency")? {
            None => None,
            Some(name) => Some(
                AgencyId::parse_name("agency", &name)
                    .map_err(|violations| format!("qualFilter.{violations}"))?,
            ),
        };
        Ok(Self {
            area,
            incident_types,
            agency,
        })
    }
}

fn point(fields: &Fields<'_>, latitude: &str, longitude: &str) -> Result<GeoPoint, String> {
    GeoPoint::new(fields.number(latitude)?, fields.number(longitude)?).map_err(|violations| {
        violations
            .iter()
            .map(|v| {
                let key = if v.field == "latitude" {
                    latitude
                } else {
                    longitude
                };
                format!("{}: {}", fields.at(key), v.description)
            })
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn read_area(fields: &Fields<'_>) -> Result<Area, String> {
    fields.only(&["circle", "box"])?;
    match (fields.object("circle")?, fields.object("box")?) {
        (Some(map), None) => {
            let circle = Fields {
                path: &fields.at("circle"),
                map,
            };
            circle.only(&["latitude", "longitude", "radiusMeters"])?;
            let center = point(&circle, "latitude", "longitude")?;
            Area::circle(center, circle.number("radiusMeters")?).map_err(|violations| {
                format!(
                    "{}: {}",
                    circle.at("radiusMeters"),
                    violations
                        .iter()
                        .map(|v| v.description.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            })
        }
        (None, Some(map)) => {
            let bbox = Fields {
                path: &fields.at("box"),
                map,
            };
            bbox.only(&["south", "west", "north", "east"])?;
            let south_west = point(&bbox, "south", "west")?;
            let north_east = point(&bbox, "north", "east")?;
            if south_west.latitude() > north_east.latitude() {
                return Err(format!("{}: south must not be north of north", bbox.path));
            }
            Ok(Area::Box(BoundingBox {
                south: south_west.latitude(),
                north: north_east.latitude(),
                west: south_west.longitude(),
                east: north_east.longitude(),
            }))
        }
        _ => Err(format!(
            "{}: must hold exactly one of circle, box",
            fields.path
        )),
    }
}
