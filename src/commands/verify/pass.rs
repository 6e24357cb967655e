//! The one pass over the images that feeds every model of a `verify` invocation: each image is
//! read and hashed once, answered from each model's store where it can be, decoded once for the
//! models that still need it, and each model's predictions go to its own stored run.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::InFlight;
use super::member::{Member, StoredRun};
use super::spot_check::SpotCheck;
use crate::cli::VerifyArgs;
use crate::commands::shared::batch::check_batch_memory;
use crate::commands::shared::progress::Progress;
use crate::dataset::{Dataset, DatasetError, Entry, Shard};
use crate::eval::pipeline::{
    self, Admitted, Lane, PassConfig, PassOutcome, PipelineStats, Preparation,
};
use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::eval::trust::Coverage;
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::Recipe;

/// What streaming the dataset through the models gave.
pub(super) struct Evaluation {
    /// Dataset order, with the content each image was read with, including images answered from
    /// the store.
    pub order: Vec<(Entry, Option<Content>)>,
    /// Each model's predictions made without a store (`--no-cache`).
    pub fresh: Vec<Vec<Prediction>>,
    /// Each model's figures.
    pub stats: Vec<PipelineStats>,
    /// Each model's failure, if it failed (the pass went on without it), as one line naming it.
    pub stopped: Vec<Option<String>>,
    /// Whether the pass covered every image of `--val` (no `--limit` cut, no shard).
    pub coverage: Coverage,
}

/// A shard is a part by design; `--limit` is a part when it cut the listing short (a streamed
/// tar has no listing: a limit it reached is taken as a cut).
fn coverage(
    shard: Option<Shard>,
    limit: Option<usize>,
    listed_in_shard: Option<usize>,
    read: usize,
) -> Coverage {
    let cut = match (limit, listed_in_shard) {
        (None, _) => false,
        (Some(limit), Some(listed)) => listed > limit,
        (Some(limit), None) => read >= limit,
    };
    match (cut, shard) {
        (true, _) => Coverage::Partial,
        // `--shard 0/1` is every image.
        (false, Some(shard)) if shard.count > 1 => Coverage::Shard,
        (false, _) => Coverage::Complete,
    }
}

/// Whether a model's store answers an image of this name and content.
type Reusable = Box<dyn Fn(&str, Option<&Content>) -> bool + Send>;

pub(super) fn evaluate(
    dataset: &Dataset,
    members: &mut [Member],
    args: &VerifyArgs,
    shard: Option<Shard>,
) -> anyhow::Result<Evaluation> {
    let limit = args.limit.unwrap_or(usize::MAX);
    let from_store = FromStore::of(members, read_names(dataset, shard, limit).as_ref())?;
    let spot_checks = from_store.spot_checks.clone();
    let mut order = Vec::new();
    let mut fresh = vec![Vec::new(); members.len()];
    let in_flight = InFlight::default();
    let in_shard = move |name: &str| shard.is_none_or(|s| s.contains(name));
    let listed_in_shard = dataset
        .entries()
        .map(|entries| entries.iter().filter(|e| in_shard(&e.name)).count());
    let to_infer = listed_in_shard.map(|listed| listed.min(limit));
    let progress = Progress::new(to_infer, "verify");
    // Each model's running top-1, named, over its whole run: what it infers now and what its
    // store answers.
    let ids: Vec<&str> = members
        .iter()
        .map(|m| m.under_test.manifest.id.as_str())
        .collect();
    progress.running_top1_of(&ids);
    // Images of other shards are neither read nor counted; --limit counts this shard's images.
    // Every image of the shard is read, so that its content can be compared with the store's.
    let samples = dataset.stream_shard(shard)?.take(limit);
    let admitted = admit(
        samples,
        &mut order,
        from_store,
        Arc::clone(&in_flight),
        &progress,
    );
    let (distinct, lane_preparation) = distinct_recipes(members);
    let config = pass_config(&distinct, members, args);
    let (mut lanes, mut stored) = lanes(members, lane_preparation);
    let sink = |lane: usize, predictions: &[Prediction]| -> Result<(), String> {
        warn_about_failures(&progress, lane, predictions);
        let (correct, labelled, ranked) = top1_of(predictions);
        progress.add_top1(lane, correct, labelled, ranked);
        match (stored[lane].as_deref_mut(), &spot_checks[lane]) {
            (Some(stored), Some(check)) => store_all(stored, check.take(predictions)?, &in_flight),
            (Some(stored), None) => stored.insert(predictions, &in_flight),
            (None, _) => {
                fresh[lane].extend_from_slice(predictions);
                Ok(())
            }
        }
    };
    let outcome = pipeline::run(admitted, &config, &mut lanes, sink, |n| {
        progress.inc(n as u64)
    });
    let settled = outcome.map_err(anyhow::Error::from).and_then(|outcome| {
        settle(&spot_checks, &mut stored, &outcome, &in_flight)?;
        Ok(outcome)
    });
    let outcome = settled.inspect_err(|_| {
        progress.stop_and_clear();
        forget_refused(&spot_checks, &mut stored);
    })?;
    if outcome.stopped.iter().all(Option::is_some) {
        progress.stop_and_clear();
    }
    progress.finish_and_clear();
    let coverage = coverage(shard, args.limit, listed_in_shard, order.len());
    Ok(Evaluation {
        order,
        fresh,
        stats: outcome.stats,
        stopped: outcome
            .stopped
            .into_iter()
            .map(|stopped| stopped.map(|s| s.to_string()))
            .collect(),
        coverage,
    })
}

