//! Native runs in the model-based test: the pass `zoorepro.evaluate` drives
//! (`zoorepro::commands::run_native`, its `VerifyArgs` and `Context` parsed from a `verify`
//! command line as the Python binding builds them), run in this process with the caller's model
//! a [`Classifier`]: the workspace's tiny real ONNX model A, or B (a changed model), run by ONNX
//! Runtime, so that its predictions stay known to [`Truth`] (`common::onnx::fixed_ranking`).
//!
//! The rules written out again, from docs/python.md: a native run is `unverified-model`; its key
//! is the caller's name and checkpoint digest (without a digest, a key of its own each call); a
//! run resumed under a digest and name infers every stored row it would reuse again (all of
//! them, fewer than 64 being stored here) and is refused when any differs, writing nothing; a
//! `model_fn` that fails keeps the batches before it (with a digest) or nothing (without one),
//! and a pass that stops before the spot check compared an image keeps none of its new rows;
//! a second pass of a key while one runs is refused; shards of a name and digest merge (whatever
//! models ran them: the record says what joined them); `table` shows a native run as a row of
//! its own. [`Truth`] keeps the store's rows of each key (`Rows`), so that it knows which model
//! made each row a resumed run is checked against.

use std::sync::{Arc, Mutex};

use zoorepro::commands::{NativeModel, NativeRun, run_native};
use zoorepro::runtime::{Classifier, Model, OptLevel, Provider, RuntimeError, SessionOptions};

use super::*;

/// The caller's names for its model, and the checkpoint digests it may give.
const NAMES: [&str; 2] = ["mine", "other"];
/// The name the shards run under: the runs of the folder's, so that merges and resumed runs
/// meet in one key's rows.
const SHARDED: u8 = 0;
const DIGESTS: [&str; 2] = [
    "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0",
    "d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1d1",
];
/// `batch_size`: 2, so that a model that fails after k calls has stored whole batches.
const BATCH: usize = 2;
const FRAMEWORK: &str = "test";
/// What the caller's `model_fn` raises.
const FAILURE: &str = "model_fn raised on purpose";

/// The store's key of a native run, as far as the test varies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct NativeKey {
    name: u8,
    digest: Option<u8>,
    /// Without a digest, each call's key is new.
    nonce: usize,
}

/// Each native key with a digest, `(like, name, digest)`: the store's ranked rows of it, by
/// name and content, with the model that made each.
pub(super) type Rows = BTreeMap<(bool, u8, u8), BTreeMap<(String, Content), Bytes>>;

/// `zoorepro.evaluate(model_fn, val, model="test/m" | like="test/m", name=..., framework="test",
/// checkpoint_sha256=..., limit=..., batch_size=2)`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Native {
    /// The model `model_fn` runs: A, or the changed model B.
    model: Bytes,
    name: u8,
    digest: Option<u8>,
    like: bool,
    limit: Option<u8>,
    /// `model_fn` raises at its call `k + 1`, after `k` batches.
    fail_after: Option<u8>,
    /// A second pass of the same key tries to start during the first batch (another process
    /// under the same name and digest).
    second: bool,
}

/// Native runs of shards 0/2 and 1/2 into two stores, then `merge`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shards {
    /// The model of each shard: another model may run one under the same name and digest.
    models: [Bytes; 2],
    digest: bool,
    like: bool,
}

fn model_strategy() -> impl Strategy<Value = Bytes> {
    prop_oneof![3 => Just(Bytes::A), 2 => Just(Bytes::B)]
}

pub(super) fn native_strategy() -> impl Strategy<Value = Native> {
    let digest = prop_oneof![1 => Just(None), 4 => Just(Some(0u8)), 1 => Just(Some(1u8))];
    (
        (model_strategy(), prop::bool::weighted(0.2), digest),
        (
            prop::bool::weighted(0.2),
            prop::option::weighted(0.25, 1u8..8),
            prop::option::weighted(0.25, 0u8..4),
            prop::bool::weighted(0.15),
        ),
    )
        .prop_map(
            |((model, other, digest), (like, limit, fail_after, second))| Native {
                model,
                name: u8::from(other),
                digest,
                like,
                limit,
                fail_after,
                second,
            },
        )
}

