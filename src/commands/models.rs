//! `zoorepro models`: every manifest, and whether its ONNX file is present.

use std::io::Write;

use serde::Serialize;

use super::Context;
use super::shared::terminal;
use crate::cli::ListArgs;
use crate::exit;
use crate::model::manifest::{Dim, Manifest, Reference};

#[derive(Serialize)]
struct ModelRow<'a> {
    id: &'a str,
    framework: &'a str,
    input: String,
    recipes: Vec<&'a str>,
    default_recipe: &'a str,
    /// Structured, as the manifest states them (source, top1, top5, recipe, image_set, expected, note).
    references: &'a [Reference],
    onnx: String,
    onnx_present: bool,
    sha256: Option<&'a str>,
}

fn shape(manifest: &Manifest) -> String {
    let dims: Vec<String> = manifest
        .input
        .shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    format!(
        "{} [{}] {}",
        manifest.input.name,
        dims.join(","),
        manifest.input.layout.name()
    )
}

pub fn run(ctx: &Context, args: &ListArgs) -> anyhow::Result<i32> {
    let home = ctx.home()?;
    let manifests = ctx.manifests(&home)?;
    let rows: Vec<ModelRow> = manifests
        .iter()
        .map(|m| {
            let path = m.onnx_path(&home);
            ModelRow {
                id: &m.id,
                framework: &m.framework,
                input: shape(m),
                recipes: m.recipes.iter().map(|r| r.name()).collect(),
                default_recipe: &m.default_recipe,
                references: &m.references,
                onnx_present: path.is_file(),
                onnx: path.display().to_string(),
                sha256: m.sha256.as_deref(),
            }
        })
        .collect();
    if args.output.json {
        terminal::print_json(&rows)?;
        return Ok(exit::SUCCESS);
    }
    let width = terminal::stdout_width();
    let mut out = terminal::stdout();
    let header = format!(
        "{:<42} {:<9} {:<34} {:<8} {:<46} references",
        "id", "framework", "input", "onnx", "recipes"
    );
    writeln!(out, "{}", terminal::fit(&header, width))?;
    for row in &rows {
        let line = format!(
            "{:<42} {:<9} {:<34} {:<8} {:<46} {}",
            row.id,
            row.framework,
            row.input,
            if row.onnx_present {
                "present"
            } else {
                "missing"
            },
            row.recipes.join(","),
            reference_summary(row.references)
        );
        // Manifest text may come from anyone: no control character reaches the terminal.
        let line = crate::util::escape::terminal(&line);
        writeln!(out, "{}", terminal::fit(&line, width))?;
    }
    Ok(exit::SUCCESS)
}

/// The references in one cell of the text listing: `source top1/top5 on set (expected)`, with
/// the label set where it is not the original one (`timm 81.73/95.03 on ilsvrc2012-val with ReaL
/// labels`), so two numbers of one source on one set are never read as rivals.
fn reference_summary(references: &[Reference]) -> String {
    references
        .iter()
        .map(|r| {
            format!(
                "{} {}/{} on {}{}{}",
                r.source,
                r.top1,
                r.top5
                    .map_or_else(|| "—".to_string(), |top5| top5.to_string()),
                r.image_set.name,
                r.labels.as_deref().map_or(String::new(), |labels| format!(
                    " with {} labels",
                    labels_name(labels)
                )),
                if r.expected { " (expected)" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// How the listing names a label set: ImageNet-ReaL as its authors spell it.
fn labels_name(labels: &str) -> &str {
    match labels {
        "real" => "ReaL",
        other => other,
    }
}
