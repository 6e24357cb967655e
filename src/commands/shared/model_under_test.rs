//! The model a command evaluates (`verify`, `determinism`, `explain`, `add-model`): the manifest,
//! the recipe, the ONNX file, and the check that the graph takes what the recipe produces; the
//! timm-style overrides and `--like` are applied here, once for every command that selects, so
//! that they mean the same in each.

use std::path::{Path, PathBuf};

use anyhow::bail;

use crate::cli::{ModelArgs, ModelsArgs};
use crate::commands::Context;
use crate::image::overrides::Overrides;
use crate::image::pipelines::PillowCompat;
use crate::image::recipe::{Layout, Recipe};
use crate::model::bytes::ModelBytes;
use crate::model::derived::LIKE_PREFIX;
use crate::model::manifest::{self, Manifest};
use crate::report::OnnxInfo;
use crate::runtime::Model;
use crate::store::LikeInfo;

/// The model a command evaluates, as its flags select it: the manifest, the recipe, the Pillow
/// release to match, and the ONNX file with its verification against the manifest.
pub(crate) struct ModelUnderTest {
    pub home: PathBuf,
    pub manifest: Manifest,
    pub recipe: Recipe,
    pub compat: PillowCompat,
    pub onnx_path: PathBuf,
    pub onnx: OnnxInfo,
}

/// A model the flags chose, its ONNX file not read yet: a many-model pass reads each file only
/// when it opens that model's session, so that no more than one model's bytes are held at once.
pub(crate) struct Chosen {
    pub home: PathBuf,
    pub manifest: Manifest,
    pub recipe: Recipe,
    pub compat: PillowCompat,
    pub onnx_path: PathBuf,
    allow_unverified: bool,
    /// `--like`: the known model's id and pin.
    like: Option<(String, Option<String>)>,
}

/// How the flags ask a model to be fed: `--recipe`, `--pillow-compat`, the timm-style overrides.
struct Feed<'a> {
    recipe: Option<&'a str>,
    compat: PillowCompat,
    overrides: Overrides,
}

impl ModelUnderTest {
    /// The one model the flags name, its file read (once) and checked against the manifest's
    /// pin: every session of it is to be built from the bytes returned, never from the path.
    pub fn select(ctx: &Context, args: &ModelArgs) -> anyhow::Result<(Self, ModelBytes)> {
        let home = ctx.home()?;
        let manifests = ctx.manifests(&home)?;
        let feed = Feed {
            recipe: args.recipe.as_deref(),
            compat: args.pillow_compat.into(),
            overrides: (&args.overrides).into(),
        };
        if let Some(like) = &args.like.like {
            return Chosen::like(home, &manifests, like, args.onnx.clone(), &feed)?.read();
        }
        // clap requires --model without --like.
        let id = args.model.as_deref().unwrap_or_default();
        let manifest = manifest::resolve(&manifests, id)?.clone();
        Chosen::new(
            home,
            manifest,
            &feed,
            args.onnx.clone(),
            args.allow_unverified,
        )?
        .read()
    }

