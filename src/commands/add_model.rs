//! `zoorepro add-model`: write a manifest for a user's own ONNX export, after checking the file
//! against the recipe it will be fed with, so that a model outside the shipped ones is one command
//! away from `verify`.
//!
//! Everything that can be read from the graph (input name, batch dimension, layout, size, classes)
//! is read from it rather than asked for; what cannot (the preprocessing) must be given, and the
//! two must agree before anything is written.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::Context;
use super::shared::{model_under_test, terminal};
use crate::cli::{AddModelArgs, LayoutArg};
use crate::exit;
use crate::image::recipe::{self, ChannelOrder, Filter, Layout, Recipe, ResizeMode};
use crate::model::bytes::ModelBytes;
use crate::model::manifest::{
    self, Dim, FULL_VAL_NAME, ImageSet, Input, Manifest, Output, RecipeRef, Reference,
};
use crate::runtime::{Model, OptLevel, Provider, Runtime, SessionOptions};

/// The full ILSVRC2012 validation set, as every shipped manifest names it: a `--reference` is a
/// published number, and published numbers are measured on all 50,000 images.
const FULL_VAL_IMAGES: usize = 50_000;

pub fn run(ctx: &Context, args: &AddModelArgs) -> anyhow::Result<i32> {
    let home = ctx.home()?;
    let manifests_dir = home.join("manifests");
    let (framework, name, id) = parse_id(&args.id)?;
    let target = manifests_dir.join(format!("{}.json", id.replace('/', "__")));

    let file = &args.file;
    if !file.is_file() {
        bail!(
            "{} is not a file: pass the ONNX export to register",
            file.display()
        );
    }
    // Refuse a taken id before the (slower) model load, and so that a typo never half-registers.
    let existing = ctx.manifests(&home)?;
    check_id_is_free(&existing, &id, &target, args.force)?;

    let runtime = Runtime::load(args.runtime.ort_lib.as_deref())?;
    // One thread and full optimisation: only the graph's declared signature is read here.
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads: 1,
        opt_level: OptLevel::All,
    };
    // Read once: the hash the manifest pins is that of the bytes whose signature is checked.
    let bytes = ModelBytes::read(file)?;
    let model = runtime.open_bytes(&bytes, &options)?;

    let layout = model_layout(&model, args.layout, file)?;
    let parts = recipes_and_references(args, &existing, &name, layout)?;
    let recipe = parts.recipe;
    let input = check_input(&model, layout, &recipe, file)?;
    let output = check_output(&model, args.label_offset, file)?;

    let sha256 = bytes.sha256().to_string();
    drop(bytes);
    let manifest = Manifest {
        format_version: manifest::FORMAT_VERSION,
        id: id.clone(),
        framework,
        name,
        description: description(file, parts.like.as_deref()),
        file: manifest_file_field(&home, file)?,
        sha256: Some(sha256),
        input,
        output,
        default_recipe: parts.default_recipe,
        recipes: parts.recipes,
        references: parts.references,
        license: None,
        provenance: Some(format!(
            "zoorepro {} add-model {}{}: signature read with ONNX Runtime {}",
            env!("CARGO_PKG_VERSION"),
            file.display(),
            parts
                .like
                .as_deref()
                .map(|like| format!(" --like {like}"))
                .unwrap_or_default(),
            runtime.version()
        )),
        // Read back from the file it is written to, it is a user's manifest.
        origin: crate::eval::trust::ReferenceOrigin::Unknown,
    };
    manifest.validate().map_err(|reason| {
        anyhow::anyhow!(
            "the manifest for {} would be invalid: {reason}",
            file.display()
        )
    })?;
    // The same check `verify` makes before evaluating, so what passes here passes there.
    model_under_test::check_model_against_manifest(&manifest, &recipe, &model, file)?;

    write_and_reload(&manifest, &manifests_dir, &target)?;
    print_registered(&manifest, &home, &target, layout, &recipe.name)?;
    Ok(exit::SUCCESS)
}

