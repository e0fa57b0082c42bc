//! The engine: every unit in memory, available ones in per-capability R-trees, ranked by ETA.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use dispatch_domain::directory::UnitType;
use dispatch_domain::location::GeoPoint;
use dispatch_domain::triage::Requirement;
use rstar::RTree;
use rstar::primitives::GeomWithData;
use uuid::Uuid;

use crate::sphere::{chord2_of_m, ecef, widen_m};
use crate::travel::{GreatCircleTravel, TravelModel, TravelSource};

/// What the server tells the engine about a unit.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitState {
    pub id: Uuid,
    pub unit_type: UnitType,
    /// Capability codes of the catalogue (`als`, `aed`, ...); order and repeats do not matter.
    pub capabilities: Vec<String>,
    /// Only available units are candidates.
    pub available: bool,
    /// Units without a position are never candidates.
    pub position: Option<Fix>,
    /// Where the unit is based (its home station's point), if anywhere: an available unit whose
    /// fix is there leaves from quarters, and its ETA includes the travel model's turnout.
    pub home: Option<GeoPoint>,
}

/// A fix within this many metres of the unit's home station is "in quarters": station yards
/// and the spread of AVL fixes fit well inside it.
pub const QUARTERS_RADIUS_M: f64 = 150.0;

/// A position report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fix {
    pub point: GeoPoint,
    pub fix_time: DateTime<Utc>,
}

/// How the engine ranks.
#[derive(Debug)]
pub struct EngineConfig {
    /// A fix older than this is stale: the unit stays a candidate, penalised and flagged.
    pub stale_after: TimeDelta,
    /// Added to the ETA of a unit whose fix is stale.
    pub stale_penalty: TimeDelta,
    pub travel: Box<dyn TravelModel>,
    /// Candidates shown per requirement beyond its count.
    pub alternates: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            stale_after: TimeDelta::minutes(30),
            stale_penalty: TimeDelta::minutes(3),
            travel: Box::new(GreatCircleTravel::default()),
            alternates: 2,
        }
    }
}

/// A unit proposed for an incident, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub unit: Uuid,
    pub unit_type: UnitType,
    /// Great-circle (haversine) distance from the unit's last fix, metres.
    pub straight_line_m: f64,
    /// Estimated travel time, including the stale penalty when `stale`.
    pub eta: TimeDelta,
    pub stale: bool,
    /// `now` minus the fix time (zero for a fix in the future).
    pub position_age: TimeDelta,
    /// Which travel model gave `eta`.
    pub travel: TravelSource,
    /// For people: "ALS ambulance, 1.2 km, ETA 2 min 10 s[, position 45 min old]".
    pub reason: String,
}

/// How one requirement of a response plan was filled.
#[derive(Debug, Clone, PartialEq)]
pub struct Fill {
    pub requirement: Requirement,
    /// Best first: the first `picked` are the picks, then up to `alternates` units picked nowhere.
    pub candidates: Vec<Candidate>,
    pub picked: usize,
    /// `count - picked`: units the plan asks for that could not be found.
    pub shortfall: u32,
}

type Entry = GeomWithData<[f64; 3], u32>;

#[derive(Debug, Clone, Copy)]
struct Placed {
    point: GeoPoint,
    fix_time: DateTime<Utc>,
    ecef: [f64; 3],
}

impl Placed {
    fn new(fix: Fix) -> Self {
        Self {
            point: fix.point,
            fix_time: fix.fix_time,
            ecef: ecef(fix.point),
        }
    }
}

#[derive(Debug, Clone)]
struct Slot {
    id: Uuid,
    unit_type: UnitType,
    capabilities: u32,
    available: bool,
    fix: Option<Placed>,
    home: Option<GeoPoint>,
}

impl Slot {
    /// Where the unit sits in the trees: available units with a position only.
    fn indexed_at(&self) -> Option<[f64; 3]> {
        self.fix.filter(|_| self.available).map(|fix| fix.ecef)
    }
}

