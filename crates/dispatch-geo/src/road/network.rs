//! The drivable road graph: built from ways, cut to its largest strongly connected part,
//! prepared as contraction hierarchies (one per distinct speed table), snapped to through an
//! R-tree of its nodes.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::Mutex;

use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use fast_paths::{FastGraph32, InputGraph};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use serde::{Deserialize, Serialize};

use super::osm::{Direction, Drivable, RoadClass};
use super::query::Workspace;
use super::speeds::{ClassSpeeds, RoadSpeeds};
use crate::sphere::ecef;

/// Bumped whenever [`PreparedRoads`] changes shape: a cache of another format is rebuilt.
pub const FORMAT_VERSION: u32 = 2;

/// One directed road segment between two graph nodes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Arc {
    pub from: u32,
    pub to: u32,
    /// Great-circle length, metres.
    pub length_m: f64,
    pub class: RoadClass,
}

impl Arc {
    /// Milliseconds to drive it at `speeds`, rounded up (never below 1: the router drops
    /// zero-weight edges), so a route's time never undercuts its length over the top speed.
    pub fn weight_ms(&self, speeds: &ClassSpeeds) -> usize {
        let mps = speeds[self.class.index()] / 3.6;
        let ms = (self.length_m / mps * 1_000.0).ceil();
        if ms.is_finite() && ms >= 1.0 {
            ms as usize
        } else {
            1
        }
    }
}

/// Why no graph could be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoadError {
    /// No drivable road with two connected nodes.
    NoRoads,
}

impl fmt::Display for RoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoadError::NoRoads => f.write_str("it holds no drivable road network"),
        }
    }
}

impl std::error::Error for RoadError {}

/// Collects ways, nodes identified by the caller's ids (OpenStreetMap node ids).
#[derive(Debug, Default)]
pub struct RoadGraphBuilder {
    index: HashMap<i64, u32>,
    points: Vec<GeoPoint>,
    arcs: Vec<Arc>,
    ways: usize,
}

impl RoadGraphBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a way through `nodes` in order; repeated ids join ways at intersections.
    pub fn add_way(&mut self, drivable: Drivable, nodes: &[(i64, GeoPoint)]) {
        self.ways += 1;
        let mut previous: Option<(u32, GeoPoint)> = None;
        for &(id, point) in nodes {
            let next = self.node(id, point);
            if let Some((from, from_point)) = previous
                && from != next
            {
                let length_m = from_point.distance_m(&point);
                let class = drivable.class;
                if drivable.direction != Direction::Backward {
                    self.arcs.push(Arc {
                        from,
                        to: next,
                        length_m,
                        class,
                    });
                }
                if drivable.direction != Direction::Forward {
                    self.arcs.push(Arc {
                        from: next,
                        to: from,
                        length_m,
                        class,
                    });
                }
            }
            previous = Some((next, point));
        }
    }

    pub fn ways(&self) -> usize {
        self.ways
    }

    fn node(&mut self, id: i64, point: GeoPoint) -> u32 {
        let next = index_u32(self.points.len());
        let index = *self.index.entry(id).or_insert(next);
        if index == next {
            self.points.push(point);
        }
        index
    }

    /// Keeps the largest strongly connected part (where every node reaches every other: a
    /// fragment cut off by the extract's edge would strand whatever snaps to it) and prepares it.
    pub fn build(self, speeds: &RoadSpeeds) -> Result<RoadNetwork, RoadError> {
        let (points, arcs) = largest_strong_component(&self.points, &self.arcs);
        if points.len() < 2 {
            return Err(RoadError::NoRoads);
        }
        let profiles: Vec<PreparedProfile> = speeds
            .profiles()
            .into_iter()
            .map(|kmh| PreparedProfile {
                graph: FastGraph32::new(&fast_paths::prepare(&input_graph(&arcs, &kmh))),
                kmh,
            })
            .collect();
        let profile_of = UnitType::ALL
            .iter()
            .map(|&t| {
                let own = speeds.of(t);
                profiles
                    .iter()
                    .position(|p| &p.kmh == own)
                    .map_or(0, |p| u8::try_from(p).unwrap_or(0))
            })
            .collect();
        Ok(RoadNetwork::from_prepared(PreparedRoads {
            format: FORMAT_VERSION,
            points: points
                .iter()
                .map(|p| [p.latitude(), p.longitude()])
                .collect(),
            arcs,
            profiles,
            profile_of,
        })
        .expect("a freshly prepared graph is consistent"))
    }
}