/// What the manifest declares of the model's feeding and numbers: from the flags, or with
/// `--like ID` from manifest ID, every recipe and reference of it (each reference's note says
/// where it was copied from).
struct Parts {
    /// The recipe the graph is checked against (the default one).
    recipe: Recipe,
    default_recipe: String,
    recipes: Vec<RecipeRef>,
    references: Vec<Reference>,
    /// `--like`: the known model's id and where its manifest came from.
    like: Option<String>,
}

fn recipes_and_references(
    args: &AddModelArgs,
    existing: &[Manifest],
    name: &str,
    layout: Layout,
) -> anyhow::Result<Parts> {
    if let Some(like) = &args.like {
        let known = manifest::resolve(existing, like)?;
        let origin = format!("{} ({})", known.id, known.origin.describe());
        let references = known
            .references
            .iter()
            .cloned()
            .map(|mut reference| {
                reference.note = format!(
                    "copied from {origin} by add-model --like: {}",
                    reference.note
                );
                reference
            })
            .collect();
        return Ok(Parts {
            recipe: known.recipe(None)?,
            default_recipe: known.default_recipe.clone(),
            recipes: known.recipes.clone(),
            references,
            like: Some(origin),
        });
    }
    let recipe = build_recipe(args, name, layout)?;
    let references = match &args.reference {
        Some(text) => vec![parse_reference(text, &recipe.name)?],
        None => Vec::new(),
    };
    Ok(Parts {
        default_recipe: recipe.name.clone(),
        recipes: recipe_refs(&recipe),
        recipe,
        references,
        like: None,
    })
}

/// The manifest's recipe: by its preset's name where it is one unchanged, else written out (a
/// source too, so that the arithmetic its reference was measured with stays in the manifest
/// whatever a later table says).
fn recipe_refs(recipe: &Recipe) -> Vec<RecipeRef> {
    match recipe::preset(&recipe.name) {
        Some(preset) if preset == *recipe => vec![RecipeRef::Preset(recipe.name.clone())],
        _ => vec![RecipeRef::Inline(recipe.clone())],
    }
}

fn description(file: &Path, like: Option<&str>) -> String {
    format!(
        "{}, registered with zoorepro add-model{}",
        file.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        like.map(|like| format!(" --like {like}: its recipes and references"))
            .unwrap_or_default()
    )
}

/// Writes the manifest and loads the whole set back, as `verify` will: a manifest that breaks
/// the set, or does not read back the same, is reported now.
fn write_and_reload(
    manifest: &Manifest,
    manifests_dir: &Path,
    target: &Path,
) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(manifest)?;
    text.push('\n');
    // A fresh install's data folder has no manifests/ yet.
    crate::util::folder::create_folder(manifests_dir)
        .with_context(|| format!("cannot create the folder {}", manifests_dir.display()))?;
    crate::util::safe_file::write_bytes_atomically(target, text.as_bytes())
        .with_context(|| format!("cannot write {}", target.display()))?;
    // Loading every manifest back is what `verify` will do; if ours breaks the set, say so now.
    let reloaded = manifest::load_all(manifests_dir).with_context(|| {
        format!(
            "wrote {}, but the manifests no longer load",
            target.display()
        )
    })?;
    if !reloaded.iter().any(|m| m.same_content(manifest)) {
        bail!(
            "wrote {}, but reading it back does not give the same manifest",
            target.display()
        );
    }

    Ok(())
}

fn print_registered(
    manifest: &Manifest,
    home: &Path,
    target: &Path,
    layout: Layout,
    recipe: &str,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let id = &manifest.id;
    let mut out = terminal::stdout();
    writeln!(out, "registered {id} -> {}", target.display())?;
    writeln!(
        out,
        "  file {}  sha256 {}",
        manifest.onnx_path(home).display(),
        manifest.sha256.as_deref().unwrap_or_default()
    )?;
    writeln!(
        out,
        "  input {} {} {}, output {} ({} classes, label_offset {}), recipe {}",
        manifest.input.name,
        shape_text(&manifest.input.shape),
        layout.name(),
        manifest.output.name,
        manifest.output.classes,
        manifest.output.label_offset,
        recipe
    )?;
    writeln!(out, "next: zoorepro verify --model {id} --val PATH")
}

