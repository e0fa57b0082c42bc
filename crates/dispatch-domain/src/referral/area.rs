//! Where a partner serves: polygons over longitude/latitude and the areas made of them.
//!
//! Containment is `geo`'s, planar on longitude/latitude (exact enough at city and state scale)
//! with exact predicates: a point on a polygon's boundary (edge or vertex) is inside it; a point
//! on a hole's boundary is inside the polygon too (the hole is open).

use geo::{Area as _, BoundingRect as _, Contains as _, Intersects as _};
use geojson::{GeoJson, GeometryValue};

use crate::location::GeoPoint;
use crate::{Violations, call::check_length, directory::MAX_DISPLAY_NAME_CHARS};

/// One closed ring of at least 3 distinct points enclosing some area; the closing edge is
/// implicit (a repeated first point at the end is dropped).
#[derive(Debug, Clone, PartialEq)]
struct Ring {
    points: Vec<GeoPoint>,
    /// The ring as a polygon of its own, for containment.
    shape: geo::Polygon<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    Inside,
    Boundary,
    Outside,
}

impl Ring {
    /// Paths: `field` for the ring as a whole.
    fn new(field: &str, mut points: Vec<GeoPoint>) -> Result<Self, Violations> {
        if points.len() > 1 && points.first() == points.last() {
            points.pop();
        }
        let mut distinct: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (p.longitude(), p.latitude()))
            .collect();
        distinct.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        distinct.dedup();
        if distinct.len() < 3 {
            return Err(Violations::single(
                field,
                format!("needs at least 3 distinct points, got {}", distinct.len()),
            ));
        }
        let shape = geo::Polygon::new(
            points
                .iter()
                .map(|p| geo::coord! { x: p.longitude(), y: p.latitude() })
                .collect(),
            Vec::new(),
        );
        let (width, height) = shape
            .bounding_rect()
            .map_or((0.0, 0.0), |bounds| (bounds.width(), bounds.height()));
        if width > 180.0 {
            return Err(Violations::single(
                field,
                "spans more than 180 degrees of longitude: rings crossing the antimeridian are \
                 not supported",
            ));
        }
        let extent = width.max(height);
        if shape.unsigned_area() <= 0.5e-9 * extent * extent {
            return Err(Violations::single(
                field,
                "encloses no area: the points lie on one line",
            ));
        }
        Ok(Self { points, shape })
    }

    pub fn points(&self) -> &[GeoPoint] {
        &self.points
    }

    fn position(&self, p: &GeoPoint) -> Position {
        let point = geo::Point::new(p.longitude(), p.latitude());
        if self.shape.contains(&point) {
            Position::Inside
        } else if self.shape.intersects(&point) {
            Position::Boundary
        } else {
            Position::Outside
        }
    }
}

/// A polygon: an outer ring and optional holes (from GeoJSON). Holes are not checked to lie
/// inside the outer ring; a point is contained when it is in the outer ring and strictly inside
/// no hole.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    exterior: Ring,
    holes: Vec<Ring>,
}

impl Polygon {
    /// A polygon from its vertices in order, either winding (the wire `Polygon`). Points are
    /// already valid [`GeoPoint`]s, so finite and in range; the ring's problems are reported on
    /// `points`.
    pub fn new(points: Vec<GeoPoint>) -> Result<Self, Violations> {
        Ok(Self {
            exterior: Ring::new("points", points)?,
            holes: Vec::new(),
        })
    }

