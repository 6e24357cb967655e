//! `zoorepro import-seed DIR`: benchmarking-keras-pytorch's prediction caches into the store, one
//! run per model, all in one transaction (a bad file imports nothing).

use crate::eval::prediction::Settle;
use crate::eval::trust::Coverage;
use crate::eval::verdict::applicable;
use std::time::Instant;

use anyhow::Context as _;
use sha2::Digest as _;

use super::Context;
use crate::cli::ImportSeedArgs;
use crate::exit;
use crate::model::manifest;
use crate::seed;
use crate::store::{
    ImportMeta, ImportOutcome, Importer, RUN_META_SCHEMA, RunKey, RunKind, RunMeta, RunOrigin,
    SourceFile, Store,
};

pub fn run(ctx: &Context, args: &ImportSeedArgs) -> anyhow::Result<i32> {
    let started = Instant::now();
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let caches = seed::discover(&args.dir)?;
    // Check every file name before importing any, so a bad folder imports nothing.
    let mut plan = Vec::with_capacity(caches.len());
    for cache in &caches {
        let id = format!("{}/{}", cache.framework, cache.model);
        let manifest = manifest::resolve(&manifests, &id).map_err(|_| {
            anyhow::anyhow!(
                "{}: {:?} is not one of the 34 benchmarking-keras-pytorch models (no manifest {id})",
                cache.preds.display(),
                cache.model
            )
        })?;
        plan.push((cache, manifest));
    }
    let mut store = Store::open(&ctx.cache_dir()?)?;
    // One transaction for every model: a bad file anywhere leaves the store as it was.
    let (messages, new, present) = store.import_all(|importer| import_caches(importer, plan))?;
    for message in &messages {
        eprintln!("{message}");
    }
    eprintln!(
        "{new} imported, {present} already present, in {:.2} s ({})",
        started.elapsed().as_secs_f64(),
        store.path().display()
    );
    Ok(exit::SUCCESS)
}

/// Reads and imports every planned cache; the messages wait for the commit.
fn import_caches(
    importer: &mut Importer<'_>,
    plan: Vec<(&seed::SeedCache, &manifest::Manifest)>,
) -> anyhow::Result<(Vec<String>, usize, usize)> {
    let mut messages = Vec::new();
    let (mut new, mut present) = (0, 0);
    for (cache, manifest) in plan {
        let rows = seed::read(cache)?;
        // The seed's protocol for this model: the recipe its benchmarking-keras-pytorch reference names.
        let recipe_name = manifest
            .references
            .iter()
            .find(|r| r.source == "benchmarking-keras-pytorch")
            .and_then(|r| r.recipe.clone())
            .unwrap_or_else(|| manifest.default_recipe.clone());
        let recipe = manifest.recipe(Some(&recipe_name))?;
        let (key, meta) = run_identity(cache, manifest, &recipe.name, &rows)?;
        match importer
            .import_run(
                &key,
                &meta,
                &rows.predictions,
                &Settle {
                    // A seed cache is imported whole: the run is all of it.
                    coverage: Coverage::Complete,
                    references: &|id| applicable(manifest, &recipe.name, id),
                },
            )
            .with_context(|| format!("importing {}", cache.preds.display()))?
        {
            ImportOutcome::New(id) => {
                new += 1;
                messages.push(format!(
                    "imported {} as run {id} ({} images)",
                    manifest.id,
                    rows.predictions.len()
                ));
            }
            ImportOutcome::AlreadyPresent(id) => {
                present += 1;
                messages.push(format!(
                    "{} is already run {id}: nothing to do",
                    manifest.id
                ));
            }
        }
    }
    Ok((messages, new, present))
}

/// An imported cache's run key, which its source files' digests identify (there is no ONNX file
/// or recipe digest to key it by), and its run metadata.
fn run_identity(
    cache: &seed::SeedCache,
    manifest: &manifest::Manifest,
    recipe_name: &str,
    rows: &seed::SeedRows,
) -> anyhow::Result<(RunKey, RunMeta)> {
    let preds_sha = sha256_file(&cache.preds)?;
    let probs_sha = sha256_file(&cache.probs)?;
    let key = RunKey {
        kind: RunKind::Import,
        model_id: manifest.id.clone(),
        onnx_sha256: String::new(),
        recipe: recipe_name.to_string(),
        recipe_sha256: String::new(),
        pillow_compat: String::new(),
        ort_version: String::new(),
        provider: format!("{} (benchmarking-keras-pytorch)", cache.framework),
        opt_level: String::new(),
        batch: 0,
        shard: None,
        source_sha256: Some(crate::util::hex::hex(&sha2::Sha256::digest(format!(
            "{preds_sha}{probs_sha}"
        )))),
        class_subset: None,
        ground_truth_sha256: None,
    };
    let meta = RunMeta {
        schema: RUN_META_SCHEMA,
        framework: Some(manifest.framework.clone()),
        tool_version: Some(env!("CARGO_PKG_VERSION").into()),
        origin: RunOrigin::Import(ImportMeta {
            source: Some("benchmarking-keras-pytorch".into()),
            preds: Some(SourceFile {
                path: Some(cache.preds.display().to_string()),
                sha256: Some(preds_sha),
                dtype: None,
            }),
            probs: Some(SourceFile {
                path: Some(cache.probs.display().to_string()),
                sha256: Some(probs_sha),
                dtype: Some(rows.probs_descr.to_string()),
            }),
        }),
    };
    Ok((key, meta))
}

/// A cache file's sha256, read in 1 MiB pieces rather than held whole in memory.
fn sha256_file(path: &std::path::Path) -> anyhow::Result<String> {
    let (mut file, _) = crate::util::safe_file::open_regular(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let read = std::io::Read::read(&mut file, &mut buffer)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
    }
    Ok(crate::util::hex::hex(&hasher.finalize()))
}
