//! The one libjpeg glue: `glue.c` drives libjpeg-turbo's libjpeg API (the library `turbojpeg-sys`
//! builds and links) the way Pillow, TensorFlow, torchvision or OpenCV drive it, as a [`Policy`]
//! says; this module is its only Rust side, with safe wrappers. The callers (each pipeline's
//! `jpeg.rs` under `pipelines/`; Pillow's is `pillow/decode/jpeg.rs`) keep what is theirs:
//! acceptance before libjpeg, the CMYK formula, EXIF orientation, and when to decode the whole
//! picture again.
//!
//! The `#[repr(C)]` structs below mirror `glue.h`. Their layout is checked at compile time on both
//! sides with the same numbers (`_Static_assert` in `glue.c`, `const` asserts here), so a field
//! added, moved or retyped on one side only stops the build instead of reading the wrong bytes.

use std::ffi::{CStr, c_void};
use std::mem::{offset_of, size_of};

// Links libjpeg-turbo (the crate's static library holds the libjpeg API glue.c calls); no Rust
// item of the bindings is used.
use turbojpeg_sys as _;

use crate::image::raster::Window;

/// `struct zr_jpeg_window`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CWindow {
    x: u32,
    y: u32,
    width: u32,
    height: u32,
}

/// `struct zr_jpeg_request`.
#[repr(C)]
struct CRequest {
    source: i32,
    colour: i32,
    dct: i32,
    keep_after_rows: i32,
    max_scans: i32,
    components: u32,
    expect_width: u32,
    expect_height: u32,
    max_side: u64,
    max_pixels: u64,
    max_bytes: u64,
    plan: extern "C" fn(*mut c_void, u32, u32, *mut CWindow) -> i32,
    alloc: extern "C" fn(*mut c_void, usize) -> *mut u8,
    app1: Option<extern "C" fn(*mut c_void, *const u8, u32)>,
    opaque: *mut c_void,
}

/// glue.h's ZR_JPEG_MESSAGE_LEN (jpeglib.h's JMSG_LENGTH_MAX).
const MESSAGE_LEN: usize = 200;

/// `struct zr_jpeg_result`.
#[repr(C)]
struct CResult {
    status: i32,
    warnings: i32,
    ran_out: i32,
    components: i32,
    adobe: i32,
    full_width: u32,
    full_height: u32,
    decoded: CWindow,
    /// `char[]`: a NUL-terminated message (u8 here: `char` is one byte, signed or not).
    message: [u8; MESSAGE_LEN],
}

// The numbers glue.c asserts with _Static_assert, for the same 64-bit targets.
#[cfg(target_pointer_width = "64")]
const _: () = {
    assert!(size_of::<CWindow>() == 16);
    assert!(offset_of!(CWindow, x) == 0);
    assert!(offset_of!(CWindow, y) == 4);
    assert!(offset_of!(CWindow, width) == 8);
    assert!(offset_of!(CWindow, height) == 12);

    assert!(size_of::<CRequest>() == 88);
    assert!(offset_of!(CRequest, source) == 0);
    assert!(offset_of!(CRequest, colour) == 4);
    assert!(offset_of!(CRequest, dct) == 8);
    assert!(offset_of!(CRequest, keep_after_rows) == 12);
    assert!(offset_of!(CRequest, max_scans) == 16);
    assert!(offset_of!(CRequest, components) == 20);
    assert!(offset_of!(CRequest, expect_width) == 24);
    assert!(offset_of!(CRequest, expect_height) == 28);
    assert!(offset_of!(CRequest, max_side) == 32);
    assert!(offset_of!(CRequest, max_pixels) == 40);
    assert!(offset_of!(CRequest, max_bytes) == 48);
    assert!(offset_of!(CRequest, plan) == 56);
    assert!(offset_of!(CRequest, alloc) == 64);
    assert!(offset_of!(CRequest, app1) == 72);
    assert!(offset_of!(CRequest, opaque) == 80);

    assert!(size_of::<CResult>() == 244);
    assert!(offset_of!(CResult, status) == 0);
    assert!(offset_of!(CResult, warnings) == 4);
    assert!(offset_of!(CResult, ran_out) == 8);
    assert!(offset_of!(CResult, components) == 12);
    assert!(offset_of!(CResult, adobe) == 16);
    assert!(offset_of!(CResult, full_width) == 20);
    assert!(offset_of!(CResult, full_height) == 24);
    assert!(offset_of!(CResult, decoded) == 28);
    assert!(offset_of!(CResult, message) == 44);
};

