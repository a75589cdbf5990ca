//! Capacity accounting and the pending queue.
//!
//! The machine's CPU (in thousandths of a core) and memory are a fixed budget; a
//! running job holds its requested share until its last process exits. Pending
//! jobs leave the queue in order of priority (high first), then creation. The
//! queue is strict: while the first job that could ever fit waits for capacity,
//! the jobs behind it wait too, so a big job is not starved by a stream of small
//! ones. A job that can never fit (more than the whole machine, or accelerators)
//! does not hold up the queue; it stays pending until its `schedule_timeout`
//! fails it, or forever.
//!
//! A user with a running-jobs quota ([`Seats`]) has at most that many jobs
//! running; their further jobs wait for a seat without holding up the jobs
//! of others.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use neuro_types::jobs::JobPriority;

/// What one job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Demand {
    /// Thousandths of a core.
    pub milli_cpu: u64,
    /// Bytes.
    pub memory: u64,
    /// GPUs or TPUs, which this machine does not have.
    pub accelerator: bool,
}

/// The machine's budget and what running jobs hold of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capacity {
    total_milli_cpu: u64,
    total_memory: u64,
    used_milli_cpu: u64,
    used_memory: u64,
}

impl Capacity {
    /// An idle machine with this much CPU and memory.
    pub fn new(total_milli_cpu: u64, total_memory: u64) -> Capacity {
        Capacity {
            total_milli_cpu,
            total_memory,
            used_milli_cpu: 0,
            used_memory: 0,
        }
    }

    /// Whether the job could run on the idle machine.
    pub fn fits_machine(&self, d: Demand) -> bool {
        !d.accelerator && d.milli_cpu <= self.total_milli_cpu && d.memory <= self.total_memory
    }

    /// Whether the job can start now.
    pub fn fits_now(&self, d: Demand) -> bool {
        self.fits_machine(d)
            && self.used_milli_cpu + d.milli_cpu <= self.total_milli_cpu
            && self.used_memory + d.memory <= self.total_memory
    }

    /// Takes the job's share.
    pub fn reserve(&mut self, d: Demand) {
        self.used_milli_cpu += d.milli_cpu;
        self.used_memory += d.memory;
    }

    /// Gives the job's share back.
    pub fn release(&mut self, d: Demand) {
        self.used_milli_cpu = self.used_milli_cpu.saturating_sub(d.milli_cpu);
        self.used_memory = self.used_memory.saturating_sub(d.memory);
    }

    /// Free thousandths of a core and bytes.
    pub fn free(&self) -> (u64, u64) {
        (
            self.total_milli_cpu.saturating_sub(self.used_milli_cpu),
            self.total_memory.saturating_sub(self.used_memory),
        )
    }
}

/// A job waiting in the queue.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct QueuedJob {
    /// Job id.
    pub id: String,
    /// Its owner.
    pub owner: String,
    /// What it needs.
    pub demand: Demand,
    /// Creation time, microseconds since the epoch.
    pub created_us: i64,
    /// Seconds it may wait.
    pub schedule_timeout: Option<f64>,
    /// Whether its `Scheduling` transition was recorded already.
    pub marked_waiting: bool,
}

impl QueuedJob {
    /// When it times out, in microseconds since the epoch.
    pub fn deadline_us(&self) -> Option<i64> {
        self.schedule_timeout
            .map(|secs| self.created_us.saturating_add((secs * 1e6) as i64))
    }
}

type QueueKey = (Reverse<JobPriority>, i64);

/// The running-jobs quotas during a pass: how many more jobs each user with
/// a quota may start.
#[derive(Debug, Default)]
pub(crate) struct Seats {
    free: HashMap<String, u32>,
}

