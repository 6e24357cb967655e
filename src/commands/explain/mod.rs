//! `zoorepro explain`: when a number does not reproduce, say why. The candidates and the
//! verdict are [`crate::eval::explain`]; this file resolves the arguments, chooses the sample,
//! opens the session, and prints the report ([`crate::report::explain`]).

mod measure;

use std::collections::{HashMap, HashSet};
use std::io::Write;

use anyhow::{Context as _, bail};

use super::Context;
use super::shared::model_under_test::{ModelUnderTest, check_model_against_manifest};
use super::shared::progress::Progress;
use super::shared::{lookup, terminal};
use crate::cli::{ExplainArgs, ExplainFormat};
use crate::dataset::{Dataset, Entry};
use crate::eval::determinism::{Chosen, choose_samples_where};
use crate::eval::explain::{
    Candidate, Decision, Evidence, Expected, ExplainVerdict, ImageOutcome, candidates, decide,
    gather, rank, tied_with_best,
};
use crate::eval::pairing::{Pairing, PairingNotes};
use crate::eval::prediction::{Content, Outcome, Prediction};
use crate::eval::rank::TOP_K;
use crate::eval::verdict::{DEFAULT_TOLERANCE, assess};
use crate::exit;
use crate::image::recipe::presets;
use crate::image::sources;
use crate::model::bytes::ModelBytes;
use crate::report::Render;
use crate::report::explain::{Against, Best, Cost, Html, MeasuredOn, Report, Text, summary_line};
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};
use crate::store::Store;

/// The reference run's top-5 and the content each was computed from, by image name.
struct Reference {
    top5: HashMap<String, [u16; TOP_K]>,
    contents: HashMap<String, Content>,
}

pub fn run(ctx: &Context, args: &ExplainArgs) -> anyhow::Result<i32> {
    let (under_test, bytes) = ModelUnderTest::select(ctx, &args.model)?;
    let dataset = crate::commands::shared::options::open_dataset(&args.val, &args.labels)?;
    let mut against = args
        .against
        .as_deref()
        .map(|query| reference_predictions(ctx, query))
        .transpose()?;
    let mut chosen = choose(args, &dataset, against.as_ref())?;
    if let Some((against, reference)) = against.as_mut() {
        chosen = same_content(chosen, reference, &mut against.pairing, args, against.run)?;
    }
    if against.is_none() && unlabelled(args, &chosen) {
        return Ok(exit::NO_REFERENCE);
    }
    let ModelUnderTest {
        manifest, recipe, ..
    } = &under_test;
    // The presets, then the published pipelines the recipe sources name at the model's size.
    let mut published = presets();
    if !args.no_sources {
        published.extend(sources::explain_candidates(
            recipe.crop_size,
            recipe.layout,
            &published,
        ));
    }
    let all = candidates(
        recipe,
        under_test.compat,
        manifest.output.label_offset,
        manifest.output.classes,
        &published,
    );
    something_to_explain(&under_test, against.is_some())?;
    let measured = measure_candidates(args, &under_test, bytes, &dataset, &chosen, &all)?;

    let (expected, measured_on) = expected_number(&under_test, &dataset, &chosen, &measured);
    if expected.is_none() && against.is_none() {
        bail!(
            "{} has no published number for {} (nor for the whole validation set they \
             are part of) to explain: pass --against RUN|MODEL, a run whose predictions to match \
             (`zoorepro runs` lists them)",
            manifest.id,
            crate::report::explain::count_of_images(chosen.len(), "these")
        );
    }
    let images: Vec<ImageOutcome<'_>> = chosen
        .iter()
        .zip(&measured.top5)
        .map(|((entry, _), top5)| ImageOutcome {
            name: &entry.name,
            label: entry.label,
            top5: top5.clone(),
        })
        .collect();
    let reference = against.as_ref().map(|(_, reference)| &reference.top5);
    let mut evidence = gather(&all, &images, expected.as_ref(), reference);
    rank(&mut evidence, expected.as_ref());
    let decision = decide(&evidence);
    let verdict = decision.verdict;
    let labelled = images.iter().filter(|image| image.label.is_some()).count();
    let report = build_report(
        args,
        &under_test,
        evidence,
        decision,
        (expected, measured_on),
        against,
        (&measured, labelled),
    );
    emit(args, &report)?;
    Ok(match verdict {
        ExplainVerdict::RecipeConfirmed => exit::SUCCESS,
        _ => exit::DRIFT,
    })
}

