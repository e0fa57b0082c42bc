//! The share of calls that were duplicates, by channel and hour of day.
//!
//! A call received in the period is a *duplicate* when it is linked to an incident that another
//! call opened: its incident's first call was received before it (ties broken by folio), or its
//! incident was itself merged into another as a duplicate. Calls disposed without an incident
//! (hang-ups, pranks) and calls still open are counted apart, never as duplicates.

use std::collections::BTreeMap;

use crate::call::Channel;

/// Calls of one channel received in one hour of day (the store's aggregate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallCounts {
    pub channel: Channel,
    /// 0..23 in the period's zone.
    pub hour: u32,
    pub calls: u64,
    pub duplicates: u64,
    pub disposed: u64,
    pub open: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Share {
    pub calls: u64,
    pub duplicates: u64,
    pub disposed: u64,
    pub open: u64,
}

impl Share {
    pub fn share(&self) -> f64 {
        if self.calls == 0 {
            0.0
        } else {
            self.duplicates as f64 / self.calls as f64
        }
    }

    fn add(&mut self, counts: &CallCounts) {
        self.calls += counts.calls;
        self.duplicates += counts.duplicates;
        self.disposed += counts.disposed;
        self.open += counts.open;
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DuplicateReport {
    pub total: Share,
    /// Channels with calls, in the channel enum's order.
    pub channels: Vec<(Channel, Share)>,
    /// Every hour 0..23.
    pub hours: [Share; 24],
}

pub fn report(counts: &[CallCounts]) -> DuplicateReport {
    let mut total = Share::default();
    let mut channels: BTreeMap<Channel, Share> = BTreeMap::new();
    let mut hours = [Share::default(); 24];
    for row in counts {
        total.add(row);
        channels.entry(row.channel).or_default().add(row);
        if let Some(hour) = hours.get_mut(row.hour as usize) {
            hour.add(row);
        }
    }
    DuplicateReport {
        total,
        channels: channels.into_iter().collect(),
        hours,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_by_channel_and_hour() {
        let row = |channel, hour, calls, duplicates| CallCounts {
            channel,
            hour,
            calls,
            duplicates,
            disposed: 1,
            open: 0,
        };
        let report = report(&[
            row(Channel::Voice911, 3, 10, 4),
            row(Channel::Voice911, 4, 10, 6),
            row(Channel::Camera, 3, 5, 0),
        ]);
        assert_eq!(report.total.calls, 25);
        assert!((report.total.share() - 0.4).abs() < 1e-9);
        assert_eq!(report.channels[0].0, Channel::Voice911);
        assert!((report.channels[0].1.share() - 0.5).abs() < 1e-9);
        assert_eq!(report.hours[3].calls, 15);
        assert_eq!(report.hours[3].disposed, 2);
        assert_eq!(report.hours[0], Share::default());
    }
}