/// Interned capability codes and capability sets.
#[derive(Debug, Default)]
struct Vocabulary {
    ids: HashMap<String, u32>,
    names: Vec<String>,
    sets: Vec<Box<[u32]>>,
    set_ids: HashMap<Box<[u32]>, u32>,
}

impl Vocabulary {
    fn intern_set(&mut self, capabilities: &[String]) -> u32 {
        let mut set: Vec<u32> = capabilities
            .iter()
            .map(|name| match self.ids.get(name.as_str()) {
                Some(&id) => id,
                None => {
                    let id = index_u32(self.names.len());
                    self.names.push(name.clone());
                    self.ids.insert(name.clone(), id);
                    id
                }
            })
            .collect();
        set.sort_unstable();
        set.dedup();
        let set = set.into_boxed_slice();
        if let Some(&id) = self.set_ids.get(&set) {
            return id;
        }
        let id = index_u32(self.sets.len());
        self.sets.push(set.clone());
        self.set_ids.insert(set, id);
        id
    }

    fn set(&self, id: u32) -> &[u32] {
        self.sets.get(id as usize).map_or(&[], |set| set)
    }
}

fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or_else(|_| panic!("more than u32::MAX entries ({index})"))
}

const TYPES: usize = UnitType::ALL.len();

/// `UnitType::ALL[type_index(t)] == t` (the enum's declaration order, tested).
fn type_index(unit_type: UnitType) -> usize {
    unit_type as usize
}

/// One R-tree of available units, with how many of each type it holds: its fastest type present
/// bounds the ETA of every unit in it.
#[derive(Default)]
struct Tree {
    tree: RTree<Entry>,
    types: [u32; TYPES],
}

impl Tree {
    fn bulk_load(entries: Vec<(Entry, UnitType)>) -> Self {
        let mut types = [0; TYPES];
        for (_, unit_type) in &entries {
            types[type_index(*unit_type)] += 1;
        }
        Self {
            tree: RTree::bulk_load(entries.into_iter().map(|(entry, _)| entry).collect()),
            types,
        }
    }

    fn insert(&mut self, entry: Entry, unit_type: UnitType) {
        self.tree.insert(entry);
        self.types[type_index(unit_type)] += 1;
    }

    fn remove(&mut self, entry: &Entry, unit_type: UnitType) {
        let removed = self.tree.remove(entry);
        debug_assert!(removed.is_some(), "slot {} missing from a tree", entry.data);
        if removed.is_some() {
            self.types[type_index(unit_type)] -= 1;
        }
    }

    /// The fastest straight-line speed of the types present (0 for an empty tree).
    fn speed_bound(&self, speeds: &[f64; TYPES]) -> f64 {
        self.types
            .iter()
            .zip(speeds)
            .filter(|(count, _)| **count > 0)
            .map(|(_, &speed)| speed)
            .fold(0.0, |a, b| {
                if b.is_nan() || a.is_nan() {
                    f64::NAN
                } else {
                    a.max(b)
                }
            })
    }
}

/// The available units, one tree per capability plus one of all of them.
#[derive(Default)]
struct Index {
    by_capability: Vec<Tree>,
    all: Tree,
}

impl Index {
    fn grow(&mut self, capabilities: usize) {
        while self.by_capability.len() < capabilities {
            self.by_capability.push(Tree::default());
        }
    }

    fn insert(&mut self, capabilities: &[u32], at: [f64; 3], slot: u32, unit_type: UnitType) {
        for &capability in capabilities {
            if let Some(tree) = self.by_capability.get_mut(capability as usize) {
                tree.insert(Entry::new(at, slot), unit_type);
            }
        }
        self.all.insert(Entry::new(at, slot), unit_type);
    }

