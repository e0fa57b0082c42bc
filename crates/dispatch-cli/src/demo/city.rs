//! The Mexico City demo as data: the 16 alcaldías, the agencies with their stations and units,
//! the camera posts, the partner agencies and one principal per role. Everything is computed
//! from a seed, so two loads with the same seed describe the same city.

use dispatch_proto::v1 as pb;

/// One of Mexico City's 16 boroughs: approximate centroid of its urban area, a radius that
/// covers most of it, and its population (millions, 2020 census, rounded) to size services.
#[derive(Debug, Clone, Copy)]
pub struct Alcaldia {
    pub code: &'static str,
    pub name: &'static str,
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
    pub population_m: f64,
}

pub const ALCALDIAS: [Alcaldia; 16] = [
    Alcaldia {
        code: "AOB",
        name: "Álvaro Obregón",
        lat: 19.3587,
        lon: -99.2270,
        radius_km: 4.5,
        population_m: 0.76,
    },
    Alcaldia {
        code: "AZC",
        name: "Azcapotzalco",
        lat: 19.4869,
        lon: -99.1847,
        radius_km: 3.0,
        population_m: 0.43,
    },
    Alcaldia {
        code: "BJU",
        name: "Benito Juárez",
        lat: 19.3806,
        lon: -99.1611,
        radius_km: 2.5,
        population_m: 0.43,
    },
    Alcaldia {
        code: "COY",
        name: "Coyoacán",
        lat: 19.3320,
        lon: -99.1540,
        radius_km: 3.5,
        population_m: 0.61,
    },
    Alcaldia {
        code: "CUJ",
        name: "Cuajimalpa de Morelos",
        lat: 19.3600,
        lon: -99.2900,
        radius_km: 3.5,
        population_m: 0.22,
    },
    Alcaldia {
        code: "CUH",
        name: "Cuauhtémoc",
        lat: 19.4330,
        lon: -99.1480,
        radius_km: 2.5,
        population_m: 0.55,
    },
    Alcaldia {
        code: "GAM",
        name: "Gustavo A. Madero",
        lat: 19.4900,
        lon: -99.1100,
        radius_km: 4.5,
        population_m: 1.17,
    },
    Alcaldia {
        code: "IZC",
        name: "Iztacalco",
        lat: 19.3960,
        lon: -99.0970,
        radius_km: 2.5,
        population_m: 0.40,
    },
    Alcaldia {
        code: "IZP",
        name: "Iztapalapa",
        lat: 19.3580,
        lon: -99.0600,
        radius_km: 5.5,
        population_m: 1.84,
    },
    Alcaldia {
        code: "MCO",
        name: "La Magdalena Contreras",
        lat: 19.3170,
        lon: -99.2400,
        radius_km: 2.5,
        population_m: 0.25,
    },
    Alcaldia {
        code: "MHI",
        name: "Miguel Hidalgo",
        lat: 19.4280,
        lon: -99.2000,
        radius_km: 3.0,
        population_m: 0.41,
    },
    Alcaldia {
        code: "MIL",
        name: "Milpa Alta",
        lat: 19.1920,
        lon: -99.0230,
        radius_km: 4.0,
        population_m: 0.15,
    },
    Alcaldia {
        code: "TLH",
        name: "Tláhuac",
        lat: 19.2870,
        lon: -99.0050,
        radius_km: 3.5,
        population_m: 0.39,
    },
    Alcaldia {
        code: "TLP",
        name: "Tlalpan",
        lat: 19.2900,
        lon: -99.1700,
        radius_km: 4.5,
        population_m: 0.70,
    },
    Alcaldia {
        code: "VCA",
        name: "Venustiano Carranza",
        lat: 19.4300,
        lon: -99.1000,
        radius_km: 2.5,
        population_m: 0.44,
    },
    Alcaldia {
        code: "XOC",
        name: "Xochimilco",
        lat: 19.2600,
        lon: -99.1050,
        radius_km: 4.0,
        population_m: 0.44,
    },
];

/// The alcaldías a small demo covers.
const SMALL: [&str; 4] = ["CUH", "IZP", "GAM", "COY"];

/// How big a demo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Size {
    /// All 16 alcaldías, about 1,200 units, 600 fixed devices.
    Full,
    /// Four alcaldías and a few dozen units: for tests and a quick look.
    Small,
}

