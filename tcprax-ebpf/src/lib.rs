#![no_std]
// Intentionally empty: the XDP program is the `tcprax` binary in main.rs. This lib target
// exists so that `tcprax` (userspace) can declare a build-dependency on this crate and get
// rebuilt when it changes (see tcprax/build.rs).
