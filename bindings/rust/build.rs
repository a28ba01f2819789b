//! Finds libexitleft to link against: the directory in EXITLEFT_LIB_DIR (a build tree, for
//! the tests), else what `pkg-config --libs exitleft` says, else the linker's default path.
use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=EXITLEFT_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    if let Some(dir) = env::var_os("EXITLEFT_LIB_DIR") {
        let dir = dir.to_string_lossy().into_owned();
        println!("cargo:rustc-link-search=native={}", dir);
        // The test binaries find the build tree's library without LD_LIBRARY_PATH too.
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir);
    } else if let Ok(out) = Command::new("pkg-config").args(["--libs-only-L", "exitleft"]).output() {
        if out.status.success() {
            for flag in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                if let Some(dir) = flag.strip_prefix("-L") {
                    println!("cargo:rustc-link-search=native={}", dir);
                }
            }
        }
    }
    println!("cargo:rustc-link-lib=dylib=exitleft");
}
