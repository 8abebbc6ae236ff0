//! Builds the benchmark's XDP responder (`tcprax-lab-ebpf`) and leaves the object at
//! `$OUT_DIR/tcprax-responder`, where `src/responder.rs` embeds it; how, in `tcprax-ebpf-build`.
fn main() -> anyhow::Result<()> {
    tcprax_ebpf_build::build(&tcprax_ebpf_build::EbpfCrate {
        package: "tcprax-lab-ebpf",
        object: "tcprax-responder",
        what: "the XDP responder",
        without: "the responder then refuses to load",
    })
}
