/*
 * JPEG decoding the way TensorFlow's `tf.io.decode_jpeg(contents, channels=3)` drives libjpeg
 * (tensorflow/core/lib/jpeg/jpeg_mem.cc UncompressLow and jpeg_handle.cc's memory source, with
 * the op's defaults from core/kernels/image/decode_image_op.cc), for zoorepro.
 *
 * What that means, and how it differs from Pillow (pillow_jpeg.c):
 *  - the DCT is libjpeg's fast integer one (JDCT_IFAST): the op's dct_method "" means
 *    "INTEGER_FAST", TensorFlow's documented speed-over-quality default;
 *  - fancy upsampling on, scale 1/1, jpeg_read_header(require_image = TRUE);
 *  - the memory source is not suspending and try_recover_truncated is off, so asking for a byte
 *    past the end of the file is a fatal error (JERR_FILE_READ), wherever it happens, including
 *    in jpeg_finish_decompress: a file without its EOI marker is refused. libjpeg warnings
 *    (corrupt entropy data and the like) are not errors;
 *  - images of 2^29 or more output bytes (width * height * input components) are refused;
 *  - CMYK/YCCK come out of libjpeg as CMYK and the caller converts them with TensorFlow's
 *    formula (saw_Adobe_marker is reported for that);
 *  - grayscale is converted to RGB by libjpeg (JCS_GRAYSCALE -> JCS_RGB replicates the level).
 *
 * torchvision's decode_jpeg (torchvision/csrc/io/image/cpu/decode_jpeg.cpp, mode RGB) drives
 * libjpeg the same way but for two settings, chosen by the request: libjpeg's default accurate
 * integer DCT (JDCT_ISLOW), and no output size limit. Its memory source also treats running out
 * of data as fatal; a skip past the end hands libjpeg a lone EOI byte, which is no marker, so the
 * next read runs out of data all the same. It converts CMYK itself (the caller's job here too).
 *
 * Two additions that change no accepted file's pixels: a scan limit (as in pillow_jpeg.c), and
 * an optional region. The caller is told the picture's size and returns the rectangle it reads;
 * only those rows and columns are converted to pixels, every other row is still entropy-decoded
 * and the last row read, so jpeg_finish_decompress reads the file as far as a whole decode does
 * and refuses the same truncated files.
 */
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "jpeglib.h"
#include "jerror.h"

enum zr_tf_status {
  ZR_TF_OK = 0,
  ZR_TF_BROKEN = 2,         /* a fatal libjpeg error, running out of data included */
  ZR_TF_TOO_MANY_SCANS = 3,
  ZR_TF_NO_MEMORY = 4,
  ZR_TF_TOO_LARGE = 6       /* TensorFlow's 2^29-byte limit */
};

struct zr_tf_window {
  unsigned x, y, width, height;
};

/* Given the picture's size, fills the rectangle the caller reads; returns 0 for the whole. */
typedef int (*zr_tf_plan_fn)(void *opaque, unsigned width, unsigned height,
                             struct zr_tf_window *needed);
typedef unsigned char *(*zr_tf_alloc_fn)(void *opaque, size_t len);

struct zr_tf_request {
  int max_scans;
  int allow_region;
  int dct_islow;            /* libjpeg's accurate DCT (torchvision) instead of the fast one */
  long long max_bytes;      /* refuse outputs of this many bytes or more; 0: no limit */
  zr_tf_plan_fn plan;
  zr_tf_alloc_fn alloc;
  void *opaque;
};

struct zr_tf_result {
  int status;
  int warnings;
  int components;           /* 3 (RGB) or 4 (CMYK, to be converted by the caller) */
  int adobe;                /* saw_Adobe_marker, for the CMYK formula */
  unsigned full_width, full_height;
  unsigned x, y, width, height; /* what was decoded (x and width after iMCU alignment) */
  char message[JMSG_LENGTH_MAX];
};

struct zr_tf_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

struct zr_tf_progress_mgr {
  struct jpeg_progress_mgr pub;
  int max_scans;
  int exceeded;
};

static void zr_tf_error_exit(j_common_ptr cinfo) {
  longjmp(((struct zr_tf_error_mgr *)cinfo->err)->jump, 1);
}

static void zr_tf_output_message(j_common_ptr cinfo) { (void)cinfo; }

static void zr_tf_init_source(j_decompress_ptr cinfo) { (void)cinfo; }
static void zr_tf_term_source(j_decompress_ptr cinfo) { (void)cinfo; }

/* The whole file is in the buffer, so being asked for more means the data ended early; with
   try_recover_truncated off, TensorFlow's source makes that fatal (JERR_FILE_READ). */
static boolean zr_tf_fill_input_buffer(j_decompress_ptr cinfo) {
  ERREXIT(cinfo, JERR_FILE_READ);
  return FALSE;
}

/* TensorFlow's skip: negative jumps are ignored, a jump past the end is the same fatal error. */
static void zr_tf_skip_input_data(j_decompress_ptr cinfo, long num_bytes) {
  struct jpeg_source_mgr *src = cinfo->src;
  if (num_bytes < 0) return;
  if ((size_t)num_bytes > src->bytes_in_buffer) {
    src->bytes_in_buffer = 0;
    ERREXIT(cinfo, JERR_FILE_READ);
  }
  src->next_input_byte += num_bytes;
  src->bytes_in_buffer -= (size_t)num_bytes;
}

