//! Build steps that need more than Cargo:
//! - the Rust types of the official ONNX schema (proto/onnx.proto), generated with prost; protox
//!   compiles the .proto in pure Rust, so building zoorepro needs no `protoc` binary;
//! - `src/image/decode/pillow_jpeg.c`, which drives libjpeg-turbo the way Pillow does, compiled against
//!   the headers of the libjpeg-turbo that `turbojpeg-sys` builds and links.

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
    Ok(())
}
