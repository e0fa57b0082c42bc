//! Compiles `proto/` with protox (pure Rust, no system protoc) and generates tonic/prost code into
//! OUT_DIR, plus the encoded descriptor set that server reflection serves.

use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);

    let mut files: Vec<PathBuf> = std::fs::read_dir(proto_root.join("dispatch/v1"))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "proto"))
        .collect();
    files.sort();

    let descriptors = protox::compile(&files, [&proto_root])?;
    std::fs::write(
        out_dir.join("dispatch_descriptor.bin"),
        prost::Message::encode_to_vec(&descriptors),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // No default stubs: an RPC of the contract without a handler does not compile.
        // A malformed body is INVALID_ARGUMENT naming the field, not INTERNAL.
        .codec_path("crate::codec::DispatchCodec")
        // The watch streams' event variant dwarfs the others; box it rather than make every
        // stream item as large as the largest event.
        .boxed(".dispatch.v1.WatchIncidentsResponse.item.event")
        .compile_fds(descriptors)?;

    // tonic-prost-build 0.14's own rerun-if-changed is a no-op.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    Ok(())
}
