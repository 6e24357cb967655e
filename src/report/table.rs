//! The accuracy table (`zoorepro table`), in Markdown, CSV or JSON from the same rows: one group
//! per image set (a Markdown section each), ranked within it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::eval::trust::{Mark, marks_text, status_text};
use crate::eval::verdict::VerdictStatus;
// Manifest fields (a source, a model name) are text: a `|` would shift the columns, `<` be HTML.
use crate::store::NativeMeta;
use crate::util::escape::markdown_text as md;

/// Accuracy of one run under one label set; `None` (null, n/a) where no scored image was ranked.
#[derive(Clone, Debug, Serialize)]
pub struct Accuracy {
    pub top1: Option<f64>,
    pub top5: Option<f64>,
    pub images: usize,
    /// 95% Wilson intervals, in percent.
    pub top1_interval: Option<[f64; 2]>,
    pub top5_interval: Option<[f64; 2]>,
}

/// One published number of the row's model on the row's image set, and the row's distance to it.
#[derive(Clone, Debug, Serialize)]
pub struct ReferenceDelta {
    pub source: String,
    pub top1: f64,
    /// `None` when the source publishes no top-5 (MLPerf).
    pub top5: Option<f64>,
    pub delta_top1: f64,
    pub delta_top5: Option<f64>,
    /// The reference that decides the verdict (the manifest's expected one for the run's recipe).
    pub expected: bool,
}

/// The labels a `--ground-truth FILE` gave a run: the user's, never the original ILSVRC2012
/// ones, so every format names them as such.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroundTruthLabels {
    pub path: String,
    pub sha256: String,
}

/// The name of the label set a `--ground-truth FILE` gave (in `labels`, `by_labels` and the CSV's
/// columns), where a run without one has `original`.
pub const GROUND_TRUTH: &str = "ground-truth";

impl GroundTruthLabels {
    /// `ground truth truth.csv`: the labels by the file that gave them.
    pub fn name(&self) -> String {
        if self.path.is_empty() {
            "ground truth".to_string()
        } else {
            format!("ground truth {}", self.path)
        }
    }