fn input_graph(arcs: &[Arc], kmh: &ClassSpeeds) -> InputGraph {
    let mut input = InputGraph::new();
    for arc in arcs {
        input.add_edge(arc.from as usize, arc.to as usize, arc.weight_ms(kmh));
    }
    input.freeze();
    input
}

fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or_else(|_| panic!("more than u32::MAX road nodes ({index})"))
}

/// The nodes of the largest strongly connected component, renumbered densely, and the arcs
/// among them (Tarjan's algorithm, iterative).
fn largest_strong_component(points: &[GeoPoint], arcs: &[Arc]) -> (Vec<GeoPoint>, Vec<Arc>) {
    let n = points.len();
    let mut first = vec![0usize; n + 1];
    for arc in arcs {
        first[arc.from as usize + 1] += 1;
    }
    for i in 0..n {
        first[i + 1] += first[i];
    }
    let mut heads = vec![0u32; arcs.len()];
    let mut fill = first.clone();
    for arc in arcs {
        heads[fill[arc.from as usize]] = arc.to;
        fill[arc.from as usize] += 1;
    }
    const UNSEEN: u32 = u32::MAX;
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut component = vec![u32::MAX; n];
    let mut sizes: Vec<usize> = Vec::new();
    let mut counter = 0u32;
    let mut calls: Vec<(u32, usize)> = Vec::new();
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        calls.push((index_u32(root), first[root]));
        order[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(index_u32(root));
        on_stack[root] = true;
        while let Some(&mut (v, ref mut next)) = calls.last_mut() {
            let vu = v as usize;
            if *next < first[vu + 1] {
                let w = heads[*next] as usize;
                *next += 1;
                if order[w] == UNSEEN {
                    order[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(index_u32(w));
                    on_stack[w] = true;
                    calls.push((index_u32(w), first[w]));
                } else if on_stack[w] {
                    low[vu] = low[vu].min(order[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                let parent = parent as usize;
                low[parent] = low[parent].min(low[vu]);
            }
            if low[vu] == order[vu] {
                let id = index_u32(sizes.len());
                let mut size = 0;
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component[w as usize] = id;
                    size += 1;
                    if w == v {
                        break;
                    }
                }
                sizes.push(size);
            }
        }
    }
    let Some(largest) = (0..sizes.len()).max_by_key(|&c| sizes[c]) else {
        return (Vec::new(), Vec::new());
    };
    let largest = index_u32(largest);
    let mut renumber = vec![u32::MAX; n];
    let mut kept = Vec::with_capacity(sizes[largest as usize]);
    for (i, point) in points.iter().enumerate() {
        if component[i] == largest {
            renumber[i] = index_u32(kept.len());
            kept.push(*point);
        }
    }
    let arcs = arcs
        .iter()
        .filter(|a| component[a.from as usize] == largest && component[a.to as usize] == largest)
        .map(|a| Arc {
            from: renumber[a.from as usize],
            to: renumber[a.to as usize],
            ..*a
        })
        .collect();
    (kept, arcs)
}

/// One speed table and its contraction hierarchy (32-bit: half the memory, and the form whose
/// fields the many-to-one query reads).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreparedProfile {
    pub kmh: ClassSpeeds,
    pub graph: FastGraph32,
}

/// What the on-disk cache holds: everything but the indexes rebuilt in a moment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreparedRoads {
    pub format: u32,
    /// Latitude, longitude per node.
    pub points: Vec<[f64; 2]>,
    pub arcs: Vec<Arc>,
    pub profiles: Vec<PreparedProfile>,
    /// Profile of each unit type, in `UnitType::ALL` order.
    pub profile_of: Vec<u8>,
}

type SnapEntry = GeomWithData<[f64; 3], u32>;

struct Profile {
    prepared: PreparedProfile,
    /// The fastest class present in the graph, m/s.
    max_mps: f64,
}

/// The road graph, ready to route.
pub struct RoadNetwork {
    points: Vec<GeoPoint>,
    arcs: Vec<Arc>,
    profiles: Vec<Profile>,
    profile_of: Vec<u8>,
    snap: RTree<SnapEntry>,
    /// Query state (arrays the size of the graph): one per concurrent query, each keeping its
    /// last target's backward search for the next unit ranked against the same incident.
    workspaces: Mutex<Vec<Workspace>>,
}

impl fmt::Debug for RoadNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoadNetwork")
            .field("nodes", &self.points.len())
            .field("arcs", &self.arcs.len())
            .field("profiles", &self.profiles.len())
            .finish()
    }
}