// enum zr_jpeg_status.
const OK: i32 = 0;
const TRUNCATED: i32 = 1;
const BROKEN: i32 = 2;
const TOO_MANY_SCANS: i32 = 3;
const NO_MEMORY: i32 = 4;
const SIZE_MISMATCH: i32 = 5;
const TOO_LARGE: i32 = 6;

unsafe extern "C" {
    fn zr_jpeg_decode(
        data: *const u8,
        len: usize,
        request: *const CRequest,
        result: *mut CResult,
    ) -> i32;
}

/// How the library hands libjpeg the file, which decides what running out of data means
/// (`enum zr_jpeg_source`).
#[derive(Clone, Copy)]
pub(crate) enum Source {
    /// Pillow: libjpeg suspends; truncated unless every row was out (see [`Decoded::ran_out`]).
    Suspending = 0,
    /// TensorFlow, torchvision: every read past the end is fatal.
    FatalEof = 1,
    /// OpenCV's file source: past the end a warning and a fake EOI marker.
    FakeEoi = 2,
}

/// What libjpeg's output is (`enum zr_jpeg_colour`).
#[derive(Clone, Copy)]
pub(crate) enum Colour {
    /// Pillow: the mode parsed from the frame (1: L, 3: RGB, 4: CMYK); libjpeg's frame must be
    /// `width` x `height` with that many components, else [`Failure::SizeMismatch`].
    AsParsed {
        components: u8,
        width: u32,
        height: u32,
    },
    /// CMYK and YCCK files as CMYK, every other file as RGB.
    RgbOrCmyk,
}

/// The inverse DCT (`enum zr_jpeg_dct`).
#[derive(Clone, Copy)]
pub(crate) enum Dct {
    /// libjpeg's default, accurate integer one.
    Islow = 0,
    /// The fast integer one (TensorFlow's default).
    Ifast = 1,
}

/// Everything a library does differently when it drives libjpeg.
#[derive(Clone, Copy)]
pub(crate) struct Policy {
    pub source: Source,
    pub colour: Colour,
    pub dct: Dct,
    /// An error once every row is out keeps the image (OpenCV).
    pub keep_after_rows: bool,
    /// More scans are refused ([`Failure::TooManyScans`]); 0: no limit.
    pub max_scans: i32,
    /// Outputs with a side longer than this are refused ([`Failure::TooLarge`]); 0: no limit.
    pub max_side: u64,
    /// Outputs of more pixels than this are refused; 0: no limit.
    pub max_pixels: u64,
    /// Outputs of this many bytes or more, counted with the file's components, are refused;
    /// 0: no limit.
    pub max_bytes: u64,
}

impl Policy {
    /// libjpeg's defaults: the caller sets what its library changes.
    pub const fn new(source: Source, colour: Colour, max_scans: i32) -> Self {
        Self {
            source,
            colour,
            dct: Dct::Islow,
            keep_after_rows: false,
            max_scans,
            max_side: 0,
            max_pixels: 0,
            max_bytes: 0,
        }
    }
}

/// What the C side calls back into during a decode.
pub(crate) trait Hooks {
    /// The rectangle of a `width` x `height` picture to decode; None: the whole picture. It must
    /// lie inside the picture and not be empty, or the whole picture is decoded.
    fn region(&mut self, width: usize, height: usize) -> Option<Window>;

    /// Whether [`Hooks::app1`] is wanted (libjpeg then saves APP1 markers).
    fn wants_app1(&self) -> bool {
        false
    }

    /// Each APP1 marker's data, in file order, before [`Hooks::region`] is asked.
    fn app1(&mut self, _data: &[u8]) {}

    /// How many bytes to reserve for an output of `len` bytes (more leaves room to convert in
    /// place); None: refuse ([`Failure::NoMemory`]).
    fn capacity(&self, len: usize) -> Option<usize> {
        Some(len)
    }
}

/// A successful decode.
pub(crate) struct Decoded {
    /// `window.height` rows of `window.width * components` bytes, as libjpeg wrote them.
    pub pixels: Vec<u8>,
    /// 1 (gray), 3 (RGB) or 4 (CMYK).
    pub components: usize,
    /// Where the pixels lie (libjpeg may widen a region to an iMCU boundary).
    pub window: Window,
    pub full_width: usize,
    pub full_height: usize,
    /// libjpeg's warnings (corrupt data it decoded through).
    pub warnings: u32,
    /// [`Source::Suspending`]: libjpeg asked for bytes past the end after a region's rows.
    pub ran_out: bool,
    /// An Adobe marker was seen.
    pub adobe: bool,
}

