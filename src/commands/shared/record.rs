//! The run record shared by `verify` and `merge`: the score of an evaluated image set, the
//! verdict against the manifest's references, the report files and the exit status.

use std::path::Path;
use std::time::SystemTime;

use anyhow::Context as _;

use crate::dataset::Entry;
use crate::eval::prediction::{Outcome, Prediction};
use crate::eval::trust::{self, Coverage, Duplicates, Identity, ImageSetCheck, ModelCheck};
use crate::eval::verdict::{Assessment, assess};
use crate::exit;
use crate::model::manifest::{ImageSetId, Manifest};
use crate::report::{
    self, DatasetInfo, Failure, OnnxInfo, Provenance, RecipeInfo, RunRecord, StoreInfo,
    VerdictStatus,
};
use crate::store::RunKey;
use crate::util::clobber::Protected;

/// Failures listed in a record; the count is always complete.
const MAX_LISTED_FAILURES: usize = 100;

pub(crate) fn report_stem(started_at: SystemTime, key: &RunKey) -> String {
    format!(
        "{}-{}",
        crate::util::time::utc_timestamp(started_at).replace([':', '-'], ""),
        &key.digest()[..12]
    )
}

/// Report stems tried after the plain one (`STEM-2` … `STEM-N`) before giving up: two runs of
/// one key in one second are rare, a thousand means something else is wrong.
const MAX_STEM_SUFFIX: usize = 1000;

/// Claims a report stem under `model_dir` that no earlier report holds: `stem`, else `stem-2`,
/// `stem-3`, … The claim is the creation of `<stem>.json` with `create_new`, which the file
/// system grants to one process only, so two runs of one key within the same second (the stem's
/// resolution) never overwrite each other's reports. The empty claim file is then replaced by the
/// real report.
pub(crate) fn claim_report_stem(model_dir: &Path, stem: &str) -> std::io::Result<String> {
    crate::util::folder::create_folder(model_dir)?;
    for n in 1..=MAX_STEM_SUFFIX {
        let candidate = if n == 1 {
            stem.to_string()
        } else {
            format!("{stem}-{n}")
        };
        // A Markdown or HTML report left without its JSON still holds the name.
        let taken = ["md", "html"]
            .iter()
            .any(|ext| model_dir.join(format!("{candidate}.{ext}")).exists());
        if taken {
            continue;
        }
        let claim = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(model_dir.join(format!("{candidate}.json")));
        match claim {
            Ok(_) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(format!(
        "{}: reports {stem} to {stem}-{MAX_STEM_SUFFIX} all exist",
        model_dir.display()
    )))
}

/// Creates `dir` if need be and a temporary file in it, which is removed at once.
fn probe_folder(dir: &Path) -> std::io::Result<()> {
    crate::util::folder::create_folder(dir)?;
    tempfile::NamedTempFile::new_in(dir).map(drop)
}

/// What a run of `verify` (or a native run) reads or keeps, that none of its outputs may
/// replace: the store's database (`store_dir`, `None`: no store), `--val` (every file of a
/// folder, or the tar), `--ground-truth`, and the model files it runs.
pub(crate) fn run_inputs<'a>(
    store_dir: Option<&Path>,
    val: &Path,
    ground_truth: Option<&Path>,
    models: impl IntoIterator<Item = &'a Path>,
) -> Protected {
    let mut inputs = Protected::new();
    if let Some(dir) = store_dir {
        protect_store(&mut inputs, dir);
    }
    inputs.images(val, format!("the image set {}", val.display()));
    if let Some(file) = ground_truth {
        inputs.file(file, format!("the ground-truth file {}", file.display()));
    }
    for model in models {
        inputs.file(model, format!("the model file {}", model.display()));
    }
    inputs
}

/// The database of the store in `dir`, and its journals.
pub(crate) fn protect_store(inputs: &mut Protected, dir: &Path) {
    for file in crate::store::database_files(dir) {
        inputs.file(
            &file,
            format!("the prediction store's database in {}", dir.display()),
        );
    }
}

