//! `zoorepro merge STORE_OR_DIR...`: assemble the shard runs of one key (`verify --shard K/N`,
//! possibly run on many machines, each with its own store) into one complete run in the
//! `--cache-dir` store, then report it like any verify run.
//!
//! Refused, with nothing written for that run: a shard missing or incomplete, a shard cut short by
//! `--limit` (unless `--allow-partial`, which marks the merged run partial), a shard present
//! twice, an image in two shards or in the wrong one, or shards whose keys differ in anything but
//! the shard (another ONNX file, recipe, ONNX Runtime version, provider, batch...). Each refusal
//! is one error line naming its run; the other runs are merged all the same, and the exit status
//! is 2. Merging twice is a no-op. A `verify --like ID` export (`like/ID`) is merged as verify
//! judged its shards: ID's recipes and references applied to the user's file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context as _, bail};

use super::Context;
use super::shared::record::{self, RecordParts};
use crate::cli::MergeArgs;
use crate::dataset::{Entry, Shard};
use crate::eval::prediction::{Content, Prediction, Settle, Summary, content_digest};
use crate::eval::trust::{Coverage, Duplicates};
use crate::eval::verdict::applicable;
use crate::model::derived::LIKE_PREFIX;
use crate::model::manifest::{self, ImageSetId};
use crate::report::results::{ResultRow, UNKNOWN_EXTENSION, results_format, write_results};
use crate::report::{Host, OnnxInfo, Provenance, RecipeInfo, StoreInfo, Throughput};
use crate::store::{DatasetMeta, PassImage, RunInfo, RunKey, Store};

struct ShardRun {
    store: PathBuf,
    info: RunInfo,
}

/// A store argument: a cache dir holding zoorepro.sqlite3, or the database file itself.
fn open_existing(path: &Path) -> anyhow::Result<Store> {
    let dir = if path.is_file() {
        path.parent().unwrap_or(Path::new(".")).to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.join("zoorepro.sqlite3").is_file() {
        bail!(
            "{} holds no prediction store (zoorepro.sqlite3): pass the --cache-dir of each shard",
            path.display()
        );
    }
    // Shard stores are only read: one on a read-only filesystem still merges.
    Ok(Store::open_for_reading(&dir)?)
}

fn unsharded(key: &RunKey) -> RunKey {
    RunKey {
        shard: None,
        ..key.clone()
    }
}

/// The fields in which two keys differ, for the refusal message.
fn key_differences(a: &RunKey, b: &RunKey) -> Vec<String> {
    let (a, b) = (
        serde_json::to_value(unsharded(a)).unwrap_or_default(),
        serde_json::to_value(unsharded(b)).unwrap_or_default(),
    );
    let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
        return Vec::new();
    };
    a.iter()
        .filter(|(field, value)| b.get(*field) != Some(value))
        .map(|(field, value)| format!("{field} {value} vs {}", b[field]))
        .collect()
}

