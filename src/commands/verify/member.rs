//! One model of a `verify` pass: its manifest and file, its ONNX Runtime session, its run key
//! and its stored run.

use std::path::{Path, PathBuf};

use anyhow::bail;

use super::InFlight;
use crate::cli::VerifyArgs;
use crate::commands::Context;
use crate::commands::shared::batch::check_batch_memory;
use crate::commands::shared::model_under_test::{
    Chosen, ModelUnderTest, check_model_against_manifest,
};
use crate::dataset::{ClassSubset, Dataset, Shard};
use crate::eval::prediction::{Content, Prediction};
use crate::model::bytes::ModelBytes;
use crate::runtime::{Classifier, OptLevel, Provider, Runtime, SessionOptions};
use crate::store::{
    DatasetMeta, IoNames, OnnxMeta, RUN_META_SCHEMA, RecipeMeta, RunInfo, RunKey, RunMeta,
    RunOrigin, Store, VerifyMeta,
};

/// Batch size when neither the user nor the graph fixes one.
pub(super) const DEFAULT_BATCH: usize = 32;

/// A model of the pass with everything its run needs.
pub(super) struct Member {
    pub under_test: ModelUnderTest,
    pub session: Session,
    pub key: RunKey,
    /// The only classes that compete on this set (ImageNet-A, -R), else every class.
    pub class_subset: Option<&'static ClassSubset>,
    pub stored: Option<StoredRun>,
    pub report_dir: PathBuf,
    /// The parameter count timm reports, from the graph's initializers, for `--results-file`.
    pub trainable_parameters: Option<u64>,
    /// A model run natively by the caller (the Python `zoorepro.evaluate`), not an ONNX file.
    pub native: Option<super::native::NativeModel>,
    /// Whether the stored rows this pass would reuse are spot-checked first
    /// (src/commands/verify/spot_check.rs): a native run keyed by a checkpoint digest, which
    /// nothing ties to the function that runs. An ONNX run's key holds its file's sha256.
    pub spot_check: bool,
}

impl Member {
    /// Reads the model's file (once: the bytes hashed and checked against the pin are the bytes
    /// the session is built from), opens its session and works out its run key; the bytes are
    /// dropped on return, the session holding its own copy. Its stored run is opened by
    /// [`Member::open_store`], once every check of the pass has passed, so that a refused pass
    /// leaves no run behind.
    pub fn open(
        runtime: &Runtime,
        chosen: Chosen,
        args: &VerifyArgs,
        shard: Option<Shard>,
        dataset: &Dataset,
    ) -> anyhow::Result<Member> {
        let class_subset = dataset.class_subset();
        let (mut under_test, bytes) = chosen.read()?;
        let session = Session::open(runtime, &under_test, &bytes, args)?;
        under_test.onnx.io_names = session.io_names.clone();
        let trainable_parameters = args
            .results_file
            .is_some()
            .then(|| trainable_parameters(&bytes))
            .flatten();
        let key = run_key(&under_test, runtime, &session)
            .with_shard(shard)
            .with_class_subset(class_subset.map(|s| s.name))
            .with_ground_truth(dataset.ground_truth().as_ref().map(|g| g.sha256.as_str()));
        let report_dir = args
            .report_dir
            .clone()
            .unwrap_or_else(|| under_test.home.join("reports"));
        Ok(Member {
            under_test,
            session,
            key,
            class_subset,
            stored: None,
            report_dir,
            trainable_parameters,
            native: None,
            spot_check: false,
        })
    }

    /// Finds or creates the model's run in the store (none with `--no-cache`).
    pub fn open_store(
        &mut self,
        ctx: &Context,
        runtime: Option<&Runtime>,
        dataset: &Dataset,
        args: &VerifyArgs,
    ) -> anyhow::Result<()> {
        if !args.no_cache {
            let meta = run_meta(&self.under_test, dataset, runtime, &self.session, args);
            // A native model's key is its caller's word: its run claims the key (see
            // `Store::create_claimed_run`); an ONNX file's key is its bytes' digest.
            let claimed = self.native.is_some();
            self.stored = Some(StoredRun::open(ctx, &self.key, &meta, claimed)?);
        }
        Ok(())
    }
}

/// The parameter count timm reports, from the initializers of the bytes evaluated.
fn trainable_parameters(model: &ModelBytes) -> Option<u64> {
    model
        .summary()
        .ok()
        .map(|summary| summary.parameters.excluding_running_stats)
}

/// Everything that can change this run's predictions.
pub(super) fn run_key(under_test: &ModelUnderTest, runtime: &Runtime, session: &Session) -> RunKey {
    RunKey::verify(
        &under_test.manifest.id,
        &under_test.onnx.sha256,
        &under_test.recipe,
        under_test.compat,
        runtime.version(),
        session.provider.name(),
        session.options.opt_level.name(),
        session.batch,
    )
}

