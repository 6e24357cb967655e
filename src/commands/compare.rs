//! `zoorepro compare A B`: two runs image by image, on the images both scored from the same
//! content. The figures are [`crate::eval::compare`]'s, the formats [`crate::report::compare`]'s;
//! this file finds the runs, reads their rows, and the thumbnails `--format html` may show.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context as _;

use super::Context;
use super::shared::{lookup, terminal};
use crate::cli::{CompareArgs, CompareFormat};
use crate::eval::compare::{Difference, PairTally, class_changes};
use crate::eval::prediction::{Content, Prediction, percent};
use crate::eval::stats::mcnemar_exact_p;
use crate::eval::trust::{Coverage, Mark};
use crate::exit;
use crate::report::Render;
use crate::report::compare::{Comparison, Html, Markdown, Side, Text};
use crate::store::{RunInfo, Store};

/// A run's coverage and the marks it gives every figure of it.
fn coverage(run: &RunInfo) -> (&'static str, Vec<Mark>) {
    if !run.complete {
        return ("interrupted", vec![Mark::Partial]);
    }
    let coverage = run
        .summary
        .as_ref()
        .and_then(|s| s.coverage)
        .unwrap_or(Coverage::Unknown);
    let marks = match coverage {
        Coverage::Complete => Vec::new(),
        Coverage::Shard | Coverage::Partial => vec![Mark::Partial],
        Coverage::Unknown => vec![Mark::UnknownIdentity],
    };
    (coverage.name(), marks)
}

pub fn run(ctx: &Context, args: &CompareArgs) -> anyhow::Result<i32> {
    let store = Store::open_for_reading(&ctx.cache_dir()?)?;
    let runs = store.runs()?;
    let (a, b) = (
        lookup::resolve_run(ctx, &store, &runs, &args.a)?,
        lookup::resolve_run(ctx, &store, &runs, &args.b)?,
    );
    let a_rows = store.predictions(a.id)?;
    let b_rows: HashMap<String, Prediction> = store
        .predictions(b.id)?
        .into_iter()
        .map(|p| (p.name.clone(), p))
        .collect();
    let contents = [store.contents(a.id)?, store.contents(b.id)?];

    let pair = PairTally::of(&a_rows, &b_rows, &contents);
    if pair.labelled_differently > 0 {
        anyhow::bail!(
            "runs {} and {} label {} of the images they share differently (their ground truths \
             differ): neither's accuracy can be told under the other's labels; compare runs \
             labelled alike",
            a.id,
            b.id,
            pair.labelled_differently
        );
    }
    let images = pair.images;
    if images == 0 {
        let differ = match pair.pairing.not_comparable {
            0 => String::new(),
            n => format!(" ({n} images share a name but not their content)"),
        };
        anyhow::bail!(
            "runs {} and {} have no scored image in common{differ}: nothing to compare",
            a.id,
            b.id
        );
    }
    let side = |run: &RunInfo, correct: usize, top5: usize| Side {
        coverage: coverage(run).0,
        marks: coverage(run).1,
        run: run.id,
        model_id: run.model_id.clone(),
        native_name: run.meta.native().map(|native| native.name),
        kind: run.key.kind,
        recipe: run.key.recipe.clone(),
        provider: run.key.provider.clone(),
        batch: run.key.batch,
        top1: percent(correct, images),
        top5: percent(top5, images),
        top1_interval: crate::report::percent_interval(correct, images),
        top5_interval: crate::report::percent_interval(top5, images),
    };
    let comparison = Comparison {
        a: side(&a, pair.a_correct, pair.a_top5),
        b: side(&b, pair.b_correct, pair.b_top5),
        images,
        pairing: pair.pairing,
        top1_agreement: pair.agree,
        top1_agreement_percent: percent(pair.agree, images),
        identical_top5_sets: pair.same_sets,
        identical_top5_sets_percent: percent(pair.same_sets, images),
        top1_difference: percent(pair.b_correct, images) - percent(pair.a_correct, images),
        only_a_correct: pair.only_a,
        only_b_correct: pair.only_b,
        mcnemar_exact_p: mcnemar_exact_p(pair.only_a as u64, pair.only_b as u64),
        class_changes: class_changes(&pair.classes),
        top1_differs: pair.differs,
    };
    emit(args, &comparison, &contents)?;
    Ok(exit::SUCCESS)
}

