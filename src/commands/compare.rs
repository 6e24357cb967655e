//! `zoorepro compare A B`: two runs image by image, on the images both scored.

use std::collections::HashMap;
use std::io::Write;

use serde::Serialize;

use super::Context;
use crate::cli::{CompareArgs, CompareFormat};
use crate::dataset::labels;
use crate::eval::prediction::{Outcome, Prediction, percent};
use crate::eval::stats::mcnemar_exact_p;
use crate::exit;
use crate::model::manifest;
use crate::store::{RunInfo, RunKind, Store};

#[derive(Serialize)]
struct Side {
    run: i64,
    model_id: String,
    kind: RunKind,
    recipe: String,
    provider: String,
    batch: usize,
    top1: f64,
    top5: f64,
}

#[derive(Serialize)]
struct Difference {
    file: String,
    label: u16,
    label_name: &'static str,
    a_top1: u16,
    a_name: &'static str,
    b_top1: u16,
    b_name: &'static str,
}

#[derive(Serialize)]
struct Comparison {
    a: Side,
    b: Side,
    images: usize,
    top1_agreement: usize,
    top1_agreement_percent: f64,
    identical_top5_sets: usize,
    identical_top5_sets_percent: f64,
    /// B's top-1 minus A's, in points.
    top1_difference: f64,
    /// Images A gets right and B wrong (top-1), and the reverse.
    only_a_correct: usize,
    only_b_correct: usize,
    mcnemar_exact_p: f64,
    top1_differs: Vec<Difference>,
}

/// A run id, or a model id / bare name standing for that model's newest complete run.
fn resolve_run(
    ctx: &Context,
    store: &Store,
    runs: &[RunInfo],
    query: &str,
) -> anyhow::Result<RunInfo> {
    if let Ok(id) = query.parse::<i64>() {
        return store.run(id)?.ok_or_else(|| {
            anyhow::anyhow!(
                "no run {id} in the prediction store {} (`zoorepro runs` lists them)",
                store.path().display()
            )
        });
    }
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let model_id = manifest::resolve(&manifests, query)
        .map(|m| m.id.clone())
        .unwrap_or_else(|_| query.to_string());
    runs.iter()
        .filter(|r| r.complete && r.model_id == model_id)
        .max_by(|a, b| (a.updated_at.as_str(), a.id).cmp(&(b.updated_at.as_str(), b.id)))
        .cloned()
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no complete run of {model_id} in the prediction store (`zoorepro runs` lists them)"
            )
        })
}

fn ranked(prediction: &Prediction) -> Option<(&[u16; 5], u16)> {
    match (&prediction.outcome, prediction.label) {
        (Outcome::Ranked { top5, .. }, Some(label)) => Some((top5, label)),
        _ => None,
    }
}

pub fn run(ctx: &Context, args: &CompareArgs) -> anyhow::Result<i32> {
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let runs = store.runs()?;
    let (a, b) = (
        resolve_run(ctx, &store, &runs, &args.a)?,
        resolve_run(ctx, &store, &runs, &args.b)?,
    );
    let a_rows = store.predictions(a.id)?;
    let b_rows: HashMap<String, Prediction> = store
        .predictions(b.id)?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();

    let pair = PairTally::of(&a_rows, &b_rows);
    let images = pair.images;
    if images == 0 {
        anyhow::bail!(
            "runs {} and {} have no scored image in common: nothing to compare",
            a.id,
            b.id
        );
    }
    let side = |run: &RunInfo, correct: usize, top5: usize| Side {
        run: run.id,
        model_id: run.model_id.clone(),
        kind: run.key.kind,
        recipe: run.key.recipe.clone(),
        provider: run.key.provider.clone(),
        batch: run.key.batch,
        top1: percent(correct, images),
        top5: percent(top5, images),
    };
    let comparison = Comparison {
        a: side(&a, pair.a_correct, pair.a_top5),
        b: side(&b, pair.b_correct, pair.b_top5),
        images,
        top1_agreement: pair.agree,
        top1_agreement_percent: percent(pair.agree, images),
        identical_top5_sets: pair.same_sets,
        identical_top5_sets_percent: percent(pair.same_sets, images),
        top1_difference: percent(pair.b_correct, images) - percent(pair.a_correct, images),
        only_a_correct: pair.only_a,
        only_b_correct: pair.only_b,
        mcnemar_exact_p: mcnemar_exact_p(pair.only_a as u64, pair.only_b as u64),
        top1_differs: pair.differs,
    };
    match args.format {
        CompareFormat::Json => super::print_json(&comparison)?,
        CompareFormat::Markdown => write_markdown(&mut std::io::stdout().lock(), &comparison)?,
    }
    Ok(exit::SUCCESS)
}