/// Whether no image of the sample is labelled, said on stderr with what to do: without labels
/// there is no accuracy to hold against a published number. Said before the candidates run, as
/// `verify` says it of an empty run (exit 3).
fn unlabelled(args: &ExplainArgs, chosen: &[Chosen]) -> bool {
    let labelled = chosen
        .iter()
        .filter(|(entry, _)| entry.label.is_some())
        .count();
    let Some(reason) = crate::eval::verdict::nothing_scored(0, 0, chosen.len()) else {
        return false;
    };
    if labelled > 0 {
        return false;
    }
    eprintln!(
        "zoorepro: warning: {}: {reason}; or pass --against RUN|MODEL to match a run's predictions, which needs no labels",
        crate::util::escape::terminal(&args.val.display().to_string())
    );
    true
}

/// Every candidate run on the sample through one CPU session; the images some candidate could
/// not prepare are said on stderr.
fn measure_candidates(
    args: &ExplainArgs,
    under_test: &ModelUnderTest,
    bytes: ModelBytes,
    dataset: &Dataset,
    chosen: &[Chosen],
    all: &[Candidate],
) -> anyhow::Result<measure::Measured> {
    let mut model = open_model(args, under_test, &bytes)?;
    // The session holds its own copy of the graph.
    drop(bytes);
    let batch = model.fixed_batch().unwrap_or(8);
    let progress = Progress::new(Some(chosen.len()), "explain");
    let subset = dataset.class_subset().map(|s| s.classes.as_slice());
    let decode_pool = crate::eval::pipeline::decode_pool(args.decode.or_threads(args.threads))?;
    let measured = measure::measure(chosen, all, &mut model, batch, subset, &decode_pool, |n| {
        progress.inc(n as u64)
    })?;
    progress.finish_and_clear();
    for (file, error) in &measured.failures {
        eprintln!(
            "zoorepro: warning: {} failed: {}",
            crate::util::escape::terminal(file),
            crate::util::escape::terminal(error)
        );
    }
    Ok(measured)
}

/// The sample: `--samples` images of `--val`, among those the reference run scored if any.
fn choose(
    args: &ExplainArgs,
    dataset: &Dataset,
    against: Option<&(Against, Reference)>,
) -> anyhow::Result<Vec<Chosen>> {
    let keep: Option<HashSet<String>> =
        against.map(|(_, reference)| reference.top5.keys().cloned().collect());
    let limited = keep.is_some();
    let chosen = choose_samples_where(dataset, args.samples, move |entry: &Entry| {
        keep.as_ref()
            .is_none_or(|names| names.contains(&entry.name))
    })?;
    if chosen.is_empty() {
        bail!(
            "{}: no image to explain with{}",
            args.val.display(),
            if limited {
                " among those the --against run scored"
            } else {
                ""
            }
        );
    }
    Ok(chosen)
}

/// The sample less the images whose content differs from the reference run's: under the same
/// name they are other images, and agreement on them says nothing of the pipeline. Where the
/// reference holds no content (an imported seed cache), images are paired by name; both are
/// counted in `pairing` and said on stderr.
fn same_content(
    chosen: Vec<Chosen>,
    reference: &Reference,
    pairing: &mut PairingNotes,
    args: &ExplainArgs,
    run: i64,
) -> anyhow::Result<Vec<Chosen>> {
    let sampled = chosen.len();
    let kept: Vec<Chosen> = chosen
        .into_iter()
        .filter(|(entry, bytes)| {
            // An unreadable image fails for every candidate and is compared with nothing.
            let Ok(bytes) = bytes else { return true };
            let ours = Content::of(bytes);
            pairing.add(
                &entry.file,
                Pairing::of(Some(&ours), reference.contents.get(&entry.name)),
            )
        })
        .collect();
    for line in pairing.lines() {
        eprintln!(
            "zoorepro: warning: against run {run}: {}",
            crate::util::escape::terminal(&line)
        );
    }
    if kept.is_empty() {
        bail!(
            "{}: no image to explain with: all {sampled} sampled images the --against run {run} scored \
             have other content in that run (same names, different files): pass the folder the run scored",
            args.val.display()
        );
    }
    Ok(kept)
}

