//! Issue 19, inputs, flags and outputs: decompression bombs with peak RSS bounded by the decoded
//! image, devices and FIFOs refused, numeric flags validated, outputs written through one atomic
//! writer that streams to special files, hostile names escaped, NaN outputs and sidecars.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common;
use crate::common::{assert_error, run, shared, shared_model};

const CORAL: &str = "coral/mobilenet_v2_1.0_224_quant";

fn coral_args(shared: &Path) -> Vec<String> {
    vec![
        "--model".into(),
        CORAL.into(),
        "--onnx".into(),
        shared_model(shared, CORAL).display().to_string(),
    ]
}

/// A grayscale (1 channel, 8 bits) or RGBA (4 channels, 16 bits) PNG of zeros, streamed row by row.
fn zero_png(path: &Path, width: u32, height: u32, rgba16: bool) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut encoder = png::Encoder::new(file, width, height);
    if rgba16 {
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Sixteen);
    } else {
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
    }
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder
        .write_header()
        .unwrap()
        .into_stream_writer()
        .unwrap();
    let row = vec![0u8; width as usize * if rgba16 { 8 } else { 1 }];
    for _ in 0..height {
        writer.write_all(&row).unwrap();
    }
    writer.finish().unwrap();
}

/// Runs `command` to its end (stdout and stderr to files) and returns its exit status, output and
/// peak RSS in bytes, from the kernel's own accounting of the child (wait4).
fn run_measured(mut command: Command, scratch: &Path) -> (i32, String, u64) {
    let err_path = scratch.join("stderr.txt");
    command
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap());
    // Reaped by wait4 below, which also reports the child's peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the locals above.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    let stderr = std::fs::read_to_string(err_path).unwrap();
    (code, stderr, usage.ru_maxrss as u64 * 1024)
}

/// A 16-bit RGBA TIFF of zeros in one deflated strip (1.43 GB of samples in about 1.4 MB).
fn zero_tiff_rgba16(path: &Path, width: u32, height: u32) {
    let mut strip = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let row = vec![0u8; width as usize * 8];
    for _ in 0..height {
        strip.write_all(&row).unwrap();
    }
    let strip = strip.finish().unwrap();
    // Little-endian: header, the strip, then one IFD whose BitsPerSample lives after it.
    let ifd_at = 8 + strip.len() as u32 + (strip.len() as u32 & 1);
    let entries: [(u16, u16, u32, u32); 10] = [
        (256, 4, 1, width),
        (257, 4, 1, height),
        (258, 3, 4, ifd_at + 2 + 10 * 12 + 4), // 4 x 16 bits, stored after the IFD
        (259, 3, 1, 8),                        // deflate
        (262, 3, 1, 2),                        // RGB
        (273, 4, 1, 8),                        // the strip's offset
        (277, 3, 1, 4),
        (278, 4, 1, height),
        (279, 4, 1, strip.len() as u32),
        (338, 3, 1, 2), // unassociated alpha
    ];
    let mut file = b"II*\0".to_vec();
    file.extend_from_slice(&ifd_at.to_le_bytes());
    file.extend_from_slice(&strip);
    if strip.len() % 2 == 1 {
        file.push(0);
    }
    file.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, count, value) in entries {
        file.extend_from_slice(&tag.to_le_bytes());
        file.extend_from_slice(&kind.to_le_bytes());
        file.extend_from_slice(&count.to_le_bytes());
        file.extend_from_slice(&value.to_le_bytes());
    }
    file.extend_from_slice(&0u32.to_le_bytes());
    for _ in 0..4 {
        file.extend_from_slice(&16u16.to_le_bytes());
    }
    std::fs::write(path, file).unwrap();
}

fn riff_chunk(id: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut chunk = id.to_vec();
    chunk.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    chunk.extend_from_slice(payload);
    if payload.len() % 2 == 1 {
        chunk.push(0);
    }
    chunk
}