/// Checks, before any image is read, that the outputs a run will write can be written: the
/// store's folder (`None`: no store), the report folder of `model_id` under `report_dir`, and
/// `predictions` (its folder, unless it is a special file such as `/dev/stdout`, which is
/// streamed to; and not one of the run's `inputs`). No file is left behind.
pub(crate) fn check_outputs_writable(
    store_dir: Option<&Path>,
    report_dir: &Path,
    model_id: &str,
    predictions: Option<&Path>,
    inputs: &Protected,
) -> anyhow::Result<()> {
    // Checked before either folder is made: one made inside --val would join the image set.
    if let Some(dir) = store_dir {
        inputs.check(dir, "the prediction store (--cache-dir)")?;
    }
    inputs.check(report_dir, "run reports (--report-dir)")?;
    if let Some(dir) = store_dir {
        probe_folder(dir).with_context(|| {
            format!(
                "cannot create the prediction store in {} (pass --cache-dir DIR to put it elsewhere)",
                dir.display()
            )
        })?;
    }
    probe_folder(&report_dir.join(model_id)).with_context(|| {
        format!(
            "cannot write run reports under {} (pass --report-dir DIR)",
            report_dir.display()
        )
    })?;
    match predictions {
        Some(path) => {
            inputs.check(path, "predictions")?;
            check_file_writable(path, "predictions")
        }
        None => Ok(()),
    }
}

/// Checks that `path` (a file the run will write at the end) can be created: its folder exists
/// and is writable, unless it is a special file such as `/dev/stdout`, which is streamed to.
/// Nothing is left behind.
pub(crate) fn check_file_writable(path: &Path, what: &str) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(path);
    // A folder cannot be replaced by the file: said now, not after the whole pass.
    if metadata.as_ref().is_ok_and(|m| m.is_dir())
        || path.as_os_str().as_encoded_bytes().ends_with(b"/")
    {
        anyhow::bail!(
            "cannot write {what} to {}: it names a folder; name a file (in that folder, say)",
            path.display()
        );
    }
    // A special file (a FIFO, /dev/stdout) is written by streaming: opening it here could block.
    if metadata.is_ok_and(|m| !m.is_file()) {
        return Ok(());
    }
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    // Not created: a mistyped folder is an error, as the writer would make it.
    tempfile::NamedTempFile::new_in(folder)
        .map(drop)
        .map_err(|e| crate::util::folder::explain(folder, e))
        .with_context(|| {
            format!(
                "cannot write {what} to {} (its folder is not writable)",
                path.display()
            )
        })
}

/// Writes the report files (under a stem no earlier report holds), prints the record (`--json`)
/// and the summary, and turns the verdict into the exit status.
pub(crate) fn emit(
    record: &RunRecord,
    report_dir: &Path,
    stem: &str,
    json: bool,
    verdict: &crate::cli::VerdictArgs,
) -> anyhow::Result<i32> {
    emit_reports(record, report_dir, stem, json, verdict).map(|(status, _)| status)
}

/// [`emit`], also giving the report files written (the Python `evaluate` returns them).
pub(crate) fn emit_reports(
    record: &RunRecord,
    report_dir: &Path,
    stem: &str,
    json: bool,
    verdict: &crate::cli::VerdictArgs,
) -> anyhow::Result<(i32, Vec<std::path::PathBuf>)> {
    let cannot_write = || {
        format!(
            "cannot write the run report under {} (pass --report-dir DIR)",
            report_dir.display()
        )
    };
    let stem =
        claim_report_stem(&report_dir.join(&record.model_id), stem).with_context(cannot_write)?;
    let written = report::write_reports(report_dir, record, &stem).with_context(cannot_write)?;
    if json {
        super::terminal::print_json(record)?;
    }
    // The summary quotes the model id and a reference source: shown, never interpreted.
    eprintln!("{}", crate::util::escape::terminal(&summary_line(record)));
    for path in &written {
        eprintln!("  report: {}", path.display());
    }
    if let Some(reason) = nothing_scored(record) {
        let warning = format!(
            "zoorepro: warning: {}: {reason}; exit status {}",
            record.model_id,
            exit::NO_REFERENCE
        );
        eprintln!("{}", crate::util::escape::terminal(&warning));
    }
    Ok((exit_status(record, verdict), written))
}

/// Why `record` scored nothing (no labelled image was ranked), or `None`.
fn nothing_scored(record: &RunRecord) -> Option<String> {
    crate::eval::verdict::nothing_scored(record.images, record.evaluated, record.dataset.unlabelled)
}

