/* speech.c: greetings spoken by espeak-ng in a thread of their own, fed through a queue, so
 * the video never waits for the voice. espeak-ng runs in its synchronous mode and hands its
 * samples to a callback, which writes them to a WAV file or queues them on the sound device
 * (SDL2 audio).
 *
 * espeak-ng is one process-wide engine, and version 1.51 hangs when it is initialised again
 * after espeak_ng_Terminate(). So it is initialised once per process and kept, and every use
 * of it holds espeak_lock: the only global state here, forced by the engine's own. */
#include "live/live.h"

#include "common/common.h"

#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>
#include <SDL2/SDL.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sentences waiting to be spoken; greetings are rare, so a full queue means trouble. */
#define SPEECH_QUEUE 16
/* Samples handed to the callback at a time, in milliseconds of sound. */
#define SPEECH_BUFFER_MS 100
#define WAV_HEADER_BYTES 44

struct live_speech {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    char *voice;
    char *queue[SPEECH_QUEUE]; /* a ring: count sentences from head */
    int head, count;
    int closing;
    SDL_AudioDeviceID device; /* 0 when writing a WAV file */
    /* WAV output (NULL: the sound device) */
    FILE *wav;
    char *wav_path;
    int sample_rate;
    uint64_t data_bytes;
    /* the first failure in the thread, reported by live_speech_close */
    fr_status failure;
    char failure_message[300];
};

static fr_status espeak_failure(espeak_ng_STATUS es, fr_status status, const char *what) {
    char msg[200];
    espeak_ng_GetStatusCodeMessage(es, msg, sizeof msg);
    return fr_error(status, "espeak-ng: %s: %s", what, msg);
}

static void put_le(uint8_t *p, uint32_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The 44-byte header of a 16-bit mono PCM WAV file with data_bytes of samples. */
static void wav_header(uint8_t h[WAV_HEADER_BYTES], int rate, uint32_t data_bytes) {
    memcpy(h, "RIFF", 4);
    put_le(h + 4, 36 + data_bytes, 4);
    memcpy(h + 8, "WAVEfmt ", 8);
    put_le(h + 16, 16, 4);                 /* fmt chunk size */
    put_le(h + 20, 1, 2);                  /* PCM */
    put_le(h + 22, 1, 2);                  /* mono */
    put_le(h + 24, (uint32_t)rate, 4);
    put_le(h + 28, (uint32_t)rate * 2, 4); /* bytes per second */
    put_le(h + 32, 2, 2);                  /* bytes per sample frame */
    put_le(h + 34, 16, 2);                 /* bits per sample */
    memcpy(h + 36, "data", 4);
    put_le(h + 40, data_bytes, 4);
}

static void record_failure(live_speech *s, fr_status status, const char *fmt, const char *arg) {
    if (s->failure != FR_OK) return;
    s->failure = status;
    snprintf(s->failure_message, sizeof s->failure_message, fmt, arg);
}

/* The process-wide engine: initialised once, never terminated (see the top of the file). */
static pthread_once_t espeak_once = PTHREAD_ONCE_INIT;
static espeak_ng_STATUS espeak_status;
static pthread_mutex_t espeak_lock = PTHREAD_MUTEX_INITIALIZER;

/* espeak-ng hands over synthesized samples here; user_data of the events is the speech. */
static int on_samples(short *samples, int n, espeak_EVENT *events) {
    live_speech *s = events ? events[0].user_data : NULL;
    if (!s || !samples || n <= 0) return 0;
    if (s->device) {
        if (SDL_QueueAudio(s->device, samples, (Uint32)n * sizeof *samples) != 0) {
            record_failure(s, FR_E_IO, "sound device: %s", SDL_GetError());
            return 1; /* abort the synthesis */
        }
        return 0;
    }
    uint8_t buf[2 * 4096];
    for (int done = 0; done < n;) {
        int chunk = FR_MIN(n - done, 4096);
        for (int i = 0; i < chunk; i++) put_le(buf + 2 * i, (uint16_t)samples[done + i], 2);
        if (fwrite(buf, 2, (size_t)chunk, s->wav) != (size_t)chunk) {
            record_failure(s, FR_E_IO, "%s: write error", s->wav_path);
            return 1;
        }
        done += chunk;
        s->data_bytes += 2 * (uint64_t)chunk;
    }
    return 0;
}

static void start_espeak(void) {
    espeak_ng_InitializePath(NULL);
    espeak_ng_ERROR_CONTEXT context = NULL;
    espeak_status = espeak_ng_Initialize(&context);
    espeak_ng_ClearErrorContext(&context);
    if (espeak_status == ENS_OK)
        espeak_status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, SPEECH_BUFFER_MS, NULL);
    if (espeak_status == ENS_OK) espeak_SetSynthCallback(on_samples);
}