impl Seats {
    /// Seats left under `quotas` (user -> most running jobs) with `running`
    /// holding the owner of each running job.
    pub fn new<'a>(
        quotas: HashMap<String, u32>,
        running: impl IntoIterator<Item = &'a str>,
    ) -> Seats {
        let mut free = quotas;
        for owner in running {
            if let Some(n) = free.get_mut(owner) {
                *n = n.saturating_sub(1);
            }
        }
        Seats { free }
    }

    /// Whether `owner` may start one more job.
    pub fn has_seat(&self, owner: &str) -> bool {
        self.free.get(owner).is_none_or(|n| *n > 0)
    }

    fn take(&mut self, owner: &str) {
        if let Some(n) = self.free.get_mut(owner) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Pending jobs by (priority, creation order).
#[derive(Debug, Default)]
pub(crate) struct Queue {
    jobs: BTreeMap<QueueKey, QueuedJob>,
}

/// What one scheduling pass decided.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// Jobs to start now; their capacity is reserved.
    pub start: Vec<QueuedJob>,
    /// Jobs past their schedule timeout, removed from the queue.
    pub timed_out: Vec<QueuedJob>,
    /// Jobs that must wait for capacity and were not marked as waiting yet
    /// (now they are).
    pub newly_waiting: Vec<QueuedJob>,
    /// Jobs that must wait for a seat of their owner's running-jobs quota and
    /// were not marked as waiting yet (now they are).
    pub newly_waiting_for_seat: Vec<QueuedJob>,
    /// The earliest schedule-timeout deadline left in the queue.
    pub next_deadline_us: Option<i64>,
}

impl Queue {
    /// Adds a job; `seq` is its creation order.
    pub fn push(&mut self, priority: JobPriority, seq: i64, job: QueuedJob) {
        self.jobs.insert((Reverse(priority), seq), job);
    }

    /// Removes the job with this id, if queued.
    pub fn remove(&mut self, id: &str) -> Option<QueuedJob> {
        let key = *self.jobs.iter().find(|(_, j)| j.id == id)?.0;
        self.jobs.remove(&key)
    }

    /// Whether the job with this id is queued.
    #[cfg(test)]
    pub fn contains(&self, id: &str) -> bool {
        self.jobs.values().any(|j| j.id == id)
    }

    /// Number of queued jobs.
    pub fn len(&self) -> usize {
        self.jobs.len()
    }

