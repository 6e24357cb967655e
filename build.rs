//! Build steps that need more than Cargo:
//! - the Rust types of the official ONNX schema (proto/onnx.proto), generated with prost; protox
//!   compiles the .proto in pure Rust, so building zoorepro needs no `protoc` binary;
//! - `src/image/libjpeg/glue.c`, which drives libjpeg-turbo the way Pillow, TensorFlow, torchvision
//!   and OpenCV do (the request picks which), compiled against the headers of the libjpeg-turbo
//!   that `turbojpeg-sys` builds and links;
//! - the shipped manifests (`manifests/*.json`), embedded so that an installed binary works outside
//!   the checkout.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;

    // The one libjpeg glue (src/image/libjpeg), for every library the presets reproduce.
    println!("cargo:rerun-if-changed=src/image/libjpeg/glue.c");
    println!("cargo:rerun-if-changed=src/image/libjpeg/glue.h");
    let includes = std::env::var("DEP_TURBOJPEG_INCLUDE")
        .map_err(|_| "turbojpeg-sys did not say where libjpeg-turbo's headers are")?;
    let mut build = cc::Build::new();
    build.file("src/image/libjpeg/glue.c").warnings(true);
    for dir in includes.split(',') {
        build.include(dir);
    }
    build.compile("zoorepro_libjpeg_glue");

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
