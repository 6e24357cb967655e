//! Generates the Rust types of the official ONNX schema (proto/onnx.proto) with prost. protox
//! compiles the .proto in pure Rust, so building zoorepro needs no `protoc` binary.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/onnx.proto");
    let descriptors = protox::compile(["proto/onnx.proto"], ["proto"])?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