pub fn run(ctx: &Context, args: &MergeArgs) -> anyhow::Result<i32> {
    let started_at = SystemTime::now();
    let target_dir = ctx.cache_dir()?;
    let mut target = Store::open(&target_dir)?;
    let mut sources: Vec<PathBuf> = args.stores.clone();
    if !sources.iter().any(|p| p == &target_dir) {
        sources.push(target_dir.clone());
    }
    let (groups, stores) = shard_runs(&sources, &target_dir)?;
    let mut refused = several_keys(&groups);
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| home.join("reports"));
    for group in groups.values() {
        let no_predictions = crate::util::clobber::Protected::new();
        record::check_outputs_writable(
            None,
            &report_dir,
            &group[0].info.model_id,
            None,
            &no_predictions,
        )?;
    }
    if let Some(path) = &args.results_file {
        if results_format(path).is_none() {
            bail!("{}: {UNKNOWN_EXTENSION}", path.display());
        }
        let mut stores = crate::util::clobber::Protected::new();
        for dir in &sources {
            record::protect_store(&mut stores, dir);
        }
        stores.check(path, "the results file")?;
        record::check_file_writable(path, "the results file")?;
    }
    let mut status = crate::exit::SUCCESS;
    let mut rows = Vec::new();
    let merging = Merging {
        stores: &stores,
        manifests: &manifests,
        started_at,
        home: &home,
        tolerance: args.verdict.tolerance,
    };
    for group in groups.values() {
        let model_id = &group[0].info.model_id;
        let merged = match refused.get_mut(model_id) {
            // Said once for all of the model's keys.
            Some(None) => continue,
            Some(why) => Err(anyhow::anyhow!(why.take().unwrap_or_default())),
            None => merge_group(group, args.allow_partial, &mut target, &merging),
        };
        let (record, key) = match merged {
            Ok(merged) => merged,
            Err(error) => {
                status = crate::exit::worst(status, crate::exit::ERROR);
                not_merged(group, &error, groups.len() > 1, &mut rows);
                continue;
            }
        };
        let code = record::emit(
            &record,
            &report_dir,
            &record::report_stem(started_at, &key),
            args.output.json,
            &args.verdict,
        )?;
        status = crate::exit::worst(status, code);
        rows.push(ResultRow::new(&record, None));
    }
    if let Some(path) = &args.results_file {
        write_results(path, &rows)
            .with_context(|| format!("cannot write the results file {}", path.display()))?;
        eprintln!("  results: {} ({} runs)", path.display(), rows.len());
    }
    Ok(status)
}

/// A run that could not be merged: its one error line (the others go on), and its results-file
/// row where its shards recorded a recipe.
fn not_merged(group: &[ShardRun], error: &anyhow::Error, others: bool, rows: &mut Vec<ResultRow>) {
    let first = &group[0].info;
    let mut message = super::error_message(error);
    if !message.contains(&first.model_id) {
        message = format!("{}: {message}", first.model_id);
    }
    eprintln!(
        "zoorepro: error: {}{}",
        crate::util::escape::terminal(&message),
        if others {
            "; its shards were not merged, the other runs were"
        } else {
            ""
        }
    );
    if let Some(recipe) = first.meta.verify().and_then(|v| v.recipe.as_ref()) {
        let images = group.iter().map(|shard| shard.info.images).sum();
        rows.push(ResultRow::failed(
            &first.model_id,
            &recipe.definition,
            None,
            images,
            &message,
        ));
    }
}

/// What every merged group's record needs besides its shards.
struct Merging<'a> {
    stores: &'a HashMap<PathBuf, Store>,
    manifests: &'a [manifest::Manifest],
    started_at: SystemTime,
    home: &'a Path,
    tolerance: f64,
}

/// One key's shards merged into one run of `target`, and its record.
fn merge_group(
    group: &[ShardRun],
    allow_partial: bool,
    target: &mut Store,
    merging: &Merging,
) -> anyhow::Result<(crate::report::RunRecord, RunKey)> {
    let (count, by_index) = complete_partition(group)?;
    let coverage = merged_coverage(&by_index, allow_partial)?;
    let (rows, contents) = gather_rows(&by_index, merging.stores, count)?;
    let first = &group[0].info;
    let key = unsharded(&first.key);
    let manifest = &judged_by(merging.manifests, group)?;
    let layout_name = first
        .meta
        .verify()
        .and_then(|v| v.dataset.as_ref())
        .and_then(|d| {
            crate::dataset::layout_set_name(d.layout.as_deref()?, Path::new(d.path.as_deref()?))
        });
    let references = |id: &ImageSetId<'_>| {
        let mut id = *id;
        id.layout_name = layout_name;
        applicable(manifest, &key.recipe, &id)
    };
    let settle = Settle {
        coverage,
        references: &references,
    };
    if first.meta.native().is_some() {
        // Its key is the caller's word: never written over another model's rows of it.
        target.check_same_model(&key.digest(), &rows, &contents)?;
    }
    let merged = store_merged(target, first, &key, count, (&rows, &contents), &settle)?;
    let MergedImages {
        ordered,
        content_sha256,
        duplicates,
    } = merged_images(rows, &contents);
    let store = StoreInfo {
        database: target.path().display().to_string(),
        run_id: merged.id,
        key: key.digest(),
        reused: ordered.len(),
    };
    let mut parts = record_parts(first, count, store, merging.started_at, merging.home)?;
    parts.image_set_content_sha256 = content_sha256;
    parts.coverage = coverage;
    parts.duplicates = duplicates;
    let mut record = record::build_record(manifest, &ordered, merging.tolerance, parts);
    if record.onnx.native().is_some() {
        record::say_native_shards_joined(&mut record, count);
    }
    Ok((record, key))
}