/// `NAME` -> `user/NAME`; `lab/model` stays as it is. The id becomes a file name (`/` -> `__`),
/// so only characters that are safe in one are allowed.
fn parse_id(raw: &str) -> anyhow::Result<(String, String, String)> {
    let id = if raw.contains('/') {
        raw.to_string()
    } else {
        format!("user/{raw}")
    };
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/');
    let parts: Vec<&str> = id.split('/').collect();
    if !id.chars().all(safe)
        || parts.iter().any(|p| p.is_empty() || p.starts_with('.'))
        || id.contains("__")
    {
        bail!(
            "--id {raw:?} is not usable: use letters, digits, '.', '_' and '-', optionally as framework/name \
             (no empty parts, no leading '.', no '__')"
        );
    }
    let (framework, name) = id.split_once('/').unwrap_or(("user", raw));
    Ok((framework.to_string(), name.to_string(), id.clone()))
}

fn check_id_is_free(
    existing: &[Manifest],
    id: &str,
    target: &Path,
    force: bool,
) -> anyhow::Result<()> {
    // `like/` names the runs `verify --like` makes of a user's file: a manifest there would mix
    // its runs with theirs. An id differing from another only in case reads as that model.
    if id.starts_with(crate::model::derived::LIKE_PREFIX) {
        bail!("ids under like/ name verify --like runs: pick another --id");
    }
    if let Some(other) = existing
        .iter()
        .find(|m| m.id != id && m.id.eq_ignore_ascii_case(id))
    {
        bail!(
            "id {id} differs from {}'s only in letter case, and would read as it: pick another --id",
            other.id
        );
    }
    if existing.iter().any(|m| m.id == id) && !force {
        bail!(
            "a manifest with id {id} already exists: pick another --id, or pass --force to replace it"
        );
    }
    // --force replaces the file named after the id; an id declared in a file of another name
    // would then be declared twice, which `load_all` refuses.
    if existing.iter().any(|m| m.id == id) && !target.is_file() {
        bail!(
            "id {id} is declared by a manifest file other than {}: edit or remove that file instead",
            target.display()
        );
    }
    if target.is_file() && !existing.iter().any(|m| m.id == id) && !force {
        bail!(
            "{} exists and declares another id: pass --force to replace it",
            target.display()
        );
    }
    Ok(())
}

/// A preset or source keeps its own layout (a mismatch with the model is then refused, never
/// transposed); an inline recipe takes the model's.
fn build_recipe(args: &AddModelArgs, name: &str, layout: Layout) -> anyhow::Result<Recipe> {
    if let Some(name) = &args.recipe {
        let recipe = crate::image::sources::resolve(name).map_err(|e| {
            anyhow::anyhow!("--recipe: {e} (or describe one inline with --resize-mode ...)")
        })?;
        recipe
            .validate()
            .map_err(|reason| anyhow::anyhow!("--recipe {name}: {reason}"))?;
        return Ok(recipe);
    }
    // clap guarantees every inline flag but --crop is present when --resize-mode is.
    let missing = || {
        anyhow::anyhow!(
            "an inline recipe needs --resize-mode, --size, --filter, --scale, --mean, --std and --channels"
        )
    };
    let resize_mode: ResizeMode = args.resize_mode.ok_or_else(missing)?.into();
    let size = args.size.ok_or_else(missing)?;
    let crop = args.crop.unwrap_or(size);
    let filter_name = args.filter.as_deref().ok_or_else(missing)?;
    let filter = Filter::parse(filter_name).ok_or_else(|| {
        let names: Vec<&str> = Filter::ALL.iter().map(|f| f.name()).collect();
        anyhow::anyhow!(
            "--filter {filter_name:?} is not a Pillow filter; one of {}",
            names.join(", ")
        )
    })?;
    let triple = |flag: &str, values: &Option<Vec<f32>>| -> anyhow::Result<[f32; 3]> {
        match values.as_deref().ok_or_else(missing)? {
            [one] => Ok([*one; 3]),
            [a, b, c] => Ok([*a, *b, *c]),
            other => bail!(
                "--{flag} takes one number or three, comma-separated; got {}",
                other.len()
            ),
        }
    };
    let channels: ChannelOrder = args.channels.ok_or_else(missing)?.into();
    let recipe = Recipe {
        name: format!("{}-recipe", name.replace('/', "-")),
        description: "declared with zoorepro add-model".into(),
        resize_mode,
        resize_size: size,
        crop_size: crop,
        filter,
        scale: args.scale.ok_or_else(missing)?,
        mean: triple("mean", &args.mean)?,
        std: triple("std", &args.std)?,
        channels,
        layout,
        library: Default::default(),
        variant: Default::default(),
        fill: [0; 3],
    };
    recipe
        .validate()
        .map_err(|reason| anyhow::anyhow!("the inline recipe is invalid: {reason}"))?;
    Ok(recipe)
}

