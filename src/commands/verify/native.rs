//! A native run: `verify`'s pass with the caller's model (any [`Classifier`]) in place of an ONNX
//! Runtime session: the Python `zoorepro.evaluate`, whose model is a Python function, or a Rust
//! caller's own. The dataset, stages, store
//! rows, record, verdict and reports are `verify`'s; what differs is said in the record: the
//! model is `native:NAME` with verification `native` (so the verdict carries the
//! `unverified-model` mark: nothing ties the function to a pinned file), the provider is
//! `native (FRAMEWORK)`, and the sidecar names the framework, the name and the checkpoint digest.
//!
//! The run's key holds the checkpoint's digest and the caller's name where the caller gives a
//! digest, so a rerun of the same checkpoint resumes its stored run, after the spot check of the
//! rows it would reuse (spot_check.rs: a changed model under the same digest and name is refused);
//! without one the key holds a fresh nonce, so a changed model never reuses another's rows, and a
//! run that stops early is deleted, since nothing could resume it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::{anyhow, bail};

use super::member::{DEFAULT_BATCH, Member, Session};
use super::pass::{self, Evaluation};
use super::{Shared, Started, check_arguments, evaluate_and_check, finish};
use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::commands::shared::batch::check_batch_memory;
use crate::commands::shared::model_under_test::ModelUnderTest;
use crate::commands::shared::record::{
    check_outputs_writable, emit_reports, report_stem, run_inputs,
};
use crate::dataset::Shard;
use crate::report::{OnnxInfo, RunRecord};
use crate::runtime::{Classifier, OptLevel, Provider, SessionOptions};
use crate::store::{LikeInfo, RunKey, StoreError};
use crate::util::hex::sha256_hex;

/// What the caller says of the model it runs.
#[derive(Clone, Debug)]
pub struct NativeModel {
    /// The framework that runs it (`torch`, `keras`...), when the caller names one.
    pub framework: Option<String>,
    /// The caller's name for the model.
    pub name: String,
    /// The sha256 of the checkpoint's file, when the caller gives it.
    pub checkpoint_sha256: Option<String>,
    /// `like=ID`: a model of its own, not ID: preprocessed and judged by ID's recipes and
    /// references as `verify --like ID` judges an export, under the run id `like/ID`, unpinned
    /// (docs/python.md).
    pub like: bool,
}

/// What a native run gave: the record `verify --json` would print, its exit status, its reports.
pub struct NativeRun {
    pub status: i32,
    pub record: RunRecord,
    pub reports: Vec<PathBuf>,
}

impl NativeModel {
    /// The provenance's provider: `native`, with the framework where named.
    pub(super) fn provider(&self) -> String {
        match &self.framework {
            Some(framework) => format!("native ({framework})"),
            None => "native".into(),
        }
    }

    /// The record's `onnx`: what ran in place of an ONNX file.
    fn onnx_info(&self) -> OnnxInfo {
        OnnxInfo {
            path: format!("native:{}", self.name),
            sha256: self.checkpoint_sha256.clone().unwrap_or_default(),
            verification: "native".into(),
            manifest_sha256: None,
            sidecar: Some(serde_json::json!({
                "native": {
                    "framework": self.framework,
                    "name": self.name,
                    "checkpoint_sha256": self.checkpoint_sha256,
                }
            })),
            io_names: None,
            like: None,
        }
    }

    /// The model's digest in the run key: the checkpoint's with the caller's name, else one no
    /// other run has. The name is part of it because the digest is only the caller's word: two
    /// models given one digest under two names are two runs (the spot check of `pass` catches
    /// a changed model under the same name).
    fn key_digest(&self) -> String {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        match &self.checkpoint_sha256 {
            Some(sha256) => sha256_hex(
                format!("zoorepro native checkpoint {sha256} named {:?}", self.name).as_bytes(),
            ),
            None => sha256_hex(
                format!(
                    "zoorepro native run {:?} {} {}",
                    SystemTime::now(),
                    std::process::id(),
                    RUNS.fetch_add(1, Ordering::Relaxed)
                )
                .as_bytes(),
            ),
        }
    }
}