impl RoadNetwork {
    /// Checks what a cache held and builds the indexes; `None` if it is not this format or does
    /// not hold together.
    pub fn from_prepared(prepared: PreparedRoads) -> Option<Self> {
        let nodes = prepared.points.len();
        let consistent = prepared.format == FORMAT_VERSION
            && nodes >= 2
            && prepared.profile_of.len() == UnitType::ALL.len()
            && prepared
                .profile_of
                .iter()
                .all(|&p| (p as usize) < prepared.profiles.len())
            && prepared
                .profiles
                .iter()
                .all(|p| hierarchy_fits(&p.graph, nodes))
            && prepared
                .arcs
                .iter()
                .all(|a| (a.from as usize) < nodes && (a.to as usize) < nodes);
        if !consistent {
            return None;
        }
        let points = prepared
            .points
            .iter()
            .map(|&[lat, lon]| GeoPoint::new(lat, lon).ok())
            .collect::<Option<Vec<_>>>()?;
        let snap = RTree::bulk_load(
            points
                .iter()
                .enumerate()
                .map(|(i, &p)| SnapEntry::new(ecef(p), index_u32(i)))
                .collect(),
        );
        let mut present = [false; RoadClass::ALL.len()];
        for arc in &prepared.arcs {
            present[arc.class.index()] = true;
        }
        let profiles = prepared
            .profiles
            .into_iter()
            .map(|prepared| Profile {
                max_mps: prepared
                    .kmh
                    .iter()
                    .zip(present)
                    .filter(|(_, present)| *present)
                    .map(|(kmh, _)| kmh / 3.6)
                    .fold(0.0, f64::max),
                prepared,
            })
            .collect();
        Some(Self {
            points,
            arcs: prepared.arcs,
            profiles,
            profile_of: prepared.profile_of,
            snap,
            workspaces: Mutex::new(Vec::new()),
        })
    }

    /// The cacheable part (a copy).
    pub fn to_prepared(&self) -> PreparedRoads {
        PreparedRoads {
            format: FORMAT_VERSION,
            points: self
                .points
                .iter()
                .map(|p| [p.latitude(), p.longitude()])
                .collect(),
            arcs: self.arcs.clone(),
            profiles: self.profiles.iter().map(|p| p.prepared.clone()).collect(),
            profile_of: self.profile_of.clone(),
        }
    }

    pub fn nodes(&self) -> usize {
        self.points.len()
    }

    pub fn arcs(&self) -> &[Arc] {
        &self.arcs
    }

    pub fn point(&self, node: u32) -> Option<GeoPoint> {
        self.points.get(node as usize).copied()
    }

    /// Which prepared graph a unit type drives on.
    pub fn profile_of(&self, unit_type: UnitType) -> usize {
        self.profile_of
            .get(unit_type as usize)
            .map_or(0, |&p| p as usize)
    }

    pub fn profiles(&self) -> usize {
        self.profiles.len()
    }

    /// The fastest speed a unit of this type drives anywhere on the graph, m/s.
    pub fn max_speed_mps(&self, unit_type: UnitType) -> f64 {
        self.profiles
            .get(self.profile_of(unit_type))
            .map_or(0.0, |p| p.max_mps)
    }

    /// The graph node nearest `point`, and how far it is (metres, great-circle).
    pub fn snap(&self, point: GeoPoint) -> Option<(u32, f64)> {
        let nearest = self.snap.nearest_neighbor(ecef(point))?;
        let node = self.points.get(nearest.data as usize)?;
        Some((nearest.data, node.distance_m(&point)))
    }

