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

    #[test]
    fn an_unpublished_top5_is_null_and_reads_back() {
        let mut record = crate::report::tests::sample_record();
        record.references[0].top5 = None;
        record.references[0].delta_top5 = None;
        let text = JsonExporter.render(&record);
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert!(value["references"][0]["delta_top5"].is_null(), "{text}");
        let back: RunRecord = serde_json::from_str(&text).unwrap();
        assert_eq!(back.references[0].top5, None);
        assert_eq!(back.references[0].top1, record.references[0].top1);
    }
}
