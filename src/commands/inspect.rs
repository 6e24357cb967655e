//! `zoorepro inspect FILE.onnx`: what the file declares and computes, read with the official
//! ONNX schema; no runtime needed.

use std::io::Write;

use super::shared::terminal;

use crate::cli::InspectArgs;
use crate::exit;
use crate::model::onnx::{self, DimSummary, OnnxSummary, TensorSummary};
// Every name below comes from the file: a control character in one must not reach the terminal.
use crate::util::escape::terminal as shown;

pub fn run(args: &InspectArgs) -> anyhow::Result<i32> {
    let summary = onnx::inspect(&args.file)?;
    let mut stdout = terminal::stdout();
    if args.output.json {
        serde_json::to_writer_pretty(&mut stdout, &summary)?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(text(&summary).as_bytes())?;
    }
    Ok(exit::SUCCESS)
}

fn shape(tensor: &TensorSummary) -> String {
    match &tensor.shape {
        None => "?".into(),
        Some(dims) => {
            let dims: Vec<String> = dims
                .iter()
                .map(|d| match d {
                    DimSummary::Fixed(v) => v.to_string(),
                    DimSummary::Symbolic(name) => shown(name),
                    DimSummary::Unknown(_) => "?".into(),
                })
                .collect();
            format!("[{}]", dims.join(", "))
        }
    }
}

fn tensors(out: &mut String, title: &str, tensors: &[TensorSummary]) {
    out.push_str(&format!("{title}:\n"));
    for t in tensors {
        let batch = match t.fixed_batch {
            Some(b) => format!("  (fixed batch {b})"),
            None => String::new(),
        };
        out.push_str(&format!(
            "  {}  {}  {}{batch}\n",
            shown(&t.name),
            shown(&t.dtype),
            shape(t)
        ));
    }
}

fn text(s: &OnnxSummary) -> String {
    let mut out = String::new();
    out.push_str(&format!("{}\nsha256: {}\n", shown(&s.path), s.sha256));
    if let Some(first) = s.external_data.first() {
        out.push_str(&format!(
            "external data: {} tensor(s) (first: {}) live in files beside this one; the sha256 does not cover them, and verify refuses the file\n",
            s.external_data.len(),
            shown(first)
        ));
    }
    let producer = shown(&format!("{} {}", s.producer, s.producer_version));
    out.push_str(&format!(
        "producer: {}\nIR version: {}\nopsets: {}\n",
        if producer.trim().is_empty() {
            "(none)"
        } else {
            producer.trim()
        },
        s.ir_version,
        s.opsets
            .iter()
            .map(|o| format!("{} {}", shown(&o.domain), o.version))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    tensors(&mut out, "inputs", &s.inputs);
    tensors(&mut out, "outputs", &s.outputs);
    let p = &s.parameters;
    out.push_str(&format!(
        "parameters: {} in {} initializers ({} without BatchNormalization running mean/var, which hold {}; {} BatchNormalization nodes; {} are quantization scales and zero points)\n",
        p.total,
        p.initializers,
        p.excluding_running_stats,
        p.batchnorm_running_stats,
        p.batchnorm_nodes,
        p.quantization_scales_and_zero_points
    ));
    out.push_str(&format!("operators ({} nodes):\n", s.nodes));
    let mut ops: Vec<(&String, &usize)> = s.operators.iter().collect();
    ops.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    for (op, count) in ops {
        out.push_str(&format!("  {count:>6}  {}\n", shown(op)));
    }
    if s.batch_operators.is_empty() {
        out.push_str("batch-mixing operators: none (no operator computes across the batch or runs in training mode)\n");
    } else {
        out.push_str(&format!(
            "batch-mixing operators ({}):\n",
            s.batch_operators.len()
        ));
        for op in &s.batch_operators {
            out.push_str(&format!(
                "  {} ({}): {}\n",
                shown(&op.node),
                shown(&op.op_type),
                shown(&op.reason)
            ));
        }
    }
    out
}