    /// `labelled by --ground-truth truth.csv, sha256 4ee0ef417a4b`: a section's labels, with the
    /// digest that tells two files of one name apart.
    pub fn describe(&self) -> String {
        let short = self.sha256.get(..12).unwrap_or(&self.sha256);
        if self.path.is_empty() {
            format!("labelled by a --ground-truth file, sha256 {short}")
        } else {
            format!("labelled by --ground-truth {}, sha256 {short}", self.path)
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct TableRow {
    /// The image set the run scored: rows are ranked within one set only.
    pub image_set: String,
    /// Labelled images in that set under its original labels (`images` counts the rows' label
    /// set, which may leave some out).
    pub image_set_images: usize,
    pub run: i64,
    pub framework: String,
    pub model: String,
    pub model_id: String,
    pub recipe: String,
    pub kind: String,
    pub provider: String,
    pub labels: String,
    /// `None` (null in JSON, n/a in text) where the run ranked no image: none labelled, or every
    /// labelled one failed.
    pub top1: Option<f64>,
    /// 95% Wilson interval of `top1`, in percent: how far a number measured on this many images
    /// can be from the same model's number on all images.
    pub top1_interval: Option<[f64; 2]>,
    pub top5: Option<f64>,
    pub top5_interval: Option<[f64; 2]>,
    pub rank1: usize,
    pub rank5: usize,
    pub images: usize,
    /// Published numbers of this model for the run's image set (original labels only).
    pub references: Vec<ReferenceDelta>,
    /// The source the verdict compares with; `None` when no reference applies.
    pub expected_source: Option<String>,
    /// As `verify` judges: top-1 within the default tolerance of the expected reference.
    pub verdict: VerdictStatus,
    /// The verdict's marks ([`crate::eval::trust::Mark`]), shown beside it in every format.
    pub marks: Vec<Mark>,
    /// With `--labels all`: every label set side by side.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_labels: BTreeMap<String, Accuracy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The `--ground-truth` file whose labels the run was scored on (`labels` is then
    /// `ground-truth`, not `original`); `None`: the layout's own labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ground_truth: Option<GroundTruthLabels>,
    /// A model run natively by its caller (`zoorepro.evaluate`), not the model's ONNX file: its
    /// framework (`framework` is then `native (FRAMEWORK)`) and the caller's name for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub native: Option<NativeMeta>,
}

impl TableRow {
    /// The run as charts label it: the model's id, with the caller's name for a native run.
    pub fn id_text(&self) -> String {
        match &self.native {
            Some(native) => format!("{} (native: {})", self.model_id, native.name),
            None => self.model_id.clone(),
        }
    }

    /// The model as the text, Markdown and CSV tables name it: a native run with the caller's
    /// name for it (`resnet50 (native: my port)`), so it never reads as the model's ONNX file.
    pub fn model_text(&self) -> String {
        match &self.native {
            Some(native) => format!("{} (native: {})", self.model, native.name),
            None => self.model.clone(),
        }
    }

    /// What the rows of one section share: the image set, its size, and whose labels scored it
    /// (runs labelled by different files are not ranked together).
    pub fn section_key(&self) -> (&str, usize, Option<&str>) {
        (
            &self.image_set,
            self.image_set_images,
            self.ground_truth.as_ref().map(|g| g.sha256.as_str()),
        )
    }
}

/// How a section's heading names its labels, where they are a user's.
fn labels_heading(row: &TableRow) -> String {
    row.ground_truth
        .as_ref()
        .map(|g| format!("; {}", g.describe()))
        .unwrap_or_default()
}

/// How a column header names a label set: the ground-truth set in words.
fn label_title(set: &str) -> &str {
    if set == GROUND_TRUTH {
        "ground truth"
    } else {
        set
    }
}

pub trait TableExporter {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String;
}

pub struct MarkdownTable;
pub struct CsvTable;
pub struct JsonTable;
/// The Markdown table's rows and notes in aligned columns, for a terminal.
pub struct TextTable;

impl TableExporter for TextTable {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String {
        crate::util::text_table::from_markdown(&MarkdownTable.render(rows, sources))
    }
}

fn delta_for<'a>(row: &'a TableRow, source: &str) -> Option<&'a ReferenceDelta> {
    row.references.iter().find(|r| r.source == source)
}

/// Every label set's name, in the order the columns show them; a run has `original` or
/// `ground-truth` (its `--ground-truth` file's labels) first.
const LABEL_SETS: [&str; 5] = ["original", GROUND_TRUTH, "real", "cleaned", "corrected"];

/// The rows of one section (image set and labels): `rows` are grouped so already (`table`
/// sorts them so).
pub(crate) fn sections(rows: &[TableRow]) -> Vec<&[TableRow]> {
    rows.chunk_by(|a, b| a.section_key() == b.section_key())
        .collect()
}

/// `76.13 [75.75, 76.50]`: a percentage and its interval, where there is one; `n/a` where there
/// is no number.
fn with_interval(value: Option<f64>, interval: Option<[f64; 2]>) -> String {
    match (value, interval) {
        (Some(value), Some([low, high])) => format!("{value:.2} [{low:.2}, {high:.2}]"),
        (Some(value), None) => format!("{value:.2}"),
        (None, _) => NO_NUMBER.to_string(),
    }
}

/// What a percentage of no ranked image shows as.
const NO_NUMBER: &str = "n/a";

impl TableExporter for MarkdownTable {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String {
        let mut out = String::new();
        for (i, section) in sections(rows).into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let sources: Vec<&String> = sources
                .iter()
                .filter(|s| section.iter().any(|r| delta_for(r, s).is_some()))
                .collect();
            markdown_section(&mut out, section, &sources);
        }
        let notes: Vec<String> = rows
            .iter()
            .filter_map(|row| {
                Some(format!(
                    "- {}: {}",
                    md(&row.model_id),
                    md(row.note.as_ref()?)
                ))
            })
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n{}", notes.join("\n"));
        }
        out
    }
}

