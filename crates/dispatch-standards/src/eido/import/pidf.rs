//! PIDF-LO (RFC 4119, RFC 5491, RFC 5139): the XML in which an EIDO carries a location by
//! value. We read a geodetic shape's centre and how far the caller may be from it, the civic
//! address as one line of text, and the method that located the caller.

use dispatch_domain::location::{EARTH_RADIUS_M, LocationSource};

/// What one PIDF-LO document says about where someone is.
#[derive(Debug, Clone, PartialEq, Default)]
pub(super) struct Pidf {
    pub geodetic: Option<Geodetic>,
    pub civic_address: String,
    pub source: Option<LocationSource>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Geodetic {
    pub latitude: f64,
    pub longitude: f64,
    /// Metres: a circle's or sphere's radius, an ellipse's semi-major axis, the farthest vertex
    /// of a polygon from its centre; 0 for a point, which states no uncertainty.
    pub uncertainty_m: f64,
}

/// Civic address elements (RFC 5139, RFC 6848) in the order a one-line address reads them:
/// number, street, then the larger places.
const CIVIC_LINE: &[&[&str]] = &[
    &["HNO", "HNS", "PRD", "RD", "STS", "POD"],
    &["LOC", "FLR", "UNIT", "ROOM", "SEAT", "NAM", "LMK", "BLD"],
    &["A6", "A5", "A4", "A3"],
    &["A2", "A1", "PC"],
    &["country"],
];

/// Reads a PIDF-LO document; the error says what is wrong with it.
pub(super) fn read(xml: &str) -> Result<Pidf, String> {
    let document = roxmltree::Document::parse(xml)
        .map_err(|error| format!("is not well-formed PIDF-LO XML: {error}"))?;
    let mut pidf = Pidf::default();
    for node in document.descendants().filter(roxmltree::Node::is_element) {
        match node.tag_name().name() {
            "Point" | "Circle" | "Sphere" | "Ellipse" | "Ellipsoid" | "Polygon" | "ArcBand"
            | "Prism"
                if pidf.geodetic.is_none() =>
            {
                pidf.geodetic = shape(node)?;
            }
            "civicAddress" if pidf.civic_address.is_empty() => {
                pidf.civic_address = civic_line(node);
            }
            "method" if pidf.source.is_none() => {
                pidf.source = Some(source(text(node)));
            }
            _ => {}
        }
    }
    Ok(pidf)
}

/// How the location was determined, from the PIDF-LO `method` token (IANA "Method Tokens").
fn source(method: &str) -> LocationSource {
    match method.trim().to_ascii_lowercase().as_str() {
        "gps"
        | "a-gps"
        | "device-assisted_a-gps"
        | "device-based_a-gps"
        | "device-based_gps"
        | "device-assisted_el"
        | "device-based_el"
        | "nmr" => LocationSource::Device,
        "manual" => LocationSource::CallerDescribed,
        "wiremap" => LocationSource::FixedDevice,
        _ => LocationSource::Network,
    }
}

fn text<'a>(node: roxmltree::Node<'a, '_>) -> &'a str {
    node.text().unwrap_or_default()
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn numbers(text: &str) -> Result<Vec<f64>, String> {
    text.split_whitespace()
        .map(|n| {
            n.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| format!("has a coordinate that is not a number: {n:?}"))
        })
        .collect()
}

fn position(values: &[f64]) -> Result<(f64, f64), String> {
    let (&latitude, &longitude) = match values {
        [lat, lon] | [lat, lon, _] => (lat, lon),
        _ => {
            return Err(format!(
                "has a position of {} numbers, not 2 or 3",
                values.len()
            ));
        }
    };
    if !(-90.0..=90.0).contains(&latitude) {
        return Err(format!("has latitude {latitude}, outside -90 to 90"));
    }
    if !(-180.0..=180.0).contains(&longitude) {
        return Err(format!("has longitude {longitude}, outside -180 to 180"));
    }
    Ok((latitude, longitude))
}

/// A length in metres: GML lengths here are in metres (`urn:ogc:def:uom:EPSG::9001`).
fn metres(node: Option<roxmltree::Node<'_, '_>>, name: &str) -> Result<f64, String> {
    let node = node.ok_or_else(|| format!("has a shape without its {name}"))?;
    let uom = node
        .attribute("uom")
        .unwrap_or("urn:ogc:def:uom:EPSG::9001");
    if uom != "urn:ogc:def:uom:EPSG::9001" {
        return Err(format!(
            "gives its {name} in {uom:?}; only metres (EPSG::9001) are read"
        ));
    }
    match numbers(text(node))?.as_slice() {
        [value] if *value >= 0.0 => Ok(*value),
        _ => Err(format!("has a {name} that is not one non-negative number")),
    }
}

fn shape(node: roxmltree::Node<'_, '_>) -> Result<Option<Geodetic>, String> {
    let name = node.tag_name().name();
    let centre = || -> Result<(f64, f64), String> {
        let pos = child(node, "pos").ok_or_else(|| format!("has a {name} without gml:pos"))?;
        position(&numbers(text(pos))?)
    };
    let (latitude, longitude, uncertainty_m) = match name {
        "Point" => {
            let (lat, lon) = centre()?;
            (lat, lon, 0.0)
        }
        "Circle" | "Sphere" => {
            let (lat, lon) = centre()?;
            (lat, lon, metres(child(node, "radius"), "radius")?)
        }
        "Ellipse" | "Ellipsoid" => {
            let (lat, lon) = centre()?;
            (
                lat,
                lon,
                metres(child(node, "semiMajorAxis"), "semiMajorAxis")?,
            )
        }
        "ArcBand" => {
            let (lat, lon) = centre()?;
            (lat, lon, metres(child(node, "outerRadius"), "outerRadius")?)
        }
        "Polygon" | "Prism" => {
            let values = match child(node, "posList") {
                Some(list) => numbers(text(list))?,
                None => node
                    .descendants()
                    .filter(|n| n.is_element() && n.tag_name().name() == "pos")
                    .map(|pos| numbers(text(pos)))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            };
            let vertices = values
                .chunks(2)
                .map(position)
                .collect::<Result<Vec<_>, _>>()?;
            if vertices.len() < 3 {
                return Err(format!("has a {name} with fewer than 3 vertices"));
            }
            polygon_circle(&vertices)
        }
        _ => return Ok(None),
    };
    Ok(Some(Geodetic {
        latitude,
        longitude,
        uncertainty_m,
    }))
}

/// A polygon as its vertices' mean and the distance to its farthest vertex: a circle that
/// holds it, which is what an uncertainty radius says.
fn polygon_circle(vertices: &[(f64, f64)]) -> (f64, f64, f64) {
    let count = vertices.len() as f64;
    let latitude = vertices.iter().map(|v| v.0).sum::<f64>() / count;
    let longitude = vertices.iter().map(|v| v.1).sum::<f64>() / count;
    let radius = vertices
        .iter()
        .map(|&(lat, lon)| haversine(latitude, longitude, lat, lon))
        .fold(0.0, f64::max);
    (latitude, longitude, radius)
}

fn haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
}