/// A lossless WebP of zeros in 28 bytes: five one-symbol prefix codes, so each pixel takes no
/// bits at all. `animated` wraps the same bitstream as the first frame of an animation.
fn zero_webp(path: &Path, width: u32, height: u32, animated: bool) {
    let header = (width - 1) | (height - 1) << 14;
    let mut bitstream = vec![0x2f];
    bitstream.extend_from_slice(&header.to_le_bytes());
    // No transform, no colour cache, no meta codes; then 5 x (simple code, 1 symbol, 1 bit, 0).
    bitstream.extend_from_slice(&[0x88, 0x88, 0x08]);
    let vp8l = riff_chunk(b"VP8L", &bitstream);
    let body = if animated {
        let u24 = |v: u32| v.to_le_bytes()[..3].to_vec();
        let canvas = [vec![0x02, 0, 0, 0], u24(width - 1), u24(height - 1)].concat();
        let frame = [
            u24(0),
            u24(0),
            u24(width - 1),
            u24(height - 1),
            u24(100),
            vec![0],
            vp8l,
        ]
        .concat();
        [
            riff_chunk(b"VP8X", &canvas),
            riff_chunk(b"ANIM", &[0; 6]),
            riff_chunk(b"ANMF", &frame),
        ]
        .concat()
    } else {
        vp8l
    };
    let mut file = b"RIFF".to_vec();
    file.extend_from_slice(&(body.len() as u32 + 4).to_le_bytes());
    file.extend_from_slice(b"WEBP");
    file.extend_from_slice(&body);
    std::fs::write(path, file).unwrap();
}

/// An 8-bit run-length (RLE8) BMP of zeros: about 110 bytes a row.
fn zero_bmp_rle8(path: &Path, width: u32, height: u32) {
    let mut row = Vec::new();
    let mut left = width;
    while left > 0 {
        let run = left.min(255);
        row.extend_from_slice(&[run as u8, 0]);
        left -= run;
    }
    row.extend_from_slice(&[0, 0]); // end of line
    let mut data = row.repeat(height as usize);
    data.extend_from_slice(&[0, 1]); // end of bitmap
    let palette: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v, 0]).collect();
    let offset = 14 + 40 + palette.len() as u32;
    let mut file = b"BM".to_vec();
    for value in [offset + data.len() as u32, 0, offset, 40] {
        file.extend_from_slice(&value.to_le_bytes());
    }
    file.extend_from_slice(&(width as i32).to_le_bytes());
    file.extend_from_slice(&(height as i32).to_le_bytes());
    file.extend_from_slice(&1u16.to_le_bytes());
    file.extend_from_slice(&8u16.to_le_bytes());
    for value in [1, data.len() as u32, 2835, 2835, 256, 0] {
        file.extend_from_slice(&value.to_le_bytes());
    }
    file.extend_from_slice(&palette);
    file.extend_from_slice(&data);
    std::fs::write(path, file).unwrap();
}

