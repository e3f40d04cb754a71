//! The executor against an in-memory fake kind: the order operations start in, how many run at
//! once, what a failure or a cancellation stops, checkpoints, and the retry decisions. The fake
//! records every call on one timeline with the executor's own progress events; tests hold
//! operations at a gate or give them a duration on tokio's paused clock, never a real sleep.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use tokio::sync::Semaphore;

use super::*;
use crate::aws::WaitConfig;
use crate::kinds::{CreateReq, DeleteReq, KindSpec, Refusals, TAG_ID, TAG_LINEAGE, TAG_STACK, UpdateReq};
use crate::schema::{Attr, Prop, Ty};
use crate::store::{Observed, Unrecorded};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Create,
    Update,
    Delete,
    /// `read_many`, the describe the executor looks a lost create up with.
    Read,
}

/// One timeline: the fake's calls and answers, and the executor's progress events.
#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Call(Op, String),
    Answer(Op, String),
    Started(String),
    Done(String),
    Failed(String),
    Skipped { id: String, because: String },
    Retrying { id: String, after: Duration },
    Status { id: String, message: String },
    Interrupted { in_flight: usize },
}

fn call(op: Op, id: &str) -> Ev {
    Ev::Call(op, id.to_owned())
}

fn answer(op: Op, id: &str) -> Ev {
    Ev::Answer(op, id.to_owned())
}

/// What one call of an operation on a logical id answers.
#[derive(Clone, Debug)]
enum Answer {
    Ok,
    Err(AwsError),
    /// The resource is made, but the answer never arrives (a connection reset after AWS acted).
    Lost,
}

/// A call as the fake saw it: when (tokio's clock, since the world was made) and with which token.
#[derive(Clone, Debug)]
struct Call {
    op: Op,
    id: String,
    at: Duration,
    token: Option<String>,
}

/// When an operation reported done: how many state writes the backend had taken, and whether
/// the newest one already showed the operation's effect.
#[derive(Clone, Debug)]
struct AtDone {
    id: String,
    step: Step,
    writes: usize,
    shown: bool,
}

/// What the fake kinds share: their script (answers, gates, durations), what they made, and
/// what they saw.
struct World {
    start: tokio::time::Instant,
    log: watch::Sender<Vec<Ev>>,
    calls: Mutex<Vec<Call>>,
    answers: Mutex<HashMap<String, VecDeque<Answer>>>,
    /// Answered once the script of an id is used up (else `Ok`).
    always: Mutex<HashMap<String, AwsError>>,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
    durations: Mutex<HashMap<String, Duration>>,
    /// Resources made, with the token of the create that made them.
    made: Mutex<Vec<(String, Live)>>,
    /// Describes that do not show resources made yet (AWS is eventually consistent).
    blind_reads: AtomicUsize,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    at_done: Mutex<Vec<AtDone>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl World {
    fn new() -> World {
        World {
            start: tokio::time::Instant::now(),
            log: watch::Sender::new(Vec::new()),
            calls: Mutex::default(),
            answers: Mutex::default(),
            always: Mutex::default(),
            gates: Mutex::default(),
            durations: Mutex::default(),
            made: Mutex::default(),
            blind_reads: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            at_done: Mutex::default(),
        }
    }

    /// The answers of the next calls on `id`, in order; `Ok` after them.
    fn answers(&self, id: &str, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.answers).entry(id.to_owned()).or_default().extend(answers);
    }

    fn fails_always(&self, id: &str, err: AwsError) {
        lock(&self.always).insert(id.to_owned(), err);
    }

    /// Operations on `id` wait, once called, until [`World::release`].
    fn block(&self, id: &str) {
        lock(&self.gates).insert(id.to_owned(), Arc::new(Semaphore::new(0)));
    }

    fn release(&self, id: &str) {
        if let Some(g) = lock(&self.gates).get(id) {
            g.add_permits(1);
        }
    }

    /// Operations on `id` take `d` (on tokio's clock).
    fn takes(&self, id: &str, d: Duration) {
        lock(&self.durations).insert(id.to_owned(), d);
    }

