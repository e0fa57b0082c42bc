//! The geo-matching engine: every unit and fixed device in memory, ranked for an incident by
//! estimated travel time. Pure and synchronous: no I/O, no clock (callers pass `now`).
//!
//! Available, positioned units sit in R-trees (one per capability, one of all units) over
//! unit-sphere ECEF coordinates, where chord order is great-circle order, so the nearest-first
//! walk is exact on the globe. Busy units live only in the unit table, so a query never walks
//! past them. Ranking walks a capability's tree nearest first and stops as soon as the best ETA
//! any further unit could have (its distance over the travel model's top speed) exceeds the worst
//! ETA kept.

pub mod bench;
mod engine;
pub mod fitted;
pub mod road;
mod sphere;
pub mod synthetic;
pub mod travel;

pub use engine::{
    Candidate, Engine, EngineConfig, Fill, Fix, Nearest, QUARTERS_RADIUS_M, UnitState,
};
pub use fitted::FittedTravel;
pub use road::RoadTravel;
pub use travel::{GreatCircleTravel, TravelModel, TravelSource};

#[cfg(test)]
mod tests;
