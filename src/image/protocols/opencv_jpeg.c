/*
 * JPEG decoding the way `cv2.imread(path)` (OpenCV 5.1, IMREAD_COLOR) drives libjpeg-turbo, for
 * zoorepro (modules/imgcodecs/src/grfmt_jpeg.cpp and loadsave.cpp, read to learn the settings):
 *
 *  - a file source (jpeg_stdio_src): running out of data is not an error but a warning, after
 *    which libjpeg sees a fake EOI marker, so a truncated file decodes with its missing part
 *    grey; only a file with no data at all is refused (JERR_INPUT_EMPTY). Warnings (corrupt
 *    entropy data and the like) never refuse a file: OpenCV keeps libjpeg's default emit_message;
 *  - libjpeg's defaults otherwise: the accurate integer DCT (JDCT_ISLOW), fancy upsampling,
 *    scale 1/1;
 *  - colour output straight from libjpeg (JCS_EXT_BGR there, RGB here: the pipeline's
 *    cvtColor(BGR2RGB) only swaps channels), grayscale replicated by libjpeg; 4-component files
 *    (CMYK, YCCK) come out as CMYK for the caller to convert with OpenCV's formula;
 *  - APP1 markers are kept so that the caller can read the EXIF orientation imread applies;
 *  - once every row is read the image is imread's, whatever jpeg_finish_decompress then says.
 *
 * Plus, as in the other decoders here, a scan limit against progressive scan bombs, and an
 * optional region: only the rows and columns the caller reads are turned into pixels, every other
 * row is still entropy-decoded and the last one read, so the file is read as far as a whole
 * decode reads it (the caller decodes whole again when a region run meets any warning or error).
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

enum zr_cv_status {
  ZR_CV_OK = 0,
  ZR_CV_BROKEN = 2,
  ZR_CV_TOO_MANY_SCANS = 3,
  ZR_CV_NO_MEMORY = 4,
  ZR_CV_TOO_LARGE = 6
};

struct zr_cv_window {
  unsigned x, y, width, height;
};

/* Given the picture's size, fills the rectangle the caller reads; returns 0 for the whole. */
typedef int (*zr_cv_plan_fn)(void *opaque, unsigned width, unsigned height,
                             struct zr_cv_window *needed);
typedef unsigned char *(*zr_cv_alloc_fn)(void *opaque, size_t len);
/* Called once per saved APP1 marker, in file order. */
typedef void (*zr_cv_marker_fn)(void *opaque, const unsigned char *data, unsigned len);

struct zr_cv_request {
  int max_scans;
  int allow_region;
  zr_cv_plan_fn plan;
  zr_cv_alloc_fn alloc;
  zr_cv_marker_fn app1;
  void *opaque;
};

struct zr_cv_result {
  int status;
  int warnings;
  int components; /* 3 (RGB) or 4 (CMYK) */
  unsigned full_width, full_height;
  unsigned x, y, width, height; /* what was decoded (x and width after iMCU alignment) */
  char message[JMSG_LENGTH_MAX];
};

struct zr_cv_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

struct zr_cv_progress_mgr {
  struct jpeg_progress_mgr pub;
  int max_scans;
  int exceeded;
};

struct zr_cv_source {
  struct jpeg_source_mgr pub;
  const unsigned char *data;
  size_t len;
  int started;
};

static const unsigned char zr_cv_fake_eoi[2] = {0xFF, JPEG_EOI};

static void zr_cv_error_exit(j_common_ptr cinfo) {
  longjmp(((struct zr_cv_error_mgr *)cinfo->err)->jump, 1);
}

static void zr_cv_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void zr_cv_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void zr_cv_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* jdatasrc.c's file source over a buffer: the whole file on the first read, then (end of file)
   a warning and a fake EOI marker, as often as asked. */
static boolean zr_cv_fill_input_buffer(j_decompress_ptr cinfo) {
  struct zr_cv_source *src = (struct zr_cv_source *)cinfo->src;
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
  src->pub.next_input_byte = zr_cv_fake_eoi;
  src->pub.bytes_in_buffer = 2;
  return TRUE;
}

static void zr_cv_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (num_bytes <= 0) return;
  while (num_bytes > (long)src->bytes_in_buffer) {
    num_bytes -= (long)src->bytes_in_buffer;
    (void)(*src->fill_input_buffer)(cinfo);
  }
  src->next_input_byte += (size_t)num_bytes;
  src->bytes_in_buffer -= (size_t)num_bytes;
}

static void zr_cv_progress(j_common_ptr cinfo) {
  struct zr_cv_progress_mgr *progress = (struct zr_cv_progress_mgr *)cinfo->progress;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (progress->max_scans > 0 && dinfo->input_scan_number > progress->max_scans) {
    progress->exceeded = 1;
    (*cinfo->err->error_exit)(cinfo);
  }
}

struct zr_cv_state {
  struct jpeg_decompress_struct cinfo;
  struct zr_cv_error_mgr err;
  struct zr_cv_source src;
  struct zr_cv_progress_mgr progress;
  int created;
  int pixels_done;
};