    fn note(&self, ev: Ev) {
        self.log.send_modify(|log| log.push(ev));
    }

    fn log(&self) -> Vec<Ev> {
        self.log.borrow().clone()
    }

    /// Waits until the timeline satisfies `f`.
    async fn until(&self, f: impl Fn(&[Ev]) -> bool) {
        let mut rx = self.log.subscribe();
        rx.wait_for(|log| f(log)).await.expect("the world outlives the test");
    }

    /// Where `ev` is on the timeline; panics when it never happened.
    fn when(&self, ev: &Ev) -> usize {
        let log = self.log();
        log.iter().position(|e| e == ev).unwrap_or_else(|| panic!("{ev:?} never happened: {log:#?}"))
    }

    fn calls(&self, op: Op) -> Vec<Call> {
        lock(&self.calls).iter().filter(|c| c.op == op).cloned().collect()
    }

    /// The logical ids operated on, sorted, each once.
    fn ids_called(&self) -> Vec<String> {
        let mut ids: Vec<String> =
            lock(&self.calls).iter().filter(|c| c.op != Op::Read).map(|c| c.id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    fn made(&self) -> Vec<Live> {
        lock(&self.made).iter().map(|(_, l)| l.clone()).collect()
    }

    /// One create, update or delete: counted in flight from call to answer.
    async fn operate(&self, op: Op, id: &str, token: Option<&str>) -> Answer {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        lock(&self.calls).push(Call {
            op,
            id: id.to_owned(),
            at: self.start.elapsed(),
            token: token.map(str::to_owned),
        });
        self.note(call(op, id));
        let gate = lock(&self.gates).get(id).cloned();
        if let Some(gate) = gate {
            gate.acquire().await.expect("gates are never closed").forget();
        }
        let duration = lock(&self.durations).get(id).copied();
        if let Some(d) = duration {
            tokio::time::sleep(d).await;
        }
        let next = lock(&self.answers).get_mut(id).and_then(VecDeque::pop_front);
        let reply = next.unwrap_or_else(|| lock(&self.always).get(id).cloned().map_or(Answer::Ok, Answer::Err));
        self.note(answer(op, id));
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        reply
    }

    /// What a create makes; a token-taking kind given a token it has seen returns what that
    /// token made, as AWS does.
    fn make(&self, req: &CreateReq<'_>, idempotent: bool) -> Live {
        let mut made = lock(&self.made);
        if idempotent && let Some((_, l)) = made.iter().find(|(t, _)| t == req.token) {
            return l.clone();
        }
        let pid = format!("fake-{}", made.len() + 1);
        let live = Live {
            physical_id: pid.clone(),
            props: req.props.clone(),
            attrs: [("id".to_owned(), Value::str(&pid))].into_iter().collect(),
            tags: req.tags.clone(),
        };
        made.push((req.token.to_owned(), live.clone()));
        live
    }
}

static FAKE: KindSchema = KindSchema {
    name: "fake",
    doc: "A fake kind whose create has no idempotency token.",
    props: &[Prop::new("size", Ty::Int, "Anything updatable.")],
    attrs: &[Attr::new("id", "Its id.")],
    taggable: true,
};

static FAKE_TOKEN: KindSchema = KindSchema {
    name: "fake_token",
    doc: "A fake kind whose create sends an idempotency token.",
    props: &[Prop::new("size", Ty::Int, "Anything updatable.")],
    attrs: &[Attr::new("id", "Its id.")],
    taggable: true,
};

struct Fake {
    schema: &'static KindSchema,
    idempotent: bool,
    world: Arc<World>,
}

impl KindSpec for Fake {
    fn schema(&self) -> &'static KindSchema {
        self.schema
    }
    fn create_is_idempotent(&self) -> bool {
        self.idempotent
    }
    fn refusals(&self) -> Refusals {
        Refusals::None("a fake: nothing is sent")
    }
}

fn lost() -> AwsError {
    AwsError::Ambiguous("connection reset (fake)".into())
}

#[async_trait]
impl Kind for Fake {
    async fn read_many(&self, _: &Cx, ids: &[String]) -> Result<Vec<Live>, AwsError> {
        self.world.note(call(Op::Read, ""));
        lock(&self.world.calls).push(Call {
            op: Op::Read,
            id: String::new(),
            at: self.world.start.elapsed(),
            token: None,
        });
        let blind =
            self.world.blind_reads.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if blind {
            return Ok(Vec::new());
        }
        let made = self.world.made();
        Ok(made.into_iter().filter(|l| ids.is_empty() || ids.contains(&l.physical_id)).collect())
    }

