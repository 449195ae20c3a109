/* codec_errors.h: error handlers for libjpeg and libpng that record the library's message
 * and jump back to the caller's setjmp, so that nothing is printed and nothing exits.
 * Warnings of libjpeg (truncated or corrupt data) are treated as errors too. */
#ifndef FR_IMAGE_CODEC_ERRORS_H
#define FR_IMAGE_CODEC_ERRORS_H

#include <setjmp.h>
#include <stdio.h> /* jpeglib.h needs FILE */

#include <jpeglib.h>
#include <png.h>

typedef struct fr_jpeg_error {
    struct jpeg_error_mgr mgr; /* first member: libjpeg hands back a pointer to it */
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} fr_jpeg_error;

/* Set up err and return the manager to store in cinfo->err; call setjmp(err->jump) next. */
struct jpeg_error_mgr *fr_jpeg_error_init(fr_jpeg_error *err);

/* The error pointer of a libpng read or write struct. */
typedef struct fr_png_error {
    const char *name;
    char message[256];
} fr_png_error;

void fr_png_on_error(png_structp png, png_const_charp message);
void fr_png_on_warning(png_structp png, png_const_charp message);

#endif
