//! Every interleaving of a few queue operations, explored systematically on one
//! thread: the async waiters (`push_async`, `push_many_async`, `pop_all_async`,
//! `wait_items_async`) are futures polled by hand with wakers that only record the
//! wake-up, and the non-waiting operations (`try_push`, `push_unbounded`, `pop_now`,
//! `close`) run between polls. No sockets, no threads, no clocks: a schedule is a
//! sequence of steps, and a depth-first search replays every schedule to its end.
//!
//! Checked after every step: the weight bound (an empty queue admits anything;
//! unbounded pushes weigh nothing), the
//! flares (pending readable iff items are queued, room readable iff weight < capacity)
//! and `wait_items_async`'s answers. Checked at the end of every schedule: no waiter
//! that could proceed was left unwoken (a lost wake-up), and, once the queue is closed
//! and everyone finished, every item was taken exactly once, returned to its pusher, or
//! left queued — in each producer's order.
//!
//! The blocking thread waits (`push_wait`, `pop_wait`) share the lock-level decisions
//! checked here (`push_locked`, `append_some_locked`, `pop_locked` and the `Wakes` they
//! return); their condition-variable loops are covered by the threaded tests in
//! `queue.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::{BoundedQueue, PushError};
use crate::flare::Flare;

/// An async waiter.
#[derive(Debug, Clone)]
enum Task {
    Push(u32, usize),
    PushMany(Vec<u32>),
    PopAll,
    WaitItems,
}

/// A non-waiting operation, run once per schedule.
#[derive(Debug, Clone, Copy)]
enum Op {
    TryPush(u32),
    PushUnbounded(u32),
    PopNow(usize),
    Close,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Step {
    Poll(usize),
    Do(usize),
}

/// What a finished task gave.
enum Done {
    /// Items handed back by a push (the queue closed).
    Pushed(Vec<u32>),
    Popped(Option<Vec<u32>>),
    Waited(bool),
}

#[derive(Default)]
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type TaskFuture<'q> = Pin<Box<dyn Future<Output = Done> + 'q>>;

/// One schedule being replayed.
struct Run<'q> {
    queue: &'q BoundedQueue<u32>,
    capacity: usize,
    tasks: Vec<Option<TaskFuture<'q>>>,
    woken: Vec<Arc<Woken>>,
    started: Vec<bool>,
    ops: &'q [Op],
    ops_done: Vec<bool>,
    /// Items taken by consumers, in the order taken.
    taken: Vec<u32>,
    /// Items given back to their producers.
    returned: Vec<u32>,
}