    async fn create(&self, _: &Cx, req: &CreateReq<'_>) -> Result<Live, AwsError> {
        match self.world.operate(Op::Create, req.id, Some(req.token)).await {
            Answer::Ok => Ok(self.world.make(req, self.idempotent)),
            Answer::Lost => {
                self.world.make(req, self.idempotent);
                Err(lost())
            }
            Answer::Err(e) => Err(e),
        }
    }

    async fn update(&self, _: &Cx, req: &UpdateReq<'_>) -> Result<Live, AwsError> {
        match self.world.operate(Op::Update, req.id, None).await {
            Answer::Ok => Ok(Live {
                physical_id: req.physical_id.to_owned(),
                props: req.new.clone(),
                attrs: [("id".to_owned(), Value::str(req.physical_id))].into_iter().collect(),
                tags: req.tags.clone(),
            }),
            Answer::Lost => Err(lost()),
            Answer::Err(e) => Err(e),
        }
    }

    async fn delete(&self, _: &Cx, req: &DeleteReq<'_>) -> Result<(), AwsError> {
        match self.world.operate(Op::Delete, req.id, None).await {
            Answer::Ok => {
                lock(&self.world.made).retain(|(_, l)| l.physical_id != req.physical_id);
                Ok(())
            }
            Answer::Lost => Err(lost()),
            Answer::Err(e) => Err(e),
        }
    }
}

/// A backend that keeps every state written to it.
struct Watched {
    backend: Arc<dyn StateBackend>,
    writes: Arc<Mutex<Vec<State>>>,
}

impl Default for Watched {
    fn default() -> Watched {
        let writes: Arc<Mutex<Vec<State>>> = Arc::default();
        let kept = writes.clone();
        let on_write = move |s: &State, _: Duration, _: bool| lock(&kept).push(s.clone());
        Watched { backend: Arc::new(Observed::new(Unrecorded::default(), on_write)), writes }
    }
}

impl Watched {
    fn writes(&self) -> Vec<State> {
        lock(&self.writes).clone()
    }
}

/// The fake kinds, a stack of them, its state and plan, and a watched backend.
struct Setup {
    world: Arc<World>,
    kinds: &'static Kinds,
    backend: Arc<Watched>,
    stack: Stack,
    plan: Plan,
    state: State,
}

const LINEAGE: &str = "lin-1";

fn ownership(id: &str) -> Tags {
    [(TAG_STACK, "s"), (TAG_ID, id), (TAG_LINEAGE, LINEAGE)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// `resources`: the stack's `resources:` entries, one a line. `recorded`: resources of kind
/// `fake` in state and in AWS, as `(logical id, size, depends_on)`; those not in the stack are
/// planned for deletion.
fn setup(resources: &[&str], recorded: &[(&str, i64, &[&str])]) -> Setup {
    let world = Arc::new(World::new());
    // `ApplyConfig::kinds` is `&'static`: each test leaks its own fakes (a few bytes), so no
    // two tests share a script.
    let fake: &'static Fake = Box::leak(Box::new(Fake { schema: &FAKE, idempotent: false, world: world.clone() }));
    let token: &'static Fake =
        Box::leak(Box::new(Fake { schema: &FAKE_TOKEN, idempotent: true, world: world.clone() }));
    let all: &'static [&'static dyn Kind] = Box::leak(Box::new([fake as &dyn Kind, token as &dyn Kind]));
    let kinds: &'static Kinds = Box::leak(Box::new(Kinds::new(all)));
    let mut text = String::from("stack: s\nregion: us-east-1\n");
    text.push_str(if resources.is_empty() { "resources: {}\n" } else { "resources:\n" });
    for r in resources {
        text.push_str(&format!("  {r}\n"));
    }
    let stack = crate::stack::load_str(kinds, crate::stack::Source::new("s.yaml", &text), &Default::default())
        .unwrap_or_else(|(_, d)| panic!("{d:?}"));
    let graph = crate::graph::Graph::build(&stack).unwrap();
    let mut state = State::new("s", "us-east-1");
    state.lineage = LINEAGE.into();
    let mut live = Vec::new();
    for (id, size, deps) in recorded {
        let pid = format!("old-{id}");
        let props: Props = [("size".to_owned(), Value::Int(*size))].into_iter().collect();
        let attrs: Props = [("id".to_owned(), Value::str(&pid))].into_iter().collect();
        let rec = ResourceState {
            kind: "fake".into(),
            physical_id: pid.clone(),
            properties: props.clone(),
            attributes: attrs.clone(),
            tags: ownership(id),
            depends_on: deps.iter().map(|d| d.to_string()).collect(),
        };
        state.resources.insert(id.to_string(), rec);
        live.push(Live { physical_id: pid, props, attrs, tags: ownership(id) });
    }
    let live: crate::plan::LiveSet = [("fake".to_owned(), live)].into_iter().collect();
    let plan = crate::plan::plan(&stack, &graph, Some(&state), &live);
    Setup { world, kinds, backend: Arc::default(), stack, plan, state }
}

fn config(s: &Setup) -> ApplyConfig {
    ApplyConfig { kinds: s.kinds, ..ApplyConfig::default() }
}

impl Setup {
    /// Runs the plan. Progress goes on the world's timeline; at each `Done`, what the backend
    /// holds is noted.
    async fn apply(&self, cfg: ApplyConfig, cancel: watch::Receiver<bool>) -> (State, Outcome) {
        let world = self.world.clone();
        let backend = self.backend.clone();
        let progress: Progress = Arc::new(move |e: Event<'_>| {
            let ev = match e {
                Event::Started { id, .. } => Ev::Started(id.into()),
                Event::Status { id, message } => Ev::Status { id: id.into(), message: message.into() },
                Event::Retrying { id, after, .. } => Ev::Retrying { id: id.into(), after },
                Event::Done { id, step, physical_id, .. } => {
                    let writes = backend.writes();
                    let held = writes.last().and_then(|s| s.resources.get(id));
                    let shown = match step {
                        Step::Delete => held.is_none(),
                        Step::Up(_) => held.is_some_and(|r| Some(r.physical_id.as_str()) == physical_id),
                    };
                    lock(&world.at_done).push(AtDone { id: id.into(), step, writes: writes.len(), shown });
                    Ev::Done(id.into())
                }
                Event::Failed { id, .. } => Ev::Failed(id.into()),
                Event::Skipped { id, because } => Ev::Skipped { id: id.into(), because: because.into() },
                Event::Interrupted { in_flight } => Ev::Interrupted { in_flight },
            };
            world.note(ev);
        });
        let cx = Cx::new("s", aws_config::SdkConfig::builder().build(), WaitConfig::default());
        let backend = self.backend.backend.clone();
        let run = execute(Arc::new(cx), &self.stack, &self.plan, self.state.clone(), backend, cfg, progress, cancel);
        // A day on the paused clock passes at once when nothing else can happen: a run that
        // would never end fails here instead of hanging.
        tokio::time::timeout(Duration::from_secs(24 * 3600), run)
            .await
            .unwrap_or_else(|_| panic!("the run did not end: {:#?}", self.world.log()))
            .expect("the in-memory backend does not fail")
    }

    /// Runs the plan with nothing cancelling it.
    async fn run(&self, cfg: ApplyConfig) -> (State, Outcome) {
        let (_cancel, rx) = watch::channel(false);
        self.apply(cfg, rx).await
    }
}

fn done_ids(outcome: &Outcome) -> Vec<String> {
    let mut ids: Vec<String> = outcome.done.iter().map(|(id, _)| id.clone()).collect();
    ids.sort();
    ids
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// `a` fails. `b` and `c` need it, `d` needs both (reached twice from the failure): each is
/// skipped and reported once, naming `a`, and never sent. The branch `e -> f` goes on, and
/// `f` starts after the failure, so the failure stopped only what depends on it.
#[tokio::test(start_paused = true)]
async fn dependents_of_a_failure_are_skipped_once_and_other_branches_go_on() {
    let s = setup(
        &[
            "a: { type: fake }",
            "b: { type: fake, depends_on: [a] }",
            "c: { type: fake, depends_on: [a] }",
            "d: { type: fake, depends_on: [b, c] }",
            "e: { type: fake }",
            "f: { type: fake, depends_on: [e] }",
        ],
        &[],
    );
    s.world.answers("a", [Answer::Err(AwsError::Invalid("size too large (fake)".into()))]);
    s.world.takes("e", Duration::from_secs(1));
    let (state, outcome) = s.run(config(&s)).await;

    assert_eq!(outcome.failed.len(), 1, "{outcome:?}");
    assert_eq!(outcome.failed[0].0, "a");
    assert!(outcome.failed[0].1.contains("size too large"), "{outcome:?}");
    let mut skipped = outcome.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, strings(&["b", "c", "d"]), "each skipped once: {outcome:?}");
    let mut reported: Vec<(String, String)> = s
        .world
        .log()
        .into_iter()
        .filter_map(|e| match e {
            Ev::Skipped { id, because } => Some((id, because)),
            _ => None,
        })
        .collect();
    reported.sort();
    let by_a = |id: &str| (id.to_owned(), "a".to_owned());
    assert_eq!(reported, [by_a("b"), by_a("c"), by_a("d")]);
    assert_eq!(s.world.ids_called(), strings(&["a", "e", "f"]), "nothing skipped was sent");
    assert_eq!(done_ids(&outcome), strings(&["e", "f"]));
    assert!(s.world.when(&Ev::Failed("a".into())) < s.world.when(&call(Op::Create, "f")), "f started after a failed");
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["e", "f"]);
    assert!(!outcome.ok());
}

