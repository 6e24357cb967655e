//! The accuracy table (`zoorepro table`), in Markdown, CSV or JSON from the same rows.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

/// Accuracy of one run under one label set.
#[derive(Clone, Debug, Serialize)]
pub struct Accuracy {
    pub top1: f64,
    pub top5: f64,
    pub images: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct ReferenceDelta {
    pub source: String,
    pub top1: f64,
    pub top5: f64,
    pub delta_top1: f64,
    pub delta_top5: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableRow {
    pub run: i64,
    pub framework: String,
    pub model: String,
    pub model_id: String,
    pub recipe: String,
    pub kind: String,
    pub provider: String,
    pub labels: String,
    pub top1: f64,
    pub top5: f64,
    pub rank1: usize,
    pub rank5: usize,
    pub images: usize,
    /// Published numbers of this model for the run's image set (original labels only).
    pub references: Vec<ReferenceDelta>,
    /// With `--labels all`: every label set side by side.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub by_labels: BTreeMap<String, Accuracy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

pub trait TableExporter {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String;
}

pub struct MarkdownTable;
pub struct CsvTable;
pub struct JsonTable;

fn delta_for<'a>(row: &'a TableRow, source: &str) -> Option<&'a ReferenceDelta> {
    row.references.iter().find(|r| r.source == source)
}

const LABEL_SETS: [&str; 4] = ["original", "real", "cleaned", "corrected"];

impl TableExporter for MarkdownTable {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String {
        let mut out = String::new();
        let all = rows.iter().any(|r| !r.by_labels.is_empty());
        let labels = rows.first().map_or("original", |r| r.labels.as_str());
        let mut header = String::from("| rank1 | rank5 | framework | model | recipe | run |");
        if all {
            for set in LABEL_SETS {
                let _ = write!(header, " {set} top-1 | {set} top-5 |");
            }
        } else {
            let _ = write!(header, " top-1 ({labels}) | top-5 ({labels}) |");
        }
        header.push_str(" images |");
        for source in sources {
            let _ = write!(header, " Δ {source} |");
        }
        let columns = header.matches('|').count() - 1;
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "|{}", "---|".repeat(columns));
        let mut notes = Vec::new();
        for row in rows {
            let _ = write!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                row.rank1, row.rank5, row.framework, row.model, row.recipe, row.run
            );
            if all {
                for set in LABEL_SETS {
                    match row.by_labels.get(set) {
                        Some(a) => {
                            let _ = write!(out, " {:.2} | {:.2} |", a.top1, a.top5);
                        }
                        None => out.push_str(" | |"),
                    }
                }
            } else {
                let _ = write!(out, " {:.2} | {:.2} |", row.top1, row.top5);
            }
            let _ = write!(out, " {} |", row.images);
            for source in sources {
                match delta_for(row, source) {
                    Some(d) => {
                        let _ = write!(out, " {:+.2} / {:+.2} |", d.delta_top1, d.delta_top5);
                    }
                    None => out.push_str(" |"),
                }
            }
            out.push('\n');
            if let Some(note) = &row.note {
                notes.push(format!("- {}: {note}", row.model_id));
            }
        }
        if !notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n{}", notes.join("\n"));
        }
        out
    }
}

pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl TableExporter for CsvTable {
    fn render(&self, rows: &[TableRow], sources: &[String]) -> String {
        let mut out =
            String::from("rank1,rank5,framework,model,recipe,run,labels,top1,top5,images");
        for set in LABEL_SETS {
            if rows.iter().any(|r| r.by_labels.contains_key(set)) {
                let _ = write!(out, ",{set}_top1,{set}_top5,{set}_images");
            }
        }
        for source in sources {
            let _ = write!(out, ",{0}_delta_top1,{0}_delta_top5", csv_field(source));
        }
        out.push_str(",note\n");
        for row in rows {
            let _ = write!(
                out,
                "{},{},{},{},{},{},{},{:.3},{:.3},{}",
                row.rank1,
                row.rank5,
                csv_field(&row.framework),
                csv_field(&row.model),
                csv_field(&row.recipe),
                row.run,
                row.labels,
                row.top1,
                row.top5,
                row.images
            );
            for set in LABEL_SETS {
                if rows.iter().any(|r| r.by_labels.contains_key(set)) {
                    match row.by_labels.get(set) {
                        Some(a) => {
                            let _ = write!(out, ",{:.3},{:.3},{}", a.top1, a.top5, a.images);
                        }
                        None => out.push_str(",,,"),
                    }
                }
            }
            for source in sources {
                match delta_for(row, source) {
                    Some(d) => {
                        let _ = write!(out, ",{:.3},{:.3}", d.delta_top1, d.delta_top5);
                    }
                    None => out.push_str(",,"),
                }
            }
            let _ = writeln!(out, ",{}", csv_field(row.note.as_deref().unwrap_or("")));
        }
        out
    }
}

impl TableExporter for JsonTable {
    fn render(&self, rows: &[TableRow], _sources: &[String]) -> String {
        let mut text = serde_json::to_string_pretty(rows)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> TableRow {
        TableRow {
            run: 3,
            framework: "pytorch".into(),
            model: "resnet152".into(),
            model_id: "pytorch/resnet152".into(),
            recipe: "torchvision".into(),
            kind: "import".into(),
            provider: "pytorch".into(),
            labels: "original".into(),
            top1: 77.606,
            top5: 93.822,
            rank1: 1,
            rank5: 1,
            images: 50000,
            references: vec![ReferenceDelta {
                source: "benchmarking-keras-pytorch".into(),
                top1: 77.62,
                top5: 93.81,
                delta_top1: -0.014,
                delta_top5: 0.012,
            }],
            by_labels: BTreeMap::new(),
            note: Some("float16, regenerated".into()),
        }
    }

    #[test]
    fn every_format_carries_the_same_numbers() {
        let sources = vec!["benchmarking-keras-pytorch".to_string()];
        let markdown = MarkdownTable.render(&[row()], &sources);
        assert!(markdown.contains("| 1 | 1 | pytorch | resnet152 | torchvision | 3 | 77.61 | 93.82 | 50000 | -0.01 / +0.01 |"), "{markdown}");
        assert!(markdown.contains("- pytorch/resnet152: float16, regenerated"));
        let csv = CsvTable.render(&[row()], &sources);
        assert!(
            csv.lines().nth(1).unwrap().starts_with(
                "1,1,pytorch,resnet152,torchvision,3,original,77.606,93.822,50000,-0.014,0.012"
            ),
            "{csv}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&JsonTable.render(&[row()], &sources)).unwrap();
        assert_eq!(json[0]["model"], "resnet152");
        assert_eq!(json[0]["top1"], 77.606);
        assert_eq!(json[0]["images"], 50000);
    }
}