pub(super) fn shards_strategy() -> impl Strategy<Value = Shards> {
    (
        model_strategy(),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(first, mixed, digest, like)| Shards {
            models: [first, if mixed { first.other() } else { first }],
            digest,
            like,
        })
}

impl Bytes {
    /// The other of the two models that open.
    fn other(self) -> Bytes {
        if self == Bytes::A { Bytes::B } else { Bytes::A }
    }
}

/// Native runs that made a record, were refused by the spot check, stopped in `model_fn`, were
/// merged from shards, and second passes refused by the claim on their key.
pub(super) static RECORDS: AtomicUsize = AtomicUsize::new(0);
pub(super) static SPOT_REFUSALS: AtomicUsize = AtomicUsize::new(0);
pub(super) static STOPPED: AtomicUsize = AtomicUsize::new(0);
pub(super) static MERGED: AtomicUsize = AtomicUsize::new(0);
pub(super) static CLAIMED: AtomicUsize = AtomicUsize::new(0);

// ---------------------------------------------------------------------------------------------
// The caller's model

/// The caller's model: a real ONNX model run by ONNX Runtime, which fails (as a `model_fn` that
/// raises) at call `fail_at`, and runs `during` at its first call, while the pass holds its key.
struct CallersModel {
    model: Arc<Mutex<Model>>,
    calls: usize,
    fail_at: Option<usize>,
    during: Option<Box<dyn FnOnce() + Send>>,
}

impl Classifier for CallersModel {
    fn classify(
        &mut self,
        input: &[f32],
        samples: usize,
        sample_shape: [usize; 3],
        scores: &mut Vec<f32>,
    ) -> Result<usize, RuntimeError> {
        self.calls += 1;
        if let Some(during) = self.during.take() {
            during();
        }
        if self.fail_at == Some(self.calls) {
            return Err(RuntimeError::Inference(FAILURE.into()));
        }
        let mut model = self.model.lock().unwrap_or_else(|e| e.into_inner());
        model.classify(input, samples, sample_shape, scores)
    }
}

/// Model A's or B's session, opened once per process and shared: passes run one at a time, and
/// a second pass under a key being run never reaches its model.
fn open_model(pool: &Pool, model: Bytes) -> Arc<Mutex<Model>> {
    type Open = Vec<(Vec<u8>, Arc<Mutex<Model>>)>;
    static OPEN: Mutex<Open> = Mutex::new(Vec::new());
    let bytes = model.bytes(pool);
    let mut open = OPEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, session)) = open.iter().find(|(b, _)| *b == bytes) {
        return Arc::clone(session);
    }
    let runtime = zoorepro::runtime::Runtime::load(None).expect("ONNX Runtime loads");
    let file = zoorepro::model::bytes::ModelBytes::new(Path::new("model_fn.onnx"), bytes.clone())
        .expect("the model's bytes");
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads: 1,
        opt_level: OptLevel::All,
    };
    let session = runtime
        .open_bytes(&file, &options)
        .expect("the model opens");
    let session = Arc::new(Mutex::new(session));
    open.push((bytes, Arc::clone(&session)));
    session
}

type Ended = anyhow::Result<Result<NativeRun, String>>;

/// `run_native` as the Python binding calls it: `argv` (from `verify` on, after the global
/// flags) parsed by the CLI's parser, the context of its `--home` and `--cache-dir`.
fn run(argv: Vec<OsString>, native: NativeModel, model: Box<dyn Classifier + Send>) -> Ended {
    use clap::Parser as _;
    let argv = std::iter::once(OsString::from("zoorepro")).chain(argv);
    let cli = zoorepro::cli::Cli::try_parse_from(argv).expect("the arguments parse");
    let zoorepro::cli::Command::Verify(args) = &cli.command else {
        unreachable!("parsed as verify");
    };
    let ctx = zoorepro::commands::Context::new(cli.home.clone(), cli.cache_dir.clone());
    run_native(&ctx, args, native, model)
}