/// A small deterministic generator (SplitMix64), so the city is the same for the same seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// A generator for one named thing, independent of the order things are made in.
    pub fn for_name(seed: u64, name: &str) -> Self {
        // FNV-1a: stable across runs and platforms, unlike the std hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in name.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self(seed ^ hash)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A point uniformly within `radius_km` of (lat, lon).
    pub fn around(&mut self, lat: f64, lon: f64, radius_km: f64) -> (f64, f64) {
        let r = radius_km * self.unit().sqrt();
        let angle = self.unit() * std::f64::consts::TAU;
        offset(lat, lon, r * angle.cos(), r * angle.sin())
    }
}

/// (lat, lon) moved `north_km` and `east_km`.
pub fn offset(lat: f64, lon: f64, north_km: f64, east_km: f64) -> (f64, f64) {
    let lat2 = lat + north_km / 111.32;
    let lon2 = lon + east_km / (111.32 * lat.to_radians().cos());
    (lat2, lon2)
}

#[derive(Debug, Clone)]
pub struct AgencySpec {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: pb::AgencyKind,
}

pub const AGENCIES: [AgencySpec; 8] = [
    AgencySpec {
        code: "SSC",
        name: "Secretaría de Seguridad Ciudadana (policía)",
        kind: pb::AgencyKind::Police,
    },
    AgencySpec {
        code: "HCB",
        name: "Heroico Cuerpo de Bomberos",
        kind: pb::AgencyKind::Fire,
    },
    AgencySpec {
        code: "ERUM",
        name: "Escuadrón de Rescate y Urgencias Médicas",
        kind: pb::AgencyKind::Ems,
    },
    AgencySpec {
        code: "CRM",
        name: "Cruz Roja Mexicana, Ciudad de México",
        kind: pb::AgencyKind::RedCross,
    },
    AgencySpec {
        code: "SGIRPC",
        name: "Secretaría de Gestión Integral de Riesgos y Protección Civil",
        kind: pb::AgencyKind::CivilProtection,
    },
    AgencySpec {
        code: "C5",
        name: "Centro de Comando, Control, Cómputo, Comunicaciones y Contacto Ciudadano",
        kind: pb::AgencyKind::Other,
    },
    AgencySpec {
        code: "INCIFO",
        name: "Instituto de Ciencias Forenses",
        kind: pb::AgencyKind::Other,
    },
    AgencySpec {
        code: "SEMUJERES",
        name: "Secretaría de las Mujeres",
        kind: pb::AgencyKind::Other,
    },
];

#[derive(Debug, Clone)]
pub struct StationSpec {
    pub agency: &'static str,
    pub code: String,
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    pub address: String,
}

#[derive(Debug, Clone)]
pub struct UnitSpec {
    pub agency: &'static str,
    /// (agency, station code) of its home station.
    pub station: String,
    pub call_sign: String,
    pub unit_type: pb::UnitType,
    pub capabilities: Vec<String>,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct CameraSpec {
    pub code: String,
    pub kind: pb::DeviceKind,
    pub description: String,
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone)]
pub struct PartnerSpec {
    pub code: &'static str,
    pub name: &'static str,
    pub kind: pb::PartnerKind,
    pub services: Vec<pb::ReferralNeed>,
    /// None: the whole city; Some(code): that alcaldía.
    pub area: Option<&'static str>,
    pub lat: f64,
    pub lon: f64,
    pub address: &'static str,
    pub available: i32,
    pub total: i32,
}

/// A principal the demo creates and issues a token for.
#[derive(Debug, Clone)]
pub struct PrincipalSpec {
    pub role: pb::Role,
    pub name: &'static str,
    /// The key in the credentials file.
    pub env: &'static str,
    /// A field unit's call sign, or a partner's code.
    pub bound_to: Option<&'static str>,
}

pub const FIELD_UNIT_CALL_SIGN: &str = "P-CUH1-01";
pub const DEMO_PARTNER: &str = "LUNA-IZP";

