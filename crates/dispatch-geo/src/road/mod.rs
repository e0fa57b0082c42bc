//! Travel by road: a drivable graph from an OpenStreetMap extract's ways, prepared for fast
//! queries (contraction hierarchies), and the [`TravelModel`](crate::TravelModel) that ranks by
//! drive time over it. Reading the extract and the on-disk cache is the caller's (the server's)
//! business: this module only turns ways into a graph and routes.

mod network;
mod osm;
mod query;
mod speeds;
pub mod synthetic;
mod travel;

pub use network::{
    Arc, FORMAT_VERSION, PreparedProfile, PreparedRoads, ReferenceRouter, RoadError,
    RoadGraphBuilder, RoadNetwork,
};
pub use osm::{Direction, Drivable, RoadClass, drivable};
pub use speeds::{ClassSpeeds, DEFAULT_KMH, RoadSpeeds, SpeedsError};
pub use travel::{DEFAULT_MAX_SNAP_M, RoadTravel};

#[cfg(test)]
mod tests;