    fn remove(&mut self, capabilities: &[u32], at: [f64; 3], slot: u32, unit_type: UnitType) {
        let entry = Entry::new(at, slot);
        for &capability in capabilities {
            if let Some(tree) = self.by_capability.get_mut(capability as usize) {
                tree.remove(&entry, unit_type);
            }
        }
        self.all.remove(&entry, unit_type);
    }
}

type CameraEntry = GeomWithData<[f64; 3], Uuid>;

/// What [`Engine::nearest`] is asked: the `k` available units with the smallest ETA from `at`
/// at `now`, having `capability` if given, leaving out any in `exclude`.
#[derive(Debug, Clone, Copy)]
pub struct Nearest<'a> {
    pub at: GeoPoint,
    pub capability: Option<&'a str>,
    pub k: usize,
    pub exclude: Option<&'a HashSet<Uuid>>,
    pub now: DateTime<Utc>,
}

impl<'a> Nearest<'a> {
    pub fn new(at: GeoPoint, capability: Option<&'a str>, k: usize, now: DateTime<Utc>) -> Self {
        Self {
            at,
            capability,
            k,
            exclude: None,
            now,
        }
    }

    /// The same question, leaving out `units`.
    #[must_use]
    pub fn excluding(self, units: &'a HashSet<Uuid>) -> Self {
        Self {
            exclude: Some(units),
            ..self
        }
    }

    pub fn excludes(&self, unit: Uuid) -> bool {
        self.exclude
            .is_some_and(|units| !units.is_empty() && units.contains(&unit))
    }
}

/// Every unit and fixed device in memory, answering recommendations in microseconds.
pub struct Engine {
    config: EngineConfig,
    /// Cached `config.travel.max_speed_mps_of(t)` for every type.
    speeds: [f64; TYPES],
    slots: Vec<Option<Slot>>,
    free: Vec<u32>,
    by_id: HashMap<Uuid, u32>,
    available: usize,
    vocabulary: Vocabulary,
    index: Index,
    cameras: RTree<CameraEntry>,
    camera_points: HashMap<Uuid, (GeoPoint, [f64; 3])>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("config", &self.config)
            .field("units", &self.by_id.len())
            .field("available", &self.available)
            .field("indexed", &self.index.all.tree.size())
            .field("capabilities", &self.vocabulary.names)
            .field("cameras", &self.camera_points.len())
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Self::new(EngineConfig::default())
    }
}

/// A unit measured against an incident; ordered by ETA, then distance, then id.
#[derive(Debug, Clone, Copy)]
struct Ranked {
    slot: u32,
    id: Uuid,
    unit_type: UnitType,
    straight_line_m: f64,
    eta: TimeDelta,
    stale: bool,
    age: TimeDelta,
    travel: TravelSource,
}