    /// A GeoJSON (RFC 7946) Polygon or MultiPolygon text, bare or as a Feature's geometry: one
    /// polygon per Polygon. A position's altitude, if any, is ignored. Paths: `""` when the text
    /// is no such geometry, else those of [`Self::from_geojson_rings`] for the first polygon that
    /// is not valid.
    pub fn from_geojson(text: &str) -> Result<Vec<Self>, Violations> {
        let not_polygons = |why: &dyn std::fmt::Display| {
            Violations::single("", format!("not a GeoJSON Polygon or MultiPolygon: {why}"))
        };
        let geometry = match text.parse::<GeoJson>().map_err(|e| not_polygons(&e))? {
            GeoJson::Geometry(geometry) => Some(geometry),
            GeoJson::Feature(feature) => feature.geometry,
            GeoJson::FeatureCollection(_) => None,
        };
        let rings = |polygon: &geojson::PolygonType| -> Result<Vec<Vec<[f64; 2]>>, Violations> {
            polygon
                .iter()
                .map(|ring| {
                    ring.iter()
                        .map(|position| match position.as_slice() {
                            [longitude, latitude, ..] => Ok([*longitude, *latitude]),
                            _ => Err(not_polygons(
                                &"coordinates must be [[[lon, lat], ...], ...]",
                            )),
                        })
                        .collect()
                })
                .collect()
        };
        match geometry.map(|geometry| geometry.value) {
            Some(GeometryValue::Polygon { coordinates }) => {
                Ok(vec![Self::from_geojson_rings(&rings(&coordinates)?)?])
            }
            Some(GeometryValue::MultiPolygon { coordinates }) => coordinates
                .iter()
                .map(|polygon| Self::from_geojson_rings(&rings(polygon)?))
                .collect(),
            _ => Err(not_polygons(&"type must be Polygon or MultiPolygon")),
        }
    }

    /// A GeoJSON (RFC 7946) Polygon's `coordinates` (as [`Self::from_geojson`] reads them, or as
    /// stored): rings of `[longitude, latitude]` positions, the first the outer ring, the others
    /// holes. Closing positions are optional. Paths are `coordinates[r]` and
    /// `coordinates[r][i].latitude`, for the caller to place (e.g. under the area's `geojson`).
    pub fn from_geojson_rings(rings: &[Vec<[f64; 2]>]) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        if rings.is_empty() {
            violations.add("coordinates", "required: at least the outer ring");
        }
        let mut valid = Vec::with_capacity(rings.len());
        for (r, ring) in rings.iter().enumerate() {
            let field = format!("coordinates[{r}]");
            let mut points = Vec::with_capacity(ring.len());
            let mut bad = false;
            for (i, &[longitude, latitude]) in ring.iter().enumerate() {
                let point = GeoPoint::new(latitude, longitude)
                    .map_err(|v| v.within(&format!("{field}[{i}]")));
                match violations.collect(point) {
                    Some(point) => points.push(point),
                    None => bad = true,
                }
            }
            if !bad && let Some(ring) = violations.collect(Ring::new(&field, points)) {
                valid.push(ring);
            }
        }
        if !violations.is_empty() {
            return Err(violations);
        }
        let mut rings = valid.into_iter();
        match rings.next() {
            Some(exterior) => Ok(Self {
                exterior,
                holes: rings.collect(),
            }),
            None => Err(Violations::single("coordinates", "required")),
        }
    }

    pub fn exterior(&self) -> &[GeoPoint] {
        self.exterior.points()
    }

    pub fn holes(&self) -> impl Iterator<Item = &[GeoPoint]> {
        self.holes.iter().map(Ring::points)
    }

    /// Whether `point` is in the polygon, its boundary included.
    pub fn contains(&self, point: &GeoPoint) -> bool {
        match self.exterior.position(point) {
            Position::Outside => false,
            Position::Boundary => true,
            Position::Inside => !self
                .holes
                .iter()
                .any(|hole| hole.position(point) == Position::Inside),
        }
    }
}

/// One area a partner serves (the wire `ServiceArea`): a label and one or more polygons (a
/// GeoJSON MultiPolygon gives several). A location is in the area when any polygon contains it.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceArea {
    /// E.g. "Iztapalapa"; may be empty.
    pub display_name: String,
    pub polygons: Vec<Polygon>,
}

impl ServiceArea {
    /// Paths: `display_name`, and `shape` when there is no polygon.
    pub fn new(display_name: String, polygons: Vec<Polygon>) -> Result<Self, Violations> {
        let mut violations = Violations::new();
        check_length(
            &mut violations,
            "display_name",
            &display_name,
            MAX_DISPLAY_NAME_CHARS,
        );
        if polygons.is_empty() {
            violations.add("shape", "required: a polygon or a GeoJSON geometry");
        }
        violations.into_result(|| Self {
            display_name,
            polygons,
        })
    }

