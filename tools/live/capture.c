/* capture.c: frames from a V4L2 camera, a video file or a stream URL, through one interface
 * over libavformat (libavdevice's video4linux2 input for cameras), libavcodec and libswscale. */
#include "live/live.h"

#include "common/common.h"

#include <libavcodec/avcodec.h>
#include <libavdevice/avdevice.h>
#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A network stream that delivers nothing for this long (microseconds) counts as gone. */
#define STREAM_TIMEOUT_US "5000000"

struct live_capture {
    char *source;
    int device; /* a camera (as opposed to a file or a URL) */
    int network;
    AVFormatContext *format;
    AVCodecContext *decoder;
    int stream;
    AVPacket *packet;
    AVFrame *decoded;
    struct SwsContext *to_rgb;
    AVFrame *scratch; /* RGB24 with the padding libswscale needs */
    fr_image *rgb;
    double time_base, fps;
    int64_t first_pts; /* AV_NOPTS_VALUE until the first frame with a timestamp */
    int64_t n_frames;  /* frames delivered */
    double last_t;
    int draining; /* the demuxer is at its end: the decoder is being flushed */
    const volatile sig_atomic_t *stop;
};

/* FFmpeg's own messages go to the library's log (the library never prints). */
static void forward_av_log(void *avcl, int level, const char *fmt, va_list args) {
    if (level > AV_LOG_WARNING) return;
    char line[512];
    int print_prefix = 1;
    av_log_format_line(avcl, level, fmt, args, line, (int)sizeof line, &print_prefix);
    size_t len = strlen(line);
    if (len && line[len - 1] == '\n') line[len - 1] = '\0';
    fr_log(FR_LOG_DEBUG, "ffmpeg: %s", line);
}

static int stop_requested(void *opaque) {
    const live_capture *cap = opaque;
    return cap->stop && *cap->stop;
}

static const char *av_message(int code, char *buf, size_t size) {
    if (av_strerror(code, buf, size) < 0) snprintf(buf, size, "error %d", code);
    return buf;
}

static int is_device(const char *source) {
    struct stat st;
    return !strncmp(source, "/dev/video", 10) || (stat(source, &st) == 0 && S_ISCHR(st.st_mode));
}

static fr_status open_decoder(live_capture *cap) {
    char msg[128];
    const AVCodec *codec = NULL;
    int stream = av_find_best_stream(cap->format, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream < 0 || !codec)
        return fr_error(FR_E_FORMAT, "%s: no video stream that this FFmpeg can decode",
                        cap->source);
    cap->stream = stream;
    AVStream *st = cap->format->streams[stream];
    cap->decoder = avcodec_alloc_context3(codec);
    if (!cap->decoder) return fr_error(FR_E_NOMEM, "%s: out of memory for the decoder", cap->source);
    int rc = avcodec_parameters_to_context(cap->decoder, st->codecpar);
    /* one decoding thread: the cores are the networks' */
    cap->decoder->thread_count = 1;
    if (rc >= 0) rc = avcodec_open2(cap->decoder, codec, NULL);
    if (rc < 0)
        return fr_error(FR_E_FORMAT, "%s: cannot open the %s decoder: %s", cap->source,
                        codec->name, av_message(rc, msg, sizeof msg));
    cap->time_base = av_q2d(st->time_base);
    AVRational rate = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
    cap->fps = rate.num && rate.den ? av_q2d(rate) : 0;
    return FR_OK;
}