/// One image set's heading and table; only the sources measured on that set get a column.
fn markdown_section(out: &mut String, rows: &[TableRow], sources: &[&String]) {
    let first = &rows[0];
    let _ = writeln!(
        out,
        "## {} ({} images{})\n",
        md(&first.image_set),
        first.image_set_images,
        md(&labels_heading(first))
    );
    let all = rows.iter().any(|r| !r.by_labels.is_empty());
    let label_sets = present_label_sets(rows);
    let mut header = String::from("| rank1 | rank5 | framework | model | recipe | run |");
    figure_headers(&mut header, first, all.then_some(&label_sets[..]));
    header.push_str(" images |");
    for source in sources {
        let _ = write!(header, " Δ {} |", md(source));
    }
    header.push_str(" verdict |");
    // A source's `|` is escaped (`\|`) and delimits no column.
    let columns = header.matches('|').count() - header.matches("\\|").count() - 1;
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "|{}", "---|".repeat(columns));
    for row in rows {
        let _ = write!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            row.rank1,
            row.rank5,
            md(&row.framework),
            md(&row.model_text()),
            md(&row.recipe),
            row.run
        );
        if all {
            for set in &label_sets {
                match row.by_labels.get(*set) {
                    Some(a) => {
                        let _ = write!(
                            out,
                            " {} | {} |",
                            with_interval(a.top1, None),
                            with_interval(a.top5, None)
                        );
                    }
                    None => out.push_str(" | |"),
                }
            }
        } else {
            let _ = write!(
                out,
                " {} | {} |",
                with_interval(row.top1, row.top1_interval),
                with_interval(row.top5, row.top5_interval)
            );
        }
        let _ = write!(out, " {} |", row.images);
        for source in sources {
            match delta_for(row, source) {
                Some(d) => {
                    let _ = write!(
                        out,
                        " {} / {} |",
                        signed(d.delta_top1),
                        d.delta_top5.map_or_else(|| UNPUBLISHED.to_string(), signed)
                    );
                }
                None => out.push_str(" |"),
            }
        }
        let _ = writeln!(out, " {} |", verdict_text(row));
    }
}

/// The figures' column headers: each label set's (`label_sets`, with `--labels all`), else the
/// one set's, named as `row` was labelled (a ground-truth file by its path).
fn figure_headers(header: &mut String, row: &TableRow, label_sets: Option<&[&str]>) {
    match label_sets {
        Some(label_sets) => {
            for set in label_sets {
                let set = label_title(set);
                let _ = write!(header, " {set} top-1 | {set} top-5 |");
            }
        }
        None => {
            let labels = match &row.ground_truth {
                Some(ground_truth) if row.labels == GROUND_TRUTH => ground_truth.name(),
                _ => row.labels.clone(),
            };
            let labels = md(&labels);
            let _ = write!(header, " top-1 ({labels}) | top-5 ({labels}) |");
        }
    }
}

/// The label sets some row of `rows` was scored under (`--labels all`), in column order: a
/// section of runs labelled by a `--ground-truth` file has no `original` column, and others no
/// `ground-truth` one.
fn present_label_sets(rows: &[TableRow]) -> Vec<&'static str> {
    LABEL_SETS
        .into_iter()
        .filter(|set| rows.iter().any(|r| r.by_labels.contains_key(*set)))
        .collect()
}

/// The verdict as the Markdown and text tables show it: the status, its marks, and the reference
/// that decided it (`drift vs keras-docs`), so that a mark beside a small delta is never read
/// against another column's number.
fn verdict_text(row: &TableRow) -> String {
    let status = status_text(row.verdict, &row.marks);
    match &row.expected_source {
        Some(source) => format!("{status} vs {}", md(source)),
        None => status,
    }
}

