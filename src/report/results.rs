//! `verify --results-file`: one row per model of a pass, in timm's results-file columns
//! (`model, img_size, top1, top1_err, top5, top5_err, param_count, crop_pct, interpolation`)
//! followed by what zoorepro knows beyond them. CSV or JSON, chosen by the file's extension; both
//! are rendered from the same rows.

use std::path::Path;

use serde::Serialize;

use super::RunRecord;
use crate::image::recipe::Recipe;

/// One model's line of the results file. Numbers are rounded as printed (3 decimals for
/// percentages, 2 for millions of parameters), so no float noise reaches a spreadsheet. A model
/// that failed in the pass has a line too: no figures, `verdict` "error" and the `error`.
#[derive(Clone, Debug, Serialize)]
pub struct ResultRow {
    pub model: String,
    pub img_size: u32,
    pub top1: Option<f64>,
    pub top1_err: Option<f64>,
    pub top5: Option<f64>,
    pub top5_err: Option<f64>,
    /// Millions of trainable parameters (BatchNorm running statistics excluded, as PyTorch and
    /// timm count them); `None` when the file could not be summarised.
    pub param_count: Option<f64>,
    pub crop_pct: f64,
    pub interpolation: String,
    pub recipe: String,
    pub image_set: String,
    pub images: usize,
    pub failed: usize,
    pub reference_source: Option<String>,
    pub reference_top1: Option<f64>,
    pub reference_top5: Option<f64>,
    pub delta_top1: Option<f64>,
    /// The verdict's status as the record spells it, or "error" for a model that failed.
    pub verdict: String,
    /// The verdict's marks, beside it ([`crate::eval::trust::Mark`]).
    pub marks: Vec<crate::eval::trust::Mark>,
    /// 95% Wilson interval of `top1`: what a subset's number can and cannot say.
    pub top1_low: Option<f64>,
    pub top1_high: Option<f64>,
    /// Why the model has no result, when it failed in the pass.
    pub error: Option<String>,
}

/// The `verdict` of a model that failed in the pass.
pub const FAILED_VERDICT: &str = "error";

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    let rounded = (value * scale).round() / scale;
    // -0.0 prints as "-0"; a rounded zero is a zero.
    if rounded == 0.0 { 0.0 } else { rounded }
}

/// The share of the resized image the crop keeps, as timm states it.
fn crop_pct(recipe: &Recipe) -> f64 {
    round(
        recipe
            .resize_mode
            .crop_pct(recipe.resize_size, recipe.crop_size),
        4,
    )
}

impl ResultRow {
    /// The row of a run record; `parameters` in units (converted to millions here).
    pub fn new(record: &RunRecord, parameters: Option<u64>) -> ResultRow {
        let recipe = &record.recipe.definition;
        let expected = record.references.iter().find(|r| r.expected);
        ResultRow {
            model: record.model_id.clone(),
            img_size: recipe.crop_size,
            top1: record.top1.map(|top1| round(top1, 3)),
            top1_err: record.top1.map(|top1| round(100.0 - top1, 3)),
            top5: record.top5.map(|top5| round(top5, 3)),
            top5_err: record.top5.map(|top5| round(100.0 - top5, 3)),
            param_count: parameters.map(|p| round(p as f64 / 1e6, 2)),
            crop_pct: crop_pct(recipe),
            interpolation: recipe.filter.name().to_ascii_lowercase(),
            recipe: record.recipe.name.clone(),
            image_set: record.dataset.image_set_label(record.images),
            images: record.images,
            failed: record.failed,
            reference_source: expected.map(|r| r.source.clone()),
            reference_top1: expected.map(|r| round(r.top1, 3)),
            // An unpublished top-5 (MLPerf) is an empty field.
            reference_top5: expected.and_then(|r| r.top5).map(|top5| round(top5, 3)),
            delta_top1: expected.map(|r| round(r.delta_top1, 3)),
            verdict: record.verdict.status.name().to_string(),
            marks: record.verdict.marks.clone(),
            top1_low: record.top1_interval.map(|[lo, _]| round(lo, 3)),
            top1_high: record.top1_interval.map(|[_, hi]| round(hi, 3)),
            error: None,
        }
    }