/// One CPU session on the model, checked against its manifest and recipe.
fn open_model(
    args: &ExplainArgs,
    under_test: &ModelUnderTest,
    bytes: &ModelBytes,
) -> anyhow::Result<Model> {
    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        opt_level: OptLevel::All,
    };
    let onnx = bytes.path();
    let model = runtime
        .open_bytes(bytes, &options)
        .with_context(|| format!("cannot open a session for {}", onnx.display()))?;
    check_model_against_manifest(&under_test.manifest, &under_test.recipe, &model, onnx)?;
    Ok(model)
}

/// The top-5 of a stored run and their contents, by image name, with the run's description.
fn reference_predictions(ctx: &Context, query: &str) -> anyhow::Result<(Against, Reference)> {
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let runs = store.runs()?;
    let run = lookup::resolve_run(ctx, &store, &runs, query)?;
    let top5: HashMap<String, [u16; TOP_K]> = store
        .predictions(run.id)?
        .into_iter()
        .filter_map(|p: Prediction| match p.outcome {
            Outcome::Ranked { top5, .. } => Some((p.name, top5)),
            Outcome::Failed(_) => None,
        })
        .collect();
    let contents = store.contents(run.id)?;
    let against = Against {
        run: run.id,
        model_id: run.model_id.clone(),
        recipe: run.key.recipe.clone(),
        images: top5.len(),
        pairing: PairingNotes::default(),
    };
    Ok((against, Reference { top5, contents }))
}

/// Checked before the candidates run (minutes): with no expected reference at all and no run to
/// match, there is nothing to explain whatever the images turn out to be.
fn something_to_explain(under_test: &ModelUnderTest, against: bool) -> anyhow::Result<()> {
    if !against && !under_test.manifest.references.iter().any(|r| r.expected) {
        bail!(
            "{} has no published number to explain: pass --against RUN|MODEL, a run whose \
             predictions to match (`zoorepro runs` lists them)",
            under_test.manifest.id
        );
    }
    Ok(())
}

/// As verify's verdict rule: labels that disagree with the shipped ground truth for files named
/// like ILSVRC2012's (a --ground-truth file relabelling them) measure no published number.
fn relabels_validation_files(ordered: &[(Entry, Prediction)]) -> bool {
    let check =
        crate::eval::trust::check_labels(ordered.iter().filter_map(|(entry, _)| {
            Some((entry.name.as_str(), entry.file.as_str(), entry.label?))
        }));
    if check.disagreements > 0 {
        eprintln!(
            "zoorepro: warning: the labels given disagree with the shipped ground truth on {} \
             ILSVRC2012 validation files: no published number applies to them",
            check.disagreements
        );
    }
    check.disagreements > 0
}