static void zr_tf_progress(j_common_ptr cinfo) {
  struct zr_tf_progress_mgr *progress = (struct zr_tf_progress_mgr *)cinfo->progress;
  j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
  if (progress->max_scans > 0 && dinfo->input_scan_number > progress->max_scans) {
    progress->exceeded = 1;
    (*cinfo->err->error_exit)(cinfo);
  }
}

/* Reads `rows` rows into consecutive rows of `out` (stride `row_len`). The source never
   suspends, so jpeg_read_scanlines either returns rows or longjmps. */
static void zr_tf_read_rows(j_decompress_ptr cinfo, unsigned char *out, size_t row_len,
                            unsigned rows) {
  JSAMPROW pointers[16];
  unsigned done = 0;
  while (done < rows) {
    unsigned batch = rows - done < 16 ? rows - done : 16;
    unsigned i;
    for (i = 0; i < batch; i++) pointers[i] = out + (size_t)(done + i) * row_len;
    done += jpeg_read_scanlines(cinfo, pointers, batch);
  }
}

struct zr_tf_state {
  struct jpeg_decompress_struct cinfo;
  struct zr_tf_error_mgr err;
  struct jpeg_source_mgr src;
  struct zr_tf_progress_mgr progress;
  int created;
};

/* Picks the rows and columns to decode; libjpeg may widen the columns to an iMCU boundary. */
static void zr_tf_choose_region(j_decompress_ptr cinfo, const struct zr_tf_request *req,
                                struct zr_tf_result *res) {
  struct zr_tf_window needed;
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

static void zr_tf_decode_body(struct zr_tf_state *s, const unsigned char *data, size_t len,
                              const struct zr_tf_request *req, struct zr_tf_result *res) {
  j_decompress_ptr cinfo = &s->cinfo;
  size_t row_len;
  unsigned char *pixels;
  unsigned below;

  jpeg_create_decompress(cinfo);
  s->created = 1;
  s->src.init_source = zr_tf_init_source;
  s->src.fill_input_buffer = zr_tf_fill_input_buffer;
  s->src.skip_input_data = zr_tf_skip_input_data;
  s->src.resync_to_restart = jpeg_resync_to_restart;
  s->src.term_source = zr_tf_term_source;
  s->src.next_input_byte = data;
  s->src.bytes_in_buffer = len;
  cinfo->src = &s->src;
  s->progress.pub.progress_monitor = zr_tf_progress;
  cinfo->progress = &s->progress.pub;

  (void)jpeg_read_header(cinfo, TRUE);
  cinfo->out_color_space =
      (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) ? JCS_CMYK
                                                                                  : JCS_RGB;
  cinfo->do_fancy_upsampling = TRUE;
  cinfo->scale_num = 1;
  cinfo->scale_denom = 1;
  cinfo->dct_method = req->dct_islow ? JDCT_ISLOW : JDCT_IFAST;
  jpeg_calc_output_dimensions(cinfo);
  if (req->max_bytes > 0 && (long long)cinfo->output_height * (long long)cinfo->output_width *
                                    (long long)cinfo->num_components >= req->max_bytes) {
    res->status = ZR_TF_TOO_LARGE;
    return;
  }
  (void)jpeg_start_decompress(cinfo);
  res->full_width = cinfo->output_width;
  res->full_height = cinfo->output_height;
  res->components = cinfo->output_components;
  res->adobe = cinfo->saw_Adobe_marker ? 1 : 0;
  zr_tf_choose_region(cinfo, req, res);

  row_len = (size_t)res->width * (size_t)cinfo->output_components;
  /* One spare row: the picture's last row is read into it after a region. */
  pixels = req->alloc(req->opaque, row_len * ((size_t)res->height + 1));
  if (pixels == NULL) {
    res->status = ZR_TF_NO_MEMORY;
    return;
  }
  if (res->y > 0) jpeg_skip_scanlines(cinfo, res->y);
  zr_tf_read_rows(cinfo, pixels, row_len, res->height);
  /* Skipping to the very bottom would mark the input finished without reading it; entropy-decode
     every row but the last, then read the last one. */
  below = cinfo->output_height - cinfo->output_scanline;
  if (below > 1) jpeg_skip_scanlines(cinfo, below - 1);
  if (below > 0) zr_tf_read_rows(cinfo, pixels + row_len * res->height, row_len, 1);
  (void)jpeg_finish_decompress(cinfo);
  res->status = ZR_TF_OK;
}

int zr_tf_jpeg_decode(const unsigned char *data, size_t len, const struct zr_tf_request *req,
                      struct zr_tf_result *res) {
  struct zr_tf_state s;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cinfo.err = jpeg_std_error(&s.err.pub);
  s.err.pub.error_exit = zr_tf_error_exit;
  s.err.pub.output_message = zr_tf_output_message;
  s.progress.max_scans = req->max_scans;

  if (setjmp(s.err.jump)) {
    if (s.progress.exceeded) {
      res->status = ZR_TF_TOO_MANY_SCANS;
      snprintf(res->message, sizeof res->message, "more than %d scans", req->max_scans);
    } else {
      res->status = ZR_TF_BROKEN;
      (*s.err.pub.format_message)((j_common_ptr)&s.cinfo, res->message);
    }
  } else {
    zr_tf_decode_body(&s, data, len, req, res);
  }
  res->warnings = (int)s.err.pub.num_warnings;
  if (s.created) jpeg_destroy_decompress(&s.cinfo);
  return res->status;
}
