#ifndef ZOO_CPNG_SHIM_H
#define ZOO_CPNG_SHIM_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// libpng reports errors by longjmp back to a setjmp in the caller's frame, which Swift cannot
// do; so the whole decode runs here, in C, and returns a status and a message instead. Warnings
// are swallowed (nothing is printed). The transforms are PIL's: palettes and low bit depths
// expanded, tRNS made alpha, 16-bit colour reduced to its high byte, 16-bit grey kept (as PIL's
// mode I;16), no gamma applied.

// What went wrong, beside the message, so that Swift throws a case rather than reading text.
#define ZOO_PNG_PROBLEM_DECODER 1        // libpng's own error: the message says it
#define ZOO_PNG_PROBLEM_ZERO_PIXELS 2
#define ZOO_PNG_PROBLEM_TOO_MANY_PIXELS 3
#define ZOO_PNG_PROBLEM_OUT_OF_MEMORY 4
#define ZOO_PNG_PROBLEM_TRUNCATED 5
#define ZOO_PNG_PROBLEM_NOT_PNG 6

typedef struct {
    unsigned char *pixels;  // height * width * channels samples, 1 or 2 bytes (little-endian) each
    uint32_t width;
    uint32_t height;
    int channels;           // 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
    int bytes_per_sample;   // 1, or 2 for 16-bit grey
    char message[256];
    int problem;            // ZOO_PNG_PROBLEM_*, 0 on success
} zoo_png_image;

typedef struct {
    const unsigned char *data;
    size_t size;
    size_t offset;
    char *message;
    int *problem;
} zoo_png_reader;

static inline void zoo_png_error(png_structp png, png_const_charp text) {
    zoo_png_reader *reader = (zoo_png_reader *)png_get_error_ptr(png);
    strncpy(reader->message, text ? text : "libpng error", 255);
    reader->message[255] = 0;
    png_longjmp(png, 1);
}

static inline void zoo_png_warning(png_structp png, png_const_charp text) { (void)png; (void)text; }

static inline void zoo_png_read_data(png_structp png, png_bytep out, png_size_t length) {
    zoo_png_reader *reader = (zoo_png_reader *)png_get_io_ptr(png);
    if (length > reader->size - reader->offset) {
        *reader->problem = ZOO_PNG_PROBLEM_TRUNCATED;
        png_error(png, "the file is truncated");
    }
    memcpy(out, reader->data + reader->offset, length);
    reader->offset += length;
}

/// Decodes a PNG in memory; 0 on success (free `out->pixels` with free()), -1 with `out->message`.
static inline int zoo_png_decode(const unsigned char *data, size_t size, uint64_t max_pixels, zoo_png_image *out) {
    memset(out, 0, sizeof(*out));
    zoo_png_reader reader = {data, size, 0, out->message, &out->problem};
    out->problem = ZOO_PNG_PROBLEM_DECODER;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        strcpy(out->message, "not a PNG file");
        out->problem = ZOO_PNG_PROBLEM_NOT_PNG;
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, zoo_png_error, zoo_png_warning);
    if (!png) { strcpy(out->message, "libpng cannot start"); return -1; }
    png_infop info = png_create_info_struct(png);
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        if (!out->message[0]) strcpy(out->message, "libpng error");
        return -1;
    }
    png_set_read_fn(png, &reader, zoo_png_read_data);
    png_set_user_limits(png, 1u << 24, 1u << 24);
    png_read_info(png, info);
    png_uint_32 width = 0, height = 0;
    int depth = 0, color = 0;
    png_get_IHDR(png, info, &width, &height, &depth, &color, NULL, NULL, NULL);
    if (width == 0 || height == 0) {
        out->problem = ZOO_PNG_PROBLEM_ZERO_PIXELS;
        png_error(png, "the picture has zero width or height");
    }
    if ((uint64_t)width * height > max_pixels) {
        out->problem = ZOO_PNG_PROBLEM_TOO_MANY_PIXELS;
        png_error(png, "the picture has more pixels than the decoded-pixel cap");
    }
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    int keep16 = depth == 16 && color == PNG_COLOR_TYPE_GRAY && !png_get_valid(png, info, PNG_INFO_tRNS);
    if (depth == 16 && !keep16) png_set_strip_16(png);
    if (keep16) png_set_swap(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    pixels = (unsigned char *)malloc(rowbytes * height);
    rows = (png_bytep *)malloc(sizeof(png_bytep) * height);
    if (!pixels || !rows) {
        out->problem = ZOO_PNG_PROBLEM_OUT_OF_MEMORY;
        png_error(png, "out of memory for the decoded picture");
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = pixels + y * rowbytes;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->pixels = pixels;
    out->width = width;
    out->height = height;
    out->channels = channels;
    out->bytes_per_sample = keep16 ? 2 : 1;
    out->problem = 0;
    return 0;
}

#endif