/// The exit status of a record's verdict: a drift is 1, so is any mark under `--strict`; no
/// reference is 3 under `--require-reference`, and a run that scored nothing is 3 whatever it says.
pub(crate) fn exit_status(record: &RunRecord, args: &crate::cli::VerdictArgs) -> i32 {
    let verdict = &record.verdict;
    let empty = nothing_scored(record).is_some();
    let status = match verdict.status {
        VerdictStatus::Drift => exit::DRIFT,
        VerdictStatus::NoReference if args.require_reference || empty => exit::NO_REFERENCE,
        VerdictStatus::Reproduced | VerdictStatus::Consistent | VerdictStatus::NoReference => {
            exit::SUCCESS
        }
    };
    if args.strict && !verdict.marks.is_empty() {
        exit::worst(status, exit::DRIFT)
    } else {
        status
    }
}

fn failures(ordered: &[(Entry, Prediction)]) -> Vec<Failure> {
    ordered
        .iter()
        .filter_map(|(entry, p)| match &p.outcome {
            Outcome::Failed(error) => Some(Failure {
                file: entry.file.clone(),
                error: error.clone(),
            }),
            Outcome::Ranked { .. } => None,
        })
        .take(MAX_LISTED_FAILURES)
        .collect()
}

/// What a record needs beyond the predictions: where they came from and how they were made.
pub(crate) struct RecordParts {
    pub onnx: OnnxInfo,
    pub recipe: RecipeInfo,
    pub dataset_path: String,
    pub layout: String,
    pub ignored_files: usize,
    pub skipped: Vec<crate::dataset::SkippedEntries>,
    pub archive_end: Option<crate::dataset::ArchiveEnd>,
    /// The labelled images' content digest, when every content is known.
    pub image_set_content_sha256: Option<String>,
    /// The image set's name from its layout (ImageNetV2, -Sketch, -A, -R), where no manifest names it.
    pub layout_set_name: Option<String>,
    /// The `--ground-truth` file that labelled the images, if one did.
    pub ground_truth: Option<crate::dataset::GroundTruthInfo>,
    pub store: Option<StoreInfo>,
    pub provenance: Provenance,
    /// Whether the run covers the whole image set it was started on.
    pub coverage: Coverage,
    /// Labelled images whose content an earlier one of the set already has (unknown, with what
    /// was found, when some content is).
    pub duplicates: Duplicates,
}

/// The run record of an evaluated image set, as `verify` and `merge` both report it. A drift's
/// summary ends with the `zoorepro explain` command that looks for its cause.
pub(crate) fn build_record(
    manifest: &Manifest,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
    parts: RecordParts,
) -> RunRecord {
    let mut record = assemble(manifest, ordered, tolerance, parts);
    // explain runs an ONNX file; a native model (zoorepro.evaluate) has none to name.
    if record.verdict.status == VerdictStatus::Drift && record.onnx.verification == "native" {
        record.verdict.summary = format!(
            "{}; to see why, export it to ONNX and run zoorepro explain on the export",
            record.verdict.summary
        );
    } else if record.verdict.status == VerdictStatus::Drift {
        record.verdict.summary = format!(
            "{}; to see why, run: {}",
            record.verdict.summary,
            explain_command(&record)
        );
    }
    record
}

