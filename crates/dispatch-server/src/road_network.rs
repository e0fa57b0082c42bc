//! The road graph of `--road-network`: read from the OpenStreetMap extract at start, or from
//! the prepared graph cached next to it while the extract and the speeds are unchanged.
//!
//! The cache file is `<extract>.roads-<key>.bin`, the key a digest of the extract's bytes, the
//! speed settings and the graph format; another extract or other speeds make another key, so a
//! stale cache is never read. A directory that cannot be written only costs the next start the
//! preparation again.

use std::collections::{HashMap, HashSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use dispatch_domain::location::GeoPoint;
use dispatch_geo::road::{
    Drivable, FORMAT_VERSION, PreparedRoads, RoadGraphBuilder, RoadNetwork, RoadSpeeds, drivable,
};
use sha2::{Digest as _, Sha256};

/// Where the graph came from, for the start-up log and the benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub cache: PathBuf,
    /// The cache was read (no preparation).
    pub from_cache: bool,
    /// Drivable ways read from the extract (0 when the cache was read).
    pub ways: usize,
    pub seconds: f64,
}

/// Reads the extract (or its cache) into a graph. The error is one line naming the file.
pub fn load(extract: &Path, speeds: &RoadSpeeds) -> Result<(RoadNetwork, Loaded), String> {
    let started = Instant::now();
    let shown = extract.display();
    let bytes = std::fs::read(extract)
        .map_err(|error| format!("the road network {shown} cannot be read: {error}"))?;
    let cache = cache_path(extract, &bytes, speeds);
    if let Some(network) = read_cache(&cache) {
        return Ok((
            network,
            Loaded {
                cache,
                from_cache: true,
                ways: 0,
                seconds: started.elapsed().as_secs_f64(),
            },
        ));
    }
    let builder = parse(&bytes).map_err(|error| {
        format!("the road network {shown} is not an OpenStreetMap PBF extract: {error}")
    })?;
    let ways = builder.ways();
    let network = builder
        .build(speeds)
        .map_err(|error| format!("the road network {shown} is unusable: {error}"))?;
    if let Err(error) = write_cache(&cache, &network.to_prepared()) {
        tracing::warn!(cache = %cache.display(), %error, "the prepared road graph could not be cached; the next start prepares it again");
    }
    Ok((
        network,
        Loaded {
            cache,
            from_cache: false,
            ways,
            seconds: started.elapsed().as_secs_f64(),
        },
    ))
}

/// `<extract>.roads-<first 16 hex digits of the key>.bin`, beside the extract.
pub fn cache_path(extract: &Path, bytes: &[u8], speeds: &RoadSpeeds) -> PathBuf {
    let mut digest = Sha256::new();
    digest.update(bytes);
    digest.update(format!("\nformat {FORMAT_VERSION}\nspeeds {speeds:?}").as_bytes());
    let key: String = digest
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut name = extract.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".roads-{key}.bin"));
    extract.with_file_name(name)
}

fn read_cache(cache: &Path) -> Option<RoadNetwork> {
    let bytes = std::fs::read(cache).ok()?;
    let prepared: PreparedRoads = match bincode::deserialize(&bytes) {
        Ok(prepared) => prepared,
        Err(error) => {
            tracing::warn!(cache = %cache.display(), %error, "unreadable road graph cache, preparing again");
            return None;
        }
    };
    RoadNetwork::from_prepared(prepared)
}

fn write_cache(cache: &Path, prepared: &PreparedRoads) -> Result<(), String> {
    let bytes = bincode::serialize(prepared).map_err(|e| e.to_string())?;
    // Written aside and renamed: a reader never sees half a file.
    let mut partial = cache.as_os_str().to_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = PathBuf::from(partial);
    let written = std::fs::File::create(&partial)
        .and_then(|mut file| file.write_all(&bytes).and_then(|()| file.sync_all()))
        .and_then(|()| std::fs::rename(&partial, cache));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written.map_err(|e| e.to_string())
}

/// The drivable ways of an extract, each cut into runs of nodes the extract has.
struct Ways {
    runs: Vec<Run>,
}

/// What a way's tags say, its `name`, and its points in order with their node ids.
type Run = (Drivable, Option<String>, Vec<(i64, GeoPoint)>);