/// A delta with its sign and 2 decimals; one that rounds to nothing reads `+0.00`, not `-0.00`.
/// What a reference's number the source does not publish (MLPerf's top-5) shows as.
const UNPUBLISHED: &str = "—";

fn signed(value: f64) -> String {
    let text = format!("{value:+.2}");
    if text == "-0.00" {
        "+0.00".into()
    } else {
        text
    }
}

/// Rows as CSV text through the `csv` crate, which quotes what needs quoting (commas, quotes,
/// line breaks) and refuses a row whose field count is not the header's.
pub(crate) fn csv_text(rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in rows {
        writer
            .write_record(&row)
            .expect("a CSV row in memory has the header's field count");
    }
    let bytes = writer
        .into_inner()
        .expect("a CSV buffer in memory cannot fail to flush");
    String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
}

/// A number as the CSV prints every number: 3 decimals, so no float noise reaches a
/// spreadsheet, and no `-0.000` for a delta that rounds to nothing.
fn fixed(value: f64) -> String {
    let text = format!("{value:.3}");
    match text.strip_prefix('-') {
        Some(magnitude) if magnitude.bytes().all(|b| b == b'0' || b == b'.') => {
            magnitude.to_string()
        }
        _ => text,
    }
}

/// The columns of one set of figures, in the order [`figure_fields`] writes them: the main ones
/// bare, each label set's under its name (`real_top1`, ...).
const FIGURE_COLUMNS: [&str; 6] = [
    "top1",
    "top1_low",
    "top1_high",
    "top5",
    "top5_low",
    "top5_high",
];

/// Top-1 and top-5 with their intervals, as [`FIGURE_COLUMNS`] names them; an interval's two
/// fields are both empty where there is none, and a percentage's where the run ranked no image.
fn figure_fields(
    top1: Option<f64>,
    top1_interval: Option<[f64; 2]>,
    top5: Option<f64>,
    top5_interval: Option<[f64; 2]>,
) -> [String; 6] {
    let interval = |i: Option<[f64; 2]>| {
        i.map_or_else(Default::default, |[low, high]| [fixed(low), fixed(high)])
    };
    let ([top1_low, top1_high], [top5_low, top5_high]) =
        (interval(top1_interval), interval(top5_interval));
    [
        top1.map(fixed).unwrap_or_default(),
        top1_low,
        top1_high,
        top5.map(fixed).unwrap_or_default(),
        top5_low,
        top5_high,
    ]
}

/// The columns before the figures; `ground_truth` and its sha256 name the `--ground-truth` file
/// whose labels `labels: ground-truth` means.
const CSV_COLUMNS: [&str; 14] = [
    "image_set",
    "image_set_images",
    "rank1",
    "rank5",
    "model_id",
    "framework",
    "model",
    "recipe",
    "kind",
    "run",
    "labels",
    "ground_truth",
    "ground_truth_sha256",
    "images",
];

impl TableExporter for CsvTable {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String {
        let label_sets = present_label_sets(rows);
        let mut header: Vec<String> = CSV_COLUMNS
            .iter()
            .chain(&FIGURE_COLUMNS)
            .map(|c| c.to_string())
            .collect();
        for set in &label_sets {
            for column in FIGURE_COLUMNS.iter().chain(&["images"]) {
                header.push(format!("{set}_{column}"));
            }
        }
        for source in sources {
            for column in ["top1", "top5", "delta_top1", "delta_top5"] {
                header.push(format!("{source}_{column}"));
            }
        }
        header.extend(["expected_source", "verdict", "note", "marks"].map(String::from));
        // A caller's name or framework for a native run may hold control characters: `table`
        // prints this to a terminal, so they are visible escapes here as in every text format
        // (the JSON format keeps the exact strings).
        let lines = rows.iter().map(|row| {
            csv_row(row, &label_sets, sources)
                .iter()
                .map(|cell| crate::util::escape::terminal(cell))
                .collect()
        });
        csv_text(std::iter::once(header).chain(lines))
    }
}