    /// The models a `verify` pass evaluates: those the queries name (globs included), or with
    /// `--all-present` those of them (of all, without queries) whose ONNX file is present; with
    /// `--like ID`, the user's `--onnx` file judged by manifest ID's recipes and references.
    pub fn select_many(ctx: &Context, args: &ModelsArgs) -> anyhow::Result<Vec<Chosen>> {
        let home = ctx.home()?;
        let manifests = ctx.manifests(&home)?;
        let feed = Feed {
            recipe: args.recipe.as_deref(),
            compat: args.pillow_compat.into(),
            overrides: (&args.overrides).into(),
        };
        if let Some(like) = &args.like.like {
            return Ok(vec![Chosen::like(
                home,
                &manifests,
                like,
                args.onnx.clone(),
                &feed,
            )?]);
        }
        let mut chosen: Vec<&Manifest> = if args.model.is_empty() {
            manifests.iter().collect()
        } else {
            crate::model::select::select(&manifests, &args.model)?
        };
        let models_dir = args
            .models_dir
            .clone()
            .unwrap_or_else(|| home.join("models"));
        if args.all_present {
            chosen.retain(|m| models_dir.join(&m.file).is_file());
            if chosen.is_empty() {
                bail!(
                    "no ONNX file of {} is present under {}: export them (scripts/export/) or name models with --model",
                    if args.model.is_empty() {
                        "any manifest".to_string()
                    } else {
                        args.model.join(",")
                    },
                    models_dir.display()
                );
            }
        }
        if chosen.len() > 1 && args.onnx.is_some() {
            bail!(
                "--onnx names one file, but --model selects {} models ({}); pass one model with --onnx",
                chosen.len(),
                chosen
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        chosen
            .into_iter()
            .map(|manifest| {
                let onnx = args
                    .onnx
                    .clone()
                    .unwrap_or_else(|| models_dir.join(&manifest.file));
                Chosen::new(
                    home.clone(),
                    manifest.clone(),
                    &feed,
                    Some(onnx),
                    args.allow_unverified,
                )
            })
            .collect()
    }
}

impl ModelUnderTest {
    /// The model a native run (the Python `zoorepro.evaluate`) stands for: its manifest and
    /// recipe as `verify --model ID [--recipe R]` resolves them, and no ONNX file: `onnx` says
    /// what ran instead.
    pub fn native(ctx: &Context, args: &ModelsArgs, onnx: OnnxInfo) -> anyhow::Result<Self> {
        let home = ctx.home()?;
        let manifests = ctx.manifests(&home)?;
        let chosen = crate::model::select::select(&manifests, &args.model)?;
        let [manifest] = chosen[..] else {
            bail!(
                "{} selects {} models; a native run is one model",
                args.model.join(","),
                chosen.len()
            );
        };
        let manifest = manifest.clone();
        let recipe = manifest.recipe(args.recipe.as_deref())?;
        Ok(ModelUnderTest {
            home,
            manifest,
            recipe,
            compat: args.pillow_compat.into(),
            onnx_path: PathBuf::new(),
            onnx,
        })
    }
}

impl Chosen {
    /// `--like ID --onnx FILE`: the user's file judged by manifest ID's recipes and references,
    /// under an id of its own (`like/ID`).
    fn like(
        home: PathBuf,
        manifests: &[Manifest],
        like: &str,
        onnx: Option<PathBuf>,
        feed: &Feed<'_>,
    ) -> anyhow::Result<Self> {
        let known = manifest::resolve(manifests, like)?;
        let Some(onnx) = onnx else {
            bail!("--like {like} judges your own export: name it with --onnx FILE");
        };
        let mut chosen = Chosen::new(home, known.like(&onnx), feed, Some(onnx), false)?;
        chosen.like = Some((known.id.clone(), known.sha256.clone()));
        Ok(chosen)
    }

    fn new(
        home: PathBuf,
        mut manifest: Manifest,
        feed: &Feed<'_>,
        onnx: Option<PathBuf>,
        allow_unverified: bool,
    ) -> anyhow::Result<Self> {
        let requested = feed.recipe;
        let recipe = manifest.recipe(requested)?;
        if let Some(requested) = requested
            && requested != recipe.name
        {
            eprintln!(
                "zoorepro: {} makes the same tensor as {}'s recipe {}: running it as that recipe (its references, its stored runs)",
                crate::util::escape::terminal(requested),
                manifest.id,
                recipe.name
            );
        }
        let recipe = derive(&mut manifest, recipe, &feed.overrides)?;
        let onnx_path = onnx.unwrap_or_else(|| manifest.onnx_path(&home));
        // Said before any other work; the file is read (and this checked again) later.
        check_present(&onnx_path)?;
        Ok(Self {
            home,
            manifest,
            recipe,
            compat: feed.compat,
            onnx_path,
            allow_unverified,
            like: None,
        })
    }

    /// Reads the ONNX file once and checks those bytes against the manifest's pin. A `--like`
    /// file whose bytes are the known model's pinned file is that model's verified file: the
    /// verdict rule judges the bytes evaluated, not the flag that named them (docs/guarantees.md),
    /// so it carries the known model's pin and no `unverified-model` mark.
    pub fn read(mut self) -> anyhow::Result<(ModelUnderTest, ModelBytes)> {
        check_present(&self.onnx_path)?;
        let bytes = ModelBytes::read(&self.onnx_path)?;
        if let Some((_, Some(pin))) = &self.like
            && pin.eq_ignore_ascii_case(bytes.sha256())
        {
            self.manifest.sha256 = Some(pin.clone());
        }
        let mut onnx = verify_pin(&self.manifest, &bytes, self.allow_unverified)?;
        if let Some((known, known_sha256)) = self.like {
            onnx.like = Some(like_info(known, known_sha256, &onnx));
        }
        let under_test = ModelUnderTest {
            home: self.home,
            manifest: self.manifest,
            recipe: self.recipe,
            compat: self.compat,
            onnx_path: self.onnx_path,
            onnx,
        };
        Ok((under_test, bytes))
    }
}

/// The recipe the overrides derive from `base`, judged as the manifest's declared recipe when
/// it makes the same tensor (its references then apply), else under its own name. A `--like`
/// manifest takes the derived layout, which its user's file decides.
fn derive(manifest: &mut Manifest, base: Recipe, overrides: &Overrides) -> anyhow::Result<Recipe> {
    if overrides.is_empty() {
        return Ok(base);
    }
    let derived = overrides.apply(&base)?;
    if derived.same_tensor(&base) {
        eprintln!(
            "zoorepro: {} makes the same tensor as recipe {}: running it as that recipe",
            crate::util::escape::terminal(&derived.name),
            crate::util::escape::terminal(&base.name)
        );
        return Ok(base);
    }
    if manifest.id.starts_with(LIKE_PREFIX) {
        manifest.input.layout = derived.layout;
    }
    manifest.check_fits(&derived)?;
    let canonical = manifest.canonical(derived.clone());
    if canonical.name != derived.name {
        eprintln!(
            "zoorepro: {} makes the same tensor as {}'s recipe {}: running it as that recipe (its references, its stored runs)",
            crate::util::escape::terminal(&derived.name),
            manifest.id,
            canonical.name
        );
    }
    Ok(canonical)
}

/// What the record says of a `--like` file: it is the user's, judged by the known model's
/// recipes and references; or it is the known model's pinned file itself, verified.
fn like_info(known: String, known_sha256: Option<String>, onnx: &OnnxInfo) -> LikeInfo {
    let note = if onnx.verification == "verified" {
        eprintln!(
            "zoorepro: {} is {known}'s pinned file: verified by its sha256, judged as {known} (the run is stored as like/{known})",
            onnx.path
        );
        format!(
            "{} (sha256 {}) is byte for byte {known}'s pinned file: verified against that pin and judged by {known}'s recipes and references (--like {known})",
            onnx.path, onnx.sha256
        )
    } else {
        format!(
            "{} (sha256 {}) is your export, not {known}'s file{}: judged by {known}'s recipes and references (--like {known}), unpinned",
            onnx.path,
            onnx.sha256,
            known_sha256
                .as_deref()
                .map(|pin| format!(" (which is pinned to sha256 {pin})"))
                .unwrap_or_default()
        )
    };
    LikeInfo {
        model: known,
        known_sha256,
        note,
    }
}

/// A missing file gets the hint to export it; anything else at the path (a FIFO, a device, a
/// directory) is left to the guarded read, which says what it is.
fn check_present(path: &Path) -> anyhow::Result<()> {
    if !path.exists() {
        bail!(
            "ONNX file {} not found: export it (scripts/export/export_torchvision.py / export_keras.py) or pass --onnx FILE",
            path.display()
        );
    }
    Ok(())
}

/// Checks the hash of the bytes read against the manifest's pin.
fn verify_pin(
    manifest: &Manifest,
    model: &ModelBytes,
    allow_unverified: bool,
) -> anyhow::Result<OnnxInfo> {
    let path = model.path();
    let sha256 = model.sha256().to_string();
    let verification = match &manifest.sha256 {
        None => "unpinned",
        Some(pinned) if pinned.eq_ignore_ascii_case(&sha256) => "verified",
        Some(pinned) if allow_unverified => {
            eprintln!(
                "zoorepro: warning: {} has sha256 {sha256}, not the manifest's {pinned}; the record says \"unverified\"",
                path.display()
            );
            "unverified"
        }
        Some(pinned) => bail!(
            "{} has sha256 {sha256}, but manifest {} pins {pinned}: this is not the file the manifest describes \
             (pass --allow-unverified to evaluate it anyway; the record will say \"unverified\")",
            path.display(),
            manifest.id
        ),
    };
    Ok(OnnxInfo {
        path: path.display().to_string(),
        sha256,
        verification: verification.into(),
        manifest_sha256: manifest.sha256.clone(),
        sidecar: read_sidecar(path),
        io_names: None,
        like: None,
    })
}

/// The export scripts write `<file>.json` beside each export; the record carries it as provenance.
fn read_sidecar(onnx: &Path) -> Option<serde_json::Value> {
    let mut name = onnx.as_os_str().to_owned();
    name.push(".json");
    let path = PathBuf::from(name);
    if !path.exists() {
        return None;
    }
    // Provenance is a few hundred bytes; a huge or special file must not be copied whole.
    match crate::util::safe_file::read_regular(&path, MAX_SIDECAR_BYTES, "an export sidecar") {
        Ok(bytes) => serde_json::from_slice(&bytes).ok(),
        Err(error) => {
            eprintln!("zoorepro: warning: {error}; the record carries no sidecar");
            Some(serde_json::json!({ "omitted": error.to_string() }))
        }
    }
}

/// The most of `<file>.onnx.json` the record copies.
const MAX_SIDECAR_BYTES: u64 = 1 << 20;

/// The graph must take what the recipe produces and give what the manifest says, or every number
/// after this would be meaningless.
pub(crate) fn check_model_against_manifest(
    manifest: &Manifest,
    recipe: &Recipe,
    model: &Model,
    path: &Path,
) -> anyhow::Result<()> {
    let input = model.input();
    let mismatch = |what: String| {
        anyhow::anyhow!(
            "{} does not match manifest {}: {what}; check --onnx, or the manifest's input/recipe",
            path.display(),
            manifest.id
        )
    };
    // One input and one output are read whatever they are named (an export from torch names its
    // input `input.1` unless told otherwise); with several outputs, the first is read only when
    // it is the one the manifest names, since another could be anything (a feature map, a loss).
    let output = model.output();
    if model.output_count() > 1 && output.name != manifest.output.name {
        return Err(mismatch(format!(
            "it has {} outputs and the first is named {:?}, the manifest's output is {:?}; export the classifier with \
             one output (its logits or probabilities)",
            model.output_count(),
            output.name,
            manifest.output.name
        )));
    }
    if input.shape.len() != 4 {
        return Err(mismatch(format!(
            "input has rank {} ({:?}), an image batch has rank 4",
            input.shape.len(),
            input.shape
        )));
    }
    let size = recipe.crop_size as u64;
    let expected: [u64; 3] = match recipe.layout {
        Layout::Nchw => [3, size, size],
        Layout::Nhwc => [size, size, 3],
    };
    for (axis, (&declared, &wanted)) in input.shape[1..].iter().zip(&expected).enumerate() {
        if let Some(declared) = declared
            && declared != wanted
        {
            return Err(mismatch(format!(
                "input dimension {} is {declared}, but recipe {} feeds {} {:?}",
                axis + 1,
                recipe.name,
                recipe.layout.name(),
                expected
            )));
        }
    }
    if let Some(Some(classes)) = output.shape.get(1)
        && *classes as usize != manifest.output.classes
    {
        return Err(mismatch(format!(
            "output {} has {}, the manifest says {}",
            output.name,
            crate::eval::classes::count_of_classes(*classes as usize),
            manifest.output.classes
        )));
    }
    Ok(())
}
