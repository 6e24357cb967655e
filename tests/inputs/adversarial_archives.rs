//! Hostile and damaged archives as `--val`, end to end through the real binary, built by the real
//! tools where they can build them (GNU tar, gzip, Python's `tarfile`) and by hand where a hostile
//! archive is one no tool writes: member names that point outside `--val`, long-name and PAX
//! headers that claim a gigabyte, members that are no images, archives cut or padded. See
//! docs/bad-input.md ("Archives") for each bound.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::common;
use crate::common::{Run, run, sample_files, shared, shared_model, zoorepro};

const MODEL: &str = "coral/mobilenet_v1_0.5_160_quant";

fn verify(scratch: &Path, shared: &Path, val: &Path) -> Run {
    run(&mut verify_command(
        scratch,
        shared,
        val,
        MODEL,
        &["--no-cache"],
    ))
}

fn verify_command(
    scratch: &Path,
    shared: &Path,
    val: &Path,
    model: &str,
    extra: &[&str],
) -> Command {
    let mut command = zoorepro(&scratch.join("cache"));
    command
        .args(["verify", "--json", "--model", model, "--onnx"])
        .arg(shared_model(shared, model))
        .arg("--val")
        .arg(val)
        .arg("--report-dir")
        .arg(scratch.join("reports"))
        .args(extra);
    command
}

