#ifndef ZOO_CJPEG_SHIM_H
#define ZOO_CJPEG_SHIM_H

#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>

// libjpeg's default error handler exits the process, and a replacement must longjmp to a setjmp
// in the caller's frame, which Swift cannot do; so the whole decode runs here, in C, and
// returns a status and a message instead. Messages are captured, never printed. A warning
// (libjpeg fills a truncated file with grey and goes on) is an error here, as it is for PIL.

// What went wrong, beside the message, so that Swift throws a case rather than reading text.
#define ZOO_JPEG_PROBLEM_DECODER 1        // libjpeg's own error or warning: the message says it
#define ZOO_JPEG_PROBLEM_CMYK 2
#define ZOO_JPEG_PROBLEM_ZERO_PIXELS 3
#define ZOO_JPEG_PROBLEM_TOO_MANY_PIXELS 4
#define ZOO_JPEG_PROBLEM_OUT_OF_MEMORY 5

typedef struct {
    unsigned char *pixels;  // height * width * channels bytes
    uint32_t width;
    uint32_t height;
    int channels;           // 1 grey, 3 RGB
    int progressive;
    char message[JMSG_LENGTH_MAX + 64];
    int problem;            // ZOO_JPEG_PROBLEM_*, 0 on success
} zoo_jpeg_image;

typedef struct {
    struct jpeg_error_mgr base;
    jmp_buf jump;
    char *message;
} zoo_jpeg_error;

static inline void zoo_jpeg_error_exit(j_common_ptr info) {
    zoo_jpeg_error *error = (zoo_jpeg_error *)info->err;
    (*info->err->format_message)(info, error->message);
    longjmp(error->jump, 1);
}

static inline void zoo_jpeg_emit(j_common_ptr info, int level) {
    zoo_jpeg_error *error = (zoo_jpeg_error *)info->err;
    if (level < 0 && error->base.num_warnings++ == 0) (*info->err->format_message)(info, error->message);
}

static inline void zoo_jpeg_output(j_common_ptr info) { (void)info; }

/// Decodes a JPEG in memory; 0 on success (free `out->pixels` with free()), -1 with `out->message`.
static inline int zoo_jpeg_decode(const unsigned char *data, size_t size, uint64_t max_pixels, zoo_jpeg_image *out) {
    memset(out, 0, sizeof(*out));
    struct jpeg_decompress_struct info;
    zoo_jpeg_error error;
    unsigned char *volatile pixels = NULL;
    info.err = jpeg_std_error(&error.base);
    error.base.error_exit = zoo_jpeg_error_exit;
    error.base.emit_message = zoo_jpeg_emit;
    error.base.output_message = zoo_jpeg_output;
    error.message = out->message;
    out->problem = ZOO_JPEG_PROBLEM_DECODER;
    if (setjmp(error.jump)) {
        free(pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    jpeg_create_decompress(&info);
    jpeg_mem_src(&info, data, (unsigned long)size);
    jpeg_read_header(&info, TRUE);
    if (info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK) {
        strcpy(out->message, "a CMYK JPEG; zoo reads greyscale and RGB JPEGs (convert it to RGB first)");
        out->problem = ZOO_JPEG_PROBLEM_CMYK;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    if (info.image_width == 0 || info.image_height == 0) {
        strcpy(out->message, "the picture has zero width or height");
        out->problem = ZOO_JPEG_PROBLEM_ZERO_PIXELS;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    if ((uint64_t)info.image_width * info.image_height > max_pixels) {
        strcpy(out->message, "the picture has more pixels than the decoded-pixel cap");
        out->problem = ZOO_JPEG_PROBLEM_TOO_MANY_PIXELS;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    info.out_color_space = info.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    out->progressive = jpeg_has_multiple_scans(&info) ? 1 : 0;
    jpeg_start_decompress(&info);
    size_t stride = (size_t)info.output_width * info.output_components;
    pixels = (unsigned char *)malloc(stride * info.output_height);
    if (!pixels) {
        strcpy(out->message, "out of memory for the decoded picture");
        out->problem = ZOO_JPEG_PROBLEM_OUT_OF_MEMORY;
        jpeg_destroy_decompress(&info);
        return -1;
    }
    while (info.output_scanline < info.output_height) {
        JSAMPROW row = pixels + stride * info.output_scanline;
        jpeg_read_scanlines(&info, &row, 1);
    }
    jpeg_finish_decompress(&info);
    if (error.base.num_warnings > 0) {
        free(pixels);
        jpeg_destroy_decompress(&info);
        return -1;
    }
    out->pixels = pixels;
    out->width = info.output_width;
    out->height = info.output_height;
    out->channels = info.output_components;
    out->problem = 0;
    jpeg_destroy_decompress(&info);
    return 0;
}

#endif
