/*
 * One decoding loop over libjpeg-turbo's libjpeg API for every library zoorepro reproduces; the
 * request (glue.h) picks what differs between them. Read to learn the settings, never copied:
 *
 *  - Pillow 13 (JpegDecode.c): a suspending source over the whole file, tables-only headers
 *    skipped, the output mode Pillow parsed (L, RGB as RGBX, CMYK;I), warnings ignored, running
 *    out of data before the last row "image file is truncated", a suspension inside
 *    jpeg_finish_decompress ignored, fatal errors "broken data stream".
 *  - TensorFlow's tf.io.decode_jpeg(contents, channels=3) (core/lib/jpeg/jpeg_mem.cc
 *    UncompressLow, jpeg_handle.cc's memory source, the op's defaults in decode_image_op.cc):
 *    the fast integer DCT (dct_method "" is INTEGER_FAST), fancy upsampling, scale 1/1; with
 *    try_recover_truncated off every read past the end is fatal (JERR_FILE_READ), in
 *    jpeg_finish_decompress too, so a file without its EOI marker is refused; outputs of 2^29
 *    bytes or more (width * height * input components) refused; CMYK/YCCK out as CMYK for the
 *    caller's formula (which needs saw_Adobe_marker), grayscale replicated by libjpeg.
 *  - torchvision's decode_jpeg (csrc/io/image/cpu/decode_jpeg.cpp, mode RGB): as TensorFlow but
 *    with libjpeg's default accurate DCT and no size limit of its own. Its skip past the end hands
 *    libjpeg a lone EOI byte, which is no marker, so the next read runs out of data all the same.
 *  - OpenCV 5.1's cv2.imread(path), IMREAD_COLOR (imgcodecs grfmt_jpeg.cpp, loadsave.cpp): a file
 *    source (jpeg_stdio_src), so running out of data is a warning and a fake EOI, and only an
 *    empty file is refused; libjpeg's defaults (accurate DCT, fancy upsampling, 1/1); RGB, or CMYK
 *    for 4-component files; APP1 markers kept for the EXIF orientation; imread's size limits
 *    (sides up to 2^20, at most 2^30 pixels); once every row is read the image is imread's,
 *    whatever jpeg_finish_decompress then says.
 *
 * Two additions for all of them, neither of which changes an accepted file's pixels:
 *  - a scan limit (a progress monitor, as libjpeg-turbo's own tools do), so a progressive file
 *    with thousands of scans is refused quickly instead of taking seconds to minutes;
 *  - an optional region: the caller is told the picture's size and returns the rectangle it
 *    reads; only those rows and columns are converted to pixels. Every other row is still
 *    entropy-decoded and the last row read, so jpeg_finish_decompress reads the file as far as a
 *    whole decode does. The callers trust a region only from a decode that neither warned nor ran
 *    out of data, and otherwise decode the whole picture.
 *
 * A fresh decompressor per image: no tables or state survive from one image to the next.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

#include "glue.h"

/* The layout src/image/libjpeg/mod.rs mirrors, asserted there with the same numbers. Fixed-width
   fields make it the same on every 64-bit target. */
#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct zr_jpeg_window) == 16, "zr_jpeg_window size");
_Static_assert(offsetof(struct zr_jpeg_window, x) == 0, "zr_jpeg_window.x");
_Static_assert(offsetof(struct zr_jpeg_window, y) == 4, "zr_jpeg_window.y");
_Static_assert(offsetof(struct zr_jpeg_window, width) == 8, "zr_jpeg_window.width");
_Static_assert(offsetof(struct zr_jpeg_window, height) == 12, "zr_jpeg_window.height");

_Static_assert(sizeof(struct zr_jpeg_request) == 88, "zr_jpeg_request size");
_Static_assert(offsetof(struct zr_jpeg_request, source) == 0, "zr_jpeg_request.source");
_Static_assert(offsetof(struct zr_jpeg_request, colour) == 4, "zr_jpeg_request.colour");
_Static_assert(offsetof(struct zr_jpeg_request, dct) == 8, "zr_jpeg_request.dct");
_Static_assert(offsetof(struct zr_jpeg_request, keep_after_rows) == 12,
               "zr_jpeg_request.keep_after_rows");