/// Ten independent operations of one second each: the most in flight at once is the
/// parallelism, and it is reached (0 counts as 1).
#[tokio::test(start_paused = true)]
async fn never_more_operations_in_flight_than_the_parallelism() {
    let resources: Vec<String> = (0..10).map(|i| format!("r{i}: {{ type: fake }}")).collect();
    let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
    for (parallelism, peak) in [(0, 1), (1, 1), (3, 3), (32, 10)] {
        let s = setup(&resources, &[]);
        for i in 0..10 {
            s.world.takes(&format!("r{i}"), Duration::from_secs(1));
        }
        let (_, outcome) = s.run(ApplyConfig { parallelism, ..config(&s) }).await;
        assert!(outcome.ok(), "{outcome:?}");
        assert_eq!(outcome.done.len(), 10);
        assert_eq!(s.world.peak.load(Ordering::SeqCst), peak, "parallelism {parallelism}");
    }
}

/// `slow` is held until `fast`'s grandchild is done: its dependents run the moment their own
/// dependencies finish, not once the whole first level has. `slow_child` waits for `slow`.
#[tokio::test(start_paused = true)]
async fn a_node_starts_when_its_own_dependencies_finish_not_per_level() {
    let s = setup(
        &[
            "slow: { type: fake }",
            "slow_child: { type: fake, depends_on: [slow] }",
            "fast: { type: fake }",
            "fast_child: { type: fake, depends_on: [fast] }",
            "fast_grandchild: { type: fake, depends_on: [fast_child] }",
        ],
        &[],
    );
    s.world.block("slow");
    let driver = async {
        // Per level, this never happens while `slow` is held; the paused clock then runs out
        // the hour at once, and `slow` is released so that the run ends and the test fails.
        let waited = tokio::time::timeout(
            Duration::from_secs(3600),
            s.world.until(|log| log.contains(&Ev::Done("fast_grandchild".into()))),
        )
        .await;
        s.world.release("slow");
        waited.is_ok()
    };
    let ((state, outcome), grandchild_done_while_slow_held) = tokio::join!(s.run(config(&s)), driver);
    assert!(grandchild_done_while_slow_held, "{:#?}", s.world.log());
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(state.resources.len(), 5);
    let w = &s.world;
    assert!(w.when(&call(Op::Create, "slow")) < w.when(&call(Op::Create, "fast_child")));
    assert!(w.when(&answer(Op::Create, "fast_grandchild")) < w.when(&answer(Op::Create, "slow")));
    assert!(w.when(&answer(Op::Create, "slow")) < w.when(&call(Op::Create, "slow_child")));
}