    /// Fastest time from `from` to `to` on a profile, milliseconds (`None`: no route). Asked
    /// again for the same `to` (the units ranked for one incident), the backward half is reused.
    pub fn route_ms(&self, profile: usize, from: u32, to: u32) -> Option<u64> {
        let graph = &self.profiles.get(profile)?.prepared.graph;
        let nodes = self.points.len();
        if from as usize >= nodes || to as usize >= nodes {
            return None;
        }
        let key = (profile, to);
        let mut workspace = {
            let mut pool = self
                .workspaces
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match pool.iter().rposition(|w| w.target == Some(key)) {
                Some(position) => pool.swap_remove(position),
                None => pool.pop().unwrap_or_else(|| Workspace::new(nodes)),
            }
        };
        if workspace.target != Some(key) {
            workspace.search_backward(graph, key);
        }
        let time = workspace.time_from(graph, from).map(u64::from);
        self.workspaces
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(workspace);
        time
    }

    /// A plain Dijkstra over the same arcs and weights: the reference the tests hold the
    /// hierarchy to, and the benchmark's baseline.
    pub fn reference(&self, profile: usize) -> ReferenceRouter<'_> {
        let kmh = self
            .profiles
            .get(profile)
            .map_or(super::speeds::DEFAULT_KMH, |p| p.prepared.kmh);
        let n = self.points.len();
        let mut first = vec![0usize; n + 1];
        for arc in &self.arcs {
            first[arc.from as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut out = vec![(0u32, 0u64); self.arcs.len()];
        let mut fill = first.clone();
        for arc in &self.arcs {
            out[fill[arc.from as usize]] = (arc.to, arc.weight_ms(&kmh) as u64);
            fill[arc.from as usize] += 1;
        }
        ReferenceRouter {
            network: self,
            first,
            out,
        }
    }
}

/// The hierarchy indexes only nodes and edges it has (a cache from elsewhere could be corrupt).
fn hierarchy_fits(graph: &FastGraph32, nodes: usize) -> bool {
    let ranks_ok = graph.ranks.len() == nodes && graph.ranks.iter().all(|&r| (r as usize) < nodes);
    // (fast_paths does not export its edge type: the sides are passed as lengths and heads.)
    let side_ok = |first: &[u32], edges: usize, mut heads: Box<dyn Iterator<Item = u32> + '_>| {
        first.len() == nodes + 1
            && first.windows(2).all(|w| w[0] <= w[1])
            && first.last().is_some_and(|&last| last as usize == edges)
            && heads.all(|head| (head as usize) < nodes)
    };
    ranks_ok
        && side_ok(
            &graph.first_edge_ids_fwd,
            graph.edges_fwd.len(),
            Box::new(graph.edges_fwd.iter().map(|e| e.adj_node)),
        )
        && side_ok(
            &graph.first_edge_ids_bwd,
            graph.edges_bwd.len(),
            Box::new(graph.edges_bwd.iter().map(|e| e.adj_node)),
        )
}

/// Dijkstra's algorithm over the network's arcs.
#[derive(Debug)]
pub struct ReferenceRouter<'a> {
    network: &'a RoadNetwork,
    first: Vec<usize>,
    out: Vec<(u32, u64)>,
}

impl ReferenceRouter<'_> {
    pub fn route_ms(&self, from: u32, to: u32) -> Option<u64> {
        let n = self.network.points.len();
        let mut best = vec![u64::MAX; n];
        let mut heap = BinaryHeap::new();
        *best.get_mut(from as usize)? = 0;
        heap.push(Reverse((0u64, from)));
        while let Some(Reverse((time, node))) = heap.pop() {
            if node == to {
                return Some(time);
            }
            if time > best[node as usize] {
                continue;
            }
            let node = node as usize;
            for &(next, weight) in &self.out[self.first[node]..self.first[node + 1]] {
                let candidate = time + weight;
                if candidate < best[next as usize] {
                    best[next as usize] = candidate;
                    heap.push(Reverse((candidate, next)));
                }
            }
        }
        None
    }
}