/* Picks the rows and columns to decode; libjpeg may widen the columns to an iMCU boundary. */
static void zr_cv_choose_region(j_decompress_ptr cinfo, const struct zr_cv_request *req,
                                struct zr_cv_result *res) {
  struct zr_cv_window needed;
  res->x = 0;
  res->y = 0;
  res->width = cinfo->output_width;
  res->height = cinfo->output_height;
  if (!req->allow_region || !req->plan(req->opaque, res->width, res->height, &needed)) return;
  if (needed.width == 0 || needed.height == 0 || needed.x + needed.width > res->width ||
      needed.y + needed.height > res->height)
    return;
  {
    JDIMENSION x = needed.x, width = needed.width;
    jpeg_crop_scanline(cinfo, &x, &width);
    res->x = x;
    res->width = width;
    res->y = needed.y;
    res->height = needed.height;
  }
}

static void zr_cv_decode_body(struct zr_cv_state *s, const struct zr_cv_request *req,
                              struct zr_cv_result *res) {
  j_decompress_ptr cinfo = &s->cinfo;
  jpeg_saved_marker_ptr marker;
  size_t row_len;
  unsigned char *pixels;
  JSAMPROW row;
  unsigned i, below;

  jpeg_create_decompress(cinfo);
  s->created = 1;
  s->src.pub.init_source = zr_cv_init_source;
  s->src.pub.fill_input_buffer = zr_cv_fill_input_buffer;
  s->src.pub.skip_input_data = zr_cv_skip_input_data;
  s->src.pub.resync_to_restart = jpeg_resync_to_restart;
  s->src.pub.term_source = zr_cv_term_source;
  s->src.pub.next_input_byte = NULL;
  s->src.pub.bytes_in_buffer = 0;
  cinfo->src = &s->src.pub;
  s->progress.pub.progress_monitor = zr_cv_progress;
  cinfo->progress = &s->progress.pub;

  jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
  (void)jpeg_read_header(cinfo, TRUE);
  for (marker = cinfo->marker_list; marker != NULL; marker = marker->next)
    if (marker->marker == JPEG_APP0 + 1) req->app1(req->opaque, marker->data, marker->data_length);

  if (cinfo->num_components != 4) {
    cinfo->out_color_space = JCS_RGB;
    cinfo->out_color_components = 3;
  } else {
    cinfo->out_color_space = JCS_CMYK;
    cinfo->out_color_components = 4;
  }
  jpeg_calc_output_dimensions(cinfo);
  /* imread's validateInputImageSize: sides up to 2^20, at most 2^30 pixels. */
  if (cinfo->output_width > (1u << 20) || cinfo->output_height > (1u << 20) ||
      (unsigned long long)cinfo->output_width * cinfo->output_height > (1ull << 30)) {
    res->status = ZR_CV_TOO_LARGE;
    return;
  }
  (void)jpeg_start_decompress(cinfo);
  res->full_width = cinfo->output_width;
  res->full_height = cinfo->output_height;
  res->components = cinfo->output_components;
  zr_cv_choose_region(cinfo, req, res);
  row_len = (size_t)res->width * (size_t)res->components;
  /* One spare row: the picture's last row is read into it after a region. */
  pixels = req->alloc(req->opaque, row_len * ((size_t)res->height + 1));
  if (pixels == NULL) {
    res->status = ZR_CV_NO_MEMORY;
    return;
  }
  if (res->y > 0) jpeg_skip_scanlines(cinfo, res->y);
  for (i = 0; i < res->height; i++) {
    row = pixels + row_len * i;
    (void)jpeg_read_scanlines(cinfo, &row, 1);
  }
  /* Skipping to the very bottom would mark the input finished without reading it; entropy-decode
     every row but the last, then read the last one. */
  below = cinfo->output_height - cinfo->output_scanline;
  if (below > 1) jpeg_skip_scanlines(cinfo, below - 1);
  if (below > 0) {
    row = pixels + row_len * res->height;
    (void)jpeg_read_scanlines(cinfo, &row, 1);
  }
  /* OpenCV marks the read a success before jpeg_finish_decompress, so an error there (a bad
     marker after the last scan, a second SOI...) keeps the image. */
  s->pixels_done = 1;
  (void)jpeg_finish_decompress(cinfo);
  res->status = ZR_CV_OK;
}

int zr_cv_jpeg_decode(const unsigned char *data, size_t len, const struct zr_cv_request *req,
                      struct zr_cv_result *res) {
  struct zr_cv_state s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = zr_cv_error_exit;
  s.err.pub.output_message = zr_cv_output_message;
  s.progress.max_scans = req->max_scans;
  s.src.data = data;
  s.src.len = len;

  if (setjmp(s.err.jump)) {
    if (s.pixels_done) {
      res->status = ZR_CV_OK;
    } else if (s.progress.exceeded) {
      res->status = ZR_CV_TOO_MANY_SCANS;
      snprintf(res->message, sizeof res->message, "more than %d scans", req->max_scans);
    } else {
      res->status = ZR_CV_BROKEN;
      (*s.err.pub.format_message)((j_common_ptr)&s.cinfo, res->message);
    }
  } else {
    zr_cv_decode_body(&s, req, res);
  }
  res->warnings = (int)s.err.pub.num_warnings;
  if (s.created) jpeg_destroy_decompress(&s.cinfo);
  return res->status;
}