/// Cancelled while two operations are held in flight: both finish and are recorded (in the
/// returned state and the last checkpoint), nothing else starts, the outcome says interrupted.
#[tokio::test(start_paused = true)]
async fn cancel_starts_nothing_new_and_records_what_was_in_flight() {
    let s = setup(
        &[
            "a: { type: fake }",
            "b: { type: fake }",
            "c: { type: fake, depends_on: [a] }",
            "x: { type: fake }",
            "y: { type: fake }",
        ],
        &[],
    );
    for id in ["a", "b", "x", "y"] {
        s.world.block(id);
    }
    let (cancel, rx) = watch::channel(false);
    let driver = async {
        let calls = |log: &[Ev]| log.iter().filter(|e| matches!(e, Ev::Call(..))).count();
        s.world.until(|log| calls(log) == 2).await;
        cancel.send(true).unwrap();
        s.world.until(|log| log.iter().any(|e| matches!(e, Ev::Interrupted { .. }))).await;
        for id in ["a", "b", "x", "y"] {
            s.world.release(id);
        }
    };
    let ((state, outcome), ()) = tokio::join!(s.apply(ApplyConfig { parallelism: 2, ..config(&s) }, rx), driver);

    let started = s.world.ids_called();
    assert_eq!(started.len(), 2, "{started:?}");
    assert!(!started.contains(&"c".to_owned()), "c needs a, so could not have started");
    assert!(outcome.interrupted);
    assert!(!outcome.ok());
    assert_eq!(outcome.not_started, 3);
    assert!(s.world.log().contains(&Ev::Interrupted { in_flight: 2 }), "{:#?}", s.world.log());
    assert_eq!(done_ids(&outcome), started, "what was in flight finished");
    for id in &started {
        assert!(s.world.when(&Ev::Interrupted { in_flight: 2 }) < s.world.when(&Ev::Done(id.clone())));
    }
    assert_eq!(state.resources.keys().cloned().collect::<Vec<_>>(), started);
    let last = s.backend.writes().pop().expect("checkpointed");
    assert_eq!(last.resources.keys().cloned().collect::<Vec<_>>(), started, "recorded in the backend");
}