fn csv_row(row: &TableRow, label_sets: &[&str], sources: &[String]) -> Vec<String> {
    let mut fields = vec![
        row.image_set.clone(),
        row.image_set_images.to_string(),
        row.rank1.to_string(),
        row.rank5.to_string(),
        row.model_id.clone(),
        row.framework.clone(),
        row.model_text(),
        row.recipe.clone(),
        row.kind.to_string(),
        row.run.to_string(),
        row.labels.to_string(),
        row.ground_truth
            .as_ref()
            .map(|g| g.path.clone())
            .unwrap_or_default(),
        row.ground_truth
            .as_ref()
            .map(|g| g.sha256.clone())
            .unwrap_or_default(),
        row.images.to_string(),
    ];
    fields.extend(figure_fields(
        row.top1,
        row.top1_interval,
        row.top5,
        row.top5_interval,
    ));
    for set in label_sets {
        match row.by_labels.get(*set) {
            Some(a) => {
                fields.extend(figure_fields(
                    a.top1,
                    a.top1_interval,
                    a.top5,
                    a.top5_interval,
                ));
                fields.push(a.images.to_string());
            }
            None => fields.extend(std::iter::repeat_n(String::new(), FIGURE_COLUMNS.len() + 1)),
        }
    }
    for source in sources {
        match delta_for(row, source) {
            Some(d) => fields.extend([
                fixed(d.top1),
                d.top5.map(fixed).unwrap_or_default(),
                fixed(d.delta_top1),
                d.delta_top5.map(fixed).unwrap_or_default(),
            ]),
            None => fields.extend(std::iter::repeat_n(String::new(), 4)),
        }
    }
    fields.extend([
        row.expected_source.clone().unwrap_or_default(),
        row.verdict.name().to_string(),
        row.note.clone().unwrap_or_default(),
        marks_text(&row.marks),
    ]);
    fields
}