impl Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.eta
            .cmp(&other.eta)
            .then(self.straight_line_m.total_cmp(&other.straight_line_m))
            .then(self.id.cmp(&other.id))
    }

    fn candidate(&self) -> Candidate {
        Candidate {
            unit: self.id,
            unit_type: self.unit_type,
            straight_line_m: self.straight_line_m,
            eta: self.eta,
            stale: self.stale,
            position_age: self.age.max(TimeDelta::zero()),
            travel: self.travel,
            reason: describe(
                self.unit_type,
                self.straight_line_m,
                self.eta,
                self.stale.then_some(self.age),
                self.travel,
            ),
        }
    }
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Self {
            speeds: std::array::from_fn(|i| {
                UnitType::ALL
                    .get(i)
                    .map_or(f64::INFINITY, |&t| config.travel.max_speed_mps_of(t))
            }),
            config,
            slots: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
            available: 0,
            vocabulary: Vocabulary::default(),
            index: Index::default(),
            cameras: RTree::new(),
            camera_points: HashMap::new(),
        }
    }

    /// Builds the engine from every unit at once (start-up), bulk-loading the trees. A repeated id
    /// keeps its last state.
    pub fn from_units(config: EngineConfig, units: impl IntoIterator<Item = UnitState>) -> Self {
        let mut engine = Self::new(config);
        for unit in units {
            let slot = engine.slot_of(&unit);
            match engine.by_id.get(&unit.id) {
                Some(&existing) => {
                    if let Some(old) = engine.slots.get_mut(existing as usize) {
                        engine.available -= usize::from(old.as_ref().is_some_and(|s| s.available));
                        *old = Some(slot);
                    }
                }
                None => {
                    let index = index_u32(engine.slots.len());
                    engine.slots.push(Some(slot));
                    engine.by_id.insert(unit.id, index);
                }
            }
            engine.available += usize::from(unit.available);
        }
        let mut per_capability: Vec<Vec<(Entry, UnitType)>> =
            vec![Vec::new(); engine.vocabulary.names.len()];
        let mut all = Vec::new();
        for (index, slot) in engine.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            let Some(at) = slot.indexed_at() else {
                continue;
            };
            let index = index_u32(index);
            for &capability in engine.vocabulary.set(slot.capabilities) {
                if let Some(entries) = per_capability.get_mut(capability as usize) {
                    entries.push((Entry::new(at, index), slot.unit_type));
                }
            }
            all.push((Entry::new(at, index), slot.unit_type));
        }
        engine.index = Index {
            by_capability: per_capability.into_iter().map(Tree::bulk_load).collect(),
            all: Tree::bulk_load(all),
        };
        engine
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Units known, available or not.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Units marked available (with or without a position).
    pub fn available_len(&self) -> usize {
        self.available
    }

    /// Units that can be recommended: available and positioned.
    pub fn candidates_len(&self) -> usize {
        self.index.all.tree.size()
    }

    /// The engine's view of a unit; capabilities sorted.
    pub fn get(&self, id: Uuid) -> Option<UnitState> {
        let slot = self.slot(id)?;
        let mut capabilities: Vec<String> = self
            .vocabulary
            .set(slot.capabilities)
            .iter()
            .filter_map(|&c| self.vocabulary.names.get(c as usize).cloned())
            .collect();
        capabilities.sort_unstable();
        Some(UnitState {
            id: slot.id,
            unit_type: slot.unit_type,
            capabilities,
            available: slot.available,
            position: slot.fix.map(|fix| Fix {
                point: fix.point,
                fix_time: fix.fix_time,
            }),
            home: slot.home,
        })
    }

    /// Adds a unit or replaces everything known about it (the position too, whatever its time).
    pub fn upsert(&mut self, unit: UnitState) {
        let slot = self.slot_of(&unit);
        self.index.grow(self.vocabulary.names.len());
        let index = match self.by_id.get(&unit.id) {
            Some(&index) => {
                self.unindex(index);
                index
            }
            None => {
                let index = match self.free.pop() {
                    Some(index) => index,
                    None => {
                        self.slots.push(None);
                        index_u32(self.slots.len() - 1)
                    }
                };
                self.by_id.insert(unit.id, index);
                index
            }
        };
        if let Some(entry) = self.slots.get_mut(index as usize) {
            self.available -= usize::from(entry.as_ref().is_some_and(|s| s.available));
            self.available += usize::from(slot.available);
            *entry = Some(slot);
        }
        self.reindex(index);
    }

    /// A status change. Returns whether the unit is known.
    pub fn set_available(&mut self, id: Uuid, available: bool) -> bool {
        let Some(&index) = self.by_id.get(&id) else {
            return false;
        };
        let Some(Some(slot)) = self.slots.get(index as usize) else {
            return false;
        };
        if slot.available != available {
            self.unindex(index);
            if let Some(Some(slot)) = self.slots.get_mut(index as usize) {
                slot.available = available;
            }
            if available {
                self.available += 1;
            } else {
                self.available -= 1;
            }
            self.reindex(index);
        }
        true
    }

    /// A position report. Last fix wins: a fix older than the current one (or for an unknown unit)
    /// is ignored and `false` returned.
    pub fn move_unit(&mut self, id: Uuid, fix: Fix) -> bool {
        let Some(&index) = self.by_id.get(&id) else {
            return false;
        };
        let Some(Some(slot)) = self.slots.get_mut(index as usize) else {
            return false;
        };
        let placed = Placed::new(fix);
        match slot.fix {
            Some(old) if fix.fix_time < old.fix_time => false,
            // Same place (a parked unit reporting): only the time changes, the trees do not.
            Some(old) if old.ecef == placed.ecef => {
                slot.fix = Some(placed);
                true
            }
            _ => {
                self.unindex(index);
                if let Some(Some(slot)) = self.slots.get_mut(index as usize) {
                    slot.fix = Some(placed);
                }
                self.reindex(index);
                true
            }
        }
    }

    /// Every unit the engine knows.
    pub fn unit_ids(&self) -> Vec<Uuid> {
        self.by_id.keys().copied().collect()
    }

    /// Every camera the engine knows.
    pub fn camera_ids(&self) -> Vec<Uuid> {
        self.camera_points.keys().copied().collect()
    }

    /// Forgets a unit (decommissioned). Returns whether it was known.
    pub fn remove(&mut self, id: Uuid) -> bool {
        let Some(index) = self.by_id.remove(&id) else {
            return false;
        };
        self.unindex(index);
        if let Some(entry) = self.slots.get_mut(index as usize) {
            self.available -= usize::from(entry.as_ref().is_some_and(|s| s.available));
            *entry = None;
        }
        self.free.push(index);
        true
    }

    /// Fills a response plan in order. Each requirement picks the `count` available units having
    /// its capability with the smallest ETA, then shows up to `alternates` more; a unit is picked
    /// for at most one requirement, and alternates are units picked for none. `exclude` removes
    /// units (already assigned to the incident, refused by the dispatcher, ...).
    pub fn recommend(
        &self,
        at: GeoPoint,
        plan: &[Requirement],
        exclude: &HashSet<Uuid>,
        now: DateTime<Utc>,
    ) -> Vec<Fill> {
        let alternates = self.config.alternates;
        let mut picked: Vec<u32> = Vec::new();
        let mut ranked: Vec<(Vec<Ranked>, usize, bool)> = Vec::with_capacity(plan.len());
        for requirement in plan {
            let count = requirement.count as usize;
            let want = count.saturating_add(alternates);
            let list =
                self.rank_capability(Some(&requirement.capability), at, want, now, |slot, id| {
                    picked.contains(&slot) || (!exclude.is_empty() && exclude.contains(&id))
                });
            let picks = list.len().min(count);
            picked.extend(list.iter().take(picks).map(|r| r.slot));
            // Shorter than asked: the tree ran out, there is nobody else to show.
            let exhausted = list.len() < want;
            ranked.push((list, picks, exhausted));
        }
        plan.iter()
            .zip(ranked)
            .map(|(requirement, (list, picks, exhausted))| {
                let mut candidates: Vec<Candidate> = Vec::with_capacity(list.len());
                candidates.extend(list.iter().take(picks).map(Ranked::candidate));
                let spare: Vec<&Ranked> = list
                    .iter()
                    .skip(picks)
                    .filter(|r| !picked.contains(&r.slot))
                    .collect();
                if spare.len() < alternates && !exhausted {
                    // A later requirement picked some of our alternates: look again past them.
                    let again = self.rank_capability(
                        Some(&requirement.capability),
                        at,
                        alternates,
                        now,
                        |slot, id| {
                            picked.contains(&slot) || (!exclude.is_empty() && exclude.contains(&id))
                        },
                    );
                    candidates.extend(again.iter().map(Ranked::candidate));
                } else {
                    candidates.extend(spare.into_iter().take(alternates).map(Ranked::candidate));
                }
                Fill {
                    requirement: requirement.clone(),
                    candidates,
                    picked: picks,
                    shortfall: requirement.count
                        - u32::try_from(picks).unwrap_or(requirement.count),
                }
            })
            .collect()
    }

    /// The units `search` asks for, best first.
    pub fn nearest(&self, search: &Nearest<'_>) -> Vec<Candidate> {
        let skip = |_, id| search.excludes(id);
        self.rank_capability(search.capability, search.at, search.k, search.now, skip)
            .iter()
            .map(Ranked::candidate)
            .collect()
    }

    /// What [`Engine::nearest`] answers, by scanning every unit: the reference for tests and the
    /// baseline of the benchmark.
    pub fn nearest_by_scan(&self, search: &Nearest<'_>) -> Vec<Candidate> {
        let Nearest {
            at,
            capability,
            k,
            now,
            ..
        } = *search;
        let wanted = match capability {
            Some(name) => match self.vocabulary.ids.get(name) {
                Some(&id) => Some(id),
                None => return Vec::new(),
            },
            None => None,
        };
        let mut all: Vec<Ranked> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(index, slot)| {
                let slot = slot.as_ref()?;
                let fix = slot.fix.filter(|_| slot.available)?;
                let has =
                    wanted.is_none_or(|c| self.vocabulary.set(slot.capabilities).contains(&c));
                (has && !search.excludes(slot.id))
                    .then(|| self.measure(index_u32(index), slot, fix, at, now))
            })
            .collect();
        all.sort_unstable_by(Ranked::cmp);
        all.truncate(k);
        all.iter().map(Ranked::candidate).collect()
    }

    /// Adds or moves a camera or panic button.
    pub fn upsert_camera(&mut self, id: Uuid, point: GeoPoint) {
        let at = ecef(point);
        if let Some((_, old)) = self.camera_points.insert(id, (point, at)) {
            self.cameras.remove(&CameraEntry::new(old, id));
        }
        self.cameras.insert(CameraEntry::new(at, id));
    }

    /// Returns whether the device was known.
    pub fn remove_camera(&mut self, id: Uuid) -> bool {
        match self.camera_points.remove(&id) {
            Some((_, at)) => {
                self.cameras.remove(&CameraEntry::new(at, id));
                true
            }
            None => false,
        }
    }

    pub fn cameras_len(&self) -> usize {
        self.camera_points.len()
    }

    /// Devices within `radius_m` metres (haversine) of `at`, nearest first (ties by id), at most
    /// `limit`.
    pub fn cameras_within(&self, at: GeoPoint, radius_m: f64, limit: usize) -> Vec<(Uuid, f64)> {
        let mut kept: Vec<(Uuid, f64)> = Vec::new();
        if limit == 0 || radius_m.is_nan() || radius_m < 0.0 {
            return kept;
        }
        let mut stop_c2 = chord2_of_m(widen_m(radius_m));
        for (camera, c2) in self.cameras.nearest_neighbor_iter_with_distance_2(ecef(at)) {
            if c2 > stop_c2 {
                break;
            }
            let Some((point, _)) = self.camera_points.get(&camera.data) else {
                continue;
            };
            let metres = at.distance_m(point);
            if metres > radius_m {
                continue;
            }
            let order = |a: &(Uuid, f64), b: &(Uuid, f64)| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0));
            let item = (camera.data, metres);
            let position = kept.partition_point(|k| order(k, &item) == Ordering::Less);
            if position < limit {
                kept.insert(position, item);
                kept.truncate(limit);
                if let (true, Some(&(_, worst))) = (kept.len() == limit, kept.last()) {
                    stop_c2 = stop_c2.min(chord2_of_m(widen_m(worst)));
                }
            }
        }
        kept
    }

    fn slot(&self, id: Uuid) -> Option<&Slot> {
        let index = *self.by_id.get(&id)?;
        self.slots.get(index as usize)?.as_ref()
    }

    fn slot_of(&mut self, unit: &UnitState) -> Slot {
        Slot {
            id: unit.id,
            unit_type: unit.unit_type,
            capabilities: self.vocabulary.intern_set(&unit.capabilities),
            available: unit.available,
            fix: unit.position.map(Placed::new),
            home: unit.home,
        }
    }

    fn unindex(&mut self, index: u32) {
        self.set_indexed(index, false);
    }

    fn reindex(&mut self, index: u32) {
        self.set_indexed(index, true);
    }

    /// Puts the unit in slot `index` into the trees of its capabilities, or takes it out; a
    /// unit the index does not hold (busy, or without a fix) is left alone.
    fn set_indexed(&mut self, index: u32, indexed: bool) {
        if let Some(Some(slot)) = self.slots.get(index as usize)
            && let Some(at) = slot.indexed_at()
        {
            let capabilities = self.vocabulary.set(slot.capabilities);
            if indexed {
                self.index.insert(capabilities, at, index, slot.unit_type);
            } else {
                self.index.remove(capabilities, at, index, slot.unit_type);
            }
        }
    }

    fn measure(
        &self,
        index: u32,
        slot: &Slot,
        fix: Placed,
        at: GeoPoint,
        now: DateTime<Utc>,
    ) -> Ranked {
        let straight_line_m = fix.point.distance_m(&at);
        let (mut eta, travel) =
            self.config
                .travel
                .estimate(fix.point, at, straight_line_m, slot.unit_type);
        if slot
            .home
            .is_some_and(|home| home.distance_m(&fix.point) <= QUARTERS_RADIUS_M)
        {
            eta = eta
                .checked_add(&self.config.travel.turnout(slot.unit_type, now))
                .unwrap_or(TimeDelta::MAX);
        }
        let age = now.signed_duration_since(fix.fix_time);
        let stale = age > self.config.stale_after;
        if stale {
            eta = eta
                .checked_add(&self.config.stale_penalty)
                .unwrap_or(TimeDelta::MAX);
        }
        Ranked {
            slot: index,
            id: slot.id,
            unit_type: slot.unit_type,
            straight_line_m,
            eta,
            stale,
            age,
            travel,
        }
    }

    /// The squared chord beyond which no unit can beat `eta`: a unit `d` metres away needs at
    /// least `d / speed` seconds, `speed` bounding the straight-line speed of every unit in the
    /// tree (the travel model's contract).
    fn stop_chord2(eta: TimeDelta, speed: f64) -> f64 {
        if !(speed.is_finite() && speed > 0.0) {
            return f64::INFINITY;
        }
        chord2_of_m(widen_m((eta.as_seconds_f64() + 1e-6) * speed))
    }

    /// The best `k` available units of a capability (all units for `None`) by ETA, walking the
    /// tree nearest first and stopping as soon as no further unit can enter the top `k`.
    fn rank_capability(
        &self,
        capability: Option<&str>,
        at: GeoPoint,
        k: usize,
        now: DateTime<Utc>,
        skip: impl Fn(u32, Uuid) -> bool,
    ) -> Vec<Ranked> {
        let tree = match capability {
            None => &self.index.all,
            Some(name) => match self
                .vocabulary
                .ids
                .get(name)
                .and_then(|&c| self.index.by_capability.get(c as usize))
            {
                Some(tree) => tree,
                None => return Vec::new(),
            },
        };
        let mut kept: Vec<Ranked> = Vec::with_capacity(k.min(64) + 1);
        if k == 0 {
            return kept;
        }
        let speed = tree.speed_bound(&self.speeds);
        let mut stop_c2 = f64::INFINITY;
        for (entry, c2) in tree.tree.nearest_neighbor_iter_with_distance_2(ecef(at)) {
            if c2 > stop_c2 {
                break;
            }
            let Some(Some(slot)) = self.slots.get(entry.data as usize) else {
                continue;
            };
            let Some(fix) = slot.fix else { continue };
            if skip(entry.data, slot.id) {
                continue;
            }
            let ranked = self.measure(entry.data, slot, fix, at, now);
            let position = kept.partition_point(|r| r.cmp(&ranked) == Ordering::Less);
            if position < k {
                kept.insert(position, ranked);
                kept.truncate(k);
                if let (true, Some(worst)) = (kept.len() == k, kept.last()) {
                    stop_c2 = Self::stop_chord2(worst.eta, speed);
                }
            }
        }
        kept
    }
}