/// Prints the comparison in the format asked for (on a terminal, text; in a pipe, Markdown).
fn emit(
    args: &CompareArgs,
    comparison: &Comparison,
    contents: &[HashMap<String, Content>; 2],
) -> anyhow::Result<()> {
    let format =
        terminal::default_format(args.format, CompareFormat::Text, CompareFormat::Markdown);
    let text = match format {
        CompareFormat::Json => return terminal::print_json(comparison),
        CompareFormat::Markdown => Markdown { limit: args.limit }.render(comparison),
        CompareFormat::Text => Text { limit: args.limit }.render(comparison),
        CompareFormat::Html => {
            let source = match args.val.as_deref() {
                Some(val) => Some(ThumbnailSource::open(contents, val)?),
                None => None,
            };
            let image = |d: &Difference| source.as_ref().and_then(|source| source.image(d));
            Html {
                limit: args.limit,
                val: args.val.as_deref(),
                image: &image,
            }
            .render(comparison)
        }
    };
    terminal::stdout().write_all(text.as_bytes())?;
    Ok(())
}

/// Where thumbnails may come from: files under the canonical `--val` folder whose content is the
/// one a run scored. A stored file name is only a claim (a hostile tar's member may be named
/// `/home/u/private/x.JPEG` or `../../x.JPEG`): joined to `--val` unchecked, it would embed
/// whatever it names in the page.
struct ThumbnailSource {
    /// `--val`, canonical; `None` when it is not a folder (an archive: no thumbnails).
    root: Option<std::path::PathBuf>,
    /// By image name: the contents the runs scored (either run's).
    contents: HashMap<String, Vec<Content>>,
}

impl ThumbnailSource {
    fn open(runs: &[HashMap<String, Content>; 2], val: &Path) -> anyhow::Result<Self> {
        let root = if val.is_dir() {
            Some(
                val.canonicalize()
                    .with_context(|| format!("cannot read --val {}", val.display()))?,
            )
        } else {
            None
        };
        let mut contents: HashMap<String, Vec<Content>> = HashMap::new();
        for run in runs {
            for (name, content) in run {
                let known = contents.entry(name.clone()).or_default();
                if !known.contains(content) {
                    known.push(*content);
                }
            }
        }
        Ok(ThumbnailSource { root, contents })
    }