_Static_assert(offsetof(struct zr_jpeg_request, max_scans) == 16, "zr_jpeg_request.max_scans");
_Static_assert(offsetof(struct zr_jpeg_request, components) == 20, "zr_jpeg_request.components");
_Static_assert(offsetof(struct zr_jpeg_request, expect_width) == 24,
               "zr_jpeg_request.expect_width");
_Static_assert(offsetof(struct zr_jpeg_request, expect_height) == 28,
               "zr_jpeg_request.expect_height");
_Static_assert(offsetof(struct zr_jpeg_request, max_side) == 32, "zr_jpeg_request.max_side");
_Static_assert(offsetof(struct zr_jpeg_request, max_pixels) == 40, "zr_jpeg_request.max_pixels");
_Static_assert(offsetof(struct zr_jpeg_request, max_bytes) == 48, "zr_jpeg_request.max_bytes");
_Static_assert(offsetof(struct zr_jpeg_request, plan) == 56, "zr_jpeg_request.plan");
_Static_assert(offsetof(struct zr_jpeg_request, alloc) == 64, "zr_jpeg_request.alloc");
_Static_assert(offsetof(struct zr_jpeg_request, app1) == 72, "zr_jpeg_request.app1");
_Static_assert(offsetof(struct zr_jpeg_request, opaque) == 80, "zr_jpeg_request.opaque");

_Static_assert(sizeof(struct zr_jpeg_result) == 244, "zr_jpeg_result size");
_Static_assert(offsetof(struct zr_jpeg_result, status) == 0, "zr_jpeg_result.status");
_Static_assert(offsetof(struct zr_jpeg_result, warnings) == 4, "zr_jpeg_result.warnings");
_Static_assert(offsetof(struct zr_jpeg_result, ran_out) == 8, "zr_jpeg_result.ran_out");
_Static_assert(offsetof(struct zr_jpeg_result, components) == 12, "zr_jpeg_result.components");
_Static_assert(offsetof(struct zr_jpeg_result, adobe) == 16, "zr_jpeg_result.adobe");
_Static_assert(offsetof(struct zr_jpeg_result, full_width) == 20, "zr_jpeg_result.full_width");
_Static_assert(offsetof(struct zr_jpeg_result, full_height) == 24, "zr_jpeg_result.full_height");
_Static_assert(offsetof(struct zr_jpeg_result, decoded) == 28, "zr_jpeg_result.decoded");
_Static_assert(offsetof(struct zr_jpeg_result, message) == 44, "zr_jpeg_result.message");
#endif
_Static_assert(ZR_JPEG_MESSAGE_LEN == JMSG_LENGTH_MAX, "format_message's buffer size");

struct zr_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

struct zr_source_mgr {
  struct jpeg_source_mgr pub;
  int policy; /* enum zr_jpeg_source */
  const unsigned char *data;
  size_t len;
  int started; /* ZR_JPEG_SOURCE_FAKE_EOI: the file was handed over */
  int ran_out; /* ZR_JPEG_SOURCE_SUSPENDING: libjpeg asked for bytes past the end */
};

struct zr_progress_mgr {
  struct jpeg_progress_mgr pub;
  int max_scans;
  int exceeded;
};

static const unsigned char zr_fake_eoi[2] = {0xFF, JPEG_EOI};

static void zr_error_exit(j_common_ptr cinfo) {
  longjmp(((struct zr_error_mgr *)cinfo->err)->jump, 1);
}

/* Warnings are counted by libjpeg and never shown (Pillow's output_message is empty; the other
   libraries' messages go to stderr, which is no part of their result). */
static void zr_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void zr_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void zr_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* The whole file is in the buffer from the start (the file source: from the first read), so being
   asked for more means the data ended early. */
