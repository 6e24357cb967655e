/*
 * JPEG decoding the way Pillow 13's JpegDecode.c drives libjpeg, for zoorepro.
 *
 * Pillow hands libjpeg the file through a *suspending* source: when libjpeg asks for bytes past
 * the end of the file the decoder suspends, and Pillow then reports "image file is truncated"
 * unless every row was already out (a suspension inside jpeg_finish_decompress is ignored).
 * Fatal libjpeg errors longjmp out ("broken data stream"); warnings are silently ignored.
 * TurboJPEG's memory source pads a short file with a fake end marker instead, so the TurboJPEG
 * API cannot reproduce that rule; this file uses the libjpeg API exactly as Pillow does, with
 * the whole file as the one buffer, and a fresh decompressor per image (no tables or state
 * survive from one image to the next).
 *
 * Two additions, neither of which changes a decoded pixel:
 *  - a scan limit (a progress monitor, as libjpeg-turbo's own tools do), so a progressive file
 *    with thousands of scans is refused quickly instead of taking seconds to minutes;
 *  - an optional region: only those rows and columns are converted to pixels. Every other row
 *    is still entropy-decoded and jpeg_finish_decompress still runs, so the file is read to the
 *    same point as a whole decode. The caller trusts a region only from a decode that neither
 *    warned nor ran out of data, and otherwise decodes the whole picture.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

enum zr_status {
  ZR_OK = 0,
  ZR_TRUNCATED = 1,     /* libjpeg needed bytes past the end before the last row was out */
  ZR_BROKEN = 2,        /* a fatal libjpeg error (Pillow: "broken data stream") */
  ZR_TOO_MANY_SCANS = 3,
  ZR_NO_MEMORY = 4,     /* the caller could not allocate the output */
  ZR_SIZE_MISMATCH = 5  /* libjpeg's frame size is not the size Pillow parsed */
};

typedef unsigned char *(*zr_alloc_fn)(void *opaque, size_t len);

struct zr_request {
  int components;          /* 1: L, 3: RGB, 4: CMYK (Pillow's mode from the frame header) */
  unsigned expect_width;   /* the frame size Pillow parsed */
  unsigned expect_height;
  int max_scans;           /* 0: no limit */
  int region;              /* 0: the whole picture */
  unsigned x, y, width, height;
  zr_alloc_fn alloc;
  void *opaque;
};

struct zr_result {
  int status;
  int warnings;            /* libjpeg warnings (Pillow ignores them) */
  int ran_out;             /* libjpeg asked for bytes past the end before the last row was out */
  unsigned x, y, width, height; /* what was decoded (x and width after iMCU alignment) */
  char message[JMSG_LENGTH_MAX];
};

struct zr_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

struct zr_source_mgr {
  struct jpeg_source_mgr pub;
  int ran_out;
};

struct zr_progress_mgr {
  struct jpeg_progress_mgr pub;
  int max_scans;
  int exceeded;
};

static void zr_error_exit(j_common_ptr cinfo) {
  struct zr_error_mgr *err = (struct zr_error_mgr *)cinfo->err;
  longjmp(err->jump, 1);
}

/* Pillow's output_message is empty: warnings are counted by libjpeg, never shown. */
static void zr_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void zr_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void zr_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* The whole file is already in the buffer: asking for more is asking past the end. */
static boolean zr_fill_input_buffer(j_decompress_ptr cinfo) {
  ((struct zr_source_mgr *)cinfo->src)->ran_out = 1;
  return FALSE;
}

/* Pillow's skip: past the end empties the buffer, so the next read suspends. */
static void zr_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (num_bytes > (long)src->bytes_in_buffer) {
    src->next_input_byte += src->bytes_in_buffer;
    src->bytes_in_buffer = 0;
  } else if (num_bytes > 0) {
    src->next_input_byte += num_bytes;
    src->bytes_in_buffer -= (size_t)num_bytes;
  }
}

static void zr_progress(j_common_ptr cinfo) {
  struct zr_progress_mgr *progress = (struct zr_progress_mgr *)cinfo->progress;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (progress->max_scans > 0 && dinfo->input_scan_number > progress->max_scans) {
    progress->exceeded = 1;
    (*cinfo->err->error_exit)(cinfo);
  }
}

/* Reads `rows` rows into consecutive rows of `out` (stride `row_len`); FALSE if suspended. */
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

/* The decoding proper. Everything that must survive a longjmp lives in `state`. */
struct zr_state {
  struct jpeg_decompress_struct cinfo;
  struct zr_error_mgr err;
  struct zr_source_mgr src;
  struct zr_progress_mgr progress;
  int created;
};