/// NCHW when dimension 1 is 3, NHWC when dimension 3 is 3; `--layout` decides when the shape
/// cannot (dynamic or ambiguous dimensions) and must agree with it when it can.
fn model_layout(
    model: &Model,
    requested: Option<LayoutArg>,
    file: &Path,
) -> anyhow::Result<Layout> {
    let shape = &model.input().shape;
    if shape.len() != 4 {
        bail!(
            "{}: input {} has rank {} ({}); an image batch has rank 4",
            file.display(),
            model.input().name,
            shape.len(),
            optional_shape_text(shape)
        );
    }
    let channels_first = shape[1] == Some(3);
    let channels_last = shape[3] == Some(3);
    let requested = requested.map(Layout::from);
    let layout = match (requested, channels_first, channels_last) {
        (Some(layout), _, _) => layout,
        (None, true, false) => Layout::Nchw,
        (None, false, true) => Layout::Nhwc,
        (None, _, _) => bail!(
            "{}: cannot tell the layout of input {} {}: pass --layout nchw or --layout nhwc",
            file.display(),
            model.input().name,
            optional_shape_text(shape)
        ),
    };
    let channel_axis = match layout {
        Layout::Nchw => 1,
        Layout::Nhwc => 3,
    };
    if let Some(channels) = shape[channel_axis]
        && channels != 3
    {
        bail!(
            "{}: input {} {} has {channels} channels on its {} channel axis; an RGB classifier has 3",
            file.display(),
            model.input().name,
            optional_shape_text(shape),
            layout.name()
        );
    }
    Ok(layout)
}

/// The manifest's input, after checking that the recipe's tensor fits the graph's.
fn check_input(
    model: &Model,
    layout: Layout,
    recipe: &Recipe,
    file: &Path,
) -> anyhow::Result<Input> {
    let info = model.input();
    if recipe.layout != layout {
        bail!(
            "{}: input {} {} is {}, but recipe {} produces {} {}x{} tensors: pick a recipe of the model's layout \
             (or --layout for an inline one); zoorepro never transposes",
            file.display(),
            info.name,
            optional_shape_text(&info.shape),
            layout.name(),
            recipe.name,
            recipe.layout.name(),
            recipe.crop_size,
            recipe.crop_size
        );
    }
    let spatial = match layout {
        Layout::Nchw => [info.shape[2], info.shape[3]],
        Layout::Nhwc => [info.shape[1], info.shape[2]],
    };
    for size in spatial.into_iter().flatten() {
        if size != u64::from(recipe.crop_size) {
            bail!(
                "{}: input {} {} takes {size}x{size} images, but recipe {} makes {}x{}: use a recipe (or --crop) of size {size}",
                file.display(),
                info.name,
                optional_shape_text(&info.shape),
                recipe.name,
                recipe.crop_size,
                recipe.crop_size
            );
        }
    }
    let names = match layout {
        Layout::Nchw => ["N", "C", "H", "W"],
        Layout::Nhwc => ["N", "H", "W", "C"],
    };
    // Fixed dimensions are recorded as numbers (a fixed batch then forces --batch in verify);
    // dynamic ones keep a symbolic name.
    let shape = info
        .shape
        .iter()
        .zip(names)
        .map(|(dim, name)| match dim {
            Some(n) => Dim::Fixed(*n),
            None => Dim::Symbolic(name.to_string()),
        })
        .collect();
    Ok(Input {
        name: info.name.clone(),
        shape,
        layout,
        dtype: "float32".into(),
    })
}