pub const PRINCIPALS: [PrincipalSpec; 8] = [
    PrincipalSpec {
        role: pb::Role::Admin,
        name: "Demo administrator",
        env: "ADMIN_TOKEN",
        bound_to: None,
    },
    PrincipalSpec {
        role: pb::Role::CallTaker,
        name: "Demo call taker",
        env: "CALL_TAKER_TOKEN",
        bound_to: None,
    },
    PrincipalSpec {
        role: pb::Role::Dispatcher,
        name: "Demo dispatcher",
        env: "DISPATCHER_TOKEN",
        bound_to: None,
    },
    PrincipalSpec {
        role: pb::Role::Supervisor,
        name: "Demo supervisor",
        env: "SUPERVISOR_TOKEN",
        bound_to: None,
    },
    PrincipalSpec {
        role: pb::Role::VideoOperator,
        name: "Demo video operator",
        env: "VIDEO_OPERATOR_TOKEN",
        bound_to: None,
    },
    PrincipalSpec {
        role: pb::Role::FieldUnit,
        name: "Demo field unit P-CUH1-01",
        env: "FIELD_UNIT_TOKEN",
        bound_to: Some(FIELD_UNIT_CALL_SIGN),
    },
    PrincipalSpec {
        role: pb::Role::PartnerAgency,
        name: "Demo partner LUNA Iztapalapa",
        env: "PARTNER_AGENCY_TOKEN",
        bound_to: Some(DEMO_PARTNER),
    },
    PrincipalSpec {
        role: pb::Role::Gateway,
        name: "Demo AVL gateway",
        env: "GATEWAY_TOKEN",
        bound_to: None,
    },
];

/// Everything the demo holds.
#[derive(Debug, Default)]
pub struct City {
    pub stations: Vec<StationSpec>,
    pub units: Vec<UnitSpec>,
    pub cameras: Vec<CameraSpec>,
    pub partners: Vec<PartnerSpec>,
}

fn caps(list: &[&str]) -> Vec<String> {
    list.iter().map(|c| (*c).to_owned()).collect()
}

/// One kind of unit a station keeps: (full count, small count).
struct Kind {
    prefix: &'static str,
    unit_type: pb::UnitType,
    capabilities: &'static [&'static str],
    counts: (usize, usize),
    /// How far from the station units stand (patrols patrol; engines stay in quarters).
    spread_km: f64,
}

const fn kind(
    prefix: &'static str,
    unit_type: pb::UnitType,
    capabilities: &'static [&'static str],
    counts: (usize, usize),
    spread_km: f64,
) -> Kind {
    Kind {
        prefix,
        unit_type,
        capabilities,
        counts,
        spread_km,
    }
}

use pb::UnitType as T;

const POLICE_SECTOR: &[Kind] = &[
    kind("P", T::Patrol, &["patrol"], (12, 2), 1.8),
    kind("PA", T::Patrol, &["patrol", "aed"], (2, 1), 1.8),
    kind("M", T::Motorcycle, &["motorcycle", "patrol"], (4, 1), 2.0),
];
const POLICE_GENDER: &[Kind] = &[kind(
    "GEN",
    T::Patrol,
    &["patrol", "gender_police"],
    (2, 1),
    1.5,
)];
const POLICE_HQ: &[Kind] = &[
    kind("K9", T::Other, &["k9", "patrol"], (6, 1), 0.3),
    kind("CC", T::CrowdControl, &["crowd_control"], (8, 1), 0.3),
];
const FIRE_STATION: &[Kind] = &[
    kind("E", T::Engine, &["engine", "aed"], (8, 1), 0.1),
    kind("L", T::Ladder, &["ladder"], (2, 1), 0.1),
    kind("R", T::Rescue, &["extrication"], (1, 1), 0.1),
    kind("JEF", T::Chief, &["chief"], (1, 0), 0.1),
];
const FIRE_SPECIAL: &[Kind] = &[
    kind("HZ", T::Hazmat, &["hazmat"], (2, 1), 0.1),
    kind(
        "WR",
        T::Rescue,
        &["water_rescue", "extrication"],
        (2, 0),
        0.1,
    ),
];
const EMS_BASE: &[Kind] = &[
    kind("A", T::AlsAmbulance, &["als", "bls", "aed"], (6, 1), 1.0),
    kind("B", T::BlsAmbulance, &["bls", "aed"], (4, 1), 1.0),
    kind("R", T::Rescue, &["extrication", "usar"], (1, 0), 0.2),
];
const RED_CROSS_BASE: &[Kind] = &[
    kind("A", T::AlsAmbulance, &["als", "bls", "aed"], (3, 1), 0.8),
    kind("B", T::BlsAmbulance, &["bls", "aed"], (6, 1), 0.8),
];
const CIVIL_PROTECTION: &[Kind] = &[kind(
    "PC",
    T::CivilProtection,
    &["civil_protection"],
    (4, 1),
    0.5,
)];
const CIVIL_PROTECTION_HQ: &[Kind] = &[
    kind("USAR", T::Rescue, &["usar", "extrication"], (4, 0), 0.2),
    kind("DRN", T::Drone, &["drone"], (2, 0), 0.1),
];
const C5_HQ: &[Kind] = &[
    kind(
        "C2M",
        T::MobileCommandPost,
        &["mobile_command"],
        (5, 1),
        0.2,
    ),
    kind("DRN", T::Drone, &["drone"], (6, 1), 0.2),
];
const FORENSIC: &[Kind] = &[kind("SEMEFO", T::Other, &["medical_examiner"], (6, 1), 0.2)];
const WOMEN: &[Kind] = &[kind("LUNA", T::Other, &["victim_support"], (2, 1), 0.3)];

