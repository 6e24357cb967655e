//! What several commands share, each in its own file; no command imports another, so anything two
//! of them need lives here or in a subsystem below `commands/`.
//!
//! - `context`: the global flags resolved lazily (the home, its manifests, the store's folder);
//! - `terminal`: stdout (captured for in-process callers), default formats, JSON output, widths;
//! - `progress`: a bar on a terminal, log lines elsewhere; `interrupt`: Ctrl-C during `verify`;
//! - `model_under_test`: manifest + recipe + ONNX file + graph check (`verify`, `determinism`,
//!   `explain`, `add-model`); `batch`: the bound on a batch's input tensors;
//! - `record`: the run record, verdict and report files (`verify`, `merge`);
//! - `lookup`: a run by id or model; `image_set`: the name of the image set a run scored;
//! - `options`: the parsed flags' `*Arg` values as domain types.

pub(crate) mod batch;
pub(crate) mod context;
pub(crate) mod image_set;
pub(crate) mod interrupt;
pub(crate) mod lookup;
pub(crate) mod model_under_test;
pub(crate) mod options;
pub(crate) mod progress;
pub(crate) mod record;
pub(crate) mod terminal;