fn check_output(model: &Model, label_offset: Option<usize>, file: &Path) -> anyhow::Result<Output> {
    let info = model.output();
    let classes = match info.shape.as_slice() {
        [_, Some(classes)] => *classes as usize,
        _ => bail!(
            "{}: output {} has shape {}; zoorepro needs [batch, classes] with a fixed number of classes (1000 or 1001)",
            file.display(),
            info.name,
            optional_shape_text(&info.shape)
        ),
    };
    check_output_batch(model, file)?;
    let label_offset = match (classes, label_offset) {
        (1000, None | Some(0)) => 0,
        (1001, None | Some(1)) => 1,
        (1000 | 1001, Some(offset)) => bail!(
            "{}: --label-offset {offset} does not fit an output of {classes} classes: 1000 classes take 0, \
             1001 (a background class first) take 1",
            file.display()
        ),
        _ => bail!(
            "{}: output {} has {}; zoorepro scores ImageNet-1k classifiers (1000, or 1001 with a background class)",
            file.display(),
            info.name,
            crate::eval::classes::count_of_classes(classes)
        ),
    };
    // Informative only (ranking is the same); a softmax output is usually named after it.
    let lower = info.name.to_ascii_lowercase();
    let kind = if lower.contains("prob") || lower.contains("softmax") {
        "probabilities"
    } else {
        "logits"
    };
    Ok(Output {
        name: info.name.clone(),
        classes,
        label_offset,
        kind: kind.into(),
    })
}

/// A classifier gives one row per image: an output batch dimension fixed to another number
/// than the input's (or, with a dynamic input, to anything but 1, which an export traced on one
/// image may declare) cannot be right, and would fail `verify` at its first batch.
fn check_output_batch(model: &Model, file: &Path) -> anyhow::Result<()> {
    let (input, output) = (model.input(), model.output());
    let batch = |shape: &[Option<u64>]| shape.first().copied().flatten();
    match (batch(&input.shape), batch(&output.shape)) {
        (Some(images), Some(rows)) if images != rows => bail!(
            "{}: output {} {} has {rows} rows for input {} {} of {images} images; a classifier gives one row \
             per image: re-export it with the output's batch dimension equal to the input's",
            file.display(),
            output.name,
            optional_shape_text(&output.shape),
            input.name,
            optional_shape_text(&input.shape)
        ),
        (None, Some(rows)) if rows != 1 => bail!(
            "{}: output {} {} has a fixed batch of {rows} rows, but input {} {} takes any number of images; \
             a classifier gives one row per image: re-export it with a dynamic output batch",
            file.display(),
            output.name,
            optional_shape_text(&output.shape),
            input.name,
            optional_shape_text(&input.shape)
        ),
        _ => Ok(()),
    }
}