impl NativeModel {
    /// Refuses a name or framework that is empty or blank: the run's rows would show the model id
    /// in its place (`ID (native: ID)`, like a run named after the model) or `native ()`.
    fn check(&self) -> anyhow::Result<()> {
        if self.name.trim().is_empty() {
            bail!(
                "name= is empty: give the model a name of its own (it names the run in every \
                 record, table and comparison), or leave name= out to use the model's id"
            );
        }
        if self
            .framework
            .as_deref()
            .is_some_and(|f| f.trim().is_empty())
        {
            bail!(
                "framework= is empty: name the framework that runs the model (torch, keras, \
                 jax...), or leave framework= out"
            );
        }
        Ok(())
    }
}

/// A checkpoint digest as the key holds it: 64 hex digits, lowercase.
pub fn checkpoint_digest(text: &str) -> anyhow::Result<String> {
    let text = text.trim();
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("checkpoint_sha256 must be 64 hex digits (a sha256), not {text:?}");
    }
    Ok(text.to_ascii_lowercase())
}

/// `verify` of one model run natively by `classifier`. `Ok(Err(why))`: the model failed in the
/// pass (an error of its function, an output of the wrong shape); the rows of the batches before
/// it are stored, and the run resumes when run again with the same checkpoint digest.
pub fn run_native(
    ctx: &Context,
    args: &VerifyArgs,
    native: NativeModel,
    classifier: Box<dyn Classifier + Send>,
) -> anyhow::Result<Result<NativeRun, String>> {
    let started = Started {
        at: SystemTime::now(),
        clock: Instant::now(),
    };
    check_arguments(args, 1)?;
    // After the model's id is known good: model='' (the default name too) is refused as an id.
    let under_test = under_test(ctx, args, &native)?;
    native.check()?;
    let dataset = crate::commands::shared::options::open_dataset(&args.val, &args.labels)?;
    let shard = crate::commands::shared::options::parse_shard(args.shard.as_deref())?;
    let mut members = vec![member(
        under_test, native, classifier, args, shard, &dataset,
    )?];
    pass::check_memory(&members)?;
    members[0]
        .open_store(ctx, None, &dataset, args)
        .map_err(|error| key_in_use(error, members[0].native.as_ref()))?;
    let evaluation = evaluate_and_check(&dataset, &mut members, args, shard);
    let stopped_early = evaluation
        .as_ref()
        .map_or(true, |e| e.stopped.iter().any(Option::is_some));
    let resumable = members[0]
        .native
        .as_ref()
        .is_some_and(|native| native.checkpoint_sha256.is_some());
    if stopped_early && !resumable {
        forget_unresumable(&mut members[0]);
    }
    let Evaluation {
        order,
        fresh,
        stats,
        stopped,
        coverage,
    } = evaluation?;
    let mut member = members.remove(0);
    if let Some(Some(error)) = stopped.into_iter().next() {
        return Ok(Err(error));
    }
    let shared = Shared::new(&order, coverage, &dataset, None, args, started);
    let fresh = fresh.into_iter().next().unwrap_or_default();
    let record = finish(&mut member, &shared, fresh, &stats[0])?;
    let stem = report_stem(started.at, &member.key);
    let (status, reports) = emit_reports(&record, &member.report_dir, &stem, false, &args.verdict)?;
    Ok(Ok(NativeRun {
        status,
        record,
        reports,
    }))
}

/// The error of a native run whose key another live process is writing now (the store refused
/// to start a second run of it, `Store::create_claimed_run`), said in the caller's terms.
fn key_in_use(error: anyhow::Error, native: Option<&NativeModel>) -> anyhow::Error {
    match (error.downcast_ref::<StoreError>(), native) {
        (Some(StoreError::KeyInUse { path, id, pid, .. }), Some(native)) => anyhow!(
            "process {pid} is running a model under the name {:?} and this checkpoint_sha256 into \
             the prediction store {} now (run {id}): two models under one name and digest at once \
             would mix their rows in one record, so this call started nothing; wait for that \
             process to finish (this call then resumes its rows, after the spot check), or give \
             this model its own name= (and checkpoint_sha256, the sha256 of its own weights); \
             where that process cannot be checked, the claim lapses 10 minutes after its last \
             batch",
            native.name,
            path.display()
        ),
        _ => error,
    }
}