/// The model opened for this run, with the settings that enter its key.
pub(super) struct Session {
    /// The ONNX Runtime session, or the caller's model for a native run.
    pub model: Box<dyn Classifier + Send>,
    /// A batch dimension the graph fixes.
    pub fixed_batch: Option<usize>,
    /// The graph's input and output names (none for a native model).
    pub io_names: Option<IoNames>,
    pub provider: Provider,
    pub threads: usize,
    pub options: SessionOptions,
    pub batch: usize,
}

impl Session {
    fn open(
        runtime: &Runtime,
        under_test: &ModelUnderTest,
        bytes: &ModelBytes,
        args: &VerifyArgs,
    ) -> anyhow::Result<Session> {
        let provider: Provider = args.provider.into();
        let threads = args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if threads == 0 {
            bail!("--threads must be at least 1");
        }
        let options = SessionOptions {
            provider,
            threads,
            opt_level: OptLevel::All,
        };
        let path = &under_test.onnx_path;
        let model = runtime.open_bytes(bytes, &options)?;
        check_model_against_manifest(&under_test.manifest, &under_test.recipe, &model, path)?;
        let batch = resolve_batch(args.batch, model.fixed_batch(), path)?;
        check_batch_memory(
            "--batch",
            batch,
            under_test.recipe.sample_len(),
            crate::eval::pipeline::BUFFERS,
        )?;
        Ok(Session {
            fixed_batch: model.fixed_batch(),
            io_names: Some(IoNames {
                input: model.input().name.clone(),
                output: model.output().name.clone(),
            }),
            model: Box::new(model),
            provider,
            threads,
            options,
            batch,
        })
    }
}

/// What `merge` needs to report a run assembled from shards, as this command reports it.
fn run_meta(
    under_test: &ModelUnderTest,
    dataset: &Dataset,
    runtime: Option<&Runtime>,
    session: &Session,
    args: &VerifyArgs,
) -> RunMeta {
    RunMeta {
        schema: RUN_META_SCHEMA,
        framework: Some(under_test.manifest.framework.clone()),
        tool_version: Some(env!("CARGO_PKG_VERSION").into()),
        origin: RunOrigin::Verify(VerifyMeta {
            onnx: Some(OnnxMeta::from(&under_test.onnx)),
            recipe: Some(RecipeMeta {
                name: under_test.recipe.name.clone(),
                pillow_compat: under_test.compat.name().into(),
                definition: under_test.recipe.clone(),
            }),
            dataset: Some(DatasetMeta {
                path: Some(args.val.display().to_string()),
                layout: Some(dataset.kind().name().into()),
                ground_truth: dataset.ground_truth().map(Box::new),
            }),
            ort_library: runtime.map(|r| r.library().display().to_string()),
            ort_library_sha256: runtime.map(|r| r.library_sha256().into()),
            threads: Some(session.threads),
        }),
    }
}

/// This invocation's store run, and this process's lease on it.
pub(super) struct StoredRun {
    pub store: Store,
    pub info: RunInfo,
}

impl StoredRun {
    fn open(
        ctx: &Context,
        key: &RunKey,
        meta: &RunMeta,
        claimed: bool,
    ) -> anyhow::Result<StoredRun> {
        let mut store = Store::open(&ctx.cache_dir()?)?;
        let info = if claimed {
            store.create_claimed_run(key, meta)?
        } else {
            store.create_run(key, meta)?
        };
        Ok(StoredRun { store, info })
    }

    /// Stores a finished batch with the content each image was read with.
    pub fn insert(
        &mut self,
        predictions: &[Prediction],
        in_flight: &InFlight,
    ) -> Result<(), String> {
        let contents: Vec<Option<Content>> = match in_flight.lock() {
            Ok(in_flight) => predictions
                .iter()
                .map(|p| in_flight.get(&p.name).copied().flatten())
                .collect(),
            Err(_) => vec![None; predictions.len()],
        };
        self.store
            .insert(&self.info, predictions, &contents)
            .map_err(|e| e.to_string())
    }
}

fn resolve_batch(
    requested: Option<usize>,
    fixed: Option<usize>,
    path: &Path,
) -> anyhow::Result<usize> {
    match (requested, fixed) {
        (Some(0), _) => bail!("--batch must be at least 1"),
        (Some(requested), Some(fixed)) if requested != fixed => bail!(
            "{} fixes its batch dimension to {fixed}; --batch {requested} conflicts with it (drop --batch or pass --batch {fixed})",
            path.display()
        ),
        (Some(requested), _) => Ok(requested),
        (None, Some(fixed)) => Ok(fixed),
        (None, None) => Ok(DEFAULT_BATCH),
    }
}