    pub fn contains(&self, point: &GeoPoint) -> bool {
        self.polygons.iter().any(|polygon| polygon.contains(point))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(latitude: f64, longitude: f64) -> GeoPoint {
        GeoPoint::new(latitude, longitude).unwrap()
    }

    /// (x, y) = (longitude, latitude) pairs, for reading shapes as drawn.
    fn polygon(xy: &[(f64, f64)]) -> Polygon {
        Polygon::new(xy.iter().map(|&(x, y)| p(y, x)).collect()).unwrap()
    }

    fn at(x: f64, y: f64) -> GeoPoint {
        p(y, x)
    }

    #[test]
    fn a_convex_polygon() {
        let square = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        assert!(square.contains(&at(0.5, 0.5)));
        assert!(!square.contains(&at(1.5, 0.5)));
        assert!(!square.contains(&at(-0.0001, 0.5)));
        assert!(!square.contains(&at(0.5, 1.0001)));
    }

    #[test]
    fn a_concave_polygon() {
        // A U: the notch between the arms is outside, and a ray from it crosses both arms.
        let u = polygon(&[
            (0.0, 0.0),
            (3.0, 0.0),
            (3.0, 3.0),
            (2.0, 3.0),
            (2.0, 1.0),
            (1.0, 1.0),
            (1.0, 3.0),
            (0.0, 3.0),
        ]);
        assert!(u.contains(&at(0.5, 2.0)), "left arm");
        assert!(u.contains(&at(2.5, 2.0)), "right arm");
        assert!(u.contains(&at(1.5, 0.5)), "base");
        assert!(!u.contains(&at(1.5, 2.0)), "the notch");
        assert!(!u.contains(&at(-1.0, 2.0)));
        // A ray through a reflex vertex's latitude.
        assert!(u.contains(&at(0.5, 1.0)));
        assert!(!u.contains(&at(-0.5, 1.0)));
        assert!(!u.contains(&at(3.5, 1.0)));
    }

    #[test]
    fn the_boundary_is_inside_consistently() {
        let square = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]);
        for (x, y) in [
            (0.0, 0.0),
            (1.0, 1.0),
            (0.0, 1.0),
            (1.0, 0.0),
            (0.5, 0.0),
            (0.5, 1.0),
            (0.0, 0.5),
            (1.0, 0.5),
        ] {
            assert!(square.contains(&at(x, y)), "({x}, {y}) on the boundary");
        }
        // On a slanted edge too, in both windings.
        let xy = [(0.0, 0.0), (4.0, 0.0), (0.0, 2.0)];
        let ccw = polygon(&xy);
        let mut reversed = xy;
        reversed.reverse();
        let cw = polygon(&reversed);
        for triangle in [&ccw, &cw] {
            assert!(triangle.contains(&at(2.0, 1.0)), "on the hypotenuse");
            assert!(!triangle.contains(&at(2.1, 1.0)));
            assert!(triangle.contains(&at(1.0, 0.5)));
        }
        // On the line of an edge but beyond the vertex: outside.
        assert!(!ccw.contains(&at(5.0, 0.0)));
    }

    #[test]
    fn a_city_scale_polygon() {
        // Roughly Iztapalapa, Mexico City.
        let iztapalapa = polygon(&[
            (-99.139, 19.395),
            (-98.960, 19.395),
            (-98.960, 19.300),
            (-99.060, 19.290),
            (-99.139, 19.330),
        ]);
        assert!(iztapalapa.contains(&p(19.355, -99.060)));
        assert!(!iztapalapa.contains(&p(19.4326, -99.1332)), "the Zócalo");
    }

    #[test]
    fn rings_are_checked() {
        let err = |xy: &[(f64, f64)]| {
            let points = xy.iter().map(|&(x, y)| p(y, x)).collect();
            let violations = Polygon::new(points).unwrap_err();
            let fields: Vec<_> = violations.iter().map(|v| v.field.clone()).collect();
            assert_eq!(fields, ["points"], "{xy:?}");
        };
        err(&[]);
        err(&[(0.0, 0.0), (1.0, 1.0)]);
        err(&[(0.0, 0.0), (1.0, 1.0), (0.0, 0.0)]); // closed, two distinct
        err(&[(0.0, 0.0), (1.0, 1.0), (1.0, 1.0), (0.0, 0.0)]);
        err(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]); // collinear: no area
        err(&[(-170.0, 0.0), (170.0, 0.0), (170.0, 1.0)]); // across the antimeridian
        // An explicitly closed ring is the same polygon as an open one.
        let closed = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 0.0)]);
        let open = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        assert_eq!(closed, open);
        assert_eq!(open.exterior().len(), 3);
    }

    #[test]
    fn geojson_rings_with_a_hole() {
        let outer = vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0], [0.0, 0.0]];
        let hole = vec![[1.0, 1.0], [3.0, 1.0], [3.0, 3.0], [1.0, 3.0], [1.0, 1.0]];
        let donut = Polygon::from_geojson_rings(&[outer, hole]).unwrap();
        assert_eq!(donut.holes().count(), 1);
        assert!(donut.contains(&at(0.5, 0.5)));
        assert!(!donut.contains(&at(2.0, 2.0)), "in the hole");
        assert!(donut.contains(&at(1.0, 2.0)), "on the hole's edge");
        assert!(!donut.contains(&at(5.0, 2.0)));
    }

    #[test]
    fn geojson_paths() {
        let violations = Polygon::from_geojson_rings(&[
            vec![[0.0, 0.0], [200.0, 0.0], [1.0, 91.0]],
            vec![[0.0, 0.0], [1.0, 1.0]],
        ])
        .unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "coordinates[0][1].longitude",
                "coordinates[0][2].latitude",
                "coordinates[1]"
            ]
        );
        let empty = Polygon::from_geojson_rings(&[]).unwrap_err();
        assert_eq!(empty.iter().next().unwrap().field, "coordinates");
    }

    #[test]
    fn geojson_text() {
        let square = r#"[[[0,0],[1,0],[1,1],[0,1],[0,0]]]"#;
        let polygon = format!(r#"{{"type":"Polygon","coordinates":{square}}}"#);
        let feature = format!(r#"{{"type":"Feature","properties":{{}},"geometry":{polygon}}}"#);
        let multi = format!(
            r#"{{"type":"MultiPolygon","coordinates":[{square},[[[5,5,2240],[6,5,2240],[6,6,2240]]]]}}"#
        );
        assert_eq!(Polygon::from_geojson(&polygon).unwrap().len(), 1);
        assert_eq!(Polygon::from_geojson(&feature).unwrap().len(), 1);
        let both = Polygon::from_geojson(&multi).unwrap();
        assert_eq!(both.len(), 2);
        assert!(both[1].contains(&at(5.9, 5.1)), "the altitude is ignored");

        let message = |text: &str| {
            let violations = Polygon::from_geojson(text).unwrap_err();
            let first = violations.iter().next().unwrap();
            (first.field.clone(), first.description.clone())
        };
        for not_polygons in [
            r#"{"type":"Point","coordinates":[0,0]}"#,
            r#"{"type":"Feature","properties":null,"geometry":null}"#,
            r#"{"type":"FeatureCollection","features":[]}"#,
        ] {
            assert_eq!(
                message(not_polygons),
                (
                    String::new(),
                    "not a GeoJSON Polygon or MultiPolygon: type must be Polygon or MultiPolygon"
                        .to_owned()
                ),
                "{not_polygons}"
            );
        }
        for broken in [
            "{",
            r#"{"type":"Polygon","coordinates":[[[0]]]}"#,
            r#"{"type":"Polygon","coordinates":"here"}"#,
        ] {
            let (field, description) = message(broken);
            assert_eq!(field, "", "{broken}");
            assert!(
                description.starts_with("not a GeoJSON Polygon or MultiPolygon: "),
                "{broken}: {description}"
            );
        }
        let (field, _) = message(r#"{"type":"Polygon","coordinates":[[[0,0],[1,1],[0,0]]]}"#);
        assert_eq!(field, "coordinates[0]");
    }

    #[test]
    fn service_areas() {
        let a = polygon(&[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]);
        let b = polygon(&[(10.0, 10.0), (11.0, 10.0), (11.0, 11.0)]);
        let area = ServiceArea::new("Norte".into(), vec![a, b]).unwrap();
        assert!(area.contains(&at(10.9, 10.1)));
        assert!(area.contains(&at(0.9, 0.1)));
        assert!(!area.contains(&at(5.0, 5.0)));
        let violations = ServiceArea::new("x".repeat(201), vec![]).unwrap_err();
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["display_name", "shape"]);
    }
}