/// Deletes the stored run of a native model with no checkpoint digest that stopped early: its
/// key holds a nonce no later call makes again, so nothing could ever resume or finish it.
fn forget_unresumable(member: &mut Member) {
    let Some(stored) = member.stored.as_mut() else {
        return;
    };
    // The error that stopped the pass is the one to report; a run left behind is a warning.
    if let Err(error) = stored.store.delete_run(stored.info.id) {
        eprintln!(
            "zoorepro: warning: cannot delete run {}, which nothing can resume: {error}",
            stored.info.id
        );
    }
}

/// The manifest and recipe the native model is run with (`like`: as `verify --like` judges a file),
/// once every output it will write is known to be writable.
fn under_test(
    ctx: &Context,
    args: &VerifyArgs,
    native: &NativeModel,
) -> anyhow::Result<ModelUnderTest> {
    let mut under_test = ModelUnderTest::native(ctx, &args.model, native.onnx_info())?;
    under_test.onnx.manifest_sha256 = under_test.manifest.sha256.clone();
    if native.like {
        // As `verify --like`: judged by the known model's recipes and references, under an id
        // of its own (`like/ID`), the record saying whose model it is.
        let known = under_test.manifest.id.clone();
        let known_sha256 = under_test.manifest.sha256.clone();
        under_test.manifest = under_test
            .manifest
            .like(std::path::Path::new(&under_test.onnx.path));
        under_test.onnx.like = Some(LikeInfo {
            note: format!(
                "{} is your model, run natively, not {known}'s file: judged by {known}'s recipes \
                 and references (like={known}), unpinned",
                under_test.onnx.path
            ),
            model: known,
            known_sha256,
        });
    }
    if let Some(framework) = &native.framework {
        under_test.manifest.framework = framework.clone();
    }
    let store_dir = (!args.no_cache).then(|| ctx.cache_dir()).transpose()?;
    // The caller's checkpoint is not known here: the model the caller runs is its own to keep.
    let inputs = run_inputs(
        store_dir.as_deref(),
        &args.val,
        args.labels.ground_truth.as_deref(),
        [],
    );
    check_outputs_writable(
        store_dir.as_deref(),
        &report_dir(args, &under_test),
        &under_test.manifest.id,
        args.predictions.as_deref(),
        &inputs,
    )?;
    Ok(under_test)
}

fn report_dir(args: &VerifyArgs, under_test: &ModelUnderTest) -> PathBuf {
    args.report_dir
        .clone()
        .unwrap_or_else(|| under_test.home.join("reports"))
}

