//! Unit-sphere (ECEF) coordinates: the chord between two points grows with the great-circle
//! distance, so a Euclidean kNN over them is an exact great-circle kNN.

use std::f64::consts::PI;

use dispatch_domain::location::{EARTH_RADIUS_M, GeoPoint};

/// x = cos lat cos lon, y = cos lat sin lon, z = sin lat.
pub(crate) fn ecef(point: GeoPoint) -> [f64; 3] {
    let (sin_lat, cos_lat) = point.latitude().to_radians().sin_cos();
    let (sin_lon, cos_lon) = point.longitude().to_radians().sin_cos();
    [cos_lat * cos_lon, cos_lat * sin_lon, sin_lat]
}

/// The squared chord of a great-circle distance in metres; infinite when the distance reaches
/// the antipode (every point is then within it) or is not a number.
pub(crate) fn chord2_of_m(metres: f64) -> f64 {
    if metres.is_nan() || metres >= PI * EARTH_RADIUS_M {
        return f64::INFINITY;
    }
    if metres <= 0.0 {
        return 0.0;
    }
    let chord = 2.0 * (metres / (2.0 * EARTH_RADIUS_M)).sin();
    chord * chord
}

/// A distance a little larger than `metres`, covering the rounding of chord and haversine
/// arithmetic (both are accurate to well under a micrometre): 1 mm plus one part in 10⁹.
pub(crate) fn widen_m(metres: f64) -> f64 {
    metres * (1.0 + 1e-9) + 1e-3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chord_grows_with_haversine_distance() {
        let origin = GeoPoint::new(60.0, 179.9).unwrap();
        let o = ecef(origin);
        let mut points: Vec<(f64, f64)> = (0..2000)
            .map(|i| {
                let lat = -89.0 + f64::from(i) * 0.089;
                let lon = -180.0 + f64::from(i * 37 % 3600) * 0.1;
                let p = GeoPoint::new(lat, lon).unwrap();
                let e = ecef(p);
                let c2 = (0..3).map(|k| (e[k] - o[k]).powi(2)).sum::<f64>();
                (c2, origin.distance_m(&p))
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        for pair in points.windows(2) {
            assert!(pair[1].1 >= pair[0].1 - 1e-3, "{pair:?}");
        }
        for (c2, metres) in points {
            assert!(chord2_of_m(widen_m(metres)) >= c2);
        }
    }
}