fr_status live_capture_open(const char *source, const char *size,
                            const volatile sig_atomic_t *stop, live_capture **out) {
    *out = NULL;
    if (!source || !*source) return fr_error(FR_E_ARG, "live_capture_open: no source given");
    av_log_set_callback(forward_av_log);
    live_capture *cap = calloc(1, sizeof *cap);
    if (!cap || !(cap->source = strdup(source))) {
        free(cap);
        return fr_error(FR_E_NOMEM, "%s: out of memory opening the source", source);
    }
    cap->stop = stop;
    cap->first_pts = AV_NOPTS_VALUE;
    cap->network = strstr(source, "://") != NULL;
    cap->device = !cap->network && is_device(source);

    fr_status st = FR_OK;
    char msg[128];
    AVDictionary *options = NULL;
    const AVInputFormat *input = NULL;
    if (cap->device) {
        avdevice_register_all();
        input = av_find_input_format("video4linux2");
        if (!input) {
            st = fr_error(FR_E_UNSUPPORTED, "%s: this FFmpeg has no video4linux2 input", source);
            goto fail;
        }
        if (size) av_dict_set(&options, "video_size", size, 0);
    }
    if (cap->network) {
        avformat_network_init();
        av_dict_set(&options, "rw_timeout", STREAM_TIMEOUT_US, 0);
        av_dict_set(&options, "timeout", STREAM_TIMEOUT_US, 0);
    }
    cap->format = avformat_alloc_context();
    cap->packet = av_packet_alloc();
    cap->decoded = av_frame_alloc();
    if (!cap->format || !cap->packet || !cap->decoded) {
        avformat_free_context(cap->format); /* NULL-safe; the context is not open yet */
        cap->format = NULL;
        st = fr_error(FR_E_NOMEM, "%s: out of memory opening the source", source);
        goto fail;
    }
    cap->format->interrupt_callback.callback = stop_requested;
    cap->format->interrupt_callback.opaque = cap;
    int rc = avformat_open_input(&cap->format, source, input, &options);
    if (rc < 0) { /* the context was freed */
        st = fr_error(rc == AVERROR_EXIT ? FR_E_INTERRUPTED : FR_E_IO, "cannot open %s%s: %s",
                      cap->device ? "the camera " : "", source, av_message(rc, msg, sizeof msg));
        goto fail;
    }
    rc = avformat_find_stream_info(cap->format, NULL);
    if (rc < 0) {
        st = fr_error(FR_E_FORMAT, "%s: cannot read the stream information: %s", source,
                      av_message(rc, msg, sizeof msg));
        goto fail;
    }
    st = open_decoder(cap);
    if (st != FR_OK) goto fail;
    av_dict_free(&options);
    *out = cap;
    return FR_OK;
fail:
    av_dict_free(&options);
    live_capture_close(cap);
    return st;
}

void live_capture_close(live_capture *cap) {
    if (!cap) return;
    avcodec_free_context(&cap->decoder);
    avformat_close_input(&cap->format);
    av_packet_free(&cap->packet);
    av_frame_free(&cap->decoded);
    sws_freeContext(cap->to_rgb);
    av_frame_free(&cap->scratch);
    fr_image_free(cap->rgb);
    if (cap->network) avformat_network_deinit();
    free(cap->source);
    free(cap);
}

void live_capture_get_info(const live_capture *cap, live_capture_info *info) {
    info->width = cap->decoder->width;
    info->height = cap->decoder->height;
    info->fps = cap->fps;
    info->live = cap->device || cap->network;
}

fr_status live_frame_to_rgb(struct SwsContext **sws, AVFrame **scratch, const AVFrame *f,
                            fr_image *out, const char *source) {
    *sws = sws_getCachedContext(*sws, f->width, f->height, f->format, f->width, f->height,
                                AV_PIX_FMT_RGB24, SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws) {
        const char *format = av_get_pix_fmt_name(f->format);
        return fr_error(FR_E_UNSUPPORTED, "%s: cannot convert pixel format %s to RGB", source,
                        format ? format : "(unknown)");
    }
    AVFrame *rgb = *scratch;
    if (!rgb || rgb->width != f->width || rgb->height != f->height) {
        av_frame_free(scratch);
        rgb = *scratch = av_frame_alloc();
        if (!rgb) return fr_error(FR_E_NOMEM, "%s: out of memory converting a frame", source);
        rgb->width = f->width;
        rgb->height = f->height;
        rgb->format = AV_PIX_FMT_RGB24;
        /* FFmpeg's own padding and alignment, which libswscale's SIMD writes stay within */
        if (av_frame_get_buffer(rgb, 0) < 0) {
            av_frame_free(scratch);
            return fr_error(FR_E_NOMEM, "%s: out of memory for a %dx%d frame", source, f->width,
                            f->height);
        }
    }
    sws_scale(*sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, rgb->data,
              rgb->linesize);
    size_t row = 3 * (size_t)f->width;
    for (int y = 0; y < f->height; y++)
        memcpy(out->rgb + (size_t)y * row, rgb->data[0] + (size_t)y * rgb->linesize[0], row);
    return FR_OK;
}