/// Creates, an update and deletes (one recorded as depending on the other). One at a time,
/// every operation is one write, each with the next serial; at any parallelism, when an
/// operation is reported done the newest write already shows it (a create or update recorded
/// with its physical id, a delete gone).
#[tokio::test(start_paused = true)]
async fn every_operation_is_checkpointed_before_it_is_reported_done() {
    for parallelism in [1, 8] {
        let s = setup(
            &["a: { type: fake }", "b: { type: fake, depends_on: [a] }", "u: { type: fake, size: 2 }"],
            &[("u", 1, &[]), ("old1", 1, &[]), ("old2", 1, &["old1"])],
        );
        let mut actions: Vec<(&str, Action)> = s.plan.changes.iter().map(|c| (c.id.as_str(), c.action)).collect();
        actions.sort_by_key(|(id, _)| *id);
        assert_eq!(
            actions,
            [
                ("a", Action::Create),
                ("b", Action::Create),
                ("old1", Action::Delete),
                ("old2", Action::Delete),
                ("u", Action::Update)
            ]
        );
        for id in ["a", "b", "u", "old1", "old2"] {
            s.world.takes(id, Duration::from_secs(1));
        }
        let serial = s.state.serial;
        let (state, outcome) = s.run(ApplyConfig { parallelism, ..config(&s) }).await;
        assert!(outcome.ok(), "{outcome:?}");

        let at_done = lock(&s.world.at_done).clone();
        assert_eq!(at_done.len(), 5, "{at_done:?}");
        assert!(at_done.iter().all(|d| d.shown), "parallelism {parallelism}: {at_done:#?}");
        let writes = s.backend.writes();
        let serials: Vec<u64> = writes.iter().map(|w| w.serial).collect();
        assert!(serials.windows(2).all(|w| w[0] < w[1]), "{serials:?}");
        assert_eq!(writes.last().unwrap(), &state);
        assert_eq!(state.resources["u"].properties["size"], Value::Int(2));
        if parallelism == 1 {
            assert_eq!(serials, (serial + 1..=serial + 5).collect::<Vec<_>>());
            let writes_at_done: Vec<usize> = at_done.iter().map(|d| d.writes).collect();
            assert_eq!(writes_at_done, [1, 2, 3, 4, 5]);
        }
        let deleted: Vec<&str> = at_done.iter().filter(|d| d.step == Step::Delete).map(|d| d.id.as_str()).collect();
        assert_eq!(deleted, ["old2", "old1"], "what was recorded as depending goes first");
    }
}