/// The names of the images the pass will read, where the dataset lists them before it is read
/// (a folder; a tar is only known by streaming it): the shard's, cut at `limit`.
fn read_names(dataset: &Dataset, shard: Option<Shard>, limit: usize) -> Option<HashSet<&str>> {
    let entries = dataset.entries()?;
    let in_shard = |entry: &&Entry| shard.is_none_or(|s| s.contains(&entry.name));
    Some(
        entries
            .into_iter()
            .filter(in_shard)
            .take(limit)
            .map(|entry| entry.name.as_str())
            .collect(),
    )
}

/// Each spot check still undecided at the end decides on what came back, and what it held is
/// stored.
fn settle(
    spot_checks: &[Option<SpotCheck>],
    stored: &mut [Option<&mut StoredRun>],
    outcome: &PassOutcome,
    in_flight: &InFlight,
) -> anyhow::Result<()> {
    for (lane, check) in spot_checks.iter().enumerate() {
        let (Some(check), Some(stored)) = (check, stored[lane].as_deref_mut()) else {
            continue;
        };
        let rows = check.finish(outcome.stopped[lane].is_some());
        rows.and_then(|rows| store_all(stored, rows, in_flight))
            .map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// Deletes this pass's run of each model whose spot check refused the stored rows: it holds
/// none of them (its rows were held back) and nothing else, and the runs the error names are
/// the ones to act on.
fn forget_refused(spot_checks: &[Option<SpotCheck>], stored: &mut [Option<&mut StoredRun>]) {
    for (check, stored) in spot_checks.iter().zip(stored) {
        if let (Some(check), Some(stored)) = (check, stored) {
            // The refusal is the error to report; a run left behind is harmless (empty).
            if check.refused() {
                let _ = stored.store.delete_run(stored.info.id);
            }
        }
    }
}

/// Stores batches of one lane's rows, in order.
fn store_all(
    stored: &mut StoredRun,
    batches: Vec<Vec<Prediction>>,
    in_flight: &InFlight,
) -> Result<(), String> {
    batches
        .iter()
        .try_for_each(|rows| stored.insert(rows, in_flight))
}

/// What each model's stored run answers before the pass: whether it answers an image, each
/// labelled stored row's top-1 hit (the running top-1), and, for a member that asks for one
/// (a native run with a checkpoint digest), the spot check of the rows it would reuse.
struct FromStore {
    reusable: Vec<Reusable>,
    stored_top1: Vec<HashMap<(String, Content), bool>>,
    spot_checks: Vec<Option<SpotCheck>>,
}

impl FromStore {
    /// `listed`: the images the pass will read, where known before (see [`read_names`]).
    fn of(members: &[Member], listed: Option<&HashSet<&str>>) -> anyhow::Result<FromStore> {
        let mut from_store = FromStore {
            reusable: Vec::with_capacity(members.len()),
            stored_top1: Vec::with_capacity(members.len()),
            spot_checks: Vec::with_capacity(members.len()),
        };
        for member in members {
            let stored = member.stored.as_ref();
            let spot_check = match stored.filter(|_| member.spot_check) {
                Some(stored) => {
                    let mut runs = stored.store.runs_of_key(&stored.info.key_digest)?;
                    runs.retain(|&id| id != stored.info.id);
                    SpotCheck::new(runs, stored.store.answerable_top5(&stored.info)?, listed)
                }
                None => None,
            };
            from_store
                .reusable
                .push(reusable_images(stored, spot_check.clone())?);
            from_store.stored_top1.push(match stored {
                Some(stored) => stored.store.answerable_top1(&stored.info)?,
                None => Default::default(),
            });
            from_store.spot_checks.push(spot_check);
        }
        Ok(from_store)
    }
}

/// How the pass runs: a preparation for each distinct recipe, read in the largest batch.
fn pass_config<'a>(
    distinct: &'a [(Recipe, PillowCompat)],
    members: &[Member],
    args: &VerifyArgs,
) -> PassConfig<'a> {
    PassConfig {
        read_batch: read_batch(members),
        preparations: distinct
            .iter()
            .map(|(recipe, compat)| Preparation {
                recipe,
                compat: *compat,
            })
            .collect(),
        strict: args.verdict.strict,
        decode_threads: args.decode.or_threads(args.threads),
    }
}