fn readable(fd: Option<std::os::fd::RawFd>) -> bool {
    let mut poll = libc::pollfd {
        fd: fd.expect("the queue has flares"),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polls one valid descriptor without waiting.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready == 1
}

impl<'q> Run<'q> {
    fn new(queue: &'q BoundedQueue<u32>, tasks: &[Task], ops: &'q [Op]) -> Run<'q> {
        let tasks: Vec<Option<TaskFuture<'q>>> = tasks
            .iter()
            .cloned()
            .map(|task| {
                let future: TaskFuture<'q> = match task {
                    Task::Push(item, weight) => Box::pin(async move {
                        match queue.push_async(item, weight).await {
                            Ok(()) => Done::Pushed(vec![]),
                            Err(PushError::Closed(item) | PushError::Full(item)) => {
                                Done::Pushed(vec![item])
                            }
                        }
                    }),
                    Task::PushMany(items) => Box::pin(async move {
                        match queue.push_many_async(items).await {
                            Ok(()) => Done::Pushed(vec![]),
                            Err(PushError::Closed(items) | PushError::Full(items)) => {
                                Done::Pushed(items)
                            }
                        }
                    }),
                    Task::PopAll => {
                        Box::pin(async move { Done::Popped(queue.pop_all_async().await) })
                    }
                    Task::WaitItems => {
                        Box::pin(async move { Done::Waited(queue.wait_items_async().await) })
                    }
                };
                Some(future)
            })
            .collect();
        let n = tasks.len();
        Run {
            queue,
            capacity: queue.capacity(),
            tasks,
            woken: (0..n).map(|_| Arc::default()).collect(),
            started: vec![false; n],
            ops,
            ops_done: vec![false; ops.len()],
            taken: Vec::new(),
            returned: Vec::new(),
        }
    }

    fn enabled(&self) -> Vec<Step> {
        let polls = (0..self.tasks.len())
            .filter(|&i| {
                self.tasks[i].is_some()
                    && (!self.started[i] || self.woken[i].0.load(Ordering::SeqCst))
            })
            .map(Step::Poll);
        let ops = (0..self.ops.len())
            .filter(|&j| !self.ops_done[j])
            .map(Step::Do);
        polls.chain(ops).collect()
    }

    /// Polls task `i`; whether it finished.
    fn poll(&mut self, i: usize) -> bool {
        let Some(future) = &mut self.tasks[i] else {
            return true;
        };
        self.started[i] = true;
        self.woken[i].0.store(false, Ordering::SeqCst);
        let waker = Waker::from(self.woken[i].clone());
        let Poll::Ready(done) = future.as_mut().poll(&mut Context::from_waker(&waker)) else {
            return false;
        };
        self.tasks[i] = None;
        match done {
            Done::Pushed(back) => self.returned.extend(back),
            Done::Popped(items) => self.taken.extend(items.unwrap_or_default()),
            Done::Waited(true) => assert!(self.queue.len() > 0, "wait_items said items"),
            Done::Waited(false) => assert!(self.queue.is_closed() && self.queue.len() == 0),
        }
        true
    }

    fn step(&mut self, step: Step) {
        match step {
            Step::Poll(i) => {
                self.poll(i);
            }
            Step::Do(j) => {
                self.ops_done[j] = true;
                match self.ops[j] {
                    Op::TryPush(item) => {
                        if let Err(PushError::Full(item) | PushError::Closed(item)) =
                            self.queue.try_push(item, 1)
                        {
                            self.returned.push(item);
                        }
                    }
                    Op::PushUnbounded(item) => {
                        if let Err(PushError::Full(item) | PushError::Closed(item)) =
                            self.queue.push_unbounded(item)
                        {
                            self.returned.push(item);
                        }
                    }
                    Op::PopNow(max) => self.taken.extend(self.queue.pop_now(max)),
                    Op::Close => self.queue.close(),
                }
            }
        }
        let (weight, len) = (self.queue.weight(), self.queue.len());
        {
            let state = self.queue.lock();
            let weighed = state.items.iter().filter(|(_, w)| *w > 0).count();
            let sum: usize = state.items.iter().map(|(_, w)| w).sum();
            assert_eq!(sum, weight, "weight is the sum of the items'");
            // Unbounded pushes weigh nothing; an empty queue admits one item of any weight.
            assert!(weight <= self.capacity || weighed == 1, "weight {weight}");
        }
        assert_eq!(readable(self.queue.pending_fd()), len > 0, "pending flare");
        assert_eq!(
            readable(self.queue.room_fd()),
            weight < self.capacity,
            "room flare"
        );
    }

    /// Whether `task`, if it looked now, would not wait again.
    fn could_proceed(&self, task: &Task) -> bool {
        let state = self.queue.lock();
        let room_for = |weight| state.weight == 0 || state.weight + weight <= self.capacity;
        state.closed
            || match task {
                Task::Push(_, weight) => room_for(*weight),
                Task::PushMany(_) => room_for(1),
                Task::PopAll | Task::WaitItems => !state.items.is_empty(),
            }
    }

    /// The end of a schedule: no waiter was left asleep that could proceed; then, all
    /// finished after a close, every item accounted for once and in producer order.
    fn finish(mut self, tasks: &[Task], ops: &[Op]) {
        for (i, task) in tasks.iter().enumerate() {
            // A task suspended in its wait does not look again until woken: the wake-up
            // it is owed must have come.
            let waiting = self.tasks[i].is_some();
            assert!(
                !waiting || !self.could_proceed(task),
                "task {i} ({task:?}) could proceed but was never woken"
            );
        }
        self.queue.close();
        for (i, task) in tasks.iter().enumerate() {
            assert!(self.poll(i), "task {i} ({task:?}) still waits after close");
        }
        self.taken.extend(self.queue.pop_now(usize::MAX));
        let mut pushed: Vec<u32> = tasks
            .iter()
            .flat_map(|task| match task {
                Task::Push(item, _) => vec![*item],
                Task::PushMany(items) => items.clone(),
                _ => vec![],
            })
            .chain(ops.iter().filter_map(|op| match op {
                Op::TryPush(item) | Op::PushUnbounded(item) => Some(*item),
                _ => None,
            }))
            .collect();
        let mut accounted = [self.taken.as_slice(), &self.returned].concat();
        pushed.sort_unstable();
        accounted.sort_unstable();
        assert_eq!(accounted, pushed, "every item once");
        for task in tasks {
            if let Task::PushMany(items) = task {
                let order: Vec<u32> = self
                    .taken
                    .iter()
                    .copied()
                    .filter(|i| items.contains(i))
                    .collect();
                assert!(order.windows(2).all(|w| w[0] < w[1]), "order {order:?}");
            }
        }
    }
}