/// The number the manifest expects of its recipe on the sample: measured on the sample's very
/// image set, or on the whole validation set the sample is part of; with where it was measured.
fn expected_number(
    under_test: &ModelUnderTest,
    dataset: &Dataset,
    chosen: &[Chosen],
    measured: &measure::Measured,
) -> (Option<Expected>, Option<MeasuredOn>) {
    let ordered: Vec<(Entry, Prediction)> = chosen
        .iter()
        .zip(&measured.top5)
        .map(|((entry, _), top5)| {
            let outcome = match top5[0] {
                Some(top5) => Outcome::Ranked {
                    top5,
                    scores: [0.0; TOP_K],
                },
                None => Outcome::Failed("failed".into()),
            };
            let prediction = Prediction {
                name: entry.name.clone(),
                file: entry.file.clone(),
                label: entry.label,
                outcome,
            };
            (entry.clone(), prediction)
        })
        .collect();
    let contents: HashMap<String, crate::eval::prediction::Content> = chosen
        .iter()
        .zip(&measured.contents)
        .filter_map(|((entry, _), content)| Some((entry.name.clone(), (*content)?)))
        .collect();
    let summary =
        crate::eval::prediction::Summary::of(ordered.iter().map(|(_, p)| p), Some(&contents));
    let assessment = assess(
        &under_test.manifest,
        &under_test.recipe.name,
        &ordered,
        summary.image_set_content_sha256,
        dataset.layout_set_name(),
        DEFAULT_TOLERANCE,
    );
    let Some(found) = assessment.references.into_iter().find(|r| r.expected) else {
        return (None, None);
    };
    if relabels_validation_files(&ordered) {
        return (None, None);
    }
    let labelled = ordered
        .iter()
        .filter(|(entry, _)| entry.label.is_some())
        .count();
    // The manifest's entry it came from, for the set and labels it was measured on.
    let measured_on = under_test
        .manifest
        .references
        .iter()
        .find(|r| r.expected && r.source == found.source && r.top1 == found.top1)
        .map(|r| MeasuredOn {
            image_set: r.image_set.name.clone(),
            images: r.image_set.images,
            labels: r
                .labels
                .clone()
                .unwrap_or_else(|| "original ILSVRC2012".into()),
            sample_is_part: r.image_set.images > labelled,
        });
    let expected = Expected {
        source: found.source,
        top1: found.top1,
        top5: found.top5,
    };
    (Some(expected), measured_on)
}

fn build_report(
    args: &ExplainArgs,
    under_test: &ModelUnderTest,
    evidence: Vec<Evidence>,
    decision: Decision,
    (expected, measured_on): (Option<Expected>, Option<MeasuredOn>),
    against: Option<(Against, Reference)>,
    (measured, labelled): (&measure::Measured, usize),
) -> Report {
    let best = &evidence[0];
    let images = measured.top5.len();
    let tied_with = tied_with_best(&evidence);
    let mut summary = summary_line(&under_test.manifest.id, &decision, best, images);
    // Cannot-tell-apart already lists every candidate that ties.
    if !tied_with.is_empty() && decision.cannot_tell_apart.is_none() {
        summary += &format!(
            " (tied on these images with {}: --against a trusted run, or more --samples, would separate them)",
            tied_with.join(", ")
        );
    }
    Report {
        model_id: under_test.manifest.id.clone(),
        verdict: decision.verdict,
        manifest_recipe: under_test.recipe.name.clone(),
        pillow_compat: under_test.compat.name().into(),
        dataset: args.val.display().to_string(),
        sample_labels: match &args.labels.ground_truth {
            Some(file) => format!("from --ground-truth {}", file.display()),
            None => "from the layout".into(),
        },
        images,
        labelled,
        failed: measured.failures.len(),
        expected,
        measured_on,
        against: against.map(|(against, _)| against),
        best: Best {
            recipe: best.candidate.name.clone(),
            changes: best.candidate.changes.clone(),
            top1: best.top1,
            top5: best.top5,
            agreement_top1: best.agreement_top1,
            agreement_top5: best.agreement_top5,
            tied_with,
        },
        cannot_tell_apart: decision.cannot_tell_apart,
        summary,
        cost: Cost {
            candidates: evidence.len(),
            tensors: measured.tensors,
            preprocess_ms_per_image: 1000.0 * measured.preprocess_time.as_secs_f64()
                / images.max(1) as f64
                * measured.decode_threads as f64,
            inference_ms_per_tensor: 1000.0 * measured.inference_time.as_secs_f64()
                / (images * measured.tensors).max(1) as f64,
        },
        candidates: evidence,
    }
}

fn emit(args: &ExplainArgs, report: &Report) -> anyhow::Result<()> {
    let format = match args.format {
        Some(format) => format,
        None if args.output.json => ExplainFormat::Json,
        None => ExplainFormat::Text,
    };
    let text = match format {
        ExplainFormat::Json => None,
        ExplainFormat::Text => Some(Text.render(report)),
        ExplainFormat::Html => Some(Html.render(report)),
    };
    match text {
        Some(text) => terminal::stdout().write_all(text.as_bytes())?,
        None => terminal::print_json(report)?,
    }
    eprintln!("{}", crate::util::escape::terminal(&report.summary));
    Ok(())
}