impl Decoded {
    /// Whether only part of the picture was decoded.
    pub fn is_partial(&self) -> bool {
        self.window.width != self.full_width || self.window.height != self.full_height
    }
}

/// Why a decode failed; the callers word it as their library would.
#[derive(Debug)]
pub(crate) enum Failure {
    /// [`Source::Suspending`]: the data ended before the last row.
    Truncated,
    /// A fatal libjpeg error, in libjpeg's words.
    Broken(String),
    /// More than [`Policy::max_scans`] scans ("more than N scans").
    TooManyScans(String),
    /// [`Hooks::capacity`] refused, or the memory could not be had.
    NoMemory,
    /// [`Colour::AsParsed`]: libjpeg's frame is not the parsed one.
    SizeMismatch,
    /// Over [`Policy::max_side`], [`Policy::max_pixels`] or [`Policy::max_bytes`].
    TooLarge,
}

/// The hooks and the output buffer, behind the C side's `opaque` pointer.
struct Context<'a, H> {
    hooks: &'a mut H,
    pixels: Vec<u8>,
}

extern "C" fn plan<H: Hooks>(
    opaque: *mut c_void,
    width: u32,
    height: u32,
    out: *mut CWindow,
) -> i32 {
    // SAFETY: `opaque` is the `&mut Context<H>` that `decode` put in the request; it outlives the
    // C call this callback runs inside, and nothing else touches it during that call.
    let context = unsafe { &mut *opaque.cast::<Context<H>>() };
    let Some(part) = context.hooks.region(width as usize, height as usize) else {
        return 0;
    };
    let (Ok(x), Ok(y), Ok(w), Ok(h)) = (
        u32::try_from(part.x),
        u32::try_from(part.y),
        u32::try_from(part.width),
        u32::try_from(part.height),
    ) else {
        return 0;
    };
    // SAFETY: `out` points at the C side's local `struct zr_jpeg_window`, valid for a write of
    // one `CWindow` (the same layout, asserted above).
    unsafe {
        out.write(CWindow {
            x,
            y,
            width: w,
            height: h,
        });
    }
    1
}

extern "C" fn alloc<H: Hooks>(opaque: *mut c_void, len: usize) -> *mut u8 {
    // SAFETY: as in `plan`.
    let context = unsafe { &mut *opaque.cast::<Context<H>>() };
    context.pixels.clear();
    match context.hooks.capacity(len) {
        Some(wanted) if wanted >= len && context.pixels.try_reserve_exact(wanted).is_ok() => {
            context.pixels.as_mut_ptr()
        }
        _ => std::ptr::null_mut(),
    }
}

extern "C" fn app1<H: Hooks>(opaque: *mut c_void, data: *const u8, len: u32) {
    // SAFETY: as in `plan`.
    let context = unsafe { &mut *opaque.cast::<Context<H>>() };
    let marker = if data.is_null() || len == 0 {
        &[][..]
    } else {
        // SAFETY: `data` is non-null and points at the saved marker's `len` bytes, which libjpeg
        // keeps alive and unchanged until the decompressor is destroyed, after this call.
        unsafe { std::slice::from_raw_parts(data, len as usize) }
    };
    context.hooks.app1(marker);
}

/// The C request for `policy`, with `H`'s callbacks and `opaque` (a `Context<H>`).
fn request<H: Hooks>(policy: &Policy, wants_app1: bool, opaque: *mut c_void) -> CRequest {
    let (colour, components, expect_width, expect_height) = match policy.colour {
        Colour::AsParsed {
            components,
            width,
            height,
        } => (0, u32::from(components), width, height),
        Colour::RgbOrCmyk => (1, 0, 0, 0),
    };
    CRequest {
        source: policy.source as i32,
        colour,
        dct: policy.dct as i32,
        keep_after_rows: i32::from(policy.keep_after_rows),
        max_scans: policy.max_scans,
        components,
        expect_width,
        expect_height,
        max_side: policy.max_side,
        max_pixels: policy.max_pixels,
        max_bytes: policy.max_bytes,
        plan: plan::<H>,
        alloc: alloc::<H>,
        app1: wants_app1.then_some(app1::<H> as extern "C" fn(*mut c_void, *const u8, u32)),
        opaque,
    }
}