static boolean zr_fill_input_buffer(j_decompress_ptr cinfo) {
  struct zr_source_mgr *src = (struct zr_source_mgr *)cinfo->src;
  switch (src->policy) {
  case ZR_JPEG_SOURCE_SUSPENDING:
    src->ran_out = 1;
    return FALSE;
  case ZR_JPEG_SOURCE_FATAL_EOF:
    ERREXIT(cinfo, JERR_FILE_READ);
    return FALSE;
  default: /* jdatasrc.c's file source over a buffer */
    if (!src->started) {
      src->started = 1;
      if (src->len > 0) {
        src->pub.next_input_byte = src->data;
        src->pub.bytes_in_buffer = src->len;
        return TRUE;
      }
      ERREXIT(cinfo, JERR_INPUT_EMPTY);
    }
    WARNMS(cinfo, JWRN_JPEG_EOF);
    src->pub.next_input_byte = zr_fake_eoi;
    src->pub.bytes_in_buffer = 2;
    return TRUE;
  }
}

/* Negative skips are ignored by all three; past the end, Pillow's empties the buffer so the next
   read suspends, TensorFlow's is the fatal read, the file source reads on (fake EOIs). */
static void zr_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  struct zr_source_mgr *src = (struct zr_source_mgr *)cinfo->src;
  struct jpeg_source_mgr *pub = &src->pub;
  if (num_bytes <= 0) return;
  if ((size_t)num_bytes > pub->bytes_in_buffer) {
    if (src->policy == ZR_JPEG_SOURCE_FAKE_EOI) {
      while (num_bytes > (long)pub->bytes_in_buffer) {
        num_bytes -= (long)pub->bytes_in_buffer;
        (void)(*pub->fill_input_buffer)(cinfo);
      }
    } else {
      pub->next_input_byte += pub->bytes_in_buffer;
      pub->bytes_in_buffer = 0;
      if (src->policy == ZR_JPEG_SOURCE_FATAL_EOF) ERREXIT(cinfo, JERR_FILE_READ);
      return;
    }
  }
  pub->next_input_byte += (size_t)num_bytes;
  pub->bytes_in_buffer -= (size_t)num_bytes;
}

static void zr_progress(j_common_ptr cinfo) {
  struct zr_progress_mgr *progress = (struct zr_progress_mgr *)cinfo->progress;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (progress->max_scans > 0 && dinfo->input_scan_number > progress->max_scans) {
    progress->exceeded = 1;
    (*cinfo->err->error_exit)(cinfo);
  }
}

/* Everything that must survive a longjmp. */
struct zr_state {
  struct jpeg_decompress_struct cinfo;
  struct zr_error_mgr err;
  struct zr_source_mgr src;
  struct zr_progress_mgr progress;
  int created;
  int rows_done; /* every row is out (OpenCV keeps the image from here on) */
};

static void zr_set_source(struct zr_state *s, const unsigned char *data, size_t len, int policy) {
  s->src.pub.init_source = zr_init_source;
  s->src.pub.fill_input_buffer = zr_fill_input_buffer;
  s->src.pub.skip_input_data = zr_skip_input_data;
  s->src.pub.resync_to_restart = jpeg_resync_to_restart;
  s->src.pub.term_source = zr_term_source;
  s->src.policy = policy;
  s->src.data = data;
  s->src.len = len;
  /* The file source hands the file over on the first read, the memory sources have it ready. */
  s->src.pub.next_input_byte = policy == ZR_JPEG_SOURCE_FAKE_EOI ? NULL : data;
  s->src.pub.bytes_in_buffer = policy == ZR_JPEG_SOURCE_FAKE_EOI ? 0 : len;
  s->cinfo.src = &s->src.pub;
}

/* Reads the header (the suspending source skips tables-only headers and may suspend); FALSE when
   the data ended first. */
static int zr_read_header(struct zr_state *s, const struct zr_jpeg_request *req) {
  j_decompress_ptr cinfo = &s->cinfo;
  jpeg_saved_marker_ptr marker;
  int header;
  if (req->app1 != NULL) jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
  if (req->source == ZR_JPEG_SOURCE_SUSPENDING) {
    do {
      header = jpeg_read_header(cinfo, FALSE);
    } while (header == JPEG_HEADER_TABLES_ONLY);
    if (header == JPEG_SUSPENDED) return 0;
  } else {
    (void)jpeg_read_header(cinfo, TRUE);
  }
  if (req->app1 != NULL)
    for (marker = cinfo->marker_list; marker != NULL; marker = marker->next)
      if (marker->marker == JPEG_APP0 + 1)
        req->app1(req->opaque, marker->data, marker->data_length);
  return 1;
}

