/*
 * zoorepro's one libjpeg glue: decodes a JPEG with the libjpeg API of libjpeg-turbo the way one
 * of the reproduced libraries drives it. The request names the library's policies; glue.c is the
 * one decoding loop; src/image/libjpeg/mod.rs is the Rust side, whose #[repr(C)] mirrors of these
 * structs are checked against the same sizes and offsets as the _Static_asserts in glue.c.
 *
 * Every field is a fixed-width integer, a pointer or a function pointer, so the layout is the same
 * on every 64-bit target; the numbers are asserted on both sides of the boundary.
 */
#ifndef ZOOREPRO_LIBJPEG_GLUE_H
#define ZOOREPRO_LIBJPEG_GLUE_H

#include <stddef.h>
#include <stdint.h>

/* How the library hands libjpeg the file, which decides what running out of data means. */
enum zr_jpeg_source {
  /* Pillow: a suspending source over the whole file; libjpeg asking for more suspends, and the
     image is truncated unless every row was already out (a whole decode) or a region was read
     (reported in `ran_out`, for the caller to decode whole again). Tables-only headers are
     skipped. */
  ZR_JPEG_SOURCE_SUSPENDING = 0,
  /* TensorFlow, torchvision: a memory source for which every read or skip past the end is fatal
     (JERR_FILE_READ), in jpeg_finish_decompress too. */
  ZR_JPEG_SOURCE_FATAL_EOF = 1,
  /* OpenCV (jpeg_stdio_src): an empty file is fatal (JERR_INPUT_EMPTY); past the end, a warning
     (JWRN_JPEG_EOF) and a fake EOI marker, as often as asked, so the missing part decodes grey. */
  ZR_JPEG_SOURCE_FAKE_EOI = 2
};

/* What libjpeg's output is. */
enum zr_jpeg_colour {
  /* Pillow: the mode Pillow parsed from the frame (`components` 1: L, 3: RGB, 4: CMYK), and
     libjpeg's frame must have Pillow's size (`expect_width`, `expect_height`). */
  ZR_JPEG_COLOUR_AS_PARSED = 0,
  /* OpenCV, TensorFlow, torchvision: CMYK and YCCK files come out as CMYK (the caller converts
     with its library's formula), every other file as RGB (grayscale replicated by libjpeg). */
  ZR_JPEG_COLOUR_RGB_OR_CMYK = 1
};

/* The inverse DCT. */
enum zr_jpeg_dct {
  ZR_JPEG_DCT_ISLOW = 0, /* libjpeg's default accurate integer one (Pillow, OpenCV, torchvision) */
  ZR_JPEG_DCT_IFAST = 1  /* the fast integer one (TensorFlow's default dct_method) */
};

enum zr_jpeg_status {
  ZR_JPEG_OK = 0,
  ZR_JPEG_TRUNCATED = 1,      /* a suspending source ran out before the last row was out */
  ZR_JPEG_BROKEN = 2,         /* a fatal libjpeg error; `message` says which */
  ZR_JPEG_TOO_MANY_SCANS = 3, /* more than `max_scans` scans; `message` says so */
  ZR_JPEG_NO_MEMORY = 4,      /* `alloc` returned NULL */
  ZR_JPEG_SIZE_MISMATCH = 5,  /* ZR_JPEG_COLOUR_AS_PARSED: libjpeg's frame is another size */
  ZR_JPEG_TOO_LARGE = 6       /* over `max_side`, `max_pixels` or `max_bytes` */
};

/* A rectangle of the picture, in output pixels. */
struct zr_jpeg_window {
  uint32_t x, y, width, height;
};

/* Given the picture's size, fills the rectangle the caller reads and returns 1; 0: the whole. */
typedef int32_t (*zr_jpeg_plan_fn)(void *opaque, uint32_t width, uint32_t height,
                                   struct zr_jpeg_window *needed);
/* The output buffer, `len` bytes; NULL when it cannot be had. */
typedef unsigned char *(*zr_jpeg_alloc_fn)(void *opaque, size_t len);
/* Called once per APP1 marker, in file order, with its data. */
typedef void (*zr_jpeg_marker_fn)(void *opaque, const unsigned char *data, uint32_t len);

struct zr_jpeg_request {
  int32_t source;          /* enum zr_jpeg_source */
  int32_t colour;          /* enum zr_jpeg_colour */
  int32_t dct;             /* enum zr_jpeg_dct */
  int32_t keep_after_rows; /* 1: an error once every row is out keeps the image (OpenCV) */
  int32_t max_scans;       /* refuse more scans than this (a scan-bomb guard); 0: no limit */
  uint32_t components;     /* ZR_JPEG_COLOUR_AS_PARSED only: 1, 3 or 4 */
  uint32_t expect_width;   /* ZR_JPEG_COLOUR_AS_PARSED only: the frame size the caller parsed */
  uint32_t expect_height;
  uint64_t max_side;       /* refuse an output side longer than this; 0: no limit */
  uint64_t max_pixels;     /* refuse more output pixels than this; 0: no limit */
  uint64_t max_bytes;      /* refuse width * height * input components >= this; 0: no limit */
  zr_jpeg_plan_fn plan;
  zr_jpeg_alloc_fn alloc;
  zr_jpeg_marker_fn app1;  /* NULL: APP1 markers are not saved */
  void *opaque;            /* handed to the three callbacks */
};

/* jpeglib.h's JMSG_LENGTH_MAX (checked in glue.c). */
#define ZR_JPEG_MESSAGE_LEN 200

struct zr_jpeg_result {
  int32_t status;          /* enum zr_jpeg_status */
  int32_t warnings;        /* libjpeg's warnings (corrupt data it decoded through) */
  int32_t ran_out;         /* ZR_JPEG_SOURCE_SUSPENDING: libjpeg asked for bytes past the end */
  int32_t components;      /* libjpeg's output components: 1, 3 or 4 */
  int32_t adobe;           /* an Adobe marker was seen (TensorFlow's CMYK formula needs it) */
  uint32_t full_width;     /* the picture's size */
  uint32_t full_height;
  struct zr_jpeg_window decoded; /* what is in the buffer (x and width after iMCU alignment) */
  char message[ZR_JPEG_MESSAGE_LEN];
};

/* Decodes `data` as the request says into the buffer `alloc` hands out: `decoded.height` rows of
   `decoded.width * components` bytes, plus one scratch row after them. Returns `status`. */
int32_t zr_jpeg_decode(const unsigned char *data, size_t len, const struct zr_jpeg_request *req,
                       struct zr_jpeg_result *res);

#endif
