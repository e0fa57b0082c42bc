//! `dispatchctl map roads`: an OpenStreetMap extract's drivable roads as GeoJSON, the base layer
//! the console's map draws (dispatchd serves the file named by `DISPATCH_MAP_GEOJSON`). A
//! centre's network reaches no tile server; its own extract is all the map it needs.

use std::collections::HashMap;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::Ctx;
use crate::error::{CliError, Result};

#[derive(Debug, Subcommand)]
pub enum MapCmd {
    /// Writes the drivable roads of an OpenStreetMap extract (.osm.pbf) as GeoJSON.
    Roads(RoadsArgs),
}

#[derive(Debug, Args)]
pub struct RoadsArgs {
    /// The extract, e.g. one cut from Geofabrik's Mexico file for the centre's area.
    #[arg(long)]
    pub pbf: PathBuf,
    /// Where to write the GeoJSON FeatureCollection; `-` for standard output.
    #[arg(long, default_value = "roads.geojson")]
    pub out: PathBuf,
}

/// The `highway` values a vehicle can drive on, in OpenStreetMap's own words.
const DRIVABLE: [&str; 16] = [
    "motorway",
    "motorway_link",
    "trunk",
    "trunk_link",
    "primary",
    "primary_link",
    "secondary",
    "secondary_link",
    "tertiary",
    "tertiary_link",
    "unclassified",
    "residential",
    "living_street",
    "service",
    "road",
    "busway",
];

struct Road {
    highway: String,
    name: Option<String>,
    nodes: Vec<i64>,
}

/// The roads of `pbf` as a GeoJSON FeatureCollection (LineStrings in lon, lat order, 6
/// decimals), and how many roads it has.
pub fn roads_geojson(pbf: &std::path::Path) -> Result<(serde_json::Value, usize)> {
    let reader = osmpbf::ElementReader::from_path(pbf).map_err(|error| {
        CliError::local(format!(
            "cannot read the extract {}: {error}",
            pbf.display()
        ))
    })?;
    let mut points: HashMap<i64, (f64, f64)> = HashMap::new();
    let mut roads = Vec::new();
    reader
        .for_each(|element| match element {
            osmpbf::Element::Node(node) => {
                points.insert(node.id(), (node.lon(), node.lat()));
            }
            osmpbf::Element::DenseNode(node) => {
                points.insert(node.id, (node.lon(), node.lat()));
            }
            osmpbf::Element::Way(way) => {
                let mut highway = None;
                let mut name = None;
                for (key, value) in way.tags() {
                    match key {
                        "highway" if DRIVABLE.contains(&value) => highway = Some(value.to_owned()),
                        "name" => name = Some(value.to_owned()),
                        _ => {}
                    }
                }
                if let Some(highway) = highway {
                    roads.push(Road {
                        highway,
                        name,
                        nodes: way.refs().collect(),
                    });
                }
            }
            osmpbf::Element::Relation(_) => {}
        })
        .map_err(|error| {
            CliError::local(format!(
                "cannot read the extract {}: {error}",
                pbf.display()
            ))
        })?;
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let features: Vec<serde_json::Value> = roads
        .iter()
        .filter_map(|road| {
            let line: Vec<[f64; 2]> = road
                .nodes
                .iter()
                .filter_map(|id| points.get(id))
                .map(|&(lon, lat)| [round(lon), round(lat)])
                .collect();
            (line.len() >= 2).then(|| {
                serde_json::json!({
                    "type": "Feature",
                    "properties": {"highway": road.highway, "name": road.name},
                    "geometry": {"type": "LineString", "coordinates": line},
                })
            })
        })
        .collect();
    let count = features.len();
    Ok((
        serde_json::json!({"type": "FeatureCollection", "features": features}),
        count,
    ))
}

pub fn run(ctx: &mut Ctx<'_>, command: MapCmd) -> Result<()> {
    match command {
        MapCmd::Roads(args) => {
            let (collection, count) = roads_geojson(&args.pbf)?;
            let text = serde_json::to_string(&collection).map_err(anyhow::Error::from)?;
            if args.out.as_os_str() == "-" {
                writeln!(ctx.out, "{text}")?;
            } else {
                std::fs::write(&args.out, text).map_err(|error| {
                    CliError::local(format!("cannot write {}: {error}", args.out.display()))
                })?;
                writeln!(
                    ctx.out,
                    "{count} roads written to {} (serve it with DISPATCH_MAP_GEOJSON={})",
                    args.out.display(),
                    args.out.display()
                )?;
            }
            Ok(())
        }
    }
}
