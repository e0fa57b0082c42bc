//! CPU time spent by this process and by the benchmark's PostgreSQL, from /proc: the cost of a
//! request in CPU milliseconds is what stays comparable on a shared machine where wall-clock
//! throughput depends on what the neighbours compile.

use std::path::{Path, PathBuf};

/// /proc reports in USER_HZ, which Linux fixes at 100 for user space.
const TICKS_PER_S: f64 = 100.0;

/// CPU seconds used so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cpu {
    /// This process: the in-process server and the load generators.
    pub ours: f64,
    /// The postmaster, its live children and the children it has reaped.
    pub postgres: f64,
}

impl std::ops::Add for Cpu {
    type Output = Cpu;

    fn add(self, other: Cpu) -> Cpu {
        Cpu {
            ours: self.ours + other.ours,
            postgres: self.postgres + other.postgres,
        }
    }
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;

    fn sub(self, earlier: Cpu) -> Cpu {
        Cpu {
            ours: self.ours - earlier.ours,
            postgres: self.postgres - earlier.postgres,
        }
    }
}

/// Reads the CPU times of this process and of the cluster whose data directory is `data_dir`.
#[derive(Debug, Clone)]
pub struct CpuClock {
    postmaster_pid_file: PathBuf,
}

impl CpuClock {
    pub fn new(cluster_root: &Path) -> Self {
        Self {
            postmaster_pid_file: cluster_root.join("pg").join("postmaster.pid"),
        }
    }

    pub fn now(&self) -> Cpu {
        let ours = stat(Path::new("/proc/self/stat")).map_or(0.0, |s| s.own());
        let postgres = self.postgres().unwrap_or(0.0);
        Cpu { ours, postgres }
    }

    fn postgres(&self) -> Option<f64> {
        let text = std::fs::read_to_string(&self.postmaster_pid_file).ok()?;
        let postmaster: u32 = text.lines().next()?.trim().parse().ok()?;
        let main = stat(&PathBuf::from(format!("/proc/{postmaster}/stat")))?;
        let mut total = main.own() + main.reaped();
        for entry in std::fs::read_dir("/proc").ok()?.filter_map(Result::ok) {
            let name = entry.file_name();
            if name
                .to_str()
                .is_none_or(|n| !n.bytes().all(|b| b.is_ascii_digit()))
            {
                continue;
            }
            if let Some(child) = stat(&entry.path().join("stat"))
                && child.ppid == postmaster
            {
                total += child.own();
            }
        }
        Some(total)
    }
}

#[derive(Debug)]
struct Stat {
    ppid: u32,
    utime: u64,
    stime: u64,
    cutime: u64,
    cstime: u64,
}

impl Stat {
    fn own(&self) -> f64 {
        (self.utime + self.stime) as f64 / TICKS_PER_S
    }

    fn reaped(&self) -> f64 {
        (self.cutime + self.cstime) as f64 / TICKS_PER_S
    }
}

fn stat(path: &Path) -> Option<Stat> {
    let text = std::fs::read_to_string(path).ok()?;
    // The command name may hold spaces and parentheses: fields start after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    Some(Stat {
        ppid: u32::try_from(field(1)?).ok()?,
        utime: field(11)?,
        stime: field(12)?,
        cutime: field(13)?,
        cstime: field(14)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_its_own_cpu_time() {
        let own = stat(Path::new("/proc/self/stat")).expect("/proc/self/stat");
        assert!(own.ppid > 0);
        let mut x = 0_u64;
        for i in 0..20_000_000_u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let later = stat(Path::new("/proc/self/stat")).expect("/proc/self/stat");
        assert!(later.own() >= own.own());
    }
}