/* The output colour space, DCT and scale; libjpeg's defaults but for what the request changes. */
static void zr_set_output(j_decompress_ptr cinfo, const struct zr_jpeg_request *req) {
  if (req->colour == ZR_JPEG_COLOUR_AS_PARSED) {
    /* Pillow's rawmode: L, RGB (as RGBX, the same values) or CMYK;I (CMYK out of libjpeg). */
    cinfo->out_color_space = req->components == 1   ? JCS_GRAYSCALE
                             : req->components == 4 ? JCS_CMYK
                                                    : JCS_RGB;
  } else {
    /* libjpeg names every 4-component file CMYK or YCCK and no other file so (jdapimin.c), so
       this is also OpenCV's "4 components: CMYK". */
    cinfo->out_color_space =
        (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) ? JCS_CMYK
                                                                                    : JCS_RGB;
  }
  cinfo->dct_method = req->dct == ZR_JPEG_DCT_IFAST ? JDCT_IFAST : JDCT_ISLOW;
  cinfo->do_fancy_upsampling = TRUE;
  cinfo->scale_num = 1;
  cinfo->scale_denom = 1;
  jpeg_calc_output_dimensions(cinfo);
}

/* The libraries' own size limits, on the output size (TensorFlow's: input components). */
static int zr_too_large(j_decompress_ptr cinfo, const struct zr_jpeg_request *req) {
  unsigned long long width = cinfo->output_width, height = cinfo->output_height;
  if (req->max_side > 0 && (width > req->max_side || height > req->max_side)) return 1;
  if (req->max_pixels > 0 && width * height > req->max_pixels) return 1;
  return req->max_bytes > 0 &&
         width * height * (unsigned long long)cinfo->num_components >= req->max_bytes;
}

/* Picks the rows and columns to decode; libjpeg may widen the columns to an iMCU boundary. */
static void zr_choose_region(j_decompress_ptr cinfo, const struct zr_jpeg_request *req,
                             struct zr_jpeg_result *res) {
  struct zr_jpeg_window needed;
  res->decoded.x = 0;
  res->decoded.y = 0;
  res->decoded.width = cinfo->output_width;
  res->decoded.height = cinfo->output_height;
  if (!req->plan(req->opaque, cinfo->output_width, cinfo->output_height, &needed)) return;
  if (needed.width == 0 || needed.height == 0 ||
      (unsigned long long)needed.x + needed.width > cinfo->output_width ||
      (unsigned long long)needed.y + needed.height > cinfo->output_height)
    return;
  {
    JDIMENSION x = needed.x, width = needed.width;
    jpeg_crop_scanline(cinfo, &x, &width);
    res->decoded.x = x;
    res->decoded.width = width;
    res->decoded.y = needed.y;
    res->decoded.height = needed.height;
  }
}

/* Reads `rows` rows into consecutive rows of `out` (stride `row_len`); FALSE if suspended (only
   the suspending source can: the others either return rows or longjmp). */
static int zr_read_rows(j_decompress_ptr cinfo, unsigned char *out, size_t row_len,
                        unsigned rows) {
  JSAMPROW pointers[16];
  unsigned done = 0;
  while (done < rows) {
    unsigned batch = rows - done < 16 ? rows - done : 16;
    unsigned i, got;
    for (i = 0; i < batch; i++) pointers[i] = out + (size_t)(done + i) * row_len;
    got = jpeg_read_scanlines(cinfo, pointers, batch);
    if (got == 0) return 0;
    done += got;
  }
  return 1;
}

/* Decodes the chosen rows into `pixels`; FALSE if the source suspended first. Skipping to the
   very bottom would mark the input finished without reading it, so every row below the region
   but the last is entropy-decoded (skipped) and the last one read into the scratch row. */