/// A GIF of zeros, LZW-coded as runs of 1, 2, 3, ... pixels (each code the entry the decoder is
/// about to add), the table cleared before it fills: about 120 KB for 13377x13377.
fn zero_gif(path: &Path, width: u32, height: u32) {
    const CLEAR: u32 = 4;
    const END: u32 = 5;
    let mut bytes = Vec::new();
    let (mut bits, mut count) = (0u64, 0u32);
    let mut put = |code: u32, size: u32, bytes: &mut Vec<u8>| {
        bits |= u64::from(code) << count;
        count += size;
        while count >= 8 {
            bytes.push(bits as u8);
            bits >>= 8;
            count -= 8;
        }
    };
    let mut left = u64::from(width) * u64::from(height);
    let mut size = 3;
    while left > 0 {
        size = 3;
        put(CLEAR, size, &mut bytes);
        put(0, size, &mut bytes);
        left -= 1;
        let mut next = 6u32;
        while left > 0 && next <= 4095 {
            let run = u64::from(next - 4);
            if run > left {
                // The last run: an entry already in the table (or a single literal 0).
                let code = if left >= 2 { left as u32 + 4 } else { 0 };
                put(code, size, &mut bytes);
                left = 0;
                break;
            }
            put(next, size, &mut bytes);
            left -= run;
            next += 1;
            if next == 1 << size && size < 12 {
                size += 1;
            }
        }
    }
    put(END, size, &mut bytes);
    put(0, 7, &mut bytes); // flush the last partial byte
    let mut file = b"GIF89a".to_vec();
    file.extend_from_slice(&(width as u16).to_le_bytes());
    file.extend_from_slice(&(height as u16).to_le_bytes());
    file.extend_from_slice(&[0x81, 0, 0]); // a global table of 4 colours
    file.extend_from_slice(&[0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0]);
    file.push(b',');
    for value in [0, 0, width as u16, height as u16] {
        file.extend_from_slice(&value.to_le_bytes());
    }
    file.extend_from_slice(&[0, 2]); // no local table; LZW minimum code size 2
    for block in bytes.chunks(255) {
        file.push(block.len() as u8);
        file.extend_from_slice(block);
    }
    file.extend_from_slice(b"\0;");
    std::fs::write(path, file).unwrap();
}

#[derive(Clone, Copy, Debug)]
enum Bomb {
    GrayPng,
    Rgba16Png,
    Rgba16Tiff,
    LosslessWebp,
    AnimatedWebp,
    Rle8Bmp,
    Gif,
}

impl Bomb {
    fn write(self, path: &Path, width: u32, height: u32) {
        match self {
            Bomb::GrayPng => zero_png(path, width, height, false),
            Bomb::Rgba16Png => zero_png(path, width, height, true),
            Bomb::Rgba16Tiff => zero_tiff_rgba16(path, width, height),
            Bomb::LosslessWebp => zero_webp(path, width, height, false),
            Bomb::AnimatedWebp => zero_webp(path, width, height, true),
            Bomb::Rle8Bmp => zero_bmp_rle8(path, width, height),
            Bomb::Gif => zero_gif(path, width, height),
        }
    }
}

#[test]
fn decompression_bombs_stay_within_twice_the_decoded_image() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    // Peak RSS before the fixes (MiB): 40,000,000x1 gray PNG 4.8 GB; 13377x13377 16-bit RGBA PNG
    // 2.0 GB; 178,956,970x1 PNG 21 GB or an abort (exit 134); 16-bit RGBA TIFF 1415 MiB (and
    // refused, where Pillow decodes it); animated lossless WebP 2096 MiB. Bound: 1280 MiB.
    for (bomb, width, height) in [
        (Bomb::GrayPng, 40_000_000u32, 1u32),
        (Bomb::Rgba16Png, 13_377, 13_377),
        (Bomb::GrayPng, 178_956_970, 1),
        (Bomb::Rgba16Tiff, 13_377, 13_377),
        (Bomb::LosslessWebp, 13_377, 13_377),
        (Bomb::AnimatedWebp, 13_377, 13_377),
        (Bomb::Rle8Bmp, 13_377, 13_377),
        (Bomb::Gif, 13_377, 13_377),
    ] {
        let val = scratch
            .path()
            .join(format!("val-{bomb:?}-{width}x{height}"));
        std::fs::create_dir_all(&val).unwrap();
        bomb.write(&val.join("ILSVRC2012_val_00000001.JPEG"), width, height);
        let mut command = common::zoorepro(&scratch.path().join("cache"));
        command
            .arg("verify")
            .args(coral_args(&shared))
            .arg("--val")
            .arg(&val)
            .args(["--no-cache", "--threads", "1", "--report-dir"])
            .arg(scratch.path().join("reports"));
        let (code, stderr, peak) = run_measured(command, scratch.path());
        let rgb = u64::from(width) * u64::from(height) * 3;
        let bound = 2 * rgb + (256 << 20);
        eprintln!(
            "{bomb:?} {width}x{height}: peak RSS {} MiB, bound {} MiB",
            peak >> 20,
            bound >> 20
        );
        assert_eq!(code, 0, "{bomb:?}: {stderr}");
        assert!(stderr.contains("0 failed"), "{bomb:?}: {stderr}");
        assert!(
            peak < bound,
            "{bomb:?} {width}x{height}: peak {peak} over {bound}"
        );
        std::fs::remove_dir_all(&val).unwrap();
    }
}

