/* codec_errors.c: libjpeg and libpng error handlers (see codec_errors.h). */
#include "image/codec_errors.h"

#include "common/common.h"

#include <string.h>

static void jpeg_on_error_exit(j_common_ptr cinfo) {
    fr_jpeg_error *err = (fr_jpeg_error *)cinfo->err;
    err->mgr.format_message(cinfo, err->message);
    longjmp(err->jump, 1);
}

/* Level -1 is a warning, which libjpeg gives for premature end of data and corrupt entropy
 * data while filling in grey: a half-decoded image must not pass for a good one. Higher
 * levels are trace messages, dropped. */
static void jpeg_on_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) jpeg_on_error_exit(cinfo);
}

struct jpeg_error_mgr *fr_jpeg_error_init(fr_jpeg_error *err) {
    struct jpeg_error_mgr *mgr = jpeg_std_error(&err->mgr);
    mgr->error_exit = jpeg_on_error_exit;
    mgr->emit_message = jpeg_on_emit_message;
    err->message[0] = '\0';
    return mgr;
}

void fr_png_on_error(png_structp png, png_const_charp message) {
    fr_png_error *err = png_get_error_ptr(png);
    snprintf(err->message, sizeof err->message, "%s", message);
    png_longjmp(png, 1);
}

void fr_png_on_warning(png_structp png, png_const_charp message) {
    fr_png_error *err = png_get_error_ptr(png);
    fr_log(FR_LOG_DEBUG, "%s: libpng: %s", err->name, message);
}
