/* test_capture_convert.c: the video frame conversion behind `watch` (live_frame_to_rgb) writes
 * exactly the image, never past it: libswscale's SIMD paths overrun rows of some widths, so
 * every width from 1 to 2000 (every residue of any SIMD width up to 64 pixels, many times) is
 * converted into a buffer followed by a guard region that must stay untouched. */
#include "facerec.h"
#include "live/live.h"
#include "test.h"

#include <libavutil/frame.h>
#include <libswscale/swscale.h>

#define MAX_WIDTH 2000
#define GUARD_BYTES 256
#define GUARD_BYTE 0xA5

/* A YUV 4:2:0 frame whose luma rises along each row, with neutral chroma (a grey ramp). */
static AVFrame *grey_ramp(int w, int h) {
    AVFrame *f = av_frame_alloc();
    if (!f) return NULL;
    f->width = w;
    f->height = h;
    f->format = AV_PIX_FMT_YUV420P;
    if (av_frame_get_buffer(f, 0) < 0) {
        av_frame_free(&f);
        return NULL;
    }
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) f->data[0][y * f->linesize[0] + x] = (uint8_t)(16 + (x * 7 + y) % 220);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < (h + 1) / 2; y++) memset(f->data[p] + y * f->linesize[p], 128, (size_t)(w + 1) / 2);
    return f;
}

TEST(conversion_stays_inside_the_image_at_every_width) {
    struct SwsContext *sws = NULL;
    AVFrame *scratch = NULL;
    uint8_t *buffer = malloc((size_t)MAX_WIDTH * 4 * 3 + GUARD_BYTES);
    CHECK(buffer);
    int overruns = 0, wrong = 0;
    for (int w = 1; w <= MAX_WIDTH; w++) {
        int h = 2 + w % 3; /* even and odd heights */
        size_t size = (size_t)w * h * 3;
        AVFrame *f = grey_ramp(w, h);
        CHECK(f);
        memset(buffer, 0, size);
        memset(buffer + size, GUARD_BYTE, GUARD_BYTES);
        fr_image out = {w, h, buffer};
        fr_status st = live_frame_to_rgb(&sws, &scratch, f, &out, "ramp");
        if (st != FR_OK) {
            fprintf(stderr, "width %d: %s\n", w, fr_last_error());
            overruns++;
        }
        for (int i = 0; i < GUARD_BYTES; i++)
            if (buffer[size + i] != GUARD_BYTE) {
                if (overruns < 10) fprintf(stderr, "width %d: byte %d past the image written\n", w, i);
                overruns++;
                break;
            }
        /* limited-range luma to full-range grey: (Y - 16) * 255 / 219 */
        for (int y = 0; y < h && !wrong; y++)
            for (int x = 0; x < w; x++) {
                double expected = (f->data[0][y * f->linesize[0] + x] - 16) * 255.0 / 219.0;
                const uint8_t *px = buffer + ((size_t)y * w + x) * 3;
                if (fabs(px[0] - expected) > 3 || px[0] != px[1] || px[1] != px[2]) {
                    fprintf(stderr, "width %d: pixel (%d, %d) is %d,%d,%d, expected %.0f grey\n", w,
                            x, y, px[0], px[1], px[2], expected);
                    wrong = 1;
                    break;
                }
            }
        av_frame_free(&f);
    }
    sws_freeContext(sws);
    av_frame_free(&scratch);
    free(buffer);
    CHECK(overruns == 0);
    CHECK(!wrong);
}

TEST_MAIN(CASE(conversion_stays_inside_the_image_at_every_width))