static void zr_decode_body(struct zr_state *s, const unsigned char *data, size_t len,
                           const struct zr_request *req, struct zr_result *res) {
  j_decompress_ptr cinfo = &s->cinfo;
  int header;
  size_t row_len;
  unsigned char *pixels;

  jpeg_create_decompress(cinfo);
  s->created = 1;
  s->src.pub.init_source = zr_init_source;
  s->src.pub.fill_input_buffer = zr_fill_input_buffer;
  s->src.pub.skip_input_data = zr_skip_input_data;
  s->src.pub.resync_to_restart = jpeg_resync_to_restart;
  s->src.pub.term_source = zr_term_source;
  s->src.pub.next_input_byte = data;
  s->src.pub.bytes_in_buffer = len;
  cinfo->src = &s->src.pub;
  s->progress.pub.progress_monitor = zr_progress;
  cinfo->progress = &s->progress.pub;

  do {
    header = jpeg_read_header(cinfo, FALSE);
  } while (header == JPEG_HEADER_TABLES_ONLY);
  if (header == JPEG_SUSPENDED) {
    res->status = ZR_TRUNCATED;
    return;
  }

  /* Pillow's rawmode: L, RGB (as RGBX, the same values) or CMYK;I (CMYK out of libjpeg). */
  cinfo->out_color_space = req->components == 1   ? JCS_GRAYSCALE
                           : req->components == 4 ? JCS_CMYK
                                                  : JCS_RGB;

  if (!jpeg_start_decompress(cinfo)) {
    res->status = ZR_TRUNCATED;
    return;
  }
  if (cinfo->output_width != req->expect_width || cinfo->output_height != req->expect_height ||
      cinfo->output_components != req->components) {
    res->status = ZR_SIZE_MISMATCH;
    return;
  }

  res->x = 0;
  res->y = 0;
  res->width = cinfo->output_width;
  res->height = cinfo->output_height;
  if (req->region) {
    JDIMENSION x = req->x, width = req->width;
    jpeg_crop_scanline(cinfo, &x, &width);
    res->x = x;
    res->width = width;
    res->y = req->y;
    res->height = req->height;
  }
  row_len = (size_t)res->width * (size_t)cinfo->output_components;
  /* One spare row: the last row of the picture is read into it after a region. */
  pixels = req->alloc(req->opaque, row_len * ((size_t)res->height + 1));
  if (pixels == NULL) {
    res->status = ZR_NO_MEMORY;
    return;
  }

  if (!req->region) {
    if (!zr_read_rows(cinfo, pixels, row_len, res->height)) {
      res->status = ZR_TRUNCATED;
      return;
    }
  } else {
    unsigned below = cinfo->output_height - (res->y + res->height);
    if (res->y > 0) jpeg_skip_scanlines(cinfo, res->y);
    if (!zr_read_rows(cinfo, pixels, row_len, res->height)) {
      res->status = ZR_TRUNCATED;
      return;
    }
    /* Skipping to the very bottom would stop reading the file; entropy-decode every row but
       the last, then read the last one, so the file is read as far as a whole decode reads. */
    if (below > 1) jpeg_skip_scanlines(cinfo, below - 1);
    if (below > 0 && !zr_read_rows(cinfo, pixels + row_len * res->height, row_len, 1)) {
      res->status = ZR_TRUNCATED;
      return;
    }
  }

  /* Every row is out: like Pillow, running out of data from here on is no error. A skip ignores
     a suspension, so a region decode reports running out early instead of failing. */
  res->ran_out = s->src.ran_out;
  if (res->ran_out && !req->region) {
    res->status = ZR_TRUNCATED;
    return;
  }
  (void)jpeg_finish_decompress(cinfo);
  res->status = ZR_OK;
}

int zr_pillow_jpeg_decode(const unsigned char *data, size_t len, const struct zr_request *req,
                          struct zr_result *res) {
  struct zr_state s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = zr_error_exit;
  s.err.pub.output_message = zr_output_message;
  s.progress.max_scans = req->max_scans;

  if (setjmp(s.err.jump)) {
    if (s.progress.exceeded) {
      res->status = ZR_TOO_MANY_SCANS;
      snprintf(res->message, sizeof res->message, "more than %d scans", req->max_scans);
    } else {
      res->status = ZR_BROKEN;
      (*s.err.pub.format_message)((j_common_ptr)&s.cinfo, res->message);
    }
  } else {
    zr_decode_body(&s, data, len, req, res);
  }
  res->warnings = (int)s.err.pub.num_warnings;
  if (s.created) jpeg_destroy_decompress(&s.cinfo);
  return res->status;
}
