//! Build steps that need more than Cargo:
//! - the Rust types of the official ONNX schema (proto/onnx.proto), generated with prost; protox
//!   compiles the .proto in pure Rust, so building zoorepro needs no `protoc` binary;
//! - `src/image/decode/pillow_jpeg.c`, which drives libjpeg-turbo the way Pillow does, compiled against
//!   the headers of the libjpeg-turbo that `turbojpeg-sys` builds and links;
//! - the shipped manifests (`manifests/*.json`), embedded so that an installed binary works outside
//!   the checkout.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;

    println!("cargo:rerun-if-changed=src/image/decode/pillow_jpeg.c");
    let includes = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .map_err(|_| "turbojpeg-sys did not say where libjpeg-turbo's headers are")?;
    let mut build = cc::Build::new();
    build.file("src/image/decode/pillow_jpeg.c").warnings(true);
    for dir in includes.split(',') {
        build.include(dir);
    }
    build.compile("pillow_jpeg");

    // TensorFlow's decode_jpeg settings (src/image/protocols): the same libjpeg-turbo.
    println!("cargo:rerun-if-changed=src/image/protocols/tensorflow_jpeg.c");
    let mut build = cc::Build::new();
    build
        .file("src/image/protocols/tensorflow_jpeg.c")
        .warnings(true);
    for dir in includes.split(',') {
        build.include(dir);
    }
    build.compile("tensorflow_jpeg");

    // OpenCV's imread settings (src/image/protocols): the same libjpeg-turbo.
    println!("cargo:rerun-if-changed=src/image/protocols/opencv_jpeg.c");
    let mut build = cc::Build::new();
    build
        .file("src/image/protocols/opencv_jpeg.c")
        .warnings(true);
    for dir in includes.split(',') {
        build.include(dir);
    }
    build.compile("opencv_jpeg");

    embed_manifests()
}

/// Writes `$OUT_DIR/shipped_manifests.rs`: every `manifests/*.json` as (file name, text), sorted.
fn embed_manifests() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=manifests");
    let dir = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR")?).join("manifests");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|e| e == "json"));
    files.sort();
    let mut code = String::from("pub const SHIPPED: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or("a manifest name is not UTF-8")?;
        code.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    code.push_str("];\n");
    let out = std::path::Path::new(&std::env::var("OUT_DIR")?).join("shipped_manifests.rs");
    std::fs::write(out, code)?;
    Ok(())
}