/// Every fractional number rounded to 3 decimals, as the CSV prints them: no float noise
/// (`54.502000000000002`) in the JSON either. Integers (ids, ranks, counts) stay as they are.
fn round_floats(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(n) if n.is_f64() => {
            let rounded = n.as_f64().map(|v| (v * 1000.0).round() / 1000.0);
            if let Some(number) = rounded.and_then(serde_json::Number::from_f64) {
                *n = number;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(round_floats),
        serde_json::Value::Object(map) => map.values_mut().for_each(round_floats),
        _ => {}
    }
}

impl TableExporter for JsonTable {
    fn render(&self, rows: &[TableRow], _sources: &[String]) -> String {
        let text = serde_json::to_value(rows).and_then(|mut value| {
            round_floats(&mut value);
            serde_json::to_string_pretty(&value)
        });
        let mut text = text.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TableRow {
        TableRow {
            image_set: "ilsvrc2012-val".into(),
            image_set_images: 50000,
            run: 3,
            framework: "pytorch".into(),
            model: "resnet152".into(),
            model_id: "pytorch/resnet152".into(),
            recipe: "torchvision".into(),
            kind: "import".into(),
            provider: "pytorch".into(),
            labels: "original".into(),
            top1: Some(77.606),
            top1_interval: Some([77.23872, 77.96912]),
            top5: Some(93.822),
            top5_interval: Some([93.60541, 94.03243]),
            rank1: 1,
            rank5: 1,
            images: 50000,
            references: vec![ReferenceDelta {
                source: "benchmarking-keras-pytorch".into(),
                top1: 77.62,
                top5: Some(93.81),
                delta_top1: -0.014000000000010004,
                delta_top5: Some(0.012),
                expected: false,
            }],
            expected_source: Some("torchvision-docs".into()),
            verdict: VerdictStatus::Drift,
            marks: Vec::new(),
            by_labels: BTreeMap::new(),
            note: Some("float16, regenerated".into()),
            ground_truth: None,
            native: None,
        }
    }

    fn sample_row() -> TableRow {
        TableRow {
            image_set: "shared-imagenet-sample-100".into(),
            image_set_images: 100,
            run: 9,
            framework: "coral".into(),
            model: "mobilenet_v2".into(),
            model_id: "coral/mobilenet_v2".into(),
            recipe: "coral-lanczos-224".into(),
            kind: "verify".into(),
            top1: Some(72.0),
            top1_interval: Some([62.5, 79.9]),
            top5: Some(93.0),
            top5_interval: Some([86.2, 96.6]),
            images: 100,
            references: vec![ReferenceDelta {
                source: "oracle".into(),
                top1: 72.0,
                top5: Some(93.0),
                delta_top1: -0.0000001,
                delta_top5: Some(0.0),
                expected: true,
            }],
            expected_source: Some("oracle".into()),
            verdict: VerdictStatus::Reproduced,
            marks: vec![crate::eval::trust::Mark::UnverifiedModel],
            note: None,
            ..row()
        }
    }

    #[test]
    fn a_native_run_is_marked_native_with_its_name_in_every_format() {
        let row = TableRow {
            framework: "native (torch)".into(),
            native: Some(NativeMeta {
                framework: Some("torch".into()),
                name: "my | port".into(),
                checkpoint_sha256: None,
            }),
            ..sample_row()
        };
        let rows = [row];
        let sources = ["oracle".to_string()];
        let markdown = MarkdownTable.render(&rows, &sources);
        assert!(
            markdown.contains("| native (torch) | mobilenet_v2 (native: my \\| port) |"),
            "{markdown}"
        );
        let text = TextTable.render(&rows, &sources);
        assert!(text.contains("mobilenet_v2 (native: my | port)"), "{text}");
        let csv = CsvTable.render(&rows, &sources);
        assert!(
            csv.contains(",native (torch),mobilenet_v2 (native: my | port),"),
            "{csv}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&JsonTable.render(&rows, &sources)).unwrap();
        assert_eq!(json[0]["native"]["name"], "my | port");
        assert_eq!(json[0]["framework"], "native (torch)");
        let html = crate::report::HtmlTable.render(&rows, &sources);
        assert!(
            html.contains("native (torch): my | port") && html.contains("(native: my | port)"),
            "{html}"
        );
    }

    #[test]
    fn a_control_character_in_a_native_name_is_a_visible_escape_in_text_and_csv() {
        let name = "a\x1b[2Kb\r";
        let row = TableRow {
            framework: "native (cp\tu)".into(),
            native: Some(NativeMeta {
                framework: Some("cp\tu".into()),
                name: name.into(),
                checkpoint_sha256: None,
            }),
            ..sample_row()
        };
        let rows = [row];
        let sources = ["oracle".to_string()];
        let text = TextTable.render(&rows, &sources);
        let csv = CsvTable.render(&rows, &sources);
        for output in [&text, &csv] {
            assert!(
                !output.chars().any(|c| c.is_control() && c != '\n'),
                "{output:?}"
            );
            assert!(output.contains("(native: a\\x1b[2Kb\\r)"), "{output}");
            assert!(output.contains("native (cp\\tu)"), "{output}");
        }
        let json: serde_json::Value =
            serde_json::from_str(&JsonTable.render(&rows, &sources)).unwrap();
        assert_eq!(json[0]["native"]["name"], name);
    }

    #[test]
    fn an_unpublished_top5_is_a_dash_in_text_and_an_empty_field_in_csv() {
        assert_eq!(fixed(-0.0001), "0.000");
        let mut row = row();
        row.references[0].top5 = None;
        row.references[0].delta_top5 = None;
        let sources = vec!["benchmarking-keras-pytorch".to_string()];
        let markdown = MarkdownTable.render(std::slice::from_ref(&row), &sources);
        assert!(markdown.contains("| -0.01 / — |"), "{markdown}");
        let csv = CsvTable.render(std::slice::from_ref(&row), &sources);
        assert!(csv.contains(",77.620,,-0.014,,torchvision-docs,"), "{csv}");
        let json = JsonTable.render(&[row], &sources);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert!(value[0]["references"][0]["top5"].is_null(), "{json}");
        for text in [markdown, csv, json] {
            assert!(!text.contains("NaN") && !text.contains("inf"), "{text}");
        }
    }

    #[test]
    fn every_format_carries_the_same_numbers() {
        let sources = vec!["benchmarking-keras-pytorch".to_string()];
        let markdown = MarkdownTable.render(&[row()], &sources);
        assert!(
            markdown.starts_with("## ilsvrc2012-val (50000 images)\n"),
            "{markdown}"
        );
        assert!(markdown.contains("| 1 | 1 | pytorch | resnet152 | torchvision | 3 | 77.61 [77.24, 77.97] | 93.82 [93.61, 94.03] | 50000 | -0.01 / +0.01 | drift vs torchvision-docs |"), "{markdown}");
        assert!(markdown.contains("- pytorch/resnet152: float16, regenerated"));
        let csv = CsvTable.render(&[row()], &sources);
        let header = csv.lines().next().unwrap();
        assert!(
            header.starts_with(&format!(
                "{},{}",
                CSV_COLUMNS.join(","),
                FIGURE_COLUMNS.join(",")
            )),
            "{header}"
        );
        assert!(header.ends_with(",benchmarking-keras-pytorch_top1,benchmarking-keras-pytorch_top5,benchmarking-keras-pytorch_delta_top1,benchmarking-keras-pytorch_delta_top5,expected_source,verdict,note,marks"), "{header}");
        assert_eq!(
            csv.lines().nth(1).unwrap(),
            "ilsvrc2012-val,50000,1,1,pytorch/resnet152,pytorch,resnet152,torchvision,import,3,original,,,50000,\
             77.606,77.239,77.969,93.822,93.605,94.032,77.620,93.810,-0.014,0.012,torchvision-docs,drift,\
             \"float16, regenerated\","
        );
        let json: serde_json::Value =
            serde_json::from_str(&JsonTable.render(&[row()], &sources)).unwrap();
        assert_eq!(json[0]["model"], "resnet152");
        assert_eq!(json[0]["image_set"], "ilsvrc2012-val");
        assert_eq!(json[0]["top1"], 77.606);
        assert_eq!(json[0]["top1_interval"][0], 77.239);
        assert_eq!(json[0]["references"][0]["delta_top1"], -0.014);
        assert_eq!(json[0]["verdict"], "drift");
        assert_eq!(json[0]["images"], 50000);
    }

    #[test]
    fn each_image_set_is_a_markdown_section_with_its_own_sources() {
        let sources = vec![
            "benchmarking-keras-pytorch".to_string(),
            "oracle".to_string(),
        ];
        let markdown = MarkdownTable.render(&[row(), sample_row()], &sources);
        let sections: Vec<&str> = markdown.split("## ").skip(1).collect();
        assert_eq!(sections.len(), 2, "{markdown}");
        assert!(sections[0].starts_with("ilsvrc2012-val (50000 images)"));
        assert!(
            sections[0].contains("Δ benchmarking-keras-pytorch")
                && !sections[0].contains("Δ oracle")
        );
        assert!(sections[1].starts_with("shared-imagenet-sample-100 (100 images)"));
        assert!(
            sections[1].contains("| 72.00 [62.50, 79.90] |"),
            "{}",
            sections[1]
        );
        assert!(sections[1].contains("| Δ oracle | verdict |"));
        // A delta that rounds to nothing prints without a sign in the CSV.
        let csv = CsvTable.render(&[sample_row()], &["oracle".to_string()]);
        assert!(
            csv.contains(",72.000,93.000,0.000,0.000,oracle,reproduced,"),
            "{csv}"
        );
    }
}