    /// The bytes of the image a difference is about, when its file lies under `--val` (after
    /// resolving `..` and symlinks) and is exactly what a run scored.
    fn image(&self, d: &Difference) -> Option<Vec<u8>> {
        let root = self.root.as_ref()?;
        let expected = self.contents.get(&d.name)?;
        let relative = crate::dataset::normalised_member_path(&d.file)?;
        let path = root.join(relative).canonicalize().ok()?;
        if !path.starts_with(root) {
            return None;
        }
        let bytes = crate::util::safe_file::read_regular(
            &path,
            crate::dataset::MAX_IMAGE_BYTES,
            "an image",
        )
        .ok()?;
        expected.contains(&Content::of(&bytes)).then_some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scores every image alike: a model run natively, as the Python `evaluate` runs one.
    struct Constant;

    impl crate::runtime::Classifier for Constant {
        fn classify(
            &mut self,
            _input: &[f32],
            samples: usize,
            _sample_shape: [usize; 3],
            scores: &mut Vec<f32>,
        ) -> Result<usize, crate::runtime::RuntimeError> {
            scores.extend((0..samples * 1001).map(|i| (i % 1001) as f32));
            Ok(1001)
        }
    }

    /// A native run (`zoorepro.evaluate(..., name=...)`) is shown by the caller's name beside
    /// its model id in every format, where an ONNX run's id is shown alone.
    #[test]
    fn a_native_run_is_shown_by_its_name_in_every_format() {
        use clap::Parser as _;
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cli = |args: &[&str]| {
            let mut argv = vec!["zoorepro", "--home", repo.to_str().unwrap(), "--cache-dir"];
            argv.push(dir.path().to_str().unwrap());
            crate::cli::Cli::try_parse_from(argv.into_iter().chain(args.iter().copied())).unwrap()
        };
        let demo = repo.join("demo");
        let mut runs = Vec::new();
        for name in ["mine-a", "theirs-b"] {
            let cli = cli(&[
                "verify",
                "--model",
                "coral/mobilenet_v2_1.0_224_quant",
                "--val",
                demo.to_str().unwrap(),
                "--limit",
                "6",
                "--report-dir",
                dir.path().to_str().unwrap(),
            ]);
            let crate::cli::Command::Verify(args) = &cli.command else {
                unreachable!()
            };
            let native = crate::commands::NativeModel {
                framework: Some("test".into()),
                name: name.into(),
                checkpoint_sha256: None,
                like: false,
            };
            let ctx = Context::new(cli.home.clone(), cli.cache_dir.clone());
            let run = crate::commands::run_native(&ctx, args, native, Box::new(Constant))
                .unwrap()
                .unwrap();
            runs.push(run.record.store.unwrap().run_id.to_string());
        }
        for format in ["json", "text", "markdown", "html"] {
            let compare = cli(&["compare", &runs[0], &runs[1], "--format", format]);
            let (status, out) = crate::commands::run_capturing(compare);
            assert_eq!(status, 0, "{format}");
            if format == "json" {
                let json: serde_json::Value = serde_json::from_str(&out).unwrap();
                assert_eq!(json["a"]["native_name"], "mine-a", "{out}");
                assert_eq!(json["b"]["native_name"], "theirs-b", "{out}");
                continue;
            }
            for name in ["mine-a", "theirs-b"] {
                let shown = format!("coral/mobilenet_v2_1.0_224_quant (native: {name})");
                assert!(out.contains(&shown), "{format}: {out}");
            }
        }
    }

    #[test]
    fn thumbnails_read_only_the_scored_files_under_val() {
        let dir = tempfile::tempdir().unwrap();
        let val = dir.path().join("val");
        std::fs::create_dir_all(val.join("n01440764")).unwrap();
        let private = dir.path().join("private.JPEG");
        std::fs::write(&private, b"private bytes").unwrap();
        std::fs::write(val.join("n01440764/a.JPEG"), b"scored bytes").unwrap();
        std::fs::write(val.join("n01440764/changed.JPEG"), b"edited since").unwrap();
        std::os::unix::fs::symlink(&private, val.join("n01440764/link.JPEG")).unwrap();
        let scored = Content::of(b"scored bytes");
        let private_content = Content::of(b"private bytes");
        let contents = [
            ("a.JPEG", scored),
            ("changed.JPEG", scored),
            // Even where the store holds the private file's digest, no path may reach it.
            ("private.JPEG", private_content),
            ("link.JPEG", private_content),
        ]
        .into_iter()
        .map(|(name, content)| (name.to_string(), vec![content]))
        .collect();
        let source = ThumbnailSource {
            root: Some(val.canonicalize().unwrap()),
            contents,
        };
        let difference = |file: &str| Difference {
            name: file.rsplit('/').next().unwrap().to_string(),
            file: file.to_string(),
            label: 0,
            label_name: "tench",
            a_top1: 0,
            a_name: "tench",
            b_top1: 1,
            b_name: "goldfish",
        };
        assert_eq!(
            source.image(&difference("n01440764/a.JPEG")).as_deref(),
            Some(&b"scored bytes"[..])
        );
        for refused in [
            "n01440764/changed.JPEG".to_string(),
            "n01440764/link.JPEG".to_string(),
            "../private.JPEG".to_string(),
            "n01440764/../../private.JPEG".to_string(),
            private.display().to_string(),
            "n01440764/unknown.JPEG".to_string(),
        ] {
            assert_eq!(source.image(&difference(&refused)), None, "{refused}");
        }
    }
}
