//! The base images, made here because no registry can be pulled from:
//! - the runtime base, distroless-like: the binaries' shared libraries (from `ldd`), CA
//!   certificates and a `nonroot` user (65532), no shell, imported with `podman import`;
//! - the moto image for compose's moto switch: a Debian rootfs from `mmdebstrap` with the
//!   emulator's pinned requirements installed from wheels downloaded on the host.
//!
//! Both are tagged by a hash of what they are made of and kept, so a second run reuses them
//! (the moto rootfs is also cached as a tarball under `target/container-cache/`).

use std::{
    collections::BTreeSet,
    fs,
    hash::{DefaultHasher, Hash, Hasher},
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;

use super::podman::{Podman, checked};
use crate::emulator::Venv;

/// The Debian release whose Python (3.11) matches the host's wheels.
const MOTO_SUITE: &str = "bookworm";
const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";
/// Bumped when the recipe below changes, so a cached image is rebuilt.
const MOTO_RECIPE: &str = "moto-rootfs-v1";

/// The distroless-like runtime base for `binaries`; returns its tag.
pub fn runtime_base(podman: &Podman, root: &Path, binaries: &[PathBuf]) -> anyhow::Result<String> {
    let libraries = shared_libraries(binaries)?;
    let mut hasher = DefaultHasher::new();
    for library in &libraries {
        library.hash(&mut hasher);
        fs::read(library)
            .with_context(|| format!("reading {}", library.display()))?
            .hash(&mut hasher);
    }
    let tag = format!("localhost/bb-runtime-base:{:016x}", hasher.finish());
    if podman.image_exists(&tag) {
        return Ok(tag);
    }
    eprintln!("xtask: making the runtime base image {tag}");
    let stage = root.join("target/container-cache/runtime-base");
    let rootfs = stage.join("rootfs");
    if rootfs.exists() {
        fs::remove_dir_all(&rootfs)?;
    }
    for library in &libraries {
        let target = rootfs.join(library.strip_prefix("/")?);
        fs::create_dir_all(target.parent().expect("a library lives in a directory"))?;
        // fs::copy follows symlinks: the image gets the file the loader would open.
        fs::copy(library, &target).with_context(|| format!("copying {}", library.display()))?;
    }
    fs::create_dir_all(rootfs.join("etc/ssl/certs"))?;
    fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        rootfs.join("etc/ssl/certs/ca-certificates.crt"),
    )
    .context("copying the CA certificates (Debian: apt-get install ca-certificates)")?;
    fs::write(
        rootfs.join("etc/passwd"),
        "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    )?;
    fs::write(rootfs.join("etc/group"), "root:x:0:\nnonroot:x:65532:\n")?;
    fs::create_dir_all(rootfs.join("tmp"))?;
    checked(Command::new("chmod").arg("1777").arg(rootfs.join("tmp")))?;
    let tarball = stage.join("rootfs.tar");
    checked(
        Command::new("tar")
            .arg("-C")
            .arg(&rootfs)
            .arg("-cf")
            .arg(&tarball)
            .arg("."),
    )?;
    import(podman, &tarball, &tag, &["USER 65532:65532"])?;
    Ok(tag)
}

/// The libraries the dynamic loader resolves for `binaries`, the loader included.
fn shared_libraries(binaries: &[PathBuf]) -> anyhow::Result<BTreeSet<PathBuf>> {
    let mut libraries = BTreeSet::new();
    for binary in binaries {
        let listing = checked(Command::new("ldd").arg(binary))?;
        // Lines look like `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` or
        // `/lib64/ld-linux-x86-64.so.2 (0x…)`.
        libraries.extend(
            listing
                .split_whitespace()
                .filter(|word| word.starts_with('/'))
                .map(PathBuf::from),
        );
    }
    Ok(libraries)
}

/// The moto image for compose's moto switch; returns its tag.
pub fn moto(podman: &Podman, root: &Path, emulator_venv: &Venv) -> anyhow::Result<String> {
    let requirements = root.join("xtask/requirements.txt");
    let pinned = fs::read_to_string(&requirements)?;
    let mut hasher = DefaultHasher::new();
    (MOTO_RECIPE, MOTO_SUITE, &pinned).hash(&mut hasher);
    let hash = format!("{:016x}", hasher.finish());
    let tag = format!("localhost/bb-moto:{hash}");
    if podman.image_exists(&tag) {
        return Ok(tag);
    }
    let cache = root.join("target/container-cache");
    let tarball = cache.join(format!("moto-{hash}.tar"));
    if !tarball.exists() {
        eprintln!(
            "xtask: making the moto rootfs with mmdebstrap (once; cached in {})",
            cache.display()
        );
        let wheels = cache.join("moto-wheels");
        fs::create_dir_all(&wheels)?;
        // Downloaded by the host's pip, which knows the registry; installed offline inside.
        checked(
            Command::new(emulator_venv.bin("pip"))
                .args([
                    "download",
                    "--quiet",
                    "--only-binary=:all:",
                    "--python-version",
                    "3.11",
                    "-d",
                ])
                .arg(&wheels)
                .arg("-r")
                .arg(&requirements),
        )
        .context("downloading the emulator's wheels")?;
        let partial = tarball.with_extension("partial.tar");
        checked(
            Command::new("mmdebstrap")
                .args([
                    "--quiet",
                    "--variant=minbase",
                    "--include=python3,python3-venv",
                ])
                .arg(format!(
                    "--customize-hook=copy-in {} /tmp",
                    requirements.display()
                ))
                .arg(format!(
                    "--customize-hook=copy-in {} /tmp",
                    wheels.display()
                ))
                .arg("--customize-hook=chroot \"$1\" python3 -m venv /opt/moto")
                .arg(
                    "--customize-hook=chroot \"$1\" /opt/moto/bin/pip install --quiet --no-index \
                     --no-cache-dir --disable-pip-version-check --find-links /tmp/moto-wheels \
                     -r /tmp/requirements.txt",
                )
                .arg(
                    "--customize-hook=rm -rf \"$1\"/tmp/moto-wheels \"$1\"/var/cache/apt/* \
                     \"$1\"/var/lib/apt/lists/*",
                )
                .args([MOTO_SUITE])
                .arg(&partial)
                .arg(DEBIAN_MIRROR),
        )
        .context("making the moto rootfs (Debian: apt-get install mmdebstrap)")?;
        fs::rename(&partial, &tarball)?;
    }
    eprintln!("xtask: importing the moto image {tag}");
    import(
        podman,
        &tarball,
        &tag,
        &[
            r#"ENTRYPOINT ["/opt/moto/bin/moto_server", "-H", "0.0.0.0"]"#,
            "USER 65532:65532",
        ],
    )?;
    Ok(tag)
}

fn import(podman: &Podman, tarball: &Path, tag: &str, changes: &[&str]) -> anyhow::Result<()> {
    let mut command = podman.command();
    command.arg("import").arg("--quiet");
    for change in changes {
        command.args(["--change", change]);
    }
    checked(command.arg(tarball).arg(tag)).with_context(|| format!("importing {tag}"))?;
    Ok(())
}