    /// The row of a model that failed in the pass, fed `recipe`, after `images` images were read.
    pub fn failed(
        model: &str,
        recipe: &Recipe,
        parameters: Option<u64>,
        images: usize,
        error: &str,
    ) -> ResultRow {
        ResultRow {
            model: model.to_string(),
            img_size: recipe.crop_size,
            top1: None,
            top1_err: None,
            top5: None,
            top5_err: None,
            param_count: parameters.map(|p| round(p as f64 / 1e6, 2)),
            crop_pct: crop_pct(recipe),
            interpolation: recipe.filter.name().to_ascii_lowercase(),
            recipe: recipe.name.clone(),
            image_set: String::new(),
            images,
            failed: 0,
            reference_source: None,
            reference_top1: None,
            reference_top5: None,
            delta_top1: None,
            verdict: FAILED_VERDICT.into(),
            marks: Vec::new(),
            top1_low: None,
            top1_high: None,
            error: Some(error.to_string()),
        }
    }
}

/// Writes `rows` to `path` atomically, as CSV (`.csv`) or JSON (`.json`).
pub fn write_results(path: &Path, rows: &[ResultRow]) -> std::io::Result<()> {
    let text = match results_format(path) {
        Some(ResultsFormat::Json) => {
            let mut text = serde_json::to_string_pretty(rows).map_err(std::io::Error::other)?;
            text.push('\n');
            text
        }
        Some(ResultsFormat::Csv) => render_csv(rows),
        None => return Err(std::io::Error::other(UNKNOWN_EXTENSION)),
    };
    crate::util::safe_file::write_bytes_atomically(path, text.as_bytes())
}

pub const UNKNOWN_EXTENSION: &str =
    "a results file must end in .csv or .json (the extension chooses the format)";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultsFormat {
    Csv,
    Json,
}

pub fn results_format(path: &Path) -> Option<ResultsFormat> {
    match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
        "csv" => Some(ResultsFormat::Csv),
        "json" => Some(ResultsFormat::Json),
        _ => None,
    }
}

const CSV_COLUMNS: [&str; 22] = [
    "model",
    "img_size",
    "top1",
    "top1_err",
    "top5",
    "top5_err",
    "param_count",
    "crop_pct",
    "interpolation",
    "recipe",
    "image_set",
    "images",
    "failed",
    "reference_source",
    "reference_top1",
    "reference_top5",
    "delta_top1",
    "verdict",
    "top1_low",
    "top1_high",
    "marks",
    "error",
];

fn render_csv(rows: &[ResultRow]) -> String {
    let number = |value: Option<f64>, decimals: usize| {
        value.map_or(String::new(), |v| format!("{v:.decimals$}"))
    };
    let header = CSV_COLUMNS.map(String::from).to_vec();
    let lines = rows.iter().map(|row| {
        vec![
            row.model.clone(),
            row.img_size.to_string(),
            number(row.top1, 3),
            number(row.top1_err, 3),
            number(row.top5, 3),
            number(row.top5_err, 3),
            number(row.param_count, 2),
            format!("{:.3}", row.crop_pct),
            row.interpolation.clone(),
            row.recipe.clone(),
            row.image_set.clone(),
            row.images.to_string(),
            row.failed.to_string(),
            row.reference_source.clone().unwrap_or_default(),
            number(row.reference_top1, 3),
            number(row.reference_top5, 3),
            number(row.delta_top1, 3),
            row.verdict.clone(),
            number(row.top1_low, 3),
            number(row.top1_high, 3),
            crate::eval::trust::marks_text(&row.marks),
            row.error.clone().unwrap_or_default(),
        ]
    });
    super::table::csv_text(std::iter::once(header).chain(lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_leaves_no_float_noise_and_no_negative_zero() {
        assert_eq!(round(76.13 - 76.134, 3), -0.004);
        assert_eq!(round(-0.0004, 3).to_string(), "0");
        assert_eq!(round(71.99999999999, 3).to_string(), "72");
        assert_eq!(round(3.504_872, 2), 3.5);
    }

    #[test]
    fn the_extension_chooses_the_format() {
        assert_eq!(results_format(Path::new("r.CSV")), Some(ResultsFormat::Csv));
        assert_eq!(
            results_format(Path::new("a/r.json")),
            Some(ResultsFormat::Json)
        );
        assert_eq!(results_format(Path::new("r.txt")), None);
        assert_eq!(results_format(Path::new("results")), None);
    }
}