/// "ALS ambulance, 1.2 km, ETA 2 min 10 s", with " by road" for a drive time over the road
/// graph, plus ", position 45 min old" when stale.
pub(crate) fn describe(
    unit_type: UnitType,
    straight_line_m: f64,
    eta: TimeDelta,
    stale_age: Option<TimeDelta>,
    travel: TravelSource,
) -> String {
    let mut text = format!(
        "{}, {}, ETA {}",
        unit_label(unit_type),
        format_distance(straight_line_m),
        format_duration(eta)
    );
    if travel == TravelSource::Road {
        text.push_str(" by road");
    }
    if let Some(age) = stale_age {
        text.push_str(&format!(", position {} old", format_duration(age)));
    }
    text
}

fn unit_label(unit_type: UnitType) -> &'static str {
    match unit_type {
        UnitType::Patrol => "Patrol unit",
        UnitType::Motorcycle => "Motorcycle",
        UnitType::AlsAmbulance => "ALS ambulance",
        UnitType::BlsAmbulance => "BLS ambulance",
        UnitType::Engine => "Engine",
        UnitType::Ladder => "Ladder",
        UnitType::Rescue => "Rescue unit",
        UnitType::Hazmat => "Hazmat unit",
        UnitType::Chief => "Chief",
        UnitType::MobileCommandPost => "Mobile command post",
        UnitType::Drone => "Drone",
        UnitType::CivilProtection => "Civil protection unit",
        UnitType::CrowdControl => "Crowd control team",
        UnitType::Other => "Unit",
    }
}

