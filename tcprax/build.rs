//! Builds the XDP program (`tcprax-ebpf`) and leaves the object at `$OUT_DIR/tcprax`, where
//! `src/engine/syn/capture.rs` embeds it; how, in `tcprax-ebpf-build`.
fn main() -> anyhow::Result<()> {
    tcprax_ebpf_build::build(&tcprax_ebpf_build::EbpfCrate {
        package: "tcprax-ebpf",
        object: "tcprax",
        what: "the XDP program",
        without: "-sS then refuses to run",
    })
}