#[test]
fn a_png_over_pillows_limit_counts_as_failed_without_decoding() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    std::fs::create_dir_all(&val).unwrap();
    zero_png(
        &val.join("ILSVRC2012_val_00000001.JPEG"),
        178_956_971,
        1,
        false,
    );
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .arg("verify")
        .args(coral_args(&shared))
        .arg("--val")
        .arg(&val)
        .args(["--no-cache", "--report-dir"])
        .arg(scratch.path().join("reports"));
    let result = run(&mut command);
    // Its one image failed: nothing was scored, exit 3.
    assert_eq!(result.status, 3, "{}", result.stderr);
    assert!(
        result.stderr.contains("decompression bombs"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("1 failed"), "{}", result.stderr);
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// Runs `command` with a deadline: a FIFO or device must never make zoorepro wait or read forever.
fn run_with_deadline(command: &mut Command, seconds: u64) -> common::Run {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(seconds) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("still running after {seconds} s: a FIFO or device hung it");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    common::Run {
        status: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn devices_and_fifos_are_refused_not_read() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val");
    std::fs::create_dir_all(&val).unwrap();
    mkfifo(&val.join("ILSVRC2012_val_00000001.JPEG"));
    std::os::unix::fs::symlink("/dev/zero", val.join("ILSVRC2012_val_00000002.JPEG")).unwrap();
    std::fs::copy(
        shared.join("imagenet-val/ILSVRC2012_val_00000003.JPEG"),
        val.join("ILSVRC2012_val_00000003.JPEG"),
    )
    .unwrap();
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .arg("verify")
        .args(coral_args(&shared))
        .arg("--val")
        .arg(&val)
        .args(["--no-cache", "--report-dir"])
        .arg(scratch.path().join("reports"));
    let result = run_with_deadline(&mut command, 120);
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(
        result
            .stderr
            .contains("is a FIFO (named pipe), not a regular file"),
        "{}",
        result.stderr
    );
    assert!(
        result
            .stderr
            .contains("is a character device, not a regular file"),
        "{}",
        result.stderr
    );
    assert!(result.stderr.contains("2 failed"), "{}", result.stderr);

    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .args(["preprocess", "--recipe", "torchvision", "--out"])
        .arg(scratch.path().join("out.npy"))
        .arg(val.join("ILSVRC2012_val_00000001.JPEG"));
    let result = run_with_deadline(&mut command, 60);
    assert_error(&result, &["ILSVRC2012_val_00000001.JPEG", "FIFO"]);

    let seed = scratch.path().join("seed/pytorch_imagenet");
    std::fs::create_dir_all(&seed).unwrap();
    mkfifo(&seed.join("alexnet_pytorch_imagenet_top5preds.npy"));
    std::fs::write(seed.join("alexnet_pytorch_imagenet_top5probs.npy"), b"").unwrap();
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command.arg("import-seed").arg(scratch.path().join("seed"));
    let result = run_with_deadline(&mut command, 60);
    assert_error(&result, &["top5preds.npy", "FIFO"]);
}

fn verify_flags(shared: &Path, scratch: &Path, extra: &[&str]) -> common::Run {
    let mut args: Vec<String> = coral_args(shared);
    args.extend([
        "--val".into(),
        shared.join("imagenet-val").display().to_string(),
    ]);
    if !extra.contains(&"--limit") {
        args.extend(["--limit".into(), "2".into()]);
    }
    args.push("--no-cache".into());
    args.extend(extra.iter().map(|s| s.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    common::verify(scratch, &args)
}

#[test]
fn numeric_flags_are_validated_with_exit_2() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    for (flag, value, needle) in [
        ("--batch", "100000", "outside 1..=4096"),
        ("--batch", "18446744073709551615", "outside 1..=4096"),
        ("--batch", "0", "outside 1..=4096"),
        ("--threads", "100000", "4x this machine's cores"),
        ("--threads", "0", "at least 1"),
        ("--tolerance", "NaN", "0..=100"),
        ("--tolerance", "-1", "0..=100"),
        ("--tolerance", "inf", "0..=100"),
        ("--limit", "0", "at least 1"),
        // Negative numbers reach the flags' parsers, and say what is wrong with them.
        ("--limit", "-1", "--limit <N>': must be at least 1"),
        ("--batch", "-1", "-1 is outside 1..=4096"),
        ("--threads", "-1", "at least 1"),
        ("--limit", "1180591620717411303424", "must be at most"),
    ] {
        let result = verify_flags(&shared, scratch.path(), &[flag, value]);
        assert_eq!(result.status, 2, "{flag} {value}: {}", result.stderr);
        assert!(
            result.stderr.contains(flag) && result.stderr.contains(needle),
            "{flag} {value}: {}",
            result.stderr
        );
    }
    // Within the flag's range but not within memory: refused from the model's input size.
    let result = verify_flags(&shared, scratch.path(), &["--batch", "4000"]);
    assert_error(&result, &["--batch 4000", "GiB", "at most 891"]);

    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .arg("determinism")
        .args(coral_args(&shared))
        .arg("--val")
        .arg(shared.join("imagenet-val"))
        .args(["--batch-sizes", "1,1000000"]);
    let result = run(&mut command);
    assert_eq!(result.status, 2, "{}", result.stderr);
    assert!(result.stderr.contains("--batch-sizes"), "{}", result.stderr);
    let mut command = common::zoorepro(&scratch.path().join("cache"));
    command
        .arg("determinism")
        .args(coral_args(&shared))
        .arg("--val")
        .arg(shared.join("imagenet-val"))
        .args(["--batch-sizes", "4000", "--samples", "2"]);
    assert_error(&run(&mut command), &["--batch-sizes 4000", "GiB"]);

    // An exact match passes with a zero tolerance.
    let result = verify_flags(&shared, scratch.path(), &["--tolerance", "0", "--json"]);
    assert!(
        result.status == 0 || result.status == 1,
        "{}",
        result.stderr
    );
}

#[test]
fn predictions_stream_to_special_files_and_write_through_links() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let result = verify_flags(&shared, scratch.path(), &["--predictions", "/dev/stdout"]);
    assert_eq!(result.status, 0, "{}", result.stderr);
    let lines: Vec<serde_json::Value> = result
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{}", result.stdout);

    let real = scratch.path().join("real.jsonl");
    std::fs::write(&real, "old\n").unwrap();
    let link = scratch.path().join("link.jsonl");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let result = verify_flags(
        &shared,
        scratch.path(),
        &["--predictions", link.to_str().unwrap()],
    );
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read_to_string(&real).unwrap().lines().count(), 2);
    // No temporary file is left beside the outputs.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn hostile_file_names_are_escaped_in_the_markdown_report_and_on_the_terminal() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let val = scratch.path().join("val/n01440764");
    std::fs::create_dir_all(&val).unwrap();
    let hostile = "x`<img src=x onerror=alert(1)>`\r\x1b[2Kforged.JPEG";
    std::fs::write(val.join(hostile), b"not an image").unwrap();
    let result = common::verify(
        scratch.path(),
        &[
            "--model",
            CORAL,
            "--onnx",
            shared_model(&shared, CORAL).to_str().unwrap(),
            "--val",
            scratch.path().join("val").to_str().unwrap(),
            "--no-cache",
        ],
    );
    // Its one image failed: nothing was scored, exit 3.
    assert_eq!(result.status, 3, "{}", result.stderr);
    assert!(
        !result.stderr.contains('\r') && !result.stderr.contains('\x1b'),
        "{:?}",
        result.stderr
    );
    assert!(
        result.stderr.contains("\\r\\x1b[2Kforged.JPEG"),
        "{}",
        result.stderr
    );
    let md_path = result
        .stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("report: ")
                .filter(|p| p.ends_with(".md"))
        })
        .expect("a Markdown report");
    let md = std::fs::read_to_string(md_path).unwrap();
    assert!(
        md.contains("``n01440764/x`<img src=x onerror=alert(1)>`\\r\\x1b[2Kforged.JPEG``"),
        "{md}"
    );
    assert!(!md.contains('\r') && !md.contains('\x1b'));
}