    /// Decides what to start and what to fail at `now_us`, reserving capacity
    /// and seats for the jobs to start.
    pub fn pass(&mut self, capacity: &mut Capacity, seats: &mut Seats, now_us: i64) -> Pass {
        let mut pass = Pass::default();
        let mut blocked = false;
        let keys: Vec<QueueKey> = self.jobs.keys().copied().collect();
        for key in keys {
            let Some(job) = self.jobs.get_mut(&key) else {
                continue;
            };
            if job.deadline_us().is_some_and(|d| d <= now_us) {
                if let Some(job) = self.jobs.remove(&key) {
                    pass.timed_out.push(job);
                }
                continue;
            }
            let fits_machine = capacity.fits_machine(job.demand);
            if !seats.has_seat(&job.owner) {
                // Waits for one of its owner's jobs to end; others go on.
                if !job.marked_waiting {
                    job.marked_waiting = true;
                    pass.newly_waiting_for_seat.push(job.clone());
                }
            } else if !blocked && fits_machine && capacity.fits_now(job.demand) {
                capacity.reserve(job.demand);
                seats.take(&job.owner);
                if let Some(job) = self.jobs.remove(&key) {
                    pass.start.push(job);
                }
                continue;
            } else {
                if fits_machine {
                    blocked = true;
                }
                if !job.marked_waiting {
                    job.marked_waiting = true;
                    pass.newly_waiting.push(job.clone());
                }
            }
            if let Some(d) = job.deadline_us() {
                pass.next_deadline_us = Some(pass.next_deadline_us.map_or(d, |n| n.min(d)));
            }
        }
        pass
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn job(id: &str, milli_cpu: u64, memory: u64) -> QueuedJob {
        QueuedJob {
            id: id.to_owned(),
            owner: "alice".to_owned(),
            demand: Demand {
                milli_cpu,
                memory,
                accelerator: false,
            },
            created_us: 0,
            schedule_timeout: None,
            marked_waiting: false,
        }
    }

    fn ids(jobs: &[QueuedJob]) -> Vec<&str> {
        jobs.iter().map(|j| j.id.as_str()).collect()
    }

    #[test]
    fn starts_what_fits_in_order() {
        let mut cap = Capacity::new(2000, 4 * GIB);
        let mut q = Queue::default();
        q.push(JobPriority::Normal, 1, job("a", 1500, GIB));
        q.push(JobPriority::Normal, 2, job("b", 1500, GIB));
        q.push(JobPriority::Normal, 3, job("c", 100, GIB));
        let pass = q.pass(&mut cap, &mut Seats::default(), 0);
        assert_eq!(ids(&pass.start), ["a"]);
        // b waits for capacity, and c waits behind b (strict order).
        assert_eq!(ids(&pass.newly_waiting), ["b", "c"]);
        assert_eq!(q.len(), 2);
        // A second pass marks nobody again.
        assert!(q
            .pass(&mut cap, &mut Seats::default(), 0)
            .newly_waiting
            .is_empty());
        cap.release(job("a", 1500, GIB).demand);
        let pass = q.pass(&mut cap, &mut Seats::default(), 0);
        assert_eq!(ids(&pass.start), ["b", "c"]);
    }

    #[test]
    fn priority_first_then_creation() {
        let mut cap = Capacity::new(1000, GIB);
        let mut q = Queue::default();
        q.push(JobPriority::Low, 1, job("low", 1000, GIB));
        q.push(JobPriority::Normal, 2, job("normal", 1000, GIB));
        q.push(JobPriority::High, 3, job("high", 1000, GIB));
        q.push(JobPriority::High, 4, job("high2", 1000, GIB));
        let mut order = Vec::new();
        for _ in 0..4 {
            let pass = q.pass(&mut cap, &mut Seats::default(), 0);
            assert_eq!(pass.start.len(), 1);
            order.push(pass.start[0].id.clone());
            cap.release(pass.start[0].demand);
        }
        assert_eq!(order, ["high", "high2", "normal", "low"]);
    }

    #[test]
    fn too_big_jobs_do_not_block_and_time_out() {
        let mut cap = Capacity::new(2000, 4 * GIB);
        let mut q = Queue::default();
        let mut huge = job("huge", 64_000, GIB);
        huge.schedule_timeout = Some(2.0);
        q.push(JobPriority::High, 1, huge);
        let mut gpu = job("gpu", 100, GIB);
        gpu.demand.accelerator = true;
        q.push(JobPriority::High, 2, gpu);
        q.push(JobPriority::Normal, 3, job("small", 100, GIB));
        let pass = q.pass(&mut cap, &mut Seats::default(), 1_000_000);
        assert_eq!(ids(&pass.start), ["small"]);
        assert_eq!(ids(&pass.newly_waiting), ["huge", "gpu"]);
        assert_eq!(pass.next_deadline_us, Some(2_000_000));
        let pass = q.pass(&mut cap, &mut Seats::default(), 2_000_000);
        assert_eq!(ids(&pass.timed_out), ["huge"]);
        assert!(q.contains("gpu"));
        assert!(q.remove("gpu").is_some());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_user_at_their_quota_waits_without_holding_up_others() {
        let mut cap = Capacity::new(8000, 8 * GIB);
        let mut q = Queue::default();
        let mut bob = job("bob", 100, GIB);
        bob.owner = "bob".to_owned();
        q.push(JobPriority::High, 1, job("a1", 100, GIB));
        q.push(JobPriority::High, 2, job("a2", 100, GIB));
        q.push(JobPriority::Normal, 3, bob);
        // Alice may run two jobs and runs one already.
        let quotas = HashMap::from([("alice".to_owned(), 2)]);
        let mut seats = Seats::new(quotas.clone(), ["alice"]);
        let pass = q.pass(&mut cap, &mut seats, 0);
        assert_eq!(ids(&pass.start), ["a1", "bob"]);
        assert_eq!(ids(&pass.newly_waiting_for_seat), ["a2"]);
        assert!(pass.newly_waiting.is_empty());
        // Still two running: a2 waits, and is not marked again.
        let mut seats = Seats::new(quotas.clone(), ["alice", "alice"]);
        let pass = q.pass(&mut cap, &mut seats, 0);
        assert!(pass.start.is_empty() && pass.newly_waiting_for_seat.is_empty());
        // One of them ended.
        let mut seats = Seats::new(quotas, ["alice"]);
        assert_eq!(ids(&q.pass(&mut cap, &mut seats, 0).start), ["a2"]);
        assert!(!seats.has_seat("alice"));
        assert!(seats.has_seat("bob"));
    }

    #[test]
    fn capacity_accounting() {
        let mut cap = Capacity::new(1000, GIB);
        let d = Demand {
            milli_cpu: 600,
            memory: GIB / 2,
            accelerator: false,
        };
        assert!(cap.fits_now(d));
        cap.reserve(d);
        assert!(!cap.fits_now(d));
        assert_eq!(cap.free(), (400, GIB / 2));
        cap.release(d);
        cap.release(d);
        assert_eq!(cap.free(), (1000, GIB));
    }
}