/* Select a voice; the caller holds espeak_lock. */
static fr_status select_voice(const char *voice) {
    espeak_ng_STATUS es = espeak_ng_SetVoiceByName(voice);
    if (es == ENS_VOICE_NOT_FOUND)
        return fr_error(FR_E_NOT_FOUND, "espeak-ng has no voice '%s' (espeak-ng --voices lists them)",
                        voice);
    return es == ENS_OK ? FR_OK : espeak_failure(es, FR_E_UNSUPPORTED, "cannot load the voice");
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void speak(live_speech *s, const char *sentence) {
    pthread_mutex_lock(&espeak_lock);
    fr_status st = select_voice(s->voice);
    /* synchronous mode: returns once every sample went through on_samples */
    espeak_ng_STATUS es = st == FR_OK ? espeak_ng_Synthesize(sentence, strlen(sentence) + 1, 0,
                                                             POS_CHARACTER, 0, espeakCHARS_UTF8,
                                                             NULL, s)
                                      : ENS_OK;
    pthread_mutex_unlock(&espeak_lock);
    if (st != FR_OK) record_failure(s, st, "%s", fr_last_error());
    if (es != ENS_OK && es != ENS_SPEECH_STOPPED) {
        char msg[200];
        espeak_ng_GetStatusCodeMessage(es, msg, sizeof msg);
        record_failure(s, FR_E_IO, "espeak-ng: speaking failed: %s", msg);
    }
    /* one sentence after the other: wait until the device has played this one */
    while (s->device && SDL_GetQueuedAudioSize(s->device) > 0) sleep_ms(20);
}

static void *speak_queue(void *arg) {
    live_speech *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        while (!s->count && !s->closing) pthread_cond_wait(&s->wake, &s->lock);
        if (!s->count) { /* closing and nothing left */
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        char *sentence = s->queue[s->head];
        s->head = (s->head + 1) % SPEECH_QUEUE;
        s->count--;
        pthread_mutex_unlock(&s->lock);
        speak(s, sentence);
        free(sentence);
    }
}

static fr_status open_wav(live_speech *s, const char *path) {
    if (!(s->wav_path = strdup(path))) return fr_error(FR_E_NOMEM, "out of memory for speech");
    s->wav = fopen(path, "wb");
    if (!s->wav) return fr_error(FR_E_IO, "%s: cannot create the WAV file", path);
    uint8_t header[WAV_HEADER_BYTES];
    wav_header(header, s->sample_rate, 0); /* sizes are filled in on close */
    if (fwrite(header, 1, sizeof header, s->wav) != sizeof header)
        return fr_error(FR_E_IO, "%s: write error", path);
    return FR_OK;
}

/* Write the final sizes into the header and close the file. */
static fr_status finish_wav(live_speech *s) {
    uint8_t header[WAV_HEADER_BYTES];
    uint32_t bytes = s->data_bytes > UINT32_MAX - 36 ? UINT32_MAX - 36 : (uint32_t)s->data_bytes;
    wav_header(header, s->sample_rate, bytes);
    int ok = fseek(s->wav, 0, SEEK_SET) == 0 && fwrite(header, 1, sizeof header, s->wav) == sizeof header;
    ok &= fclose(s->wav) == 0;
    s->wav = NULL;
    return ok ? FR_OK : fr_error(FR_E_IO, "%s: write error", s->wav_path);
}

static fr_status open_device(live_speech *s) {
    if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0)
        return fr_error(FR_E_UNSUPPORTED, "no sound device: %s", SDL_GetError());
    SDL_AudioSpec want;
    SDL_zero(want);
    want.freq = s->sample_rate;
    want.format = AUDIO_S16SYS;
    want.channels = 1;
    want.samples = 1024;
    s->device = SDL_OpenAudioDevice(NULL, 0, &want, NULL, 0);
    if (!s->device) {
        fr_status st = fr_error(FR_E_UNSUPPORTED, "no sound device: %s", SDL_GetError());
        SDL_QuitSubSystem(SDL_INIT_AUDIO);
        return st;
    }
    SDL_PauseAudioDevice(s->device, 0);
    return FR_OK;
}