/// The command line `evaluate` builds, into the store `cache`, with `extra` flags.
fn argv(ws: &Workspace, cache: &str, extra: &[OsString]) -> Vec<OsString> {
    let mut argv = ws.global(cache);
    argv.extend(os(&["verify", "--model", MODEL_ID, "--val"]));
    argv.push(ws.val.clone().into());
    argv.extend(os(&["--batch", &BATCH.to_string(), "--threads", "1"]));
    argv.push("--report-dir".into());
    argv.push(ws.root.join("reports").into());
    argv.extend_from_slice(extra);
    argv
}

fn native_model(name: u8, digest: Option<u8>, like: bool) -> NativeModel {
    NativeModel {
        framework: Some(FRAMEWORK.into()),
        name: NAMES[usize::from(name)].into(),
        checkpoint_sha256: digest.map(|d| DIGESTS[usize::from(d)].into()),
        like,
    }
}

// ---------------------------------------------------------------------------------------------
// The truth

/// What a native run must end with.
enum Plan {
    /// Nothing to run (an empty folder): an error, and no run.
    Error,
    /// The spot check finds a stored row another model's: an error naming the run, no new run,
    /// nothing written.
    SpotRefused,
    /// `model_fn` raised: with a digest, one unfinished run holding the rows of `sunk` (the
    /// images of the batches before), or none of them (`kept` says which, or that either may
    /// be); without one, no run.
    /// (`or_refused`: or refused by the spot check, which may have decided before the stop.)
    Stopped {
        sunk: Vec<(usize, File)>,
        kept: Kept,
        or_refused: bool,
    },
    Record(Box<(Expected, RunTruth)>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kept {
    Rows,
    Nothing,
    /// The spot check could decide before the stop only once the folder had been read to its
    /// end (a stored image the pass reads has changed since, so it cannot come back): the rows
    /// are kept where it did, and dropped where it had not (a race between the reading thread
    /// and the model).
    Either,
}

impl Truth {
    fn native_key(&mut self, name: u8, digest: Option<u8>, like: bool) -> Key {
        let nonce = if digest.is_none() {
            self.native_nonces += 1;
            self.native_nonces
        } else {
            0
        };
        Key {
            like,
            native: Some(NativeKey {
                name,
                digest,
                nonce,
            }),
            ..Key::plain(false, Bytes::A)
        }
    }

    /// The rows a resumed run of `key` is checked against.
    fn rows_of(&self, key: &Key) -> Option<&BTreeMap<(String, Content), Bytes>> {
        let native = key.native?;
        self.native_rows
            .get(&(key.like, native.name, native.digest?))
    }

    fn store_rows(&mut self, pool: &Pool, key: &Key, rows: &[(usize, File)], model: Bytes) {
        let Some(native) = key.native else { return };
        let Some(digest) = native.digest else { return };
        let stored = self
            .native_rows
            .entry((key.like, native.name, digest))
            .or_default();
        for (image, file) in rows {
            if let Content::Image(_) = file.content {
                stored.insert((pool.images[*image].name.clone(), file.content), model);
            }
        }
    }

    /// What `evaluate` does with `action` now.
    fn native(&self, pool: &Pool, action: &Native, key: &Key) -> Plan {
        let mut files = self.in_dataset_order(pool);
        if files.is_empty() {
            return Plan::Error;
        }
        let mut coverage = "complete";
        if let Some(limit) = action.limit.map(usize::from)
            && limit < files.len()
        {
            files.truncate(limit);
            coverage = "partial";
        }
        let name = |image: usize| pool.images[image].name.clone();
        let rows = self.rows_of(key);
        // The check's candidates: the stored rows of the names the pass reads, whatever their
        // content now; any makes a spot check.
        let candidates = rows.map_or(0, |rows| {
            rows.keys()
                .filter(|(n, _)| files.iter().any(|(image, _)| *n == name(*image)))
                .count()
        });
        // The images inferred again: stored rows of the same name and content (every one, fewer
        // than 64 being stored), by their place in the pass, with the model that made each.
        let rechecked: Vec<(usize, Bytes)> = files
            .iter()
            .enumerate()
            .filter_map(|(at, (image, file))| {
                Some((at, *rows?.get(&(name(*image), file.content))?))
            })
            .collect();
        let decodable = |(_, file): &(usize, File)| matches!(file.content, Content::Image(_));
        // The read batch `model_fn` raises in: each batch with an image that decodes is a call.
        let failing = action.fail_after.and_then(|k| {
            let mut calls = 0;
            files.chunks(BATCH).position(|batch| {
                calls += usize::from(batch.iter().any(decodable));
                calls == usize::from(k) + 1 && batch.iter().any(decodable)
            })
        });
        if let Some(at) = failing {
            return stopped(&files[..at * BATCH], candidates, &rechecked, action.model);
        }
        // Fewer than 64 compared: one image that differs refuses.
        if rechecked.iter().any(|&(_, model)| model != action.model) {
            return Plan::SpotRefused;
        }
        let scored = Truth::score_by(pool, &files, |_| action.model);
        let expected = self.judge(pool, &files, &scored, coverage, false, key);
        let run = RunTruth::planned(key.clone(), &expected, scored);
        Plan::Record(Box::new((expected, run)))
    }
}

/// A pass that `model_fn` stopped after the images `sunk`, `rechecked` (by their place in the
/// pass) among the `candidates` of its spot check. A check decides once every image it can
/// choose came back: any that differs refuses, else the rows are stored. A check undecided at
/// the stop stores nothing, unless 2 differ already (refused whatever follows). Whether it
/// decided before the stop depends on when the folder was read to its end where some candidate
/// cannot come back (its content changed): then either may happen.
fn stopped(
    sunk: &[(usize, File)],
    candidates: usize,
    rechecked: &[(usize, Bytes)],
    model: Bytes,
) -> Plan {
    let arrived: Vec<Bytes> = rechecked
        .iter()
        .filter(|(at, _)| *at < sunk.len())
        .map(|(_, made)| *made)
        .collect();
    let differing = arrived.iter().filter(|&&made| made != model).count();
    let all_arrived = arrived.len() == rechecked.len();
    let plan = |kept, or_refused| Plan::Stopped {
        sunk: sunk.to_vec(),
        kept,
        or_refused,
    };
    if candidates == 0 {
        return plan(Kept::Rows, false);
    }
    if differing >= 2 {
        return Plan::SpotRefused;
    }
    if !all_arrived || sunk.is_empty() {
        return plan(Kept::Nothing, false);
    }
    if candidates == rechecked.len() {
        // Decided when the last of them came back.
        return match differing {
            0 => plan(Kept::Rows, false),
            _ => Plan::SpotRefused,
        };
    }
    match differing {
        0 => plan(Kept::Either, false),
        _ => plan(Kept::Nothing, true),
    }
}

/// The store's rows of a native key once a run of it completed or was deleted: while a run of
/// the key is unfinished every row stays; else only the rows some complete run of it holds.
pub(super) fn collect_rows(truth: &mut Truth, key: &Key) {
    let Some(NativeKey {
        name,
        digest: Some(digest),
        ..
    }) = key.native
    else {
        return;
    };
    let runs: Vec<&RunTruth> = truth.runs.iter().filter(|r| r.key == *key).collect();
    if runs.iter().any(|r| r.record.is_none()) {
        return;
    }
    let held: BTreeSet<(String, Content)> = runs
        .iter()
        .flat_map(|r| {
            r.scored
                .iter()
                .map(|(n, (content, _, _))| (n.clone(), *content))
        })
        .collect();
    if let Some(rows) = truth.native_rows.get_mut(&(key.like, name, digest)) {
        rows.retain(|row, _| held.contains(row));
    }
}

// ---------------------------------------------------------------------------------------------
// The steps

/// A native run of the folder: its outcome against the truth, then the truth brought up to date.
pub(super) fn step(truth: &mut Truth, ws: &mut Workspace, action: Native) -> Check {
    let pool = ws.pool;
    let key = truth.native_key(action.name, action.digest, action.like);
    let plan = truth.native(pool, &action, &key);
    let extra = match action.limit {
        Some(limit) => os(&["--limit", &limit.to_string()]),
        None => Vec::new(),
    };
    let argv = argv(ws, "cache", &extra);
    let native = native_model(action.name, action.digest, action.like);
    // Another process's pass of the same key, started while this one runs: refused by the claim.
    let second: Arc<Mutex<Option<Ended>>> = Arc::default();
    let during = (action.second && action.digest.is_some()).then(|| {
        let (argv, native, other, second) = (
            argv.clone(),
            native.clone(),
            open_model(pool, action.model.other()),
            Arc::clone(&second),
        );
        Box::new(move || {
            let model = CallersModel {
                model: other,
                calls: 0,
                fail_at: None,
                during: None,
            };
            *second.lock().unwrap() = Some(run(argv, native, Box::new(model)));
        }) as Box<dyn FnOnce() + Send>
    });
    let tried = during.is_some();
    let model = CallersModel {
        model: open_model(pool, action.model),
        calls: 0,
        fail_at: action.fail_after.map(|k| usize::from(k) + 1),
        during,
    };
    let ended = run(argv, native, Box::new(model));
    if tried {
        check_claim(truth, pool, action.limit, second.lock().unwrap().take())?;
    }
    settle_native(truth, ws, ended, plan, &key, action.model)?;
    check_table(truth, ws)
}

/// The second pass under a key being run: tried when the first reached its model (an image of
/// the `limit` it reads decodes), and refused.
fn check_claim(truth: &Truth, pool: &Pool, limit: Option<u8>, second: Option<Ended>) -> Check {
    let reached_model = truth
        .in_dataset_order(pool)
        .iter()
        .take(limit.map_or(usize::MAX, usize::from))
        .any(|(_, file)| matches!(file.content, Content::Image(_)));
    match second {
        None => ensure!(
            !reached_model,
            "the first pass called its model, so the second was tried"
        ),
        Some(Err(error)) => {
            let error = error.to_string();
            ensure!(
                error.contains("is running a model under the name"),
                "a second pass of a key being run is refused by the claim, not: {error}"
            );
            CLAIMED.fetch_add(1, Ordering::Relaxed);
        }
        Some(Ok(_)) => {
            return Err(TestCaseError::fail(
                "a second pass of a key being run started",
            ));
        }
    }
    Ok(())
}

/// Checks how a native run ended against `plan`, and brings the truth's runs and rows up to date.
fn settle_native(
    truth: &mut Truth,
    ws: &mut Workspace,
    ended: Ended,
    plan: Plan,
    key: &Key,
    model: Bytes,
) -> Check {
    let pool = ws.pool;
    match (plan, ended) {
        (Plan::Error, Err(_)) => Ok(()),
        (
            Plan::SpotRefused
            | Plan::Stopped {
                or_refused: true, ..
            },
            Err(error),
        ) => {
            let error = error.to_string();
            ensure!(
                error.contains("were made by another model"),
                "a changed model under the same name and digest is refused by the spot check, \
                 not: {error}"
            );
            SPOT_REFUSALS.fetch_add(1, Ordering::Relaxed);
            // Its own run was deleted, which may free rows no run holds.
            collect_rows(truth, key);
            Ok(())
        }
        (Plan::Stopped { sunk, kept, .. }, Ok(Err(why))) => {
            ensure!(why.contains(FAILURE), "the pass stopped for {why}");
            STOPPED.fetch_add(1, Ordering::Relaxed);
            if key.native.is_some_and(|n| n.digest.is_some()) {
                let stored = adopt_stopped(truth, ws, key, &sunk, kept)?;
                if stored {
                    truth.store_rows(pool, key, &sunk, model);
                }
            }
            Ok(())
        }
        (Plan::Record(planned), Ok(Ok(done))) => {
            let (expected, run) = *planned;
            let record = serde_json::to_value(&done.record).unwrap();
            check_native_record(&record, key, None)?;
            RECORDS.fetch_add(1, Ordering::Relaxed);
            let files: Vec<(usize, File)> = scored_files(pool, &run);
            let ran = Ran {
                status: done.status,
                stdout: record.to_string(),
            };
            settle(truth, ran, Outcome::Record(expected), Some(run), false)?;
            truth.store_rows(pool, key, &files, model);
            collect_rows(truth, key);
            Ok(())
        }
        (_, ended) => Err(TestCaseError::fail(format!(
            "a native run ended as {}",
            match ended {
                Err(error) => format!("an error: {error}"),
                Ok(Err(why)) => format!("stopped: {why}"),
                Ok(Ok(done)) =>
                    format!("a record: {}", serde_json::to_string(&done.record).unwrap()),
            }
        ))),
    }
}

/// A run's images as files of the pool (its labels are not needed here).
fn scored_files(pool: &Pool, run: &RunTruth) -> Vec<(usize, File)> {
    run.scored
        .iter()
        .map(|(name, (content, label, _))| {
            let image = pool.images.iter().position(|i| i.name == *name).unwrap();
            (
                image,
                File {
                    folder: *label,
                    content: *content,
                },
            )
        })
        .collect()
}

/// The unfinished run a stopped native pass with a digest leaves: one new run, never complete,
/// holding the rows of the batches before the failure, or none (`kept`). Returns whether it
/// holds them.
fn adopt_stopped(
    truth: &mut Truth,
    ws: &mut Workspace,
    key: &Key,
    sunk: &[(usize, File)],
    kept: Kept,
) -> Result<bool, TestCaseError> {
    let known: BTreeSet<i64> = truth.runs.iter().map(|r| r.id).collect();
    let listed = runs_json(ws)?;
    let new: Vec<&Value> = listed
        .iter()
        .filter(|r| !known.contains(&r["id"].as_i64().unwrap_or(-1)))
        .collect();
    ensure!(
        new.len() == 1,
        "one new run after a stopped native pass with a digest: {new:?}"
    );
    let row = new[0];
    ensure!(
        row["complete"] == false && row["coverage"] == "interrupted",
        "a stopped native pass leaves an unfinished run: {row}"
    );
    let images = row["images"].as_u64().unwrap_or(u64::MAX) as usize;
    let stored = images == sunk.len() && kept != Kept::Nothing;
    ensure!(
        stored || (images == 0 && kept != Kept::Rows),
        "the stopped run holds {images} images; the batches before model_fn raised hold {} \
         ({kept:?} kept): {row}",
        sunk.len()
    );
    truth.runs.push(RunTruth {
        id: row["id"].as_i64().unwrap(),
        key: key.clone(),
        record: None,
        scored: BTreeMap::new(),
        seed: None,
    });
    Ok(stored || sunk.is_empty())
}

/// What a native record says of its model: `native:NAME`, verification `native`, the
/// framework, name and digest in the sidecar, no ONNX Runtime in the provenance, nothing reused
/// (fewer than 64 rows are stored: every one is inferred again); a merged one, its shards and
/// what joined them.
fn check_native_record(record: &Value, key: &Key, merged: Option<usize>) -> Check {
    let native = key.native.expect("a native key");
    let name = NAMES[usize::from(native.name)];
    let digest = native.digest.map(|d| DIGESTS[usize::from(d)]);
    let sidecar = &record["onnx"]["sidecar"]["native"];
    let provenance = &record["provenance"];
    let model_id = if key.like {
        format!("like/{MODEL_ID}")
    } else {
        MODEL_ID.to_string()
    };
    let got = (
        record["model_id"].as_str(),
        record["onnx"]["path"].as_str(),
        record["onnx"]["verification"].as_str(),
        sidecar["framework"].as_str(),
        sidecar["name"].as_str(),
        sidecar["checkpoint_sha256"].as_str(),
        sidecar["merged_shards"].as_u64().map(|n| n as usize),
        provenance["provider"].as_str(),
        provenance["ort_version"].as_str(),
        provenance["deterministic_compute"].as_bool(),
    );
    let path = format!("native:{name}");
    let want = (
        Some(model_id.as_str()),
        Some(path.as_str()),
        Some("native"),
        Some(FRAMEWORK),
        Some(name),
        digest,
        merged,
        Some("native (test)"),
        Some(""),
        Some(false),
    );
    ensure!(got == want, "a native record says {got:?}, not {want:?}");
    let summary = record["verdict"]["summary"].as_str().unwrap_or_default();
    let joined = "ran natively (zoorepro.evaluate) and were joined on the caller's name and \
                  checkpoint_sha256 only";
    ensure!(
        summary.contains(joined) == merged.is_some(),
        "a merged native record, and only one, says what joined its shards: {summary}"
    );
    if merged.is_none() {
        ensure!(
            record["store"]["reused"] == 0,
            "a native run of fewer than 64 stored images reuses none: {}",
            record["store"]
        );
    }
    Ok(())
}

/// Native runs of shards 0/2 and 1/2, each into a store of its own, then `merge` into the
/// workspace's store: joined on the name and digest whatever model ran each shard (refused
/// without a digest: each shard is a key of its own), judged as one native run of every image;
/// refused where the store holds rows of the name and digest for the same images that another
/// model made, as a resumed run is by the spot check.
pub(super) fn shards(truth: &mut Truth, ws: &mut Workspace, action: Shards) -> Check {
    let pool = ws.pool;
    let digest = action.digest.then_some(0);
    let key = truth.native_key(SHARDED, digest, action.like);
    for dir in ["shard0", "shard1"] {
        let _ = std::fs::remove_dir_all(ws.root.join(dir));
    }
    let mut shard_refused = false;
    for (k, dir) in ["shard0", "shard1"].iter().enumerate() {
        let argv = argv(ws, dir, &os(&["--shard", &format!("{k}/2")]));
        let model = CallersModel {
            model: open_model(pool, action.models[k]),
            calls: 0,
            fail_at: None,
            during: None,
        };
        let native = native_model(SHARDED, digest, action.like);
        shard_refused |= !matches!(run(argv, native, Box::new(model)), Ok(Ok(_)));
    }
    let files = truth.in_dataset_order(pool);
    ensure!(
        shard_refused == files.is_empty(),
        "native shards of {} images refused: {shard_refused}",
        files.len()
    );
    if shard_refused {
        return Ok(());
    }
    let mut args = os(&["merge", "--json", "--report-dir"]);
    args.push(ws.root.join("reports").into());
    args.push(ws.root.join("shard0").into());
    args.push(ws.root.join("shard1").into());
    let ran = ws.zoorepro("cache", &args);
    if digest.is_none() {
        return settle(truth, ran, Outcome::Refused, None, false);
    }
    let model_of = |image: usize| action.models[Truth::shard_of(pool, image)];
    // The rows an earlier run of the name and digest holds are never replaced by another
    // model's (fewer than 64 in common: one image that differs refuses).
    let name = |image: usize| pool.images[image].name.clone();
    let contradicted = truth.rows_of(&key).is_some_and(|rows| {
        files.iter().any(|(image, file)| {
            rows.get(&(name(*image), file.content))
                .is_some_and(|model| *model != model_of(*image))
        })
    });
    if contradicted {
        return settle(truth, ran, Outcome::Refused, None, false);
    }
    let scored = Truth::score_by(pool, &files, model_of);
    let expected = truth.judge(pool, &files, &scored, "complete", false, &key);
    let run = RunTruth::planned(key.clone(), &expected, scored);
    if ran.status == expected.exit
        && let Ok(record) = serde_json::from_str::<Value>(&ran.stdout)
    {
        check_native_record(&record, &key, Some(2))?;
    }
    MERGED.fetch_add(1, Ordering::Relaxed);
    settle(truth, ran, Outcome::Record(expected), Some(run), false)?;
    for k in 0..2 {
        let shard: Vec<(usize, File)> = files
            .iter()
            .copied()
            .filter(|(image, _)| Truth::shard_of(pool, *image) == k)
            .collect();
        truth.store_rows(pool, &key, &shard, action.models[k]);
    }
    collect_rows(truth, &key);
    check_table(truth, ws)
}

// ---------------------------------------------------------------------------------------------
// The table

/// `table` (the latest run of each kind) once a native run was added: a native run is a row of
/// its own, marked native with its name, and never hides test/m's latest ONNX run, nor one
/// native name's run another's. (`check_store` checks every run's verdict in `--runs all`.)
fn check_table(truth: &Truth, ws: &mut Workspace) -> Check {
    let complete: Vec<&RunTruth> = truth
        .runs
        .iter()
        .filter(|r| r.record.is_some() && r.seed.is_none())
        .collect();
    if complete.iter().all(|r| r.key.native.is_none()) {
        return Ok(());
    }
    let ran = ws.zoorepro("cache", &os(&["table", "--format", "json"]));
    ensure!(ran.status == 0, "table exits 0, not {}", ran.status);
    let rows: Value = serde_json::from_str(&ran.stdout)
        .map_err(|e| TestCaseError::fail(format!("table is JSON ({e}): {}", ran.stdout)))?;
    let rows = rows.as_array().cloned().unwrap_or_default();
    let shown: BTreeSet<i64> = rows.iter().filter_map(|r| r["run"].as_i64()).collect();
    for row in &rows {
        let Some(run) = complete.iter().find(|r| row["run"].as_i64() == Some(r.id)) else {
            continue;
        };
        let name = run.key.native.map(|n| NAMES[usize::from(n.name)]);
        ensure!(
            row["native"]["name"].as_str() == name,
            "table shows run {} as native {:?}, the truth: {name:?}: {row}",
            run.id,
            row["native"]
        );
    }
    // The latest of each: test/m's ONNX run, and each native name's run (like or not).
    let mut latest: BTreeMap<(bool, Option<u8>), i64> = BTreeMap::new();
    for run in &complete {
        if run.key.built_in || (run.key.like && run.key.native.is_none()) {
            continue;
        }
        let group = (run.key.like, run.key.native.map(|n| n.name));
        let id = latest.entry(group).or_insert(run.id);
        *id = (*id).max(run.id);
    }
    for (group, id) in latest {
        ensure!(
            shown.contains(&id),
            "table shows the latest run of {group:?}, run {id}: {shown:?}"
        );
    }
    Ok(())
}

/// Found by the native actions, shrunk: a merge of native shards under a name and digest wrote
/// its rows over the rows an earlier run of the key held, which another model had made, so that
/// run's predictions (`compare`, a resumed run's spot check) became the new model's.
#[test]
fn a_native_merge_never_changes_an_earlier_runs_predictions() {
    let Some(shared) = common::shared() else {
        return;
    };
    let pool = pool(&shared);
    let mut truth = Truth::start(&pool);
    let mut ws = Workspace::new(&pool, &truth, false);
    let merge = |models| {
        Action::NativeShards(Shards {
            models,
            digest: true,
            like: false,
        })
    };
    let resume = |model| {
        Action::Native(Native {
            model,
            name: SHARDED,
            digest: Some(0),
            like: false,
            limit: None,
            fail_after: None,
            second: false,
        })
    };
    for action in [
        merge([Bytes::A, Bytes::B]),
        merge([Bytes::A, Bytes::A]),
        resume(Bytes::A),
        merge([Bytes::B, Bytes::B]),
    ] {
        super::step(&mut truth, &mut ws, action).unwrap_or_else(|e| panic!("{action:?}: {e}"));
    }
    let merged = truth.runs.iter().filter(|r| r.record.is_some()).count();
    assert_eq!(merged, 1, "only the first merge made a run");
}