/// Decodes `bytes` with libjpeg as `policy` says, calling back into `hooks`.
pub(crate) fn decode<H: Hooks>(
    bytes: &[u8],
    policy: &Policy,
    hooks: &mut H,
) -> Result<Decoded, Failure> {
    let wants_app1 = hooks.wants_app1();
    let mut context = Context {
        hooks,
        pixels: Vec::new(),
    };
    let request = request::<H>(policy, wants_app1, (&raw mut context).cast());
    let mut result = CResult {
        status: -1,
        warnings: 0,
        ran_out: 0,
        components: 0,
        adobe: 0,
        full_width: 0,
        full_height: 0,
        decoded: CWindow::default(),
        message: [0; MESSAGE_LEN],
    };
    // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes for the whole call and the C side
    // only reads it; `request` and `result` are live locals of the layouts glue.h declares
    // (asserted above); the callbacks get `opaque`, the `context` local, which is not touched
    // here until the call returns. glue.c catches every libjpeg error with setjmp/longjmp inside
    // the call, and the callbacks are called by glue.c itself, never by libjpeg, so no jump
    // crosses a Rust frame.
    unsafe { zr_jpeg_decode(bytes.as_ptr(), bytes.len(), &request, &mut result) };
    finish(&result, context.pixels)
}

/// The result of a decode: its failure, or the buffer `alloc` handed out with its length set.
fn finish(result: &CResult, mut pixels: Vec<u8>) -> Result<Decoded, Failure> {
    let message = || {
        CStr::from_bytes_until_nul(&result.message)
            .map(|m| m.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    match result.status {
        OK => {}
        TRUNCATED => return Err(Failure::Truncated),
        TOO_MANY_SCANS => return Err(Failure::TooManyScans(message())),
        NO_MEMORY => return Err(Failure::NoMemory),
        SIZE_MISMATCH => return Err(Failure::SizeMismatch),
        TOO_LARGE => return Err(Failure::TooLarge),
        BROKEN => return Err(Failure::Broken(message())),
        other => return Err(Failure::Broken(format!("decoder status {other}"))),
    }
    let window = Window {
        x: result.decoded.x as usize,
        y: result.decoded.y as usize,
        width: result.decoded.width as usize,
        height: result.decoded.height as usize,
    };
    let components = usize::try_from(result.components).unwrap_or(0);
    let len = window.width * window.height * components;
    // A successful decode allocated (at least) its rows plus a scratch row: a shorter buffer
    // would mean the C side broke its contract, which must not become an out-of-bounds length.
    if len > pixels.capacity() {
        return Err(Failure::Broken(
            "the libjpeg glue's output overran its buffer".into(),
        ));
    }
    // SAFETY: `len` is within the capacity (checked above), and a successful decode wrote every
    // byte of the window's rows, the first `len` bytes of the buffer `alloc` handed out (the
    // scratch row after them is left out); u8 has no invalid values.
    unsafe { pixels.set_len(len) };
    Ok(Decoded {
        pixels,
        components,
        window,
        full_width: result.full_width as usize,
        full_height: result.full_height as usize,
        warnings: result.warnings.max(0) as u32,
        ran_out: result.ran_out != 0,
        adobe: result.adobe != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Whole;

    impl Hooks for Whole {
        fn region(&mut self, _: usize, _: usize) -> Option<Window> {
            None
        }
    }

    fn policy(source: Source) -> Policy {
        Policy::new(source, Colour::RgbOrCmyk, 100)
    }

    #[test]
    fn running_out_follows_the_source_policy() {
        // SOI and the start of an APP0: libjpeg asks for more before any frame.
        let cut = b"\xff\xd8\xff\xe0";
        assert!(matches!(
            decode(cut, &policy(Source::Suspending), &mut Whole),
            Err(Failure::Truncated)
        ));
        assert!(matches!(
            decode(cut, &policy(Source::FatalEof), &mut Whole),
            Err(Failure::Broken(m)) if !m.is_empty()
        ));
        // The file source reads fake EOIs: an EOI where a marker's length should be.
        assert!(matches!(
            decode(cut, &policy(Source::FakeEoi), &mut Whole),
            Err(Failure::Broken(_))
        ));
        assert!(matches!(
            decode(b"", &policy(Source::FakeEoi), &mut Whole),
            Err(Failure::Broken(m)) if m.contains("Empty input")
        ));
    }
}