/// Red Cross bases (Polanco is the historic central one).
const RED_CROSS_ALCALDIAS: &[&str] = &["MHI", "IZP", "GAM", "COY", "TLP", "AZC", "XOC", "CUH"];

/// A station an agency keeps in an alcaldía (besides the police sectors), named after it.
struct LocalStation {
    agency: &'static str,
    /// The station's name before the alcaldía's.
    name: &'static str,
    /// How far from the alcaldía's centre, as a share of its radius.
    spread: f64,
    fleet: &'static [Kind],
    /// The alcaldías that have one (`None`: every one).
    only_in: Option<&'static [&'static str]>,
}

/// In the order the demo creates them, after each alcaldía's police sectors.
const LOCAL_STATIONS: [LocalStation; 5] = [
    LocalStation {
        agency: "HCB",
        name: "Estación de bomberos",
        spread: 0.5,
        fleet: FIRE_STATION,
        only_in: None,
    },
    LocalStation {
        agency: "ERUM",
        name: "Base ERUM",
        spread: 0.5,
        fleet: EMS_BASE,
        only_in: None,
    },
    LocalStation {
        agency: "CRM",
        name: "Base Cruz Roja",
        spread: 0.5,
        fleet: RED_CROSS_BASE,
        only_in: Some(RED_CROSS_ALCALDIAS),
    },
    LocalStation {
        agency: "SGIRPC",
        name: "Protección Civil",
        spread: 0.4,
        fleet: CIVIL_PROTECTION,
        only_in: None,
    },
    LocalStation {
        agency: "SEMUJERES",
        name: "LUNA",
        spread: 0.4,
        fleet: WOMEN,
        only_in: None,
    },
];

/// The central services, in Cuauhtémoc whatever the size: (agency, station name, fleet), each
/// station coded "HQ".
const CENTRAL_STATIONS: [(&str, &str, &[Kind]); 5] = [
    ("SSC", "Cuartel general SSC", POLICE_HQ),
    ("HCB", "Estación central de bomberos", FIRE_SPECIAL),
    (
        "SGIRPC",
        "Centro de operaciones de Protección Civil",
        CIVIL_PROTECTION_HQ,
    ),
    ("C5", "C5 Ciudad de México", C5_HQ),
    ("INCIFO", "Instituto de Ciencias Forenses", FORENSIC),
];

/// The devices on each street post: (code suffix, kind, what it is).
const POST_DEVICES: [(&str, pb::DeviceKind, &str); 2] = [
    ("CAM", pb::DeviceKind::Camera, "cámara PTZ"),
    ("BTN", pb::DeviceKind::PanicButton, "botón de auxilio"),
];