/// The merged run's images for its record, and what their contents say of the set.
struct MergedImages {
    /// Each image with its prediction, in file order.
    ordered: Vec<(Entry, Prediction)>,
    /// The labelled images' content digest; `None` when some content is unknown.
    content_sha256: Option<String>,
    /// Labelled images whose content an earlier one has (unknown when some content is).
    duplicates: Duplicates,
}

fn merged_images(rows: Vec<Prediction>, contents: &[Option<Content>]) -> MergedImages {
    let contents_by_name: HashMap<String, Content> = rows
        .iter()
        .zip(contents)
        .filter_map(|(row, content)| Some((row.name.clone(), (*content)?)))
        .collect();
    let content_sha256 = content_digest(
        rows.iter()
            .zip(contents)
            .filter(|(row, _)| row.label.is_some())
            .map(|(row, content)| (row.name.as_str(), content.as_ref())),
    );
    let mut ordered: Vec<(Entry, Prediction)> = rows
        .into_iter()
        .map(|p| {
            let entry = Entry {
                file: p.file.clone(),
                name: p.name.clone(),
                label: p.label,
            };
            (entry, p)
        })
        .collect();
    ordered.sort_by(|a, b| a.0.file.cmp(&b.0.file));
    let duplicates = Duplicates::of(
        ordered
            .iter()
            .filter(|(entry, _)| entry.label.is_some())
            .map(|(entry, _)| contents_by_name.get(entry.name.as_str()).map(|c| &c.sha256)),
    );
    MergedImages {
        ordered,
        content_sha256,
        duplicates,
    }
}