fn format_distance(metres: f64) -> String {
    if metres < 999.5 {
        format!("{metres:.0} m")
    } else if metres < 99_950.0 {
        format!("{:.1} km", metres / 1_000.0)
    } else {
        format!("{:.0} km", metres / 1_000.0)
    }
}

/// Whole seconds under an hour ("45 s", "2 min 10 s"), minutes under two days ("1 h 5 min"), then
/// days and hours.
fn format_duration(duration: TimeDelta) -> String {
    if duration == TimeDelta::MAX {
        return "unknown".to_owned();
    }
    let seconds = (duration.as_seconds_f64().round() as i64).max(0);
    let (days, hours, minutes, secs) = (
        seconds / 86_400,
        seconds / 3_600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if seconds < 60 {
        format!("{secs} s")
    } else if seconds < 3_600 && secs == 0 {
        format!("{minutes} min")
    } else if seconds < 3_600 {
        format!("{minutes} min {secs} s")
    } else if seconds < 172_800 {
        format!("{} h {minutes} min", seconds / 3_600)
    } else {
        format!("{days} d {hours} h")
    }
}

#[cfg(test)]
mod describe_tests {
    use super::*;

    #[test]
    fn reasons_read_well() {
        assert_eq!(
            describe(
                UnitType::AlsAmbulance,
                1_234.0,
                TimeDelta::seconds(130),
                None,
                TravelSource::StraightLine
            ),
            "ALS ambulance, 1.2 km, ETA 2 min 10 s"
        );
        assert_eq!(
            describe(
                UnitType::Patrol,
                850.4,
                TimeDelta::milliseconds(44_600),
                Some(TimeDelta::minutes(45)),
                TravelSource::StraightLine
            ),
            "Patrol unit, 850 m, ETA 45 s, position 45 min old"
        );
        assert_eq!(format_duration(TimeDelta::seconds(3_900)), "1 h 5 min");
        assert_eq!(format_duration(TimeDelta::days(3)), "3 d 0 h");
        assert_eq!(format_distance(250_400.0), "250 km");
    }
}