/// `SOURCE:TOP1:TOP5`; the source may itself contain ':' (a URL), the numbers may not.
fn parse_reference(text: &str, recipe: &str) -> anyhow::Result<Reference> {
    let mut parts = text.rsplitn(3, ':');
    let (top5, top1, source) = (parts.next(), parts.next(), parts.next());
    let bad = || {
        anyhow::anyhow!(
            "--reference {text:?} is not SOURCE:TOP1:TOP5 with percentages, e.g. paper:76.13:92.86"
        )
    };
    let (Some(top5), Some(top1), Some(source)) = (top5, top1, source) else {
        return Err(bad());
    };
    let top1: f64 = top1.trim().parse().map_err(|_| bad())?;
    let top5: f64 = top5.trim().parse().map_err(|_| bad())?;
    if source.trim().is_empty() || !(0.0..=100.0).contains(&top1) || !(0.0..=100.0).contains(&top5)
    {
        return Err(bad());
    }
    // Shown on terminals and in tables: a `\r`, an escape sequence or a bidi override would let
    // the name rewrite or disguise the lines it appears on. (`|` and `<` are fine: each output
    // escapes them.)
    if source.chars().any(crate::util::escape::is_dangerous) {
        bail!(
            "--reference source \"{}\" holds a control character or a bidirectional override (shown \
             escaped here): give the source as plain text",
            crate::util::escape::terminal(source)
        );
    }
    Ok(Reference {
        source: source.trim().to_string(),
        top1,
        top5: Some(top5),
        recipe: Some(recipe.to_string()),
        image_set: ImageSet {
            name: FULL_VAL_NAME.into(),
            images: FULL_VAL_IMAGES,
            sha256: Some(crate::model::manifest::FULL_VAL_SHA256.into()),
            content_sha256: None,
        },
        expected: true,
        labels: None,
        note: "given to zoorepro add-model --reference; measured on the full validation set".into(),
    })
}

/// `file` is relative to `<home>/models/` when the export lies inside it (so the home can move),
/// else the absolute path (`home/models`.join(absolute) is the absolute path itself).
fn manifest_file_field(home: &Path, file: &Path) -> anyhow::Result<String> {
    let absolute = std::fs::canonicalize(file)
        .with_context(|| format!("cannot resolve the path of {}", file.display()))?;
    let models = std::fs::canonicalize(home.join("models")).ok();
    let chosen: PathBuf = match models
        .as_deref()
        .and_then(|m| absolute.strip_prefix(m).ok())
    {
        Some(relative) => relative.to_path_buf(),
        None => absolute.clone(),
    };
    chosen.to_str().map(str::to_string).ok_or_else(|| {
        anyhow::anyhow!(
            "{} is not a UTF-8 path; a manifest stores text",
            absolute.display()
        )
    })
}

fn shape_text(shape: &[Dim]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Symbolic(s) => s.clone(),
        })
        .collect();
    format!("[{}]", dims.join(","))
}

fn optional_shape_text(shape: &[Option<u64>]) -> String {
    let dims: Vec<String> = shape
        .iter()
        .map(|d| d.map_or_else(|| "?".to_string(), |n| n.to_string()))
        .collect();
    format!("[{}]", dims.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_default_to_the_user_framework() {
        assert_eq!(
            parse_id("my-net").unwrap(),
            ("user".into(), "my-net".into(), "user/my-net".into())
        );
        assert_eq!(
            parse_id("lab/resnet50-ft").unwrap(),
            ("lab".into(), "resnet50-ft".into(), "lab/resnet50-ft".into())
        );
        for bad in ["", "/x", "a//b", "../x", "a b", "a__b", "x/"] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn references_are_source_top1_top5_on_the_full_val_set() {
        let reference = parse_reference("https://x.org/p:76.1:92.9", "r").unwrap();
        assert_eq!(reference.source, "https://x.org/p");
        assert_eq!((reference.top1, reference.top5), (76.1, Some(92.9)));
        assert_eq!(reference.image_set.images, 50_000);
        assert!(reference.expected && reference.recipe.as_deref() == Some("r"));
        for bad in [
            "76:92",
            "p:x:92",
            "p:101:92",
            ":76:92",
            "a\rOK:76:92",
            "\u{1b}]8;;http://x\u{7}p:76:92",
            "\u{202e}fdp.exe:76:92",
            "a\u{9b}b:76:92",
        ] {
            assert!(parse_reference(bad, "r").is_err(), "{bad:?}");
        }
        // Markup is escaped where it is shown, not refused.
        assert_eq!(
            parse_reference("a|b<img src=x>:58:77", "r").unwrap().source,
            "a|b<img src=x>"
        );
    }
}