impl City {
    pub fn new(size: Size, seed: u64) -> Self {
        let alcaldias: Vec<&Alcaldia> = ALCALDIAS
            .iter()
            .filter(|a| size == Size::Full || SMALL.contains(&a.code))
            .collect();
        let mut city = City::default();
        for a in &alcaldias {
            let sectors = if size == Size::Full {
                ((a.population_m * 4.0).round() as usize).clamp(1, 8)
            } else {
                1
            };
            for s in 1..=sectors {
                let station = city.station(
                    seed,
                    "SSC",
                    &format!("{}{s}", a.code),
                    &format!("Sector {} {s}", a.name),
                    a,
                    0.6,
                );
                city.units_at(
                    size,
                    seed,
                    &station,
                    &format!("{}{s}", a.code),
                    POLICE_SECTOR,
                );
                if s == 1 {
                    city.units_at(size, seed, &station, a.code, POLICE_GENDER);
                }
            }
            for local in &LOCAL_STATIONS {
                if local.only_in.is_some_and(|codes| !codes.contains(&a.code)) {
                    continue;
                }
                let name = format!("{} {}", local.name, a.name);
                let station = city.station(seed, local.agency, a.code, &name, a, local.spread);
                city.units_at(size, seed, &station, a.code, local.fleet);
            }
        }
        let centre = &ALCALDIAS[5];
        for (agency, name, fleet) in CENTRAL_STATIONS {
            let station = city.station(seed, agency, "HQ", name, centre, 0.3);
            city.units_at(size, seed, &station, "HQ", fleet);
        }

        let total_population: f64 = alcaldias.iter().map(|a| a.population_m).sum();
        let posts = if size == Size::Full { 300.0 } else { 8.0 };
        for a in &alcaldias {
            let n = ((a.population_m / total_population * posts).round() as usize).max(1);
            for i in 1..=n {
                let code = format!("STV-{}-{i:04}", a.code);
                let (lat, lon) = Rng::for_name(seed, &code).around(a.lat, a.lon, a.radius_km);
                for (suffix, kind, what) in POST_DEVICES {
                    city.cameras.push(CameraSpec {
                        code: format!("{code}-{suffix}"),
                        kind,
                        description: format!("Poste STV {} {i}: {what}", a.name),
                        lat,
                        lon,
                    });
                }
            }
        }
        city.partners = partners();
        city
    }

    fn station(
        &mut self,
        seed: u64,
        agency: &'static str,
        code: &str,
        name: &str,
        a: &Alcaldia,
        spread: f64,
    ) -> StationSpec {
        let (lat, lon) = Rng::for_name(seed, &format!("{agency}/{code}")).around(
            a.lat,
            a.lon,
            a.radius_km * spread,
        );
        // Station codes are unique across agencies on the server (not only within one).
        let station = StationSpec {
            agency,
            code: format!("{agency}-{code}"),
            name: name.to_owned(),
            lat,
            lon,
            address: format!("Alcaldía {}", a.name),
        };
        self.stations.push(station.clone());
        station
    }

    fn units_at(
        &mut self,
        size: Size,
        seed: u64,
        station: &StationSpec,
        tag: &str,
        kinds: &[Kind],
    ) {
        for k in kinds {
            let count = if size == Size::Full {
                k.counts.0
            } else {
                k.counts.1
            };
            for n in 1..=count {
                let call_sign = if station.agency == "SSC" || station.agency == "HCB" {
                    format!("{}-{tag}-{n:02}", k.prefix)
                } else {
                    format!("{}-{}-{tag}-{n:02}", station.agency, k.prefix)
                };
                let (lat, lon) =
                    Rng::for_name(seed, &call_sign).around(station.lat, station.lon, k.spread_km);
                self.units.push(UnitSpec {
                    agency: station.agency,
                    station: format!("{}/{}", station.agency, station.code),
                    call_sign,
                    unit_type: k.unit_type,
                    capabilities: caps(k.capabilities),
                    lat,
                    lon,
                });
            }
        }
    }
}

