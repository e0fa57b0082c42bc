//! A road-like synthetic city for tests and benchmarks: a jittered street grid with arterials,
//! one-way residential streets and missing blocks.

use dispatch_domain::location::GeoPoint;

use super::network::RoadGraphBuilder;
use super::osm::{Direction, Drivable, RoadClass};
use crate::synthetic::SplitMix64;

/// `side × side` intersections `spacing_m` apart around (`latitude`, `longitude`): every 8th
/// street a primary both ways, every 32nd a trunk, a third of the residential streets one-way
/// (alternating directions), and 5 % of residential blocks missing.
pub fn street_grid(
    side: usize,
    spacing_m: f64,
    latitude: f64,
    longitude: f64,
    seed: u64,
) -> RoadGraphBuilder {
    let mut rng = SplitMix64::new(seed);
    let metres_per_degree = 111_320.0;
    let lat_step = spacing_m / metres_per_degree;
    let lon_step = spacing_m / (metres_per_degree * latitude.to_radians().cos());
    let half = side as f64 / 2.0;
    let points: Vec<GeoPoint> = (0..side * side)
        .map(|i| {
            let (row, col) = ((i / side) as f64, (i % side) as f64);
            let jitter = |rng: &mut SplitMix64| (rng.next_f64() - 0.5) * 0.2;
            GeoPoint::new(
                latitude + (row - half + jitter(&mut rng)) * lat_step,
                longitude + (col - half + jitter(&mut rng)) * lon_step,
            )
            .expect("the grid stays on the globe")
        })
        .collect();
    let mut builder = RoadGraphBuilder::new();
    let node = |row: usize, col: usize| {
        let id = row * side + col;
        (id as i64, points[id])
    };
    let class_of = |line: usize| {
        if line.is_multiple_of(32) {
            RoadClass::Trunk
        } else if line.is_multiple_of(8) {
            RoadClass::Primary
        } else {
            RoadClass::Residential
        }
    };
    let direction_of = |line: usize, class: RoadClass| match (class, line % 6) {
        (RoadClass::Residential, 1) => Direction::Forward,
        (RoadClass::Residential, 3) => Direction::Backward,
        _ => Direction::Both,
    };
    for line in 0..side {
        let class = class_of(line);
        let direction = direction_of(line, class);
        for step in 0..side - 1 {
            for (a, b) in [
                (node(line, step), node(line, step + 1)),
                (node(step, line), node(step + 1, line)),
            ] {
                if class == RoadClass::Residential && rng.chance(0.05) {
                    continue;
                }
                builder.add_way(Drivable { class, direction }, &[a, b]);
            }
        }
    }
    builder
}