/// Every complete or partial shard run, from every store, grouped by the key without its shard;
/// and the stores, by the path they were given as.
#[allow(clippy::type_complexity)]
fn shard_runs(
    sources: &[PathBuf],
    target_dir: &Path,
) -> anyhow::Result<(BTreeMap<String, Vec<ShardRun>>, HashMap<PathBuf, Store>)> {
    let mut groups: BTreeMap<String, Vec<ShardRun>> = BTreeMap::new();
    let mut stores: HashMap<PathBuf, Store> = HashMap::new();
    for path in sources {
        let store = if path == target_dir {
            Store::open(target_dir)?
        } else {
            open_existing(path)?
        };
        for info in store.runs()?.into_iter().filter(|r| r.key.shard.is_some()) {
            groups
                .entry(unsharded(&info.key).digest())
                .or_default()
                .push(ShardRun {
                    store: path.clone(),
                    info,
                });
        }
        stores.insert(path.clone(), store);
    }
    if groups.is_empty() {
        bail!(
            "no shard runs (`verify --shard K/N`) in {}",
            sources
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok((groups, stores))
}

/// Shards of one model under several keys cannot be merged into one answer: each such model,
/// with why (taken once it is said).
fn several_keys(groups: &BTreeMap<String, Vec<ShardRun>>) -> HashMap<String, Option<String>> {
    let mut by_model: BTreeMap<&str, Vec<&Vec<ShardRun>>> = BTreeMap::new();
    for group in groups.values() {
        by_model
            .entry(group[0].info.model_id.as_str())
            .or_default()
            .push(group);
    }
    by_model
        .into_iter()
        .filter(|(_, model_groups)| model_groups.len() > 1)
        .map(|(model, model_groups)| {
            let differences =
                key_differences(&model_groups[0][0].info.key, &model_groups[1][0].info.key);
            let why = format!(
                "shards of {model} were run with different keys ({}): they are not parts of one run; merge the shards of one key (delete the others with `zoorepro runs --delete ID`)",
                differences.join("; ")
            );
            (model.to_string(), Some(why))
        })
        .collect()
}

/// The manifest that judges the merged run, as `verify` judged its shards: the run's model's, or
/// for a `verify --like ID` export (`like/ID`) ID's recipes and references applied to the user's
/// file, whose identity is the key's sha256 and the record's `onnx.like`, the same in every
/// shard.
fn judged_by(
    manifests: &[manifest::Manifest],
    group: &[ShardRun],
) -> anyhow::Result<manifest::Manifest> {
    let first = &group[0].info;
    let Some(known) = first.model_id.strip_prefix(LIKE_PREFIX) else {
        return Ok(manifest::resolve(manifests, &first.model_id)?.clone());
    };
    let verified = |run: &RunInfo| run.meta.verify().cloned().unwrap_or_default();
    let made = verified(first);
    let Some(like) = made.onnx.as_ref().and_then(|onnx| onnx.like.as_ref()) else {
        bail!(
            "the shard runs of {} do not record whose recipes and references judged them (onnx.like): run the shards again with this release",
            first.model_id
        );
    };
    for shard in group {
        let other = verified(&shard.info).onnx.and_then(|onnx| onnx.like);
        if other.as_ref().map(|o| (&o.model, &o.known_sha256))
            != Some((&like.model, &like.known_sha256))
            || like.model != known
        {
            bail!(
                "the shards of {} were not all judged as exports like {known} (run {} says {}): they are not parts of one run",
                first.model_id,
                shard.info.id,
                other.map_or("nothing".to_string(), |o| o.model)
            );
        }
    }
    let path = made.onnx.map(|onnx| onnx.path).unwrap_or_default();
    let mut judged = manifest::resolve(manifests, known)?.like(Path::new(&path));
    // As verify's derive: the user's file takes the layout the recipe it was fed decided.
    if let Some(recipe) = made.recipe {
        judged.input.layout = recipe.definition.layout;
    }
    Ok(judged)
}

/// The shards of one key by index, each complete and present once, none missing.
fn complete_partition(group: &[ShardRun]) -> anyhow::Result<(u32, BTreeMap<u32, &ShardRun>)> {
    let first = &group[0].info;
    let (_, count) = first.key.shard.unwrap_or((0, 1));
    let mut by_index: BTreeMap<u32, &ShardRun> = BTreeMap::new();
    for shard in group {
        let (index, shard_count) = shard.info.key.shard.unwrap_or((0, 1));
        if shard_count != count {
            bail!(
                "shards of {} disagree on N: {count} and {shard_count}",
                first.model_id
            );
        }
        if let Some(other) = by_index.insert(index, shard) {
            bail!(
                "shard {index}/{count} of {} is in two stores ({} and {}): keep one",
                first.model_id,
                other.store.display(),
                shard.store.display()
            );
        }
        if !shard.info.complete {
            bail!(
                "shard {index}/{count} of {} in {} is incomplete ({} images so far): run `verify --shard {index}/{count}` again to finish it",
                first.model_id,
                shard.store.display(),
                shard.info.images
            );
        }
    }
    let missing: Vec<String> = (0..count)
        .filter(|k| !by_index.contains_key(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: missing shards {}: run them, then merge again",
            first.model_id,
            missing.join(", ")
        );
    }
    Ok((count, by_index))
}

/// Whether the merged run covers its whole image set: every shard must cover its whole shard,
/// unless `--allow-partial` takes one cut short (`--limit`) or of unknown coverage, and marks
/// the merged run partial.
fn merged_coverage(
    by_index: &BTreeMap<u32, &ShardRun>,
    allow_partial: bool,
) -> anyhow::Result<Coverage> {
    let count = by_index.len();
    let parts: Vec<String> = by_index
        .iter()
        .filter_map(|(index, shard)| {
            let coverage = shard.info.summary.as_ref().and_then(|s| s.coverage);
            let why = match coverage {
                Some(Coverage::Shard | Coverage::Complete) => return None,
                Some(Coverage::Partial) => "cut short by --limit",
                None | Some(Coverage::Unknown) => "of unknown coverage (an older release made it)",
            };
            Some(format!(
                "shard {index}/{count} (run {}, {} images) is {why}",
                shard.info.id, shard.info.images
            ))
        })
        .collect();
    if parts.is_empty() {
        return Ok(Coverage::Complete);
    }
    if !allow_partial {
        bail!(
            "{}: {}; run those shards again without --limit, or pass --allow-partial to merge them into a run marked partial",
            by_index
                .values()
                .next()
                .map_or("", |s| s.info.model_id.as_str()),
            parts.join("; ")
        );
    }
    eprintln!(
        "zoorepro: warning: {}; the merged run is marked partial",
        parts.join("; ")
    );
    Ok(Coverage::Partial)
}

/// Every shard's rows with the content each was computed from, checking that the shards
/// partition the images as `Shard::of` does.
fn gather_rows(
    by_index: &BTreeMap<u32, &ShardRun>,
    stores: &HashMap<PathBuf, Store>,
    count: u32,
) -> anyhow::Result<(Vec<Prediction>, Vec<Option<Content>>)> {
    let mut rows: Vec<Prediction> = Vec::new();
    let mut contents: Vec<Option<Content>> = Vec::new();
    let mut seen: HashMap<String, u32> = HashMap::new();
    for (&index, shard) in by_index {
        let model_id = &shard.info.model_id;
        let store = &stores[&shard.store];
        let shard_contents = store.contents(shard.info.id)?;
        for prediction in store.predictions(shard.info.id)? {
            if Shard::of(&prediction.name, count) != index {
                bail!(
                    "{} is in shard {index}/{count} of {model_id}, but belongs to another shard: the shard runs are not one partition",
                    prediction.name,
                );
            }
            if let Some(other) = seen.insert(prediction.name.clone(), index) {
                bail!(
                    "{} appears in shards {other} and {index} of {model_id}",
                    prediction.name,
                );
            }
            contents.push(shard_contents.get(&prediction.name).copied());
            rows.push(prediction);
        }
    }
    Ok((rows, contents))
}

/// Writes the merged run into the target store, unless it is there already.
fn store_merged(
    target: &mut Store,
    first: &RunInfo,
    key: &RunKey,
    count: u32,
    (rows, contents): (&[Prediction], &[Option<Content>]),
    settle: &Settle<'_>,
) -> anyhow::Result<RunInfo> {
    // Merging the same shards again is the run already made, not another: the same shards'
    // record (meta), the same images under the same files and labels, and the same summary,
    // references included. A plain verify of the key, or a merge judged under another manifest,
    // is another run.
    let mut summary = Summary::of(
        rows,
        Some(
            &rows
                .iter()
                .zip(contents)
                .filter_map(|(row, content)| Some((row.name.clone(), (*content)?)))
                .collect(),
        ),
    );
    summary.settle(settle);
    if let Some(merged) = target.latest_complete_run(key)?
        && merged.meta == first.meta
        && merged.summary.as_ref() == Some(&summary)
        && same_image_set(target, &merged, rows, contents)?
    {
        eprintln!(
            "{}: already merged as run {} ({} images)",
            crate::util::escape::terminal(&first.model_id),
            merged.id,
            rows.len()
        );
        return Ok(merged);
    }
    let merged = target.create_run(key, &first.meta)?;
    target
        .insert(&merged, rows, contents)
        .with_context(|| format!("writing the merged run into {}", target.path().display()))?;
    let pass: Vec<PassImage<'_>> = rows
        .iter()
        .zip(contents)
        .map(|(row, content)| PassImage {
            name: &row.name,
            content: *content,
            file: &row.file,
            label: row.label,
        })
        .collect();
    target.mark_complete(&merged, &pass, settle)?;
    eprintln!(
        "{}: merged {count} shards into run {} ({} images)",
        crate::util::escape::terminal(&first.model_id),
        merged.id,
        rows.len()
    );
    Ok(merged)
}

/// Whether a stored run holds exactly these images: the same names, contents, files and labels.
/// Labels count: shards of a folder whose files moved to other classes since the last merge hold
/// the same bytes under other labels, and their merge is another run with another verdict.
fn same_image_set(
    store: &Store,
    run: &RunInfo,
    rows: &[Prediction],
    contents: &[Option<Content>],
) -> anyhow::Result<bool> {
    let stored = store.stored_images(run.id)?;
    let same_contents = stored.len() == rows.len()
        && rows.iter().zip(contents).all(|(row, content)| {
            stored
                .get(&row.name)
                .is_some_and(|image| image.content == *content)
        });
    if !same_contents {
        return Ok(false);
    }
    let placed: HashMap<String, (String, Option<u16>)> = store
        .predictions(run.id)?
        .into_iter()
        .map(|p| (p.name, (p.file, p.label)))
        .collect();
    Ok(rows.iter().all(|row| {
        placed
            .get(&row.name)
            .is_some_and(|(file, label)| *file == row.file && *label == row.label)
    }))
}

/// The record of the merged run, from what the shards' `verify` recorded.
fn record_parts(
    first: &RunInfo,
    count: u32,
    store: StoreInfo,
    started_at: SystemTime,
    home: &Path,
) -> anyhow::Result<RecordParts> {
    let made = first.meta.verify().cloned().unwrap_or_default();
    let recipe: RecipeInfo = made.recipe.map(RecipeInfo::from).context(
        "the shard runs carry no recipe record: they were not made by `zoorepro verify`",
    )?;
    let onnx: OnnxInfo = made
        .onnx
        .map(OnnxInfo::from)
        .context("the shard runs carry no ONNX record: they were not made by `zoorepro verify`")?;
    let dataset = made.dataset.unwrap_or(DatasetMeta {
        path: None,
        layout: None,
        ground_truth: None,
    });
    let key = &first.key;
    // A native run names no ONNX Runtime and vouches for no deterministic compute (as verify's
    // record of it): its key's `native` fields are no runtime's.
    let native = onnx.native().is_some();
    let ort = |value: &str| if native { String::new() } else { value.into() };
    Ok(RecordParts {
        onnx,
        dataset_path: dataset.path.unwrap_or_default(),
        layout: format!(
            "{} ({count} shards merged)",
            dataset.layout.as_deref().unwrap_or("?")
        ),
        ignored_files: 0,
        skipped: Vec::new(),
        archive_end: None,
        image_set_content_sha256: None,
        layout_set_name: None,
        // Each shard counted the images its file did not list; the merged run has no count.
        ground_truth: dataset
            .ground_truth
            .map(|truth| crate::dataset::GroundTruthInfo {
                unlisted: None,
                ..*truth
            }),
        store: Some(store),
        coverage: Coverage::Complete,
        duplicates: Duplicates::default(),
        provenance: Provenance {
            tool_version: env!("CARGO_PKG_VERSION").into(),
            command_line: crate::util::invocation::command_line(),
            home: home.display().to_string(),
            ort_version: ort(&key.ort_version),
            ort_library: made.ort_library.unwrap_or_default(),
            ort_library_sha256: made.ort_library_sha256.unwrap_or_default(),
            provider: key.provider.clone(),
            threads: made.threads.unwrap_or(0),
            batch: key.batch,
            graph_optimization_level: ort(&key.opt_level),
            deterministic_compute: !native,
            pillow_compat: recipe.pillow_compat.clone(),
            started_at: crate::util::time::utc_timestamp(started_at),
            finished_at: crate::util::time::utc_timestamp(SystemTime::now()),
            seconds: 0.0,
            images_per_second: 0.0,
            inferred: 0,
            nan_outputs: 0,
            throughput: Throughput::from_stages(0, 0.0, 0.0, 0.0),
            decodes: 0,
            models_in_pass: 1,
            host: Host::current(),
        },
        recipe,
    })
}
