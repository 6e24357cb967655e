//! A native run: `verify`'s pass with the caller's model (any [`Classifier`]) in place of an ONNX
//! Runtime session: the Python `zoorepro.evaluate`, whose model is a Python function, or a Rust
//! caller's own. The dataset, stages, store
//! rows, record, verdict and reports are `verify`'s; what differs is said in the record: the
//! model is `native:NAME` with verification `native` (so the verdict carries the
//! `unverified-model` mark: nothing ties the function to a pinned file), the provider is
//! `native (FRAMEWORK)`, and the sidecar names the framework, the name and the checkpoint digest.
//!
//! The run's key holds the checkpoint's digest where the caller gives one, so a rerun of the same
//! checkpoint resumes its stored run; without one the key holds a fresh nonce, so a changed model
//! never reuses another's rows.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use anyhow::bail;

use super::member::{DEFAULT_BATCH, Member, Session};
use super::pass::{self, Evaluation};
use super::{Shared, Started, check_arguments, evaluate_and_check, finish};
use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::commands::shared::batch::check_batch_memory;
use crate::commands::shared::model_under_test::ModelUnderTest;
use crate::commands::shared::record::{check_outputs_writable, emit_reports, report_stem};
use crate::dataset::Shard;
use crate::report::{OnnxInfo, RunRecord};
use crate::runtime::{Classifier, OptLevel, Provider, SessionOptions};
use crate::store::{LikeInfo, RunKey};
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
    /// `like=ID`: a model of its own, preprocessed and scored as ID is, but not ID: its run is
    /// named `name`, and ID's published references do not judge it.
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

    /// The model's digest in the run key: the checkpoint's, else one no other run has.
    fn key_digest(&self) -> String {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        match &self.checkpoint_sha256 {
            Some(sha256) => sha256.clone(),
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
    let under_test = under_test(ctx, args, &native)?;
    let dataset = crate::commands::shared::options::open_dataset(&args.val, &args.labels)?;
    let shard = args
        .shard
        .as_deref()
        .map(Shard::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let mut members = vec![member(
        under_test, native, classifier, args, shard, &dataset,
    )?];
    pass::check_memory(&members)?;
    members[0].open_store(ctx, None, &dataset, args)?;
    let evaluation = evaluate_and_check(&dataset, &mut members, args, shard)?;
    let Evaluation {
        order,
        fresh,
        stats,
        stopped,
        coverage,
    } = evaluation;
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
    check_outputs_writable(
        store_dir.as_deref(),
        &report_dir(args, &under_test),
        &under_test.manifest.id,
        args.predictions.as_deref(),
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
    fn a_checkpoint_digest_keys_the_run_and_none_gives_a_new_run_each_time() {
        let digest = "ab".repeat(32);
        let model = native(Some(&digest));
        assert_eq!(model.key_digest(), digest);
        assert_eq!(model.key_digest(), model.key_digest());
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
}