/* The decoded frame as RGB in cap->rgb, with its time. */
static fr_status convert_frame(live_capture *cap, double *t) {
    AVFrame *f = cap->decoded;
    if (f->width <= 0 || f->height <= 0 ||
        (uint64_t)f->width * (uint64_t)f->height > FR_IMAGE_MAX_PIXELS)
        return fr_error(FR_E_LIMIT, "%s: frame %lld is %dx%d pixels", cap->source,
                        (long long)cap->n_frames + 1, f->width, f->height);
    if (!cap->rgb || cap->rgb->width != f->width || cap->rgb->height != f->height) {
        fr_image_free(cap->rgb);
        cap->rgb = NULL;
        fr_status st = fr_image_new(f->width, f->height, &cap->rgb);
        if (st != FR_OK) return st;
    }
    fr_status st = live_frame_to_rgb(&cap->to_rgb, &cap->scratch, f, cap->rgb, cap->source);
    if (st != FR_OK) return st;

    int64_t pts = f->best_effort_timestamp;
    if (pts != AV_NOPTS_VALUE && cap->first_pts == AV_NOPTS_VALUE) cap->first_pts = pts;
    if (pts != AV_NOPTS_VALUE)
        *t = (double)(pts - cap->first_pts) * cap->time_base;
    else /* no timestamp: one nominal frame period after the previous frame */
        *t = cap->n_frames ? cap->last_t + (cap->fps > 0 ? 1.0 / cap->fps : 0.04) : 0;
    cap->last_t = *t;
    cap->n_frames++;
    return FR_OK;
}

/* A failed av_read_frame: the user's stop, a vanished camera or stream, or a read error. */
static fr_status read_error(live_capture *cap, int rc) {
    char msg[128];
    if (stop_requested(cap)) return fr_error(FR_E_INTERRUPTED, "%s: stopped", cap->source);
    if (cap->device)
        return fr_error(FR_E_INTERRUPTED, "%s: the camera disappeared (%s)", cap->source,
                        av_message(rc, msg, sizeof msg));
    if (cap->network)
        return fr_error(FR_E_INTERRUPTED, "%s: the stream was lost (%s)", cap->source,
                        av_message(rc, msg, sizeof msg));
    return fr_error(FR_E_IO, "%s: read error: %s", cap->source, av_message(rc, msg, sizeof msg));
}

fr_status live_capture_read(live_capture *cap, fr_image **frame, double *t) {
    char msg[128];
    *frame = NULL;
    *t = cap->last_t;
    for (;;) {
        if (stop_requested(cap)) return fr_error(FR_E_INTERRUPTED, "%s: stopped", cap->source);
        int rc = avcodec_receive_frame(cap->decoder, cap->decoded);
        if (rc == 0) {
            int corrupt = (cap->decoded->flags & AV_FRAME_FLAG_CORRUPT) ||
                          cap->decoded->decode_error_flags;
            fr_status st = corrupt ? fr_error(FR_E_FORMAT, "%s: frame %lld is corrupt",
                                              cap->source, (long long)cap->n_frames + 1)
                                   : convert_frame(cap, t);
            av_frame_unref(cap->decoded);
            if (st == FR_OK) *frame = cap->rgb;
            return st;
        }
        if (rc == AVERROR_EOF) return FR_OK; /* the end: *frame stays NULL */
        if (rc != AVERROR(EAGAIN))
            return fr_error(FR_E_FORMAT, "%s: a frame after frame %lld could not be decoded: %s",
                            cap->source, (long long)cap->n_frames, av_message(rc, msg, sizeof msg));
        if (cap->draining) return FR_OK; /* nothing more will come */

        rc = av_read_frame(cap->format, cap->packet);
        if (rc == AVERROR_EOF) {
            if (cap->device) /* cameras do not end by themselves */
                return fr_error(FR_E_INTERRUPTED, "%s: the camera stopped delivering frames",
                                cap->source);
            /* nor do live streams (no duration, unlike a file fetched over HTTP) */
            if (cap->network && cap->format->duration == AV_NOPTS_VALUE)
                return fr_error(FR_E_INTERRUPTED, "%s: the stream was lost (it ended)",
                                cap->source);
            cap->draining = 1;
            avcodec_send_packet(cap->decoder, NULL);
            continue;
        }
        if (rc < 0) return read_error(cap, rc);
        if (cap->packet->stream_index != cap->stream) {
            av_packet_unref(cap->packet);
            continue;
        }
        rc = avcodec_send_packet(cap->decoder, cap->packet);
        av_packet_unref(cap->packet);
        if (rc < 0 && rc != AVERROR(EAGAIN))
            return fr_error(FR_E_FORMAT, "%s: a corrupt packet after frame %lld: %s",
                            cap->source, (long long)cap->n_frames, av_message(rc, msg, sizeof msg));
    }
}