/// Two passes over the extract: the drivable ways first, then the coordinates of their nodes
/// only (a region's other nodes are most of the file).
fn read_ways(bytes: &[u8]) -> Result<Ways, osmpbf::Error> {
    let mut ways: Vec<(Drivable, Option<String>, Vec<i64>)> = Vec::new();
    osmpbf::ElementReader::new(bytes).for_each(|element| {
        if let osmpbf::Element::Way(way) = element
            && let Some(kind) = drivable(way.tags())
        {
            let name = way
                .tags()
                .find(|(key, _)| *key == "name")
                .map(|(_, name)| name.to_owned());
            ways.push((kind, name, way.refs().collect()));
        }
    })?;
    let wanted: HashSet<i64> = ways
        .iter()
        .flat_map(|(_, _, refs)| refs.iter().copied())
        .collect();
    let mut points: HashMap<i64, GeoPoint> = HashMap::with_capacity(wanted.len());
    let mut keep = |id: i64, latitude: f64, longitude: f64| {
        if wanted.contains(&id)
            && let Ok(point) = GeoPoint::new(latitude, longitude)
        {
            points.insert(id, point);
        }
    };
    osmpbf::ElementReader::new(bytes).for_each(|element| match element {
        osmpbf::Element::Node(node) => keep(node.id(), node.lat(), node.lon()),
        osmpbf::Element::DenseNode(node) => keep(node.id(), node.lat(), node.lon()),
        _ => {}
    })?;
    let mut runs = Vec::new();
    for (kind, name, refs) in ways {
        // A node missing from the extract (clipped at its edge) splits the way there.
        let mut run: Vec<(i64, GeoPoint)> = Vec::new();
        for id in refs {
            match points.get(&id) {
                Some(&point) => run.push((id, point)),
                None if run.len() >= 2 => runs.push((kind, name.clone(), std::mem::take(&mut run))),
                None => run.clear(),
            }
        }
        if run.len() >= 2 {
            runs.push((kind, name, run));
        }
    }
    Ok(Ways { runs })
}

fn parse(bytes: &[u8]) -> Result<RoadGraphBuilder, osmpbf::Error> {
    let mut builder = RoadGraphBuilder::new();
    for (kind, _, run) in read_ways(bytes)?.runs {
        builder.add_way(kind, &run);
    }
    Ok(builder)
}

/// The extract's drivable roads as the console's map layer: the GeoJSON `dispatchctl map roads`
/// writes (LineStrings, lon-lat with 6 decimals, `highway` and `name` properties).
pub fn map_layer(extract: &Path) -> Result<bytes::Bytes, String> {
    let shown = extract.display();
    let bytes = std::fs::read(extract)
        .map_err(|error| format!("the road network {shown} cannot be read: {error}"))?;
    let ways = read_ways(&bytes).map_err(|error| {
        format!("the road network {shown} is not an OpenStreetMap PBF extract: {error}")
    })?;
    let round = |x: f64| (x * 1e6).round() / 1e6;
    let features: Vec<serde_json::Value> = ways
        .runs
        .iter()
        .map(|(kind, name, run)| {
            let line: Vec<[f64; 2]> = run
                .iter()
                .map(|(_, p)| [round(p.longitude()), round(p.latitude())])
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": {"highway": kind.class.as_str(), "name": name},
                "geometry": {"type": "LineString", "coordinates": line},
            })
        })
        .collect();
    let collection = serde_json::json!({"type": "FeatureCollection", "features": features});
    serde_json::to_vec(&collection)
        .map(bytes::Bytes::from)
        .map_err(|error| format!("the road network {shown} as GeoJSON: {error}"))
}

/// The travel model of `config`: `fitted` alone without `--road-network`; with it, drive time
/// over the roads, `fitted` answering off the graph and giving the turnout.
pub fn travel(
    config: &crate::Config,
    fitted: dispatch_geo::FittedTravel,
) -> Result<Box<dyn dispatch_geo::TravelModel>, String> {
    let Some(extract) = &config.road_network else {
        return Ok(Box::new(fitted));
    };
    let speeds =
        RoadSpeeds::parse(&config.road_speeds).map_err(|e| format!("--road-speeds: {e}"))?;
    if !(config.road_snap_max_m.is_finite() && config.road_snap_max_m >= 0.0) {
        return Err("--road-snap-max-m must be a number of metres, 0 or more".into());
    }
    let (network, loaded) = load(extract, &speeds)?;
    tracing::info!(
        extract = %extract.display(),
        cache = %loaded.cache.display(),
        from_cache = loaded.from_cache,
        ways = loaded.ways,
        nodes = network.nodes(),
        arcs = network.arcs().len(),
        seconds = loaded.seconds,
        "road network ready"
    );
    let straight_line = fitted.fallback.clone();
    let mut road = dispatch_geo::RoadTravel::new(
        std::sync::Arc::new(network),
        Box::new(fitted),
        straight_line,
    );
    road.max_snap_m = config.road_snap_max_m;
    Ok(Box::new(road))
}
