/*
 * The work every bit-exact JPEG pipeline must do: libjpeg-turbo's entropy (Huffman) decoding of
 * each file's scans, timed (nearly) alone. The decode is cropped to the first iMCU column
 * (`jpeg_crop_scanline`), so the IDCT, upsampling and colour conversion run on one 8- or 16-pixel
 * column only, while the Huffman data of every block must still be decoded to find where the next
 * one starts (94 % of the time in `decode_mcu` on the shared sample, by perf). No resize and no
 * normalisation. A library that spends L ms an image on a preset cannot be beaten by more than
 * about L / floor by a pipeline that decodes with the same entropy decoder.
 *
 * Built by scripts/bench/turns.py against the libjpeg-turbo that turbojpeg-sys built for zoorepro
 * (the same one zoorepro decodes with). Usage: entropy_floor ROUNDS FILE...; prints
 * {"images": N, "images_per_second": R} for the best round on stdout. Files libjpeg refuses are
 * counted and skipped (their time stays in the round).
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jpeglib.h>

struct floor_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
};

static void floor_error_exit(j_common_ptr cinfo) {
  longjmp(((struct floor_error_mgr *)cinfo->err)->jump, 1);
}

static void floor_output_message(j_common_ptr cinfo) { (void)cinfo; }

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* 1 when libjpeg decoded every scan of the file, 0 when it refused it. */
static int entropy_decode(const unsigned char *data, unsigned long len) {
  struct jpeg_decompress_struct cinfo;
  struct floor_error_mgr err;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = floor_error_exit;
  err.pub.output_message = floor_output_message;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return 0;
  }
  jpeg_mem_src(&cinfo, data, len);
  jpeg_read_header(&cinfo, TRUE);
  jpeg_start_decompress(&cinfo);
  JDIMENSION x = 0, width = 1;
  jpeg_crop_scanline(&cinfo, &x, &width);
  JSAMPARRAY row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE,
                                              cinfo.output_width * cinfo.output_components, 1);
  while (cinfo.output_scanline < cinfo.output_height) {
    jpeg_read_scanlines(&cinfo, row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return 1;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: entropy_floor ROUNDS FILE...\n");
    return 2;
  }
  int rounds = atoi(argv[1]);
  int files = argc - 2;
  unsigned char **data = calloc((size_t)files, sizeof *data);
  unsigned long *lens = calloc((size_t)files, sizeof *lens);
  for (int i = 0; i < files; i++) {
    FILE *f = fopen(argv[i + 2], "rb");
    if (!f || fseek(f, 0, SEEK_END) != 0) {
      fprintf(stderr, "entropy_floor: cannot read %s\n", argv[i + 2]);
      return 2;
    }
    lens[i] = (unsigned long)ftell(f);
    rewind(f);
    data[i] = malloc(lens[i] ? lens[i] : 1);
    if (fread(data[i], 1, lens[i], f) != lens[i]) {
      fprintf(stderr, "entropy_floor: cannot read %s\n", argv[i + 2]);
      return 2;
    }
    fclose(f);
  }
  double best = -1.0;
  int refused = 0;
  for (int round = 0; round < (rounds > 0 ? rounds : 1); round++) {
    double start = seconds();
    refused = 0;
    for (int i = 0; i < files; i++) {
      refused += !entropy_decode(data[i], lens[i]);
    }
    double took = seconds() - start;
    if (best < 0 || took < best) {
      best = took;
    }
  }
  printf("{\"images\": %d, \"refused\": %d, \"images_per_second\": %.3f}\n", files, refused,
         (double)files / best);
  return 0;
}