fn civic_line(node: roxmltree::Node<'_, '_>) -> String {
    let value = |name: &str| {
        node.children()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .map(|n| text(n).split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|v| !v.is_empty())
    };
    CIVIC_LINE
        .iter()
        .map(|group| {
            group
                .iter()
                .filter_map(|name| value(name))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIRCLE: &str = r#"<presence xmlns="urn:ietf:params:xml:ns:pidf"
        xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" xmlns:gml="http://www.opengis.net/gml"
        xmlns:gs="http://www.opengis.net/pidflo/1.0" entity="pres:x@example.com">
        <gp:geopriv><gp:location-info><gs:Circle srsName="urn:ogc:def:crs:EPSG::4326">
        <gml:pos>19.4326 -99.1332</gml:pos>
        <gs:radius uom="urn:ogc:def:uom:EPSG::9001">35</gs:radius></gs:Circle>
        </gp:location-info><gp:method>A-GPS</gp:method></gp:geopriv></presence>"#;

    #[test]
    fn a_circle_is_its_centre_and_radius() {
        let pidf = read(CIRCLE).unwrap();
        assert_eq!(
            pidf.geodetic,
            Some(Geodetic {
                latitude: 19.4326,
                longitude: -99.1332,
                uncertainty_m: 35.0
            })
        );
        assert_eq!(pidf.source, Some(LocationSource::Device));
    }

    #[test]
    fn a_civic_address_reads_as_one_line() {
        let xml = r#"<civicAddress xmlns="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr">
            <country>US</country><A1>DE</A1><A3>Wilmington</A3><PRD>W</PRD><RD>Cellular</RD>
            <STS>Street</STS><HNO>42</HNO></civicAddress>"#;
        let pidf = read(xml).unwrap();
        assert_eq!(
            pidf.civic_address,
            "42 W Cellular Street, Wilmington, DE, US"
        );
        assert_eq!(pidf.geodetic, None);
    }

    #[test]
    fn out_of_range_and_broken_positions_are_refused() {
        let bad = CIRCLE.replace("19.4326 -99.1332", "95 -99.1332");
        assert!(read(&bad).unwrap_err().contains("latitude 95"));
        let bad = CIRCLE.replace("19.4326 -99.1332", "19.4 NaN");
        assert!(read(&bad).is_err());
        assert!(read("<presence").is_err());
    }

    #[test]
    fn a_polygon_is_a_circle_that_holds_it() {
        let xml = r#"<Polygon xmlns="http://www.opengis.net/gml"><exterior><LinearRing>
            <posList>19.0 -99.0 19.0 -99.01 19.01 -99.01 19.01 -99.0</posList>
            </LinearRing></exterior></Polygon>"#;
        let geodetic = read(xml).unwrap().geodetic.unwrap();
        assert!((geodetic.latitude - 19.005).abs() < 1e-9);
        assert!(
            (700.0..800.0).contains(&geodetic.uncertainty_m),
            "{geodetic:?}"
        );
    }
}