/// A delete refused while something still uses the resource is tried again after each
/// announced backoff, and succeeds once it is let go.
#[tokio::test(start_paused = true)]
async fn in_use_is_retried_after_the_backoff_until_it_clears() {
    let s = setup(&[], &[("old", 1, &[])]);
    let in_use = || Answer::Err(AwsError::InUse("DependencyViolation (fake)".into()));
    s.world.answers("old", [in_use(), in_use()]);
    let (state, outcome) = s.run(config(&s)).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert!(state.resources.is_empty());
    let at: Vec<Duration> = s.world.calls(Op::Delete).iter().map(|c| c.at).collect();
    assert_eq!(at.len(), 3);
    assert_eq!(outcome.retried["old"].0, 2);
    assert!(outcome.retried["old"].1.contains("DependencyViolation"), "{outcome:?}");
    let after: Vec<Duration> = s
        .world
        .log()
        .into_iter()
        .filter_map(|e| match e {
            Ev::Retrying { after, .. } => Some(after),
            _ => None,
        })
        .collect();
    assert_eq!(after, [at[1] - at[0], at[2] - at[1]], "sent again after the backoff announced");
    assert!(after[1] > after[0], "the backoff grows: {after:?}");
}

/// Errors that waiting does not cure, or that the SDK already retried, fail at once.
#[tokio::test(start_paused = true)]
async fn errors_other_than_in_use_and_no_answer_are_not_retried() {
    for err in [
        AwsError::Invalid("InvalidParameterValue (fake)".into()),
        AwsError::Throttled("RequestLimitExceeded (fake)".into()),
        AwsError::Transient("InternalError (fake)".into()),
        AwsError::Blocked("held by a hand-made group (fake)".into()),
    ] {
        let s = setup(&["a: { type: fake }"], &[]);
        s.world.fails_always("a", err.clone());
        let (state, outcome) = s.run(config(&s)).await;
        assert_eq!(s.world.calls(Op::Create).len(), 1, "{err:?}");
        assert_eq!(outcome.retries, 0, "{err:?}");
        assert_eq!(outcome.failed, [("a".to_owned(), err.to_string())]);
        assert!(state.resources.is_empty());
    }
}