/// Samples read and decoded together: the largest batch of the pass's models.
fn read_batch(members: &[Member]) -> usize {
    members.iter().map(|m| m.session.batch).max().unwrap_or(1)
}

/// Each model's batch was checked alone; the pass holds a tensor set of every distinct recipe
/// at the largest batch, so the sum is what must fit.
pub(super) fn check_memory(members: &[Member]) -> anyhow::Result<()> {
    let (distinct, _) = distinct_recipes(members);
    let sample_len: usize = distinct.iter().map(|(recipe, _)| recipe.sample_len()).sum();
    check_batch_memory(
        "--batch of the pass (every recipe of it together)",
        read_batch(members),
        sample_len,
        pipeline::BUFFERS,
    )
}

/// Each member as a lane of the pipeline, beside its stored run (the sink writes to it).
fn lanes(
    members: &mut [Member],
    lane_preparation: Vec<usize>,
) -> (Vec<Lane<'_>>, Vec<Option<&mut StoredRun>>) {
    members
        .iter_mut()
        .zip(lane_preparation)
        .map(|(member, preparation)| {
            let lane = Lane {
                name: member.under_test.manifest.id.clone(),
                fixed_batch: member.session.fixed_batch,
                model: &mut *member.session.model,
                preparation,
                batch: member.session.batch,
                classes: member.under_test.manifest.output.classes,
                label_offset: member.under_test.manifest.output.label_offset,
                class_subset: member.class_subset.map(|s| s.classes.as_slice()),
            };
            (lane, member.stored.as_mut())
        })
        .unzip()
}

/// The distinct (recipe, Pillow release) pairs of the pass, and each member's among them.
fn distinct_recipes(members: &[Member]) -> (Vec<(Recipe, PillowCompat)>, Vec<usize>) {
    let mut distinct: Vec<(Recipe, PillowCompat)> = Vec::new();
    let mut lane_preparation = Vec::with_capacity(members.len());
    for member in members {
        let (recipe, compat) = (&member.under_test.recipe, member.under_test.compat);
        let index = match distinct
            .iter()
            .position(|(r, c)| *c == compat && r.same_tensor(recipe))
        {
            Some(index) => index,
            None => {
                distinct.push((recipe.clone(), compat));
                distinct.len() - 1
            }
        };
        lane_preparation.push(index);
    }
    (distinct, lane_preparation)
}

/// (correct, labelled, ranked) among `predictions`: a failed labelled image is counted, never right.
fn top1_of(predictions: &[Prediction]) -> (u64, u64, u64) {
    predictions
        .iter()
        .filter_map(|p| p.label.map(|label| (p, label)))
        .fold((0, 0, 0), |(hits, seen, ranked), (p, label)| {
            let top1 = p.outcome.top5().map(|top5| top5[0]);
            (
                hits + u64::from(top1 == Some(label)),
                seen + 1,
                ranked + u64::from(top1.is_some()),
            )
        })
}