/// Explores every schedule of `tasks` and `ops` on a queue of `capacity`; the number
/// of complete schedules.
fn explore(capacity: usize, tasks: &[Task], ops: &[Op]) -> usize {
    fn go(capacity: usize, tasks: &[Task], ops: &[Op], prefix: &mut Vec<Step>) -> usize {
        // Replays the schedule so far; the steps that may come next, none at its end.
        let replay = std::panic::AssertUnwindSafe(|| {
            let flare = || Some(Flare::new().expect("an eventfd"));
            let queue = BoundedQueue::new(capacity, flare(), flare());
            let mut run = Run::new(&queue, tasks, ops);
            for &step in prefix.iter() {
                run.step(step);
            }
            let enabled = run.enabled();
            if enabled.is_empty() {
                run.finish(tasks, ops);
            }
            enabled
        });
        let enabled = std::panic::catch_unwind(replay).unwrap_or_else(|e| {
            let reason = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("schedule {prefix:?} (capacity {capacity}): {reason:?}")
        });
        if enabled.is_empty() {
            return 1;
        }
        let mut schedules = 0;
        for step in enabled {
            prefix.push(step);
            schedules += go(capacity, tasks, ops, prefix);
            prefix.pop();
        }
        schedules
    }
    go(capacity, tasks, ops, &mut Vec::new())
}

#[test]
fn producers_and_consumers_with_a_close() {
    let tasks = [
        Task::PushMany(vec![20, 21, 22]),
        Task::Push(10, 1),
        Task::PopAll,
    ];
    let ops = [Op::PopNow(1), Op::Close];
    for capacity in [1, 2] {
        assert!(explore(capacity, &tasks, &ops) > 100);
    }
}

#[test]
fn waiters_for_items_and_room_without_a_close() {
    let tasks = [Task::Push(10, 2), Task::WaitItems, Task::PopAll];
    let ops = [Op::TryPush(1), Op::PushUnbounded(2), Op::PopNow(2)];
    for capacity in [1, 2] {
        assert!(explore(capacity, &tasks, &ops) > 100);
    }
}

#[test]
fn two_consumers_share_a_batch_producer() {
    let tasks = [Task::PushMany(vec![20, 21, 22]), Task::PopAll, Task::PopAll];
    let ops = [Op::TryPush(1), Op::Close];
    assert!(explore(1, &tasks, &ops) > 100);
}

#[test]
fn everyone_at_once() {
    let tasks = [
        Task::PushMany(vec![20, 21, 22]),
        Task::Push(10, 1),
        Task::PopAll,
        Task::WaitItems,
    ];
    let ops = [Op::TryPush(1), Op::PopNow(1), Op::Close];
    assert!(explore(2, &tasks, &ops) > 1000);
}