fn partners() -> Vec<PartnerSpec> {
    use pb::PartnerKind as K;
    use pb::ReferralNeed as N;
    let p = |code, name, kind, services: &[N], area, (lat, lon), address, (available, total)| {
        PartnerSpec {
            code,
            name,
            kind,
            services: services.to_vec(),
            area,
            lat,
            lon,
            address,
            available,
            total,
        }
    };
    vec![
        p(
            "HGM",
            "Hospital General de México Dr. Eduardo Liceaga",
            K::Hospital,
            &[N::Medical],
            None,
            (19.4116, -99.1526),
            "Dr. Balmis 148, Doctores",
            (25, 140),
        ),
        p(
            "HG-BALBUENA",
            "Hospital General Balbuena",
            K::Hospital,
            &[N::Medical],
            None,
            (19.4216, -99.1157),
            "Cecilio Robelo 103, Jardín Balbuena",
            (12, 90),
        ),
        p(
            "CRM-POLANCO",
            "Cruz Roja Mexicana, Hospital Central Polanco",
            K::RedCross,
            &[N::Medical, N::Psychological],
            None,
            (19.4406, -99.2010),
            "Ejército Nacional 1032, Polanco",
            (10, 60),
        ),
        p(
            "LUNA-IZP",
            "LUNA Iztapalapa (Secretaría de las Mujeres)",
            K::WomensCentre,
            &[N::Psychological, N::Legal, N::FollowUpCalls],
            Some("IZP"),
            (19.3574, -99.0587),
            "Iztapalapa centro",
            (8, 20),
        ),
        p(
            "LUNA-CUH",
            "LUNA Cuauhtémoc (Secretaría de las Mujeres)",
            K::WomensCentre,
            &[N::Psychological, N::Legal, N::FollowUpCalls],
            Some("CUH"),
            (19.4330, -99.1450),
            "Cuauhtémoc centro",
            (6, 20),
        ),
        p(
            "REFUGIO-CDMX",
            "Refugio para mujeres y sus hijas e hijos (demo)",
            K::Shelter,
            &[N::Shelter],
            None,
            (19.3900, -99.1400),
            "Dirección confidencial",
            (4, 12),
        ),
        p(
            "ABOGADAS",
            "Abogadas de las Mujeres",
            K::LegalAid,
            &[N::Legal],
            None,
            (19.4260, -99.1540),
            "Fiscalía, Doctores",
            (15, 30),
        ),
        p(
            "DIF-CDMX",
            "DIF Ciudad de México",
            K::ChildProtection,
            &[N::ChildProtection, N::SocialProgram],
            None,
            (19.3800, -99.1700),
            "San Francisco 1374, Tlacoquemécatl",
            (20, 50),
        ),
        p(
            "CAVI",
            "Centro de Atención a la Violencia Intrafamiliar (FGJ)",
            K::PsychologicalCare,
            &[N::Psychological, N::Legal],
            None,
            (19.4250, -99.1560),
            "General Gabriel Hernández 56, Doctores",
            (10, 25),
        ),
    ]
}

/// The service area polygon of a partner: an alcaldía's box, or the whole city.
pub fn area(code: Option<&str>) -> (String, pb::Polygon) {
    let corners = |south: f64, west: f64, north: f64, east: f64| pb::Polygon {
        points: vec![
            pb::GeoPoint {
                latitude: south,
                longitude: west,
            },
            pb::GeoPoint {
                latitude: south,
                longitude: east,
            },
            pb::GeoPoint {
                latitude: north,
                longitude: east,
            },
            pb::GeoPoint {
                latitude: north,
                longitude: west,
            },
        ],
    };
    match code.and_then(|c| ALCALDIAS.iter().find(|a| a.code == c)) {
        Some(a) => {
            let (south, west) = offset(a.lat, a.lon, -a.radius_km, -a.radius_km);
            let (north, east) = offset(a.lat, a.lon, a.radius_km, a.radius_km);
            (a.name.to_owned(), corners(south, west, north, east))
        }
        None => (
            "Ciudad de México".to_owned(),
            corners(19.04, -99.37, 19.60, -98.94),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_city_is_the_same_for_the_same_seed_and_call_signs_are_unique() {
        let a = City::new(Size::Full, 7);
        let b = City::new(Size::Full, 7);
        assert_eq!(a.units.len(), b.units.len());
        assert!(
            a.units
                .iter()
                .zip(&b.units)
                .all(|(x, y)| x.call_sign == y.call_sign && x.lat == y.lat)
        );
        let mut signs: Vec<_> = a.units.iter().map(|u| &u.call_sign).collect();
        signs.sort();
        signs.dedup();
        assert_eq!(signs.len(), a.units.len());
        assert!(a.units.len() > 1000, "{}", a.units.len());
        assert!(a.units.iter().any(|u| u.call_sign == FIELD_UNIT_CALL_SIGN));
        let small = City::new(Size::Small, 7);
        assert!(small.units.len() < 100, "{}", small.units.len());
        assert!(
            small
                .units
                .iter()
                .any(|u| u.call_sign == FIELD_UNIT_CALL_SIGN)
        );
        for unit in &a.units {
            assert!(
                (19.0..19.7).contains(&unit.lat) && (-99.4..-98.9).contains(&unit.lon),
                "{unit:?}"
            );
            assert!(unit.call_sign.len() <= 32);
        }
    }
}