/// The native model as a member of the pass: its batch checked as verify checks `--batch`, its
/// key holding the checkpoint's digest (or a nonce) and `native` where ONNX Runtime's are.
fn member(
    under_test: ModelUnderTest,
    native: NativeModel,
    classifier: Box<dyn Classifier + Send>,
    args: &VerifyArgs,
    shard: Option<Shard>,
    dataset: &crate::dataset::Dataset,
) -> anyhow::Result<Member> {
    let batch = args.batch.unwrap_or(DEFAULT_BATCH);
    check_batch_memory(
        "batch_size",
        batch,
        under_test.recipe.sample_len(),
        crate::eval::pipeline::BUFFERS,
    )?;
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads,
        opt_level: OptLevel::All,
    };
    let session = Session {
        model: classifier,
        fixed_batch: None,
        io_names: None,
        provider: options.provider,
        threads,
        options,
        batch,
    };
    let class_subset = dataset.class_subset();
    let key = RunKey::verify(
        &under_test.manifest.id,
        &native.key_digest(),
        &under_test.recipe,
        under_test.compat,
        "native",
        &native.provider(),
        "native",
        batch,
    )
    .with_shard(shard)
    .with_class_subset(class_subset.map(|s| s.name))
    .with_ground_truth(dataset.ground_truth().as_ref().map(|g| g.sha256.as_str()));
    Ok(Member {
        report_dir: report_dir(args, &under_test),
        under_test,
        session,
        key,
        class_subset,
        stored: None,
        trainable_parameters: None,
        spot_check: native.checkpoint_sha256.is_some(),
        native: Some(native),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn native(checkpoint: Option<&str>) -> NativeModel {
        NativeModel {
            framework: Some("torch".into()),
            name: "mine".into(),
            checkpoint_sha256: checkpoint.map(str::to_string),
            like: false,
        }
    }

    #[test]
    fn a_blank_name_or_framework_is_refused() {
        assert!(native(None).check().is_ok());
        for blank in ["", "  ", "\n"] {
            let unnamed = NativeModel {
                name: blank.into(),
                ..native(None)
            };
            let error = unnamed.check().unwrap_err().to_string();
            assert!(error.starts_with("name= is empty"), "{error}");
            let no_framework = NativeModel {
                framework: Some(blank.into()),
                ..native(None)
            };
            let error = no_framework.check().unwrap_err().to_string();
            assert!(error.starts_with("framework= is empty"), "{error}");
        }
        let unnamed_framework = NativeModel {
            framework: None,
            ..native(None)
        };
        assert!(unnamed_framework.check().is_ok());
    }

    #[test]
    fn a_checkpoint_digest_and_name_key_the_run_and_none_gives_a_new_run_each_time() {
        let digest = "ab".repeat(32);
        let model = native(Some(&digest));
        assert_eq!(model.key_digest(), model.key_digest());
        let renamed = NativeModel {
            name: "another".into(),
            ..model.clone()
        };
        assert_ne!(model.key_digest(), renamed.key_digest());
        let other_digest = native(Some(&"cd".repeat(32)));
        assert_ne!(model.key_digest(), other_digest.key_digest());
        let anonymous = native(None);
        assert_ne!(anonymous.key_digest(), anonymous.key_digest());
    }

    #[test]
    fn the_record_says_the_model_ran_natively() {
        let onnx = native(Some(&"0".repeat(64))).onnx_info();
        assert_eq!(onnx.path, "native:mine");
        assert_eq!(onnx.verification, "native");
        let sidecar = onnx.sidecar.unwrap();
        assert_eq!(sidecar["native"]["framework"], "torch");
        assert_eq!(sidecar["native"]["checkpoint_sha256"], "0".repeat(64));
        assert_eq!(native(None).provider(), "native (torch)");
    }

    #[test]
    fn a_checkpoint_digest_is_64_hex_digits() {
        assert_eq!(
            checkpoint_digest(&"AB".repeat(32)).unwrap(),
            "ab".repeat(32)
        );
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
            let error = checkpoint_digest(bad).unwrap_err().to_string();
            assert!(error.contains("64 hex digits"), "{error}");
        }
    }

    /// Stands in for a framework's model: each image's top-1 is a function of its tensor, so a
    /// rerun gives the same classes, and `shift` makes another model of it. `fail_at`: the call
    /// that fails (as a Python function that raises).
    struct Fake {
        shift: usize,
        fail_at: Option<usize>,
        calls: usize,
        /// Runs at the first call, while the pass holds its run: what another process does then.
        during: Option<Box<dyn FnOnce() + Send>>,
    }

    impl Classifier for Fake {
        fn classify(
            &mut self,
            input: &[f32],
            samples: usize,
            sample_shape: [usize; 3],
            scores: &mut Vec<f32>,
        ) -> Result<usize, crate::runtime::RuntimeError> {
            self.calls += 1;
            if let Some(during) = self.during.take() {
                during();
            }
            if self.fail_at == Some(self.calls) {
                return Err(crate::runtime::RuntimeError::Inference(
                    "out of memory".into(),
                ));
            }
            let sample_len: usize = sample_shape.iter().product();
            for row in input.chunks_exact(sample_len).take(samples) {
                let sum: f32 = row.iter().step_by(97).sum();
                let class = 1 + ((sum.abs() * 1000.0) as usize + self.shift) % 1000;
                let mut out = vec![0.0f32; 1001];
                out[class] = 1.0;
                scores.extend(out);
            }
            Ok(1001)
        }
    }

    fn fake(shift: usize, fail_at: Option<usize>) -> Box<dyn Classifier + Send> {
        Box::new(Fake {
            shift,
            fail_at,
            calls: 0,
            during: None,
        })
    }

    /// `run_native` of the bundled demo (30 images) with the coral model's manifest, batch 8, in
    /// a home and store of `dir`.
    fn run(
        dir: &std::path::Path,
        name: &str,
        checkpoint: Option<&str>,
        model: Box<dyn Classifier + Send>,
    ) -> anyhow::Result<Result<NativeRun, String>> {
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        run_on(dir, &demo, &["--batch", "8"], name, checkpoint, model)
    }

    /// `zoorepro --home DIR/home --cache-dir DIR/cache COMMAND`: a test's own home and store.
    fn command_line(dir: &std::path::Path, command: &str) -> Vec<std::ffi::OsString> {
        vec![
            "zoorepro".into(),
            "--home".into(),
            dir.join("home").into(),
            "--cache-dir".into(),
            dir.join("cache").into(),
            command.into(),
        ]
    }

    /// `run_native` of the images of `val`, with verify's `flags` (`--batch` among them).
    fn run_on(
        dir: &std::path::Path,
        val: &std::path::Path,
        flags: &[&str],
        name: &str,
        checkpoint: Option<&str>,
        model: Box<dyn Classifier + Send>,
    ) -> anyhow::Result<Result<NativeRun, String>> {
        use clap::Parser;
        let mut argv = command_line(dir, "verify");
        argv.extend([
            "--model".into(),
            "coral/mobilenet_v2_1.0_224_quant".into(),
            "--val".into(),
            val.into(),
            "--threads".into(),
            "1".into(),
            "--report-dir".into(),
            dir.join("reports").into(),
        ]);
        argv.extend(flags.iter().map(Into::into));
        let cli = crate::cli::Cli::try_parse_from(argv)?;
        let crate::cli::Command::Verify(args) = &cli.command else {
            unreachable!("parsed as verify");
        };
        let ctx = Context::new(cli.home.clone(), cli.cache_dir.clone());
        let native = NativeModel {
            framework: Some("test".into()),
            name: name.into(),
            checkpoint_sha256: checkpoint.map(str::to_string),
            like: false,
        };
        run_native(&ctx, args, native, model)
    }

    fn counts(run: &NativeRun) -> (usize, usize, usize) {
        let store = run.record.store.as_ref().unwrap();
        (run.record.images, run.record.top1_correct, store.reused)
    }

    fn runs(dir: &std::path::Path) -> Vec<crate::store::RunInfo> {
        crate::store::Store::open(&dir.join("cache"))
            .unwrap()
            .runs()
            .unwrap()
    }

    #[test]
    fn a_changed_model_under_the_same_digest_and_name_is_refused_and_the_run_kept() {
        let dir = tempfile::tempdir().unwrap();
        let digest = "ab".repeat(32);
        let first = run(dir.path(), "mine", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap();
        let (images, top1, reused) = counts(&first);
        assert_eq!((images, reused), (30, 0));
        // The same model again: the 30 stored images, fewer than the spot check's sample, are
        // all inferred again and agree.
        let again = run(dir.path(), "mine", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap();
        assert_eq!(counts(&again), (30, top1, 0));
        // Another model under the same digest and name: refused, naming the run and the fix.
        let ids = [&first, &again].map(|run| run.record.store.as_ref().unwrap().run_id);
        let error = run(dir.path(), "mine", Some(&digest), fake(1, None))
            .err()
            .unwrap()
            .to_string();
        for needle in [
            &format!(
                "the stored rows of runs {}, {} were made by another model",
                ids[0], ids[1]
            ),
            "30 of the 30",
            "own checkpoint_sha256",
            &format!(
                "`zoorepro runs --delete ID` for each of {}, {}",
                ids[0], ids[1]
            ),
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
        // It left no run of its own and wrote nothing into theirs: the first model still
        // resumes them whole.
        assert_eq!(runs(dir.path()).len(), 2);
        let kept = run(dir.path(), "mine", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap();
        assert_eq!(counts(&kept), (30, top1, 0));
        // Under another name, the same digest is another run.
        let renamed = run(dir.path(), "other", Some(&digest), fake(1, None))
            .unwrap()
            .unwrap();
        assert_eq!(counts(&renamed).2, 0);
        assert!(!ids.contains(&renamed.record.store.as_ref().unwrap().run_id));
    }

    #[test]
    fn a_stopped_run_resumes_with_its_digest_and_is_deleted_without_one() {
        let dir = tempfile::tempdir().unwrap();
        let digest = "cd".repeat(32);
        // The third call fails: two batches (16 images) are stored.
        let stopped = run(dir.path(), "mine", Some(&digest), fake(0, Some(3))).unwrap();
        assert!(stopped.err().unwrap().contains("out of memory"));
        assert_eq!(runs(dir.path())[0].images, 16);
        // Another model cannot resume it; the same one does (the 16 inferred again).
        let error = run(dir.path(), "mine", Some(&digest), fake(7, None)).err();
        assert!(error.unwrap().to_string().contains("made by another model"));
        let resumed = run(dir.path(), "mine", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap();
        assert_eq!((counts(&resumed).0, counts(&resumed).2), (30, 0));
        // Without a digest nothing can resume a stopped run: it is not kept.
        let before = runs(dir.path()).len();
        let stopped = run(dir.path(), "anonymous", None, fake(0, Some(2))).unwrap();
        assert!(stopped.is_err());
        assert_eq!(runs(dir.path()).len(), before);
    }

    #[test]
    fn a_second_pass_under_a_digest_and_name_being_run_is_refused_and_the_first_is_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let digest = "ef".repeat(32);
        let second = std::sync::Arc::new(std::sync::Mutex::new(None));
        let (path2, digest2, second2) = (path.clone(), digest.clone(), second.clone());
        // While the first pass runs (its first batch), another model starts under its digest
        // and name into the same store: with nothing stored yet, no spot check could tell them
        // apart, so the store's claim on the key refuses it.
        let first = Fake {
            shift: 0,
            fail_at: None,
            calls: 0,
            during: Some(Box::new(move || {
                let error = run(&path2, "mine", Some(&digest2), fake(3, None)).err();
                *second2.lock().unwrap() = error.map(|e| e.to_string());
            })),
        };
        let first = run(&path, "mine", Some(&digest), Box::new(first))
            .unwrap()
            .unwrap();
        let error = second
            .lock()
            .unwrap()
            .take()
            .expect("the second pass refused");
        let id = first.record.store.as_ref().unwrap().run_id;
        for needle in [
            "is running a model under the name \"mine\"",
            &format!("(run {id})"),
            "wait for that process to finish",
            "its own name=",
        ] {
            assert!(error.contains(needle), "{needle}: {error}");
        }
        // The first record is its model's alone, every image inferred by it.
        let alone = run(&path, "alone", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap();
        assert_eq!(counts(&first), (30, alone.record.top1_correct, 0));
        assert_eq!(runs(&path).len(), 2);
        // Once the first process's pass has ended, the key is free again.
        assert!(
            run(&path, "mine", Some(&digest), fake(0, None))
                .unwrap()
                .is_ok()
        );
    }

    /// The demo's images three times over, under new names: 90 images.
    fn three_demos(dir: &std::path::Path) -> std::path::PathBuf {
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        let val = dir.join("val");
        for class in std::fs::read_dir(&demo).unwrap().map(|e| e.unwrap().path()) {
            if !class.is_dir() {
                continue;
            }
            let copy = val.join(class.file_name().unwrap());
            std::fs::create_dir_all(&copy).unwrap();
            for image in std::fs::read_dir(&class)
                .unwrap()
                .map(|e| e.unwrap().path())
            {
                for i in 0..3 {
                    let name = format!("copy{i}_{}", image.file_name().unwrap().to_string_lossy());
                    std::fs::copy(&image, copy.join(name)).unwrap();
                }
            }
        }
        val
    }

    #[test]
    fn a_resumed_run_infers_64_stored_images_again_at_any_batch_and_reuses_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let val = three_demos(dir.path());
        let digest = "01".repeat(32);
        let at_batch_1 = |model| {
            run_on(
                dir.path(),
                &val,
                &["--batch", "1"],
                "mine",
                Some(&digest),
                model,
            )
        };
        let first = at_batch_1(fake(0, None)).unwrap().unwrap();
        let (images, top1, _) = counts(&first);
        assert_eq!(images, 90);
        let again = at_batch_1(fake(0, None)).unwrap().unwrap();
        assert_eq!(counts(&again), (90, top1, 90 - 64));
        // At batch 1 a changed model is compared on 64 images as well, not on 1.
        let error = at_batch_1(fake(5, None)).err().unwrap().to_string();
        assert!(error.contains("64 of the 64"), "{error}");
    }

    /// The record `zoorepro merge` wrote of the shard stores `shards` into `dir`.
    fn merge(dir: &std::path::Path, shards: &[&std::path::Path]) -> crate::report::RunRecord {
        use clap::Parser;
        let mut argv = command_line(dir, "merge");
        argv.extend(["--report-dir".into(), dir.join("reports").into()]);
        argv.extend(shards.iter().map(|shard| shard.join("cache").into()));
        let cli = crate::cli::Cli::try_parse_from(argv).unwrap();
        let crate::cli::Command::Merge(args) = &cli.command else {
            unreachable!("parsed as merge");
        };
        let ctx = Context::new(cli.home.clone(), cli.cache_dir.clone());
        crate::commands::merge::run(&ctx, args).unwrap();
        let folder = dir.join("reports/coral/mobilenet_v2_1.0_224_quant");
        let json = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .find(|path| path.extension().is_some_and(|e| e == "json"))
            .unwrap();
        serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap()
    }

    #[test]
    fn merged_native_shards_say_what_joined_them_and_describe_the_run_as_verify_does() {
        let dirs: Vec<tempfile::TempDir> = (0..4).map(|_| tempfile::tempdir().unwrap()).collect();
        let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo");
        let digest = "23".repeat(32);
        for (k, dir) in dirs[..2].iter().enumerate() {
            let shard = format!("{k}/2");
            let flags = ["--batch", "8", "--shard", shard.as_str()];
            run_on(
                dir.path(),
                &demo,
                &flags,
                "mine",
                Some(&digest),
                fake(0, None),
            )
            .unwrap()
            .unwrap();
        }
        let merged = merge(dirs[2].path(), &[dirs[0].path(), dirs[1].path()]);
        let whole = run(dirs[3].path(), "mine", Some(&digest), fake(0, None))
            .unwrap()
            .unwrap()
            .record;
        let runtime = |r: &crate::report::RunRecord| {
            let p = &r.provenance;
            let text = [&p.provider, &p.ort_version, &p.ort_library];
            (
                text.map(String::clone),
                p.graph_optimization_level.clone(),
                p.deterministic_compute,
            )
        };
        assert_eq!(runtime(&merged), runtime(&whole));
        assert_eq!(runtime(&whole).0[0], "native (test)");
        assert_eq!(merged.top1_correct, whole.top1_correct);
        let summary = &merged.verdict.summary;
        for needle in [
            "Its 2 shards ran natively (zoorepro.evaluate) and were joined on the caller's name \
             and checkpoint_sha256 only",
            "the spot check infers 64 of its stored images again",
        ] {
            assert!(summary.contains(needle), "{needle}: {summary}");
        }
        let native = &merged.onnx.sidecar.as_ref().unwrap()["native"];
        assert_eq!(
            (native["merged_shards"].as_u64(), native["name"].as_str()),
            (Some(2), Some("mine"))
        );
    }
}
