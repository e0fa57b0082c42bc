//! Many-to-one queries over a contraction hierarchy: the incident's backward upward search runs
//! once, and each unit's forward upward search stops as soon as it cannot improve on the best
//! meeting found. No path is unpacked: only the time is wanted.
//!
//! The hierarchy is fast_paths' (`FastGraph32`, whose fields are public): out-edges to higher
//! nodes (`edges_fwd`) and in-edges from higher nodes (`edges_bwd`), grouped by rank.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use fast_paths::FastGraph32;

/// Labels of one search, reset in O(1) by bumping the generation.
#[derive(Debug)]
struct Labels {
    time: Vec<u32>,
    stamp: Vec<u32>,
    generation: u32,
}

impl Labels {
    fn new(nodes: usize) -> Self {
        Self {
            time: vec![0; nodes],
            stamp: vec![0; nodes],
            generation: 1,
        }
    }

    fn clear(&mut self) {
        if self.generation == u32::MAX {
            self.stamp.fill(0);
            self.generation = 1;
        } else {
            self.generation += 1;
        }
    }

    fn get(&self, node: usize) -> Option<u32> {
        (self.stamp[node] == self.generation).then(|| self.time[node])
    }

    /// Lowers the label; whether it changed.
    fn lower(&mut self, node: usize, time: u32) -> bool {
        if self.get(node).is_some_and(|old| old <= time) {
            return false;
        }
        self.stamp[node] = self.generation;
        self.time[node] = time;
        true
    }
}

/// The state of one query thread: the target's backward search kept for the next unit.
#[derive(Debug)]
pub(super) struct Workspace {
    /// (profile, target node) whose backward labels `backward` holds.
    pub(super) target: Option<(usize, u32)>,
    backward: Labels,
    forward: Labels,
    settled: Labels,
    heap: BinaryHeap<Reverse<(u32, u32)>>,
}

impl Workspace {
    pub(super) fn new(nodes: usize) -> Self {
        Self {
            target: None,
            backward: Labels::new(nodes),
            forward: Labels::new(nodes),
            settled: Labels::new(nodes),
            heap: BinaryHeap::new(),
        }
    }

    fn rank(graph: &FastGraph32, node: u32) -> usize {
        graph.ranks[node as usize] as usize
    }

    /// Every node of `target`'s backward upward search space, with its time to `target`.
    pub(super) fn search_backward(&mut self, graph: &FastGraph32, key: (usize, u32)) {
        let target = key.1;
        self.target = Some(key);
        self.backward.clear();
        self.settled.clear();
        self.heap.clear();
        self.backward.lower(target as usize, 0);
        self.heap.push(Reverse((0, target)));
        while let Some(Reverse((time, node))) = self.heap.pop() {
            let v = node as usize;
            if self.settled.get(v).is_some() || self.backward.get(v) != Some(time) {
                continue;
            }
            self.settled.lower(v, 0);
            let rank = Self::rank(graph, node);
            // Stall on demand: a higher node reaches the target faster through this one's
            // out-edge, so this label is not a shortest time and its edges need not be relaxed.
            let (from, to) = (
                graph.first_edge_ids_fwd[rank] as usize,
                graph.first_edge_ids_fwd[rank + 1] as usize,
            );
            let stalled = graph.edges_fwd[from..to].iter().any(|edge| {
                self.backward
                    .get(edge.adj_node as usize)
                    .is_some_and(|t| t.saturating_add(edge.weight) < time)
            });
            if stalled {
                continue;
            }
            let (from, to) = (
                graph.first_edge_ids_bwd[rank] as usize,
                graph.first_edge_ids_bwd[rank + 1] as usize,
            );
            for edge in &graph.edges_bwd[from..to] {
                let next = time.saturating_add(edge.weight);
                if self.backward.lower(edge.adj_node as usize, next) {
                    self.heap.push(Reverse((next, edge.adj_node)));
                }
            }
        }
    }

    /// Time from `source` to the target of the last backward search, milliseconds.
    pub(super) fn time_from(&mut self, graph: &FastGraph32, source: u32) -> Option<u32> {
        self.forward.clear();
        self.settled.clear();
        self.heap.clear();
        self.forward.lower(source as usize, 0);
        self.heap.push(Reverse((0, source)));
        let mut best = u32::MAX;
        while let Some(Reverse((time, node))) = self.heap.pop() {
            if time >= best {
                break;
            }
            let v = node as usize;
            if self.settled.get(v).is_some() || self.forward.get(v) != Some(time) {
                continue;
            }
            self.settled.lower(v, 0);
            let rank = Self::rank(graph, node);
            let (from, to) = (
                graph.first_edge_ids_bwd[rank] as usize,
                graph.first_edge_ids_bwd[rank + 1] as usize,
            );
            let stalled = graph.edges_bwd[from..to].iter().any(|edge| {
                self.forward
                    .get(edge.adj_node as usize)
                    .is_some_and(|t| t.saturating_add(edge.weight) < time)
            });
            if stalled {
                continue;
            }
            if let Some(rest) = self.backward.get(v) {
                best = best.min(time.saturating_add(rest));
            }
            let (from, to) = (
                graph.first_edge_ids_fwd[rank] as usize,
                graph.first_edge_ids_fwd[rank + 1] as usize,
            );
            for edge in &graph.edges_fwd[from..to] {
                let next = time.saturating_add(edge.weight);
                if next < best && self.forward.lower(edge.adj_node as usize, next) {
                    self.heap.push(Reverse((next, edge.adj_node)));
                }
            }
        }
        (best != u32::MAX).then_some(best)
    }
}
