use super::{Exporter, RunRecord};

pub struct JsonExporter;

impl Exporter for JsonExporter {
    fn extension(&self) -> &'static str {
        "json"
    }

    fn render(&self, record: &RunRecord) -> String {
        // Serializing plain structs of strings and numbers cannot fail; non-finite floats become null.
        let mut text = serde_json::to_string_pretty(record)
            .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        text.push('\n');
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_export_round_trips() {
        let record = crate::report::tests::sample_record();
        let text = JsonExporter.render(&record);
        let back: RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.top1_correct, 72);
        assert_eq!(back.references[0].source, "oracle");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["verdict"]["status"], "reproduced");
    }
}