/// Still in use at the deadline: the last try is made at the deadline, not after it, and the
/// delete fails, still recorded.
#[tokio::test(start_paused = true)]
async fn in_use_past_its_deadline_fails() {
    let s = setup(&[], &[("old", 1, &[])]);
    s.world.fails_always("old", AwsError::InUse("DependencyViolation (fake)".into()));
    let mut cfg = config(&s);
    cfg.retry.in_use_deadline = Duration::from_secs(60);
    cfg.retry.base_delay = Duration::from_secs(1);
    cfg.retry.max_delay = Duration::from_secs(10);
    let (state, outcome) = s.run(cfg).await;
    let calls = s.world.calls(Op::Delete);
    assert_eq!(calls.last().unwrap().at, Duration::from_secs(60), "{calls:?}");
    assert!(calls.len() > 6, "retried in between: {calls:?}");
    assert_eq!(outcome.retried["old"].0, calls.len() - 1);
    assert_eq!(outcome.failed.len(), 1);
    assert!(outcome.failed[0].1.starts_with("in use: DependencyViolation"), "{outcome:?}");
    assert!(state.resources.contains_key("old"), "not deleted, still recorded");
}

/// A create with an idempotency token that never gets an answer is sent `max_attempts` times,
/// always with the same token, then fails.
#[tokio::test(start_paused = true)]
async fn no_answer_after_max_attempts_fails() {
    let s = setup(&["a: { type: fake_token }"], &[]);
    s.world.fails_always("a", lost());
    let mut cfg = config(&s);
    cfg.retry.max_attempts = 3;
    let (state, outcome) = s.run(cfg).await;
    let creates = s.world.calls(Op::Create);
    assert_eq!(creates.len(), 3);
    assert!(creates.iter().all(|c| c.token.is_some() && c.token == creates[0].token), "{creates:?}");
    assert_eq!(outcome.retries, 2);
    assert_eq!(outcome.failed, [("a".to_owned(), lost().to_string())]);
    assert!(state.resources.is_empty());
}

/// A create without a token whose answer is lost (it did make the resource) is not sent again:
/// the resource is looked up by its ownership tags until the describe shows it (here at the
/// third look), then adopted and recorded.
#[tokio::test(start_paused = true)]
async fn a_lost_create_without_token_is_looked_up_not_sent_again() {
    let s = setup(&["a: { type: fake }", "b: { type: fake, depends_on: [a] }"], &[]);
    s.world.answers("a", [Answer::Lost]);
    s.world.blind_reads.store(2, Ordering::SeqCst);
    let (state, outcome) = s.run(config(&s)).await;
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(s.world.calls(Op::Create).iter().filter(|c| c.id == "a").count(), 1, "never sent twice");
    assert_eq!(s.world.calls(Op::Read).len(), 3);
    let made = s.world.made();
    assert_eq!(made.len(), 2, "one resource for a, one for b: {made:?}");
    assert_eq!(state.resources["a"].physical_id, made[0].physical_id);
    assert_eq!(outcome.retries, 1);
    assert!(
        s.world
            .log()
            .iter()
            .any(|e| matches!(e, Ev::Status { id, message } if id == "a" && message.contains("adopting"))),
        "{:#?}",
        s.world.log()
    );
    assert!(s.world.when(&Ev::Done("a".into())) < s.world.when(&call(Op::Create, "b")));
}

/// The same lost answer for a kind whose create takes a token: sent again at once with the
/// same token (AWS answers it with what the first one made), never looked up.
#[tokio::test(start_paused = true)]
async fn a_lost_create_with_token_is_sent_again_with_the_same_token() {
    let s = setup(&["a: { type: fake_token }"], &[]);
    s.world.answers("a", [Answer::Lost]);
    let (state, outcome) = s.run(config(&s)).await;
    assert!(outcome.ok(), "{outcome:?}");
    let creates = s.world.calls(Op::Create);
    assert_eq!(creates.len(), 2);
    assert_eq!(creates[0].token, creates[1].token);
    assert!(s.world.calls(Op::Read).is_empty(), "no lookup");
    let made = s.world.made();
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(state.resources["a"].physical_id, made[0].physical_id);
}