static void close_device(live_speech *s) {
    if (!s->device) return;
    SDL_CloseAudioDevice(s->device);
    SDL_QuitSubSystem(SDL_INIT_AUDIO);
    s->device = 0;
}

static void free_speech(live_speech *s) {
    if (s->wav) fclose(s->wav);
    close_device(s);
    free(s->wav_path);
    free(s->voice);
    free(s);
}

fr_status live_speech_open(const char *voice, const char *wav_path, live_speech **out) {
    *out = NULL;
    pthread_once(&espeak_once, start_espeak);
    if (espeak_status != ENS_OK)
        return espeak_failure(espeak_status, FR_E_UNSUPPORTED,
                              "cannot start (is espeak-ng-data installed?)");
    live_speech *s = calloc(1, sizeof *s);
    if (!s || !(s->voice = strdup(voice ? voice : "en"))) {
        free(s);
        return fr_error(FR_E_NOMEM, "out of memory for speech");
    }
    pthread_mutex_lock(&espeak_lock);
    fr_status st = select_voice(s->voice);
    s->sample_rate = espeak_ng_GetSampleRate();
    pthread_mutex_unlock(&espeak_lock);
    if (st == FR_OK) st = wav_path ? open_wav(s, wav_path) : open_device(s);
    if (st == FR_OK) {
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->wake, NULL);
        if (pthread_create(&s->thread, NULL, speak_queue, s) != 0) {
            pthread_mutex_destroy(&s->lock);
            pthread_cond_destroy(&s->wake);
            st = fr_error(FR_E_NOMEM, "cannot start the speech thread");
        }
    }
    if (st != FR_OK) {
        free_speech(s);
        return st;
    }
    *out = s;
    return FR_OK;
}

fr_status live_speech_say(live_speech *s, const char *sentence) {
    char *copy = strdup(sentence);
    if (!copy) return fr_error(FR_E_NOMEM, "out of memory for speech");
    pthread_mutex_lock(&s->lock);
    int full = s->count == SPEECH_QUEUE;
    if (!full) {
        s->queue[(s->head + s->count) % SPEECH_QUEUE] = copy;
        s->count++;
        pthread_cond_signal(&s->wake);
    }
    pthread_mutex_unlock(&s->lock);
    if (full) {
        free(copy);
        return fr_error(FR_E_LIMIT, "speech is %d sentences behind: \"%s\" was dropped",
                        SPEECH_QUEUE, sentence);
    }
    return FR_OK;
}

fr_status live_speech_close(live_speech *s) {
    if (!s) return FR_OK;
    pthread_mutex_lock(&s->lock);
    s->closing = 1;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    pthread_join(s->thread, NULL);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->wake);
    fr_status st = s->failure != FR_OK ? fr_error(s->failure, "%s", s->failure_message) : FR_OK;
    if (s->wav) {
        fr_status wst = finish_wav(s);
        if (st == FR_OK) st = wst;
    }
    free_speech(s);
    return st;
}