static int zr_decode_rows(j_decompress_ptr cinfo, unsigned char *pixels, size_t row_len,
                          const struct zr_jpeg_window *decoded) {
  unsigned below;
  if (decoded->y > 0) jpeg_skip_scanlines(cinfo, decoded->y);
  if (!zr_read_rows(cinfo, pixels, row_len, decoded->height)) return 0;
  below = cinfo->output_height - cinfo->output_scanline;
  if (below > 1) jpeg_skip_scanlines(cinfo, below - 1);
  return below == 0 || zr_read_rows(cinfo, pixels + row_len * decoded->height, row_len, 1);
}

static void zr_decode_body(struct zr_state *s, const unsigned char *data, size_t len,
                           const struct zr_jpeg_request *req, struct zr_jpeg_result *res) {
  j_decompress_ptr cinfo = &s->cinfo;
  size_t row_len;
  unsigned char *pixels;
  int region;

  jpeg_create_decompress(cinfo);
  s->created = 1;
  zr_set_source(s, data, len, req->source);
  s->progress.pub.progress_monitor = zr_progress;
  cinfo->progress = &s->progress.pub;

  if (!zr_read_header(s, req)) {
    res->status = ZR_JPEG_TRUNCATED;
    return;
  }
  zr_set_output(cinfo, req);
  if (zr_too_large(cinfo, req)) {
    res->status = ZR_JPEG_TOO_LARGE;
    return;
  }
  if (!jpeg_start_decompress(cinfo)) {
    res->status = ZR_JPEG_TRUNCATED;
    return;
  }
  if (req->colour == ZR_JPEG_COLOUR_AS_PARSED &&
      (cinfo->output_width != req->expect_width || cinfo->output_height != req->expect_height ||
       (uint32_t)cinfo->output_components != req->components)) {
    res->status = ZR_JPEG_SIZE_MISMATCH;
    return;
  }
  res->full_width = cinfo->output_width;
  res->full_height = cinfo->output_height;
  res->components = cinfo->output_components;
  res->adobe = cinfo->saw_Adobe_marker ? 1 : 0;
  zr_choose_region(cinfo, req, res);
  region = res->decoded.width != res->full_width || res->decoded.height != res->full_height;

  row_len = (size_t)res->decoded.width * (size_t)res->components;
  /* One spare row: the picture's last row is read into it after a region. */
  pixels = req->alloc(req->opaque, row_len * ((size_t)res->decoded.height + 1));
  if (pixels == NULL) {
    res->status = ZR_JPEG_NO_MEMORY;
    return;
  }
  if (!zr_decode_rows(cinfo, pixels, row_len, &res->decoded)) {
    res->status = ZR_JPEG_TRUNCATED;
    return;
  }
  s->rows_done = 1;
  /* Every row is out: for Pillow running out of data from here on is no error. A skip ignores a
     suspension, so a region decode reports running out instead of failing. */
  res->ran_out = s->src.ran_out;
  if (res->ran_out && !region) {
    res->status = ZR_JPEG_TRUNCATED;
    return;
  }
  (void)jpeg_finish_decompress(cinfo);
  res->status = ZR_JPEG_OK;
}

int32_t zr_jpeg_decode(const unsigned char *data, size_t len, const struct zr_jpeg_request *req,
                       struct zr_jpeg_result *res) {
  struct zr_state s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = zr_error_exit;
  s.err.pub.output_message = zr_output_message;
  s.progress.max_scans = req->max_scans;

  if (setjmp(s.err.jump)) {
    if (s.rows_done && req->keep_after_rows) {
      res->status = ZR_JPEG_OK;
    } else if (s.progress.exceeded) {
      res->status = ZR_JPEG_TOO_MANY_SCANS;
      snprintf(res->message, sizeof res->message, "more than %d scans", req->max_scans);
    } else {
      res->status = ZR_JPEG_BROKEN;
      (*s.err.pub.format_message)((j_common_ptr)&s.cinfo, res->message);
    }
  } else {
    zr_decode_body(&s, data, len, req, res);
  }
  res->warnings = (int32_t)s.err.pub.num_warnings;
  if (s.created) jpeg_destroy_decompress(&s.cinfo);
  return res->status;
}