/// An image is answered from the store only when its stored row was ranked from a file of the
/// same name, size and sha256: a changed file is evaluated again, and so is a failed one, and
/// so is one the spot check chose to infer again.
fn reusable_images(
    stored: Option<&StoredRun>,
    spot_check: Option<SpotCheck>,
) -> anyhow::Result<Reusable> {
    let answerable = match stored {
        Some(stored) => stored.store.answerable(&stored.info)?,
        None => Default::default(),
    };
    Ok(Box::new(move |name: &str, content: Option<&Content>| {
        content.is_some_and(|content| {
            answerable.contains(&(name.to_string(), *content))
                && !spot_check
                    .as_ref()
                    .is_some_and(|check| check.recheck(name, content))
        })
    }))
}

/// Records each sample's place and content as the stream passes, and lets through only those
/// some model's store cannot answer, marked with the models that need them. Content is hashed
/// here, on the reading thread, from the bytes read for decoding. An image a model's store
/// answers counts in that model's running top-1 here (`stored_top1`: for each model, whether
/// each stored labelled row's top-1 is right). The end of the stream closes the spot checks.
fn admit<'a>(
    samples: impl Iterator<Item = Result<crate::dataset::Sample, DatasetError>> + Send + 'a,
    order: &'a mut Vec<(Entry, Option<Content>)>,
    from_store: FromStore,
    in_flight: InFlight,
    progress: &'a Progress,
) -> impl Iterator<Item = Result<Admitted, DatasetError>> + Send + 'a {
    let FromStore {
        reusable,
        stored_top1,
        spot_checks,
    } = from_store;
    let end = std::iter::from_fn(move || {
        spot_checks.iter().flatten().for_each(SpotCheck::close);
        None
    });
    let admitted = samples.filter_map(move |sample| match sample {
        Ok(mut sample) => {
            sample.refuse_control_characters();
            let content = match &sample.bytes {
                Ok(bytes) => Some(Content::of(bytes)),
                _ => None,
            };
            order.push((sample.entry.clone(), content));
            let lanes: Vec<bool> = reusable
                .iter()
                .map(|reusable| !reusable(&sample.entry.name, content.as_ref()))
                .collect();
            if let Some(content) = content {
                let key = (sample.entry.name.clone(), content);
                for (lane, answered) in stored_top1.iter().enumerate() {
                    if lanes[lane] {
                        continue;
                    }
                    if let Some(&hit) = answered.get(&key) {
                        // The store answers ranked rows only.
                        progress.add_top1(lane, u64::from(hit), 1, 1);
                    }
                }
            }
            if !lanes.contains(&true) {
                progress.inc(1);
                return None;
            }
            if let Ok(mut in_flight) = in_flight.lock() {
                in_flight.insert(sample.entry.name.clone(), content);
            }
            Some(Ok(Admitted { sample, lanes }))
        }
        Err(error) => Some(Err(error)),
    });
    admitted.chain(end)
}

fn warn_about_failures(progress: &Progress, lane: usize, predictions: &[Prediction]) {
    // Every model gets the same unreadable images: say so once.
    if lane != 0 {
        return;
    }
    for prediction in predictions {
        if let Outcome::Failed(error) = &prediction.outcome {
            progress.suspend(|| {
                eprintln!(
                    "zoorepro: warning: {}: {} (counted as failed)",
                    crate::util::escape::terminal(&prediction.file),
                    crate::util::escape::terminal(error)
                )
            });
        }
    }
}

/// Every image's prediction, in dataset order: from the store, which holds this invocation's
/// rows and the reused ones, or from this invocation alone.
pub(super) fn in_dataset_order(
    stored: Option<&StoredRun>,
    order: &[(Entry, Option<Content>)],
    fresh: Vec<Prediction>,
) -> anyhow::Result<Vec<(Entry, Prediction)>> {
    use anyhow::Context as _;
    let rows = match stored {
        Some(stored) => stored.store.predictions(stored.info.id)?,
        None => fresh,
    };
    let mut predictions: HashMap<String, Prediction> =
        rows.into_iter().map(|p| (p.name.clone(), p)).collect();
    order
        .iter()
        .map(|(entry, _)| {
            let prediction = predictions.remove(&entry.name).with_context(|| {
                format!(
                    "no prediction for {} after the run: the store is inconsistent",
                    entry.file
                )
            })?;
            Ok((entry.clone(), prediction))
        })
        .collect()
}