#[test]
fn an_oversized_sidecar_is_not_copied() {
    let Some(shared) = shared() else { return };
    let scratch = tempfile::tempdir().unwrap();
    let onnx = scratch.path().join("model.onnx");
    std::fs::copy(shared_model(&shared, CORAL), &onnx).unwrap();
    let big = format!("{{\"padding\": \"{}\"}}", "x".repeat(2 << 20));
    std::fs::write(scratch.path().join("model.onnx.json"), big).unwrap();
    let result = common::verify(
        scratch.path(),
        &[
            "--model",
            CORAL,
            "--onnx",
            onnx.to_str().unwrap(),
            "--val",
            shared.join("imagenet-val").to_str().unwrap(),
            "--limit",
            "1",
            "--no-cache",
            "--json",
        ],
    );
    assert_eq!(result.status, 0, "{}", result.stderr);
    assert!(
        result.stderr.contains("limit for an export sidecar"),
        "{}",
        result.stderr
    );
    let sidecar = &result.json()["onnx"]["sidecar"];
    assert!(
        sidecar["omitted"]
            .as_str()
            .unwrap()
            .contains("1048576-byte limit"),
        "{sidecar}"
    );
    assert!(sidecar.get("padding").is_none());
}

/// A classifier whose logit 7 is NaN for every image (its weights column is NaN).
fn nan_classifier() -> Vec<u8> {
    use prost::Message as _;
    use zoorepro::model::onnx::proto::{
        AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
        TensorShapeProto, TypeProto, ValueInfoProto, attribute_proto, tensor_proto,
        tensor_shape_proto, type_proto,
    };
    let dim = |v: Option<i64>| tensor_shape_proto::Dimension {
        value: Some(match v {
            Some(v) => tensor_shape_proto::dimension::Value::DimValue(v),
            None => tensor_shape_proto::dimension::Value::DimParam("N".into()),
        }),
        ..Default::default()
    };
    let value = |name: &str, dims| ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            value: Some(type_proto::Value::TensorType(type_proto::Tensor {
                elem_type: Some(tensor_proto::DataType::Float as i32),
                shape: Some(TensorShapeProto { dim: dims }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    };
    let weights: Vec<f32> = (0..3 * 1000)
        .map(|i| {
            if i % 1000 == 7 {
                f32::NAN
            } else {
                (i as f32 * 0.618).sin()
            }
        })
        .collect();
    let node = |name: &str, op: &str, inputs: &[&str], output: &str, attrs| NodeProto {
        name: Some(name.into()),
        op_type: Some(op.into()),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute: attrs,
        ..Default::default()
    };
    let ints = AttributeProto {
        name: Some("axes".into()),
        r#type: Some(attribute_proto::AttributeType::Ints as i32),
        ints: vec![2, 3],
        ..Default::default()
    };
    let keepdims = AttributeProto {
        name: Some("keepdims".into()),
        r#type: Some(attribute_proto::AttributeType::Int as i32),
        i: Some(0),
        ..Default::default()
    };
    ModelProto {
        ir_version: Some(8),
        opset_import: vec![OperatorSetIdProto {
            domain: Some(String::new()),
            version: Some(13),
        }],
        graph: Some(GraphProto {
            name: Some("nan".into()),
            node: vec![
                node(
                    "mean",
                    "ReduceMean",
                    &["input"],
                    "features",
                    vec![ints, keepdims],
                ),
                node(
                    "project",
                    "MatMul",
                    &["features", "weights"],
                    "logits",
                    vec![],
                ),
            ],
            initializer: vec![TensorProto {
                name: Some("weights".into()),
                dims: vec![3, 1000],
                data_type: Some(tensor_proto::DataType::Float as i32),
                raw_data: Some(weights.iter().flat_map(|w| w.to_le_bytes()).collect()),
                ..Default::default()
            }],
            input: vec![value(
                "input",
                vec![dim(None), dim(Some(3)), dim(Some(224)), dim(Some(224))],
            )],
            output: vec![value("logits", vec![dim(None), dim(Some(1000))])],
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

#[test]
fn nan_model_outputs_are_warned_about_and_counted() {
    if shared().is_none() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let home = scratch.path().join("home");
    std::fs::create_dir_all(home.join("manifests")).unwrap();
    std::fs::create_dir_all(home.join("models")).unwrap();
    std::fs::write(home.join("models/test__nan.onnx"), nan_classifier()).unwrap();
    let manifest = serde_json::json!({
        "format_version": 1, "id": "test/nan", "framework": "test", "name": "nan",
        "description": "tests/inputs/integrity_input.rs fixture", "file": "test__nan.onnx", "sha256": null,
        "input": {"name": "input", "shape": ["N", 3, 224, 224], "layout": "nchw", "dtype": "float32"},
        "output": {"name": "logits", "classes": 1000, "label_offset": 0, "kind": "logits"},
        "default_recipe": "torchvision", "recipes": ["torchvision"], "references": []
    });
    std::fs::write(home.join("manifests/test__nan.json"), manifest.to_string()).unwrap();
    let verify = |limit: &str| {
        let mut command = common::zoorepro(&scratch.path().join("cache"));
        command
            .env("ZOOREPRO_HOME", &home)
            .args(["verify", "--model", "test/nan", "--val"])
            .arg(common::repo().join("demo"))
            .args(["--limit", limit, "--json", "--report-dir"])
            .arg(scratch.path().join("reports"));
        let result = run(&mut command);
        assert_eq!(result.status, 0, "{}", result.stderr);
        result
    };
    let result = verify("3");
    assert!(
        result
            .stderr
            .contains("held NaN for 3 of the 3 images inferred in this pass"),
        "{}",
        result.stderr
    );
    assert_eq!(result.json()["provenance"]["nan_outputs"], 3);
    // Resumed: the 3 stored rows kept no outputs, so only this pass's 2 are counted, and every
    // format says so rather than giving 2 as the run's count.
    let result = verify("5");
    assert!(
        result
            .stderr
            .contains("held NaN for 2 of the 2 images inferred in this pass"),
        "{}",
        result.stderr
    );
    let record = result.json();
    assert_eq!(record["provenance"]["nan_outputs"], 2);
    assert_eq!(record["store"]["reused"], 3);
    let reports = scratch.path().join("reports/test/nan");
    for extension in ["md", "html"] {
        let newest = std::fs::read_dir(&reports)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == extension))
            .max_by_key(|p| p.metadata().unwrap().modified().unwrap())
            .unwrap();
        let text = std::fs::read_to_string(newest).unwrap();
        for needle in [
            "2 of the 2 images inferred in this pass",
            "the 3 images answered by the store are not counted",
        ] {
            assert!(text.contains(needle), "{extension}: {needle}: {text}");
        }
    }
}