/// The Python that runs the `tarfile` oracle: any Python 3 has it.
fn python() -> PathBuf {
    std::env::var_os("ZOOREPRO_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo().join(".venv/bin/python"))
}

fn run_tool(command: &mut Command) -> std::process::Output {
    let output = command.output().expect("the tool runs");
    assert!(
        output.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The skipped entries of a record's dataset, by reason: (count, first names).
fn skipped(record: &serde_json::Value) -> std::collections::BTreeMap<String, (u64, Vec<String>)> {
    record["dataset"]["skipped"]
        .as_array()
        .unwrap_or_else(|| panic!("the record lists no skipped entries: {}", record["dataset"]))
        .iter()
        .map(|s| {
            let first = s["first"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n.as_str().unwrap().to_string())
                .collect();
            (
                s["reason"].as_str().unwrap().to_string(),
                (s["count"].as_u64().unwrap(), first),
            )
        })
        .collect()
}

/// Item 1: a tar whose members are named by absolute paths or climb out with `..` (GNU tar writes
/// them as given with `-P`) must not make `compare --format html --val DIR` embed the files they
/// name: such members are skipped and counted, never read, and never reach the store.
#[test]
fn members_named_outside_val_are_never_read_nor_shown_as_thumbnails() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    let private = scratch.path().join("private");
    std::fs::create_dir_all(&private).unwrap();
    let mut members: Vec<String> = Vec::new();
    let (mut safe, mut hostile) = (0, Vec::new());
    for (i, (class, path)) in sample_files(&shared).into_iter().enumerate() {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        match i % 3 {
            0 => {
                std::fs::create_dir_all(val.join(&class)).unwrap();
                std::fs::copy(&path, val.join(&class).join(&name)).unwrap();
                members.push(format!("{class}/{name}"));
                safe += 1;
            }
            // The "private" files: real images, so that a thumbnail of them would render.
            1 => {
                std::fs::copy(&path, private.join(&name)).unwrap();
                let absolute = private.join(&name).display().to_string();
                hostile.push(absolute.clone());
                members.push(absolute);
            }
            _ => {
                std::fs::copy(&path, private.join(&name)).unwrap();
                hostile.push(format!("../private/{name}"));
                members.push(format!("../private/{name}"));
            }
        }
    }
    let archive = scratch.path().join("hostile.tar");
    run_tool(
        Command::new("tar")
            .arg("-cPf")
            .arg(&archive)
            .arg("-C")
            .arg(&val)
            .args(&members),
    );
    let listed = run_tool(Command::new("tar").arg("-tPf").arg(&archive));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("../private/"),
        "GNU tar kept the hostile names"
    );

    let broken = "coral/broken-mobilenet_v2_1.0_224_quant";
    let good = "coral/mobilenet_v2_1.0_224_quant";
    for model in [good, broken] {
        let verified = run(&mut verify_command(
            scratch.path(),
            &shared,
            &archive,
            model,
            &[],
        ));
        assert!(verified.status <= 1, "{}", verified.stderr);
        let record = verified.json();
        assert_eq!(record["images"], safe, "{}", verified.stderr);
        let skipped = skipped(&record);
        let (count, first) = &skipped["unsafe-path"];
        assert_eq!(*count as usize, hostile.len());
        assert_eq!(first.len(), 20, "the first 20 names are listed");
        assert!(first.iter().all(|name| hostile.contains(name)), "{first:?}");
        assert!(
            verified.stderr.contains("warning") && verified.stderr.contains("`..`"),
            "{}",
            verified.stderr
        );
    }
    let compared = run(zoorepro(&scratch.path().join("cache"))
        .args(["compare", good, broken, "--format", "html", "--limit", "0"])
        .arg("--val")
        .arg(&val));
    assert_eq!(compared.status, 0, "{}", compared.stderr);
    let page = &compared.stdout;
    assert!(
        !page.contains("private"),
        "no file outside --val is listed or embedded"
    );
    let differing: usize = page
        .split("Images whose top-1 differs (")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .expect("the page states how many images differ");
    assert!(differing > 0);
    assert_eq!(
        page.matches("src=\"data:image/png;base64,").count(),
        differing,
        "every differing image under --val, with the content the runs scored, has its thumbnail"
    );
}

/// Writes a tar header of `kind` named `name` claiming `size` bytes.
fn header(name: &str, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_path(name).unwrap();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(kind);
    header.set_cksum();
    header
}

/// Writes `size` bytes of `byte` and the block padding after them.
fn fill(out: &mut impl Write, byte: u8, size: u64) {
    let chunk = vec![byte; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        out.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    let pad = (512 - size % 512) % 512;
    out.write_all(&vec![0; pad as usize]).unwrap();
}

fn member(out: &mut impl Write, name: &str, bytes: &[u8]) {
    out.write_all(header(name, tar::EntryType::Regular, bytes.len() as u64).as_bytes())
        .unwrap();
    out.write_all(bytes).unwrap();
    out.write_all(&vec![0; (512 - bytes.len() % 512) % 512])
        .unwrap();
}

/// Runs `command` and returns its outcome with its peak resident memory in KiB, from `wait4`.
// The child is reaped by `wait4` (std's `wait` cannot return its resource usage).
#[allow(clippy::zombie_processes)]
fn run_measuring_peak_rss(command: &mut Command) -> (Run, u64) {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("the zoorepro binary runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        stdout.read_to_string(&mut text).unwrap();
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value; wait4 writes it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not yet waited for; both pointers are valid.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    let result = Run {
        status: if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        },
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    assert!(
        !result.stderr.contains("panicked"),
        "zoorepro panicked:\n{}",
        result.stderr
    );
    (result, usage.ru_maxrss as u64)
}

/// Item 2: a `.tar.gz` of a few megabytes whose GNU long-name header holds 512 MiB, and whose
/// PAX header holds 512 MiB, once made `verify` read both whole (gigabytes resident). Each header
/// is now checked against its bound before a byte is read, streamed past, and its member skipped
/// and counted.
#[test]
fn long_name_and_pax_headers_over_their_bound_are_skipped_without_being_read() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let files = sample_files(&shared);
    let image = |i: usize| {
        let path = &files[i].1;
        (
            path.file_name().unwrap().to_str().unwrap().to_string(),
            std::fs::read(path).unwrap(),
        )
    };
    let bomb: u64 = 512 << 20;
    let archive = scratch.path().join("bombs.tar.gz");
    let file = std::fs::File::create(&archive).unwrap();
    let mut out =
        flate2::write::GzEncoder::new(std::io::BufWriter::new(file), flate2::Compression::fast());
    let (first, first_bytes) = image(0);
    member(&mut out, &first, &first_bytes);
    let (long_named, bytes) = image(1);
    out.write_all(header("././@LongLink", tar::EntryType::GNULongName, bomb).as_bytes())
        .unwrap();
    fill(&mut out, b'a', bomb);
    member(&mut out, &long_named, &bytes);
    let (pax_named, bytes) = image(2);
    out.write_all(header("PaxHeaders/x", tar::EntryType::XHeader, bomb).as_bytes())
        .unwrap();
    fill(&mut out, b'a', bomb);
    member(&mut out, &pax_named, &bytes);
    let (last, bytes) = image(3);
    member(&mut out, &last, &bytes);
    out.write_all(&[0; 1024]).unwrap();
    out.finish().unwrap().flush().unwrap();
    let compressed = std::fs::metadata(&archive).unwrap().len();
    assert!(compressed < 8 << 20, "{compressed} bytes");

    let (verified, peak_kib) = run_measuring_peak_rss(&mut verify_command(
        scratch.path(),
        &shared,
        &archive,
        MODEL,
        &["--no-cache"],
    ));
    eprintln!(
        "verify over 1 GiB of hostile headers ({compressed} bytes gzipped): peak RSS {peak_kib} KiB"
    );
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    assert!(
        peak_kib < 256 << 10,
        "peak RSS {peak_kib} KiB: a header was held in memory"
    );
    let record = verified.json();
    assert_eq!(
        record["images"], 2,
        "the members before and after the bombs"
    );
    let skipped = skipped(&record);
    let (count, names) = &skipped["bad-header"];
    assert_eq!(*count, 2);
    assert!(
        names[0].starts_with(&long_named) && names[0].contains("long-name header claims"),
        "{names:?}"
    );
    assert!(
        names[1].starts_with(&pax_named) && names[1].contains("PAX header claims"),
        "{names:?}"
    );
    assert!(verified.stderr.contains("long-name or PAX header"));

    // A header that claims more than the archive holds: refused as cut, still without holding it.
    let short = scratch.path().join("short.tar");
    let mut bytes = header("././@LongLink", tar::EntryType::GNULongName, 1 << 30)
        .as_bytes()
        .to_vec();
    bytes.resize(1 << 20, b'a');
    std::fs::write(&short, &bytes).unwrap();
    let (refused, peak_kib) = run_measuring_peak_rss(&mut verify_command(
        scratch.path(),
        &shared,
        &short,
        MODEL,
        &["--no-cache"],
    ));
    common::assert_error(&refused, &["short.tar", "truncated"]);
    assert!(peak_kib < 256 << 10, "peak RSS {peak_kib} KiB");
}

/// Item 3: members that are no regular files but are named like images, links, and images in a
/// folder named by a number that is no class index, once vanished without a count (or were scored
/// as unlabelled). Each is now counted by reason with its name, and warned about. Built with
/// Python's `tarfile`, as an ImageNetV2 `.tar.gz` would be.
#[test]
fn every_skipped_member_is_counted_by_reason_with_its_name() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let files = sample_files(&shared);
    let jpeg = |i: usize| files[i].1.display().to_string();
    let readme = scratch.path().join("README.txt");
    std::fs::write(&readme, "notes").unwrap();
    let spec = serde_json::json!([
        ["v2/13/a.jpeg", "file", jpeg(0)],
        ["v2/65/b.jpeg", "file", jpeg(1)],
        ["v2/65/e.jpeg", "cont", jpeg(4)],
        ["v2/1000/c.jpeg", "file", jpeg(2)],
        ["v2/007/d.jpeg", "file", jpeg(3)],
        ["v2/13/dev.jpeg", "chr", ""],
        ["v2/13/fifo.JPEG", "fifo", ""],
        ["v2/13/dir.jpg", "dir", ""],
        ["v2/13/plain-dir", "dir", ""],
        ["v2/13/link.jpeg", "sym", "a.jpeg"],
        ["v2/README.txt", "file", readme.display().to_string()],
    ]);
    let archive = scratch.path().join("odd-members.tar.gz");
    run_tool(
        Command::new(python())
            .args([
                "-c",
                r#"
import io, json, sys, tarfile
kinds = {"chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE}
with tarfile.open(sys.argv[1], "w:gz", format=tarfile.GNU_FORMAT) as archive:
    for name, kind, source in json.loads(sys.argv[2]):
        info = tarfile.TarInfo(name)
        if kind in ("file", "cont"):
            if kind == "cont":
                info.type = tarfile.CONTTYPE
            data = open(source, "rb").read()
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        else:
            info.type = kinds[kind]
            info.linkname = source
            archive.addfile(info)
"#,
            ])
            .arg(&archive)
            .arg(spec.to_string()),
    );
    let verified = verify(scratch.path(), &shared, &archive);
    assert_eq!(verified.status, 0, "{}", verified.stderr);
    let record = verified.json();
    assert_eq!(
        record["images"], 3,
        "a.jpeg, b.jpeg and the contiguous e.jpeg"
    );
    assert_eq!(record["dataset"]["unlabelled"], 0);
    assert_eq!(record["dataset"]["ignored_files"], 7);
    let skipped = skipped(&record);
    let expect = |reason: &str, names: &[&str]| {
        assert_eq!(
            skipped[reason],
            (
                names.len() as u64,
                names.iter().map(|n| n.to_string()).collect()
            ),
            "{reason}"
        );
    };
    expect("not-a-class-index", &["v2/1000/c.jpeg", "v2/007/d.jpeg"]);
    expect(
        "not-a-regular-file",
        &["v2/13/dev.jpeg", "v2/13/fifo.JPEG", "v2/13/dir.jpg/"],
    );
    expect("link", &["v2/13/link.jpeg"]);
    expect("not-an-image", &["v2/README.txt"]);
    for name in ["v2/1000/c.jpeg", "v2/13/dev.jpeg", "v2/13/link.jpeg"] {
        assert!(
            verified
                .stderr
                .lines()
                .any(|l| l.starts_with("zoorepro: warning:") && l.contains(name)),
            "{name}: {}",
            verified.stderr
        );
    }
}

/// How a tool took an archive: read to its end, or refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accepted,
    Refused,
}

/// Python's `tarfile`: opens the archive (compression detected) and reads every regular member.
fn tarfile_verdict(archive: &Path) -> Verdict {
    let output = Command::new(python())
        .args([
            "-c",
            "import sys, tarfile\n\
             with tarfile.open(sys.argv[1]) as archive:\n\
             \x20   for member in archive:\n\
             \x20       if member.isfile(): archive.extractfile(member).read()",
        ])
        .arg(archive)
        .output()
        .expect("Python runs");
    if output.status.success() {
        Verdict::Accepted
    } else {
        Verdict::Refused
    }
}

/// GNU tar: extracts every member to stdout (gzip detected).
fn gnu_tar_verdict(archive: &Path) -> Verdict {
    let output = Command::new("tar")
        .arg("-xOf")
        .arg(archive)
        .stdout(Stdio::null())
        .output()
        .expect("GNU tar runs");
    if output.status.success() {
        Verdict::Accepted
    } else {
        Verdict::Refused
    }
}

fn gzip(path: &Path) -> PathBuf {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let output = run_tool(Command::new("gzip").arg("-c").arg(path));
    std::fs::write(&gz, output.stdout).unwrap();
    gz
}

/// Item 4: archives cut between members, inside a header or inside data, with one zero block,
/// with garbage after the members, and `.tar.gz`s of each, zero-padded, with garbage after the
/// gzip stream, cut, or of two gzip members. Each is built with GNU tar and gzip, and zoorepro
/// must accept exactly what both GNU tar and Python's `tarfile` accept (where they disagree, it
/// refuses), the plain and gzipped forms alike, warning and recording how an archive ended.
#[test]
fn archives_are_accepted_exactly_when_gnu_tar_and_tarfile_both_accept_them() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let images = scratch.path().join("images");
    std::fs::create_dir(&images).unwrap();
    let mut names = Vec::new();
    let mut sizes = Vec::new();
    for (_, path) in sample_files(&shared).into_iter().take(3) {
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        std::fs::copy(&path, images.join(&name)).unwrap();
        sizes.push(std::fs::metadata(&path).unwrap().len());
        names.push(name);
    }
    let whole_path = scratch.path().join("whole.tar");
    run_tool(
        Command::new("tar")
            .args(["--format=gnu", "-cf"])
            .arg(&whole_path)
            .arg("-C")
            .arg(&images)
            .args(&names),
    );
    let whole = std::fs::read(&whole_path).unwrap();
    // Member k's header: after each earlier member's header and data, padded to blocks.
    let header_at = |k: usize| -> usize {
        sizes[..k]
            .iter()
            .map(|s| 512 + s.div_ceil(512) as usize * 512)
            .sum()
    };
    let end_of_members = header_at(3);
    assert!(whole[end_of_members..].iter().all(|&b| b == 0));

    let write = |name: &str, bytes: &[u8]| {
        let path = scratch.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    // (archive, what zoorepro records when it reads it)
    let mut cases: Vec<(PathBuf, Option<&str>)> = Vec::new();
    let tars = [
        ("whole.tar", whole.clone(), Some("marker")),
        (
            "at-boundary.tar",
            whole[..header_at(2)].to_vec(),
            Some("missing-marker"),
        ),
        (
            "no-marker.tar",
            whole[..end_of_members].to_vec(),
            Some("missing-marker"),
        ),
        (
            "in-header.tar",
            whole[..header_at(2) + 100].to_vec(),
            Some("cut-in-header"),
        ),
        (
            "lone-zero-block.tar",
            whole[..end_of_members + 512].to_vec(),
            Some("lone-zero-block"),
        ),
        ("in-data.tar", whole[..header_at(2) + 1500].to_vec(), None),
        (
            "garbage-after-members.tar",
            [&whole[..end_of_members], &[b'x'; 1024][..]].concat(),
            None,
        ),
    ];
    for (name, bytes, end) in tars {
        let path = write(name, &bytes);
        cases.push((gzip(&path), end));
        cases.push((path, end));
    }
    let whole_gz = std::fs::read(gzip(&whole_path)).unwrap();
    cases.push((
        write(
            "zero-padded.tar.gz",
            &[&whole_gz[..], &[0; 1000][..]].concat(),
        ),
        Some("marker"),
    ));
    cases.push((
        write(
            "garbage-after-gzip.tar.gz",
            &[&whole_gz[..], &b"garbage!"[..]].concat(),
        ),
        None,
    ));
    cases.push((
        write("cut-gzip.tar.gz", &whole_gz[..whole_gz.len() - 100]),
        None,
    ));
    let half = header_at(2);
    let first_part = gzip(&write("part1", &whole[..half]));
    let second_part = gzip(&write("part2", &whole[half..]));
    cases.push((
        write(
            "two-members.tar.gz",
            &[
                std::fs::read(first_part).unwrap(),
                std::fs::read(second_part).unwrap(),
            ]
            .concat(),
        ),
        Some("marker"),
    ));

    let mut table = Vec::new();
    for (archive, end) in &cases {
        let name = archive.file_name().unwrap().to_str().unwrap().to_string();
        let (python, gnu) = (tarfile_verdict(archive), gnu_tar_verdict(archive));
        let expected = if python == Verdict::Accepted && gnu == Verdict::Accepted {
            Verdict::Accepted
        } else {
            Verdict::Refused
        };
        let verified = verify(scratch.path(), &shared, archive);
        let ours = match verified.status {
            0 => Verdict::Accepted,
            2 => Verdict::Refused,
            other => panic!("{name}: exit status {other}\n{}", verified.stderr),
        };
        table.push(format!(
            "{name}: tarfile {python:?}, GNU tar {gnu:?}, zoorepro {ours:?}"
        ));
        assert_eq!(
            ours,
            expected,
            "{name}\n{}\n{}",
            table.join("\n"),
            verified.stderr
        );
        // The cases were chosen for what the tools do; a tool that changed shows up here.
        assert_eq!(
            end.is_some(),
            expected == Verdict::Accepted,
            "{name}: {python:?} / {gnu:?}"
        );
        match (ours, end) {
            (Verdict::Accepted, Some(end)) => {
                let record = verified.json();
                assert_eq!(record["dataset"]["archive_end"], *end, "{name}");
                let warned = verified.stderr.contains("end-of-archive marker");
                assert_eq!(warned, *end != "marker", "{name}: {}", verified.stderr);
            }
            _ => common::assert_error(&verified, &[&name]),
        }
    }
    eprintln!("{}", table.join("\n"));
}