/// Counts over the images both runs ranked and that carry a label.
#[derive(Default)]
struct PairTally {
    images: usize,
    /// Same top-1 class.
    agree: usize,
    same_sets: usize,
    a_correct: usize,
    b_correct: usize,
    a_top5: usize,
    b_top5: usize,
    only_a: usize,
    only_b: usize,
    differs: Vec<Difference>,
}

impl PairTally {
    fn of(a_rows: &[Prediction], b_rows: &HashMap<String, Prediction>) -> PairTally {
        let mut t = PairTally::default();
        for a_prediction in a_rows {
            let Some(b_prediction) = b_rows.get(&a_prediction.name) else {
                continue;
            };
            let (Some((a5, label)), Some((b5, _))) = (ranked(a_prediction), ranked(b_prediction))
            else {
                continue;
            };
            t.images += 1;
            let (a_hit, b_hit) = (a5[0] == label, b5[0] == label);
            t.a_correct += usize::from(a_hit);
            t.b_correct += usize::from(b_hit);
            t.a_top5 += usize::from(a5.contains(&label));
            t.b_top5 += usize::from(b5.contains(&label));
            t.only_a += usize::from(a_hit && !b_hit);
            t.only_b += usize::from(b_hit && !a_hit);
            let (mut a_set, mut b_set) = (*a5, *b5);
            a_set.sort_unstable();
            b_set.sort_unstable();
            t.same_sets += usize::from(a_set == b_set);
            if a5[0] == b5[0] {
                t.agree += 1;
            } else {
                t.differs.push(Difference {
                    file: a_prediction.file.clone(),
                    label,
                    label_name: labels::class_name(label),
                    a_top1: a5[0],
                    a_name: labels::class_name(a5[0]),
                    b_top1: b5[0],
                    b_name: labels::class_name(b5[0]),
                });
            }
        }
        t
    }
}

fn write_markdown(out: &mut impl Write, c: &Comparison) -> std::io::Result<()> {
    writeln!(out, "# Run {} vs run {}\n", c.a.run, c.b.run)?;
    writeln!(out, "| | A | B |\n|---|---|---|")?;
    writeln!(out, "| run | {} | {} |", c.a.run, c.b.run)?;
    writeln!(out, "| model | {} | {} |", c.a.model_id, c.b.model_id)?;
    writeln!(
        out,
        "| kind / recipe | {} / {} | {} / {} |",
        c.a.kind, c.a.recipe, c.b.kind, c.b.recipe
    )?;
    writeln!(
        out,
        "| provider / batch | {} / {} | {} / {} |",
        c.a.provider, c.a.batch, c.b.provider, c.b.batch
    )?;
    writeln!(out, "| top-1 | {:.3} | {:.3} |", c.a.top1, c.b.top1)?;
    writeln!(out, "| top-5 | {:.3} | {:.3} |\n", c.a.top5, c.b.top5)?;
    writeln!(out, "On the {} images both scored:\n", c.images)?;
    writeln!(
        out,
        "- top-1 agreement: {} ({:.3}%)",
        c.top1_agreement, c.top1_agreement_percent
    )?;
    writeln!(
        out,
        "- identical top-5 sets: {} ({:.3}%)",
        c.identical_top5_sets, c.identical_top5_sets_percent
    )?;
    writeln!(
        out,
        "- top-1 difference B − A: {:+.3} points; only A right: {}, only B right: {}; exact McNemar p = {}",
        c.top1_difference,
        c.only_a_correct,
        c.only_b_correct,
        if c.mcnemar_exact_p < 1e-4 {
            format!("{:.2e}", c.mcnemar_exact_p)
        } else {
            format!("{:.4}", c.mcnemar_exact_p)
        }
    )?;
    if !c.top1_differs.is_empty() {
        writeln!(
            out,
            "\n## Images whose top-1 differs ({})\n",
            c.top1_differs.len()
        )?;
        writeln!(
            out,
            "| file | label | A top-1 | B top-1 |\n|---|---|---|---|"
        )?;
        for d in &c.top1_differs {
            writeln!(
                out,
                "| {} | {} {} | {} {} | {} {} |",
                crate::util::escape::markdown_code(&d.file),
                d.label,
                d.label_name,
                d.a_top1,
                d.a_name,
                d.b_top1,
                d.b_name
            )?;
        }
    }
    Ok(())
}