/// `zoorepro explain` on the record's model, file, recipe, images and labels, quoted for a
/// POSIX shell: everything that makes it explain this run wherever it is run from (the home
/// whose manifests named the model, the store, the ONNX Runtime library), with `verify`'s
/// meaning for each flag.
fn explain_command(record: &RunRecord) -> String {
    let mut args: Vec<String> = vec!["zoorepro".into(), "explain".into()];
    let mut flag = |name: &str, value: &str| {
        args.extend([name.to_string(), value.to_string()]);
    };
    let provenance = &record.provenance;
    if !provenance.home.is_empty() {
        flag("--home", &provenance.home);
    }
    if let Some(store) = &record.store
        && let Some(dir) = std::path::Path::new(&store.database).parent()
    {
        flag("--cache-dir", &dir.display().to_string());
    }
    if !provenance.ort_library.is_empty() {
        flag("--ort-lib", &provenance.ort_library);
    }
    // A `--like` run's id (like/ID) names no manifest: explain takes --like as verify did.
    match &record.onnx.like {
        Some(like) => flag("--like", &like.model),
        None => flag("--model", &record.model_id),
    }
    flag("--onnx", &record.onnx.path);
    // A recipe the overrides derived is named `BASE + CHANGES`: explain derives it the same way.
    match crate::image::overrides::parse_derived_name(&record.recipe.name) {
        Some((base, overrides)) => {
            flag("--recipe", base);
            for (name, value) in overrides.changes() {
                flag(&format!("--{}", name.replace('_', "-")), &value);
            }
        }
        None => flag("--recipe", &record.recipe.name),
    }
    if record.recipe.pillow_compat != "13" && !record.recipe.pillow_compat.is_empty() {
        flag("--pillow-compat", &record.recipe.pillow_compat);
    }
    flag("--val", &record.dataset.path);
    if let Some(truth) = &record.dataset.ground_truth {
        flag("--ground-truth", &truth.path);
    }
    if record.onnx.verification == "unverified" {
        args.push("--allow-unverified".into());
    }
    args.iter()
        .map(|arg| super::interrupt::shell_quote(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

fn assemble(
    manifest: &Manifest,
    ordered: &[(Entry, Prediction)],
    tolerance: f64,
    mut parts: RecordParts,
) -> RunRecord {
    let Assessment {
        score,
        image_set_sha256,
        image_set_content_sha256,
        mut references,
        mut verdict,
    } = assess(
        manifest,
        &parts.recipe.name,
        ordered,
        parts.image_set_content_sha256.take(),
        parts.layout_set_name.as_deref(),
        tolerance,
    );
    let check = image_set_check(
        ordered,
        &references,
        image_set_content_sha256.is_some(),
        &parts,
    );
    if score.evaluated > 0 {
        say_why_no_reference(manifest, &parts.recipe.definition, &mut verdict);
    }
    apply_rule(&mut verdict, &mut references, &parts.onnx, &check);
    let image_set = ImageSetId {
        sha256: &image_set_sha256,
        content_sha256: image_set_content_sha256.as_deref(),
        images: score.images,
        layout_name: parts.layout_set_name.as_deref(),
        within_full_val: false,
    };
    RunRecord {
        model_id: manifest.id.clone(),
        onnx: parts.onnx,
        recipe: parts.recipe,
        dataset: DatasetInfo {
            path: parts.dataset_path,
            layout: parts.layout,
            image_set_name: image_set_name(
                manifest,
                ordered,
                check.label_disagreements > 0,
                &image_set,
            ),
            scored_classes: scored_classes(parts.layout_set_name.as_deref()),
            image_set_sha256: image_set_sha256.clone(),
            image_set_content_sha256: image_set_content_sha256.clone(),
            unlabelled: unlabelled(ordered),
            ground_truth: parts.ground_truth,
            ignored_files: parts.ignored_files,
            skipped: parts.skipped,
            archive_end: parts.archive_end,
        },
        images: score.images,
        evaluated: score.evaluated,
        failed: score.failed,
        top1_correct: score.top1_correct,
        top5_correct: score.top5_correct,
        top1: score.percentages().0,
        top5: score.percentages().1,
        top1_interval: interval(&score, score.top1_correct),
        top5_interval: interval(&score, score.top5_correct),
        references,
        verdict,
        image_set: Some(check),
        per_class: per_class(ordered, &score),
        store: parts.store,
        failures: failures(ordered),
        provenance: parts.provenance,
    }
}

/// The verdict rule on the numeric verdict: its status, marks and summary; and a verdict the
/// rule took the reference from (relabelled) is decided by none of them, in any output (the
/// record's `decided by`, the results file's reference and delta).
fn apply_rule(
    verdict: &mut crate::eval::verdict::Verdict,
    references: &mut [crate::eval::verdict::ReferenceResult],
    onnx: &crate::report::OnnxInfo,
    check: &trust::ImageSetCheck,
) {
    let model = ModelCheck::from_verification(&onnx.verification);
    trust::finish(verdict, references, model, check);
    for reference in references {
        reference.expected &= verdict.expected_source.is_some();
    }
}

/// The 95% interval of `correct` of the scored images; none around a number there is not (no
/// labelled image was ranked).
fn interval(score: &crate::eval::verdict::Score, correct: usize) -> Option<[f64; 2]> {
    (score.evaluated > 0)
        .then(|| crate::report::percent_interval(correct, score.images))
        .flatten()
}

/// Each class's accuracy; none where no image was ranked (each would read 0%).
fn per_class(
    ordered: &[(Entry, Prediction)],
    score: &crate::eval::verdict::Score,
) -> Vec<crate::report::ClassAccuracy> {
    if score.evaluated == 0 {
        return Vec::new();
    }
    crate::eval::classes::per_class(ordered)
}

/// A recipe the manifest does not declare (an override's, a source's) gets no reference: the
/// verdict names the parameters that differ from each expected reference's recipe.
fn say_why_no_reference(
    manifest: &Manifest,
    recipe: &crate::image::recipe::Recipe,
    verdict: &mut crate::eval::verdict::Verdict,
) {
    if verdict.status == VerdictStatus::NoReference
        && let Some(why) = manifest.why_no_reference(recipe)
    {
        verdict.summary = format!("{}; {why}", verdict.summary);
    }
}

/// The class subset a layout's set is scored on (ImageNet-A's and -R's 200 classes), by name.
fn scored_classes(layout_set_name: Option<&str>) -> Option<String> {
    layout_set_name
        .and_then(crate::dataset::class_subset)
        .map(|subset| subset.name.to_string())
}

fn unlabelled(ordered: &[(Entry, Prediction)]) -> usize {
    ordered
        .iter()
        .filter(|(entry, _)| entry.label.is_none())
        .count()
}

/// The set's name in the record: a relabelled set is named by its labels; any other by the
/// manifest's name for it, or else by the dataset layout's.
fn image_set_name(
    manifest: &Manifest,
    ordered: &[(Entry, Prediction)],
    relabelled: bool,
    image_set: &ImageSetId,
) -> Option<String> {
    if relabelled {
        Some(trust::relabelled_set_name(
            image_set.images,
            &trust::labels_digest(
                ordered
                    .iter()
                    .filter_map(|(entry, _)| Some((entry.name.as_str(), entry.label?))),
            ),
        ))
    } else {
        manifest
            .image_set_name(image_set)
            .map(str::to_string)
            .or_else(|| image_set.layout_name.map(str::to_string))
    }
}

/// What the verdict rule needs to know of the evaluated set besides its numbers.
fn image_set_check(
    ordered: &[(Entry, Prediction)],
    references: &[crate::report::ReferenceResult],
    content_known: bool,
    parts: &RecordParts,
) -> ImageSetCheck {
    let (coverage, duplicates) = (parts.coverage, parts.duplicates);
    let labels =
        trust::check_labels(ordered.iter().filter_map(|(entry, _)| {
            Some((entry.name.as_str(), entry.file.as_str(), entry.label?))
        }));
    let identity = references
        .iter()
        .find(|r| r.expected)
        .and_then(|r| r.identity)
        .unwrap_or(if content_known {
            Identity::Content
        } else {
            Identity::NamesAndCount
        });
    ImageSetCheck {
        identity,
        coverage,
        duplicates,
        label_disagreements: labels.disagreements,
        label_disagreement_examples: labels.examples,
    }
}

pub(crate) fn summary_line(record: &RunRecord) -> String {
    format!(
        "{}: top-1 {} ({}/{}), top-5 {} ({}/{}), {} failed; {}",
        record.model_id,
        crate::report::percent_text(record.top1, 2),
        record.top1_correct,
        record.images,
        crate::report::percent_text(record.top5, 2),
        record.top5_correct,
        record.images,
        record.failed,
        record.verdict.summary
    )
}

/// A native model's shards (`zoorepro.evaluate(..., shard=K/N)`) share a key of the caller's
/// name and checkpoint digest, and nothing here can run a Python function again: the merged
/// record says what joined them and how to re-check each (the spot check of a resumed run), in
/// its summary (every format) and `onnx.sidecar.native.merged_shards`, and so does stderr.
pub(crate) fn say_native_shards_joined(record: &mut RunRecord, count: u32) {
    let note = format!(
        "Its {count} shards ran natively (zoorepro.evaluate) and were joined on the caller's name \
         and checkpoint_sha256 only: nothing re-checks that one model made them all. To re-check \
         a shard, run the model on it again (zoorepro.evaluate with its shard=K/{count}, name, \
         checkpoint_sha256 and cache_dir): the spot check infers 64 of its stored images again \
         and refuses another model's rows."
    );
    eprintln!("zoorepro: warning: {}: {note}", record.model_id);
    record.verdict.summary = format!("{} {note}", record.verdict.summary);
    if let Some(native) = record
        .onnx
        .sidecar
        .as_mut()
        .and_then(|s| s.get_mut("native"))
    {
        native["merged_shards"] = count.into();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_stem_is_never_taken_twice() {
        let dir = tempfile::tempdir().unwrap();
        let model_dir = dir.path().join("coral/m");
        let stem = "20261202T120000Z-0123456789ab";
        assert_eq!(claim_report_stem(&model_dir, stem).unwrap(), stem);
        assert_eq!(
            claim_report_stem(&model_dir, stem).unwrap(),
            format!("{stem}-2")
        );
        // An orphaned Markdown report holds its name as well.
        std::fs::write(model_dir.join(format!("{stem}-3.md")), "").unwrap();
        assert_eq!(
            claim_report_stem(&model_dir, stem).unwrap(),
            format!("{stem}-4")
        );
    }

    #[test]
    fn the_explain_command_parses_back_to_the_runs_home_store_model_recipe_and_labels() {
        use crate::cli::{Cli, Command};
        use crate::image::overrides::Overrides;
        use clap::Parser as _;
        let mut record = crate::report::tests::sample_record();
        record.provenance.home = "/h/home".into();
        record.provenance.ort_library = "/o/libonnxruntime.so".into();
        record.store = Some(StoreInfo {
            database: "/c/cache/zoorepro.sqlite3".into(),
            run_id: 1,
            key: "k".into(),
            reused: 0,
        });
        record.onnx.like = Some(crate::store::LikeInfo {
            model: "pypi/efficientnet_lite0".into(),
            known_sha256: None,
            note: String::new(),
        });
        record.onnx.verification = "unpinned".into();
        let overrides = Overrides {
            crop_pct: Some(0.875),
            mean: Some([0.5, 0.5, 0.5]),
            ..Default::default()
        };
        let base = crate::image::recipe::preset("torchvision").unwrap();
        record.recipe.name = overrides.apply(&base).unwrap().name;
        record.dataset.ground_truth = Some(crate::dataset::GroundTruthInfo {
            path: "/g/truth.csv".into(),
            sha256: "s".into(),
            rows: 1,
            unlisted: None,
        });
        let command = explain_command(&record);
        assert!(
            command.starts_with("zoorepro explain --home /h/home"),
            "{command}"
        );
        let cli =
            Cli::try_parse_from(command.split(' ')).unwrap_or_else(|e| panic!("{command}: {e}"));
        assert_eq!(cli.home.as_deref(), Some(std::path::Path::new("/h/home")));
        assert_eq!(
            cli.cache_dir.as_deref(),
            Some(std::path::Path::new("/c/cache"))
        );
        let Command::Explain(args) = cli.command else {
            panic!("{command}")
        };
        assert_eq!(
            args.model.like.like.as_deref(),
            Some("pypi/efficientnet_lite0")
        );
        assert_eq!(args.model.model, None);
        assert_eq!(args.model.recipe.as_deref(), Some("torchvision"));
        assert_eq!(Overrides::from(&args.model.overrides), overrides);
        assert_eq!(args.val, std::path::Path::new("/data/val"));
        assert_eq!(
            args.labels.ground_truth.as_deref(),
            Some(std::path::Path::new("/g/truth.csv"))
        );
        assert_eq!(
            args.runtime.ort_lib.as_deref(),
            Some(std::path::Path::new("/o/libonnxruntime.so"))
        );
        assert!(!args.model.allow_unverified);
        // A file run with --allow-unverified is explained with it.
        record.onnx.like = None;
        record.onnx.verification = "unverified".into();
        let command = explain_command(&record);
        assert!(
            command.contains("--model coral/mobilenet_v2_1.0_224_quant")
                && command.ends_with("--allow-unverified"),
            "{command}"
        );
    }

    #[test]
    fn concurrent_claims_of_one_stem_all_differ() {
        let dir = tempfile::tempdir().unwrap();
        let model_dir = dir.path().join("m");
        let stem = "20261202T120000Z-0123456789ab";
        let claims: Vec<String> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| scope.spawn(|| claim_report_stem(&model_dir, stem).unwrap()))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut distinct = claims.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 8, "{claims:?}");
    }
}
