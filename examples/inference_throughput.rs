//! ONNX Runtime's inference-only rate for one model, in process: the images are decoded and
//! preprocessed once, untimed, and then only `session.run` over batches of those tensors is timed,
//! with the session options `verify` uses (the same threads, batch and optimization level). This
//! is the `I` of the pipeline's ceiling `1 / (1/I + 1/(c·P))` that `scripts/bench/bench_verify.sh`
//! prints beside `verify`'s end-to-end rate. Prints one JSON object on stdout; asserts nothing.
//!
//! Usage: cargo run --release --example inference_throughput -- --model ID --onnx FILE
//!        [--threads T] [--batch B] [--rounds N] IMAGE...
//! (manifests are found as the CLI finds them: $ZOOREPRO_HOME, else the current directory or a
//! parent holding `manifests/`; the ONNX Runtime library as `verify` finds it without `--ort-lib`.)

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use zoorepro::image::resample::PillowCompat;
use zoorepro::runtime::{OptLevel, Provider, Runtime, SessionOptions};

struct Args {
    model: String,
    onnx: PathBuf,
    threads: usize,
    batch: usize,
    rounds: usize,
    files: Vec<PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut model = None;
    let mut onnx = None;
    let (mut threads, mut batch, mut rounds) = (2usize, 32usize, 3usize);
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    let number = |value: Option<String>, flag: &str| -> anyhow::Result<usize> {
        value
            .with_context(|| format!("{flag} needs a number"))?
            .parse()
            .with_context(|| format!("{flag} needs a number"))
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--model" => model = args.next(),
            "--onnx" => onnx = args.next().map(PathBuf::from),
            "--threads" => threads = number(args.next(), "--threads")?,
            "--batch" => batch = number(args.next(), "--batch")?,
            "--rounds" => rounds = number(args.next(), "--rounds")?,
            _ => files.push(PathBuf::from(arg)),
        }
    }
    let (Some(model), Some(onnx)) = (model, onnx) else {
        bail!(
            "usage: inference_throughput --model ID --onnx FILE [--threads T] [--batch B] [--rounds N] IMAGE..."
        );
    };
    if files.is_empty() || threads == 0 || batch == 0 || rounds == 0 {
        bail!("give at least one image, and threads, batch and rounds of at least 1");
    }
    Ok(Args {
        model,
        onnx,
        threads,
        batch,
        rounds,
        files,
    })
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let home = zoorepro::model::home::find_home(None)?.dir;
    let manifests = zoorepro::model::manifest::load_all(&home.join("manifests"))?;
    let recipe = zoorepro::model::manifest::resolve(&manifests, &args.model)?.recipe(None)?;

    let sample_len = recipe.sample_len();
    let mut tensors = vec![0f32; sample_len * args.files.len()];
    for (path, out) in args.files.iter().zip(tensors.chunks_exact_mut(sample_len)) {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        zoorepro::image::preprocess::preprocess_bytes(&bytes, &recipe, PillowCompat::V13, out)?;
    }

    let runtime = Runtime::load(None)?;
    let options = SessionOptions {
        provider: Provider::Cpu,
        threads: args.threads,
        opt_level: OptLevel::All,
    };
    let onnx = zoorepro::model::bytes::ModelBytes::read(&args.onnx)?;
    let mut model = runtime.open_bytes(&onnx, &options)?;
    drop(onnx);
    let batch = model.fixed_batch().unwrap_or(args.batch);
    let mut scores = Vec::new();
    let mut run_all = |model: &mut zoorepro::runtime::Model| -> anyhow::Result<usize> {
        let mut images = 0;
        for chunk in tensors.chunks(sample_len * batch) {
            let samples = chunk.len() / sample_len;
            scores.clear();
            if samples == batch {
                model.run(chunk, samples, recipe.sample_shape(), &mut scores)?;
            } else {
                // A fixed-batch model takes only full batches: pad the tail as verify does.
                let mut padded = chunk.to_vec();
                padded.resize(sample_len * batch, 0.0);
                model.run(&padded, batch, recipe.sample_shape(), &mut scores)?;
            }
            images += samples;
        }
        Ok(images)
    };
    run_all(&mut model)?; // warm-up: the first run allocates and plans
    let start = Instant::now();
    let mut images = 0;
    for _ in 0..args.rounds {
        images += run_all(&mut model)?;
    }
    let seconds = start.elapsed().as_secs_f64();
    let line = serde_json::json!({
        "model": args.model,
        "images": images,
        "threads": args.threads,
        "batch": batch,
        "inference_images_per_second": images as f64 / seconds,
    });
    println!("{line}");
    Ok(())
}
