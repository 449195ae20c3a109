/* liveness_speed: how long the liveness stage takes, per face and in the live pipeline.
 *
 *   liveness_speed [--models DIR] [--repeat N] [IMAGE]
 *
 * IMAGE (default: face-api's demo sample1.jpg, 3 faces) is resized to 640x480, the frame size
 * of `facerec watch`. With 1 and then 2 threads it times, as the median of N runs (default
 * 15) after 2 warm-up runs: MTCNN's detection of the frame (the detector `watch
 * --require-live` uses), the liveness network per face (fr_liveness on every face found,
 * divided by their number), and a whole frame of the live pipeline's liveness work: detect,
 * then liveness for every face. Its frames per second are those of `watch --require-live`
 * on frames where every face is judged (tracks are embedded, and judged, until they settle,
 * then every 10th frame; embedding, which the pipeline does without liveness too, is not
 * included). With one thread the same figures are also given in CPU time of the calling
 * thread, which a busy machine disturbs much less than wall time. Standalone so that it does
 * not depend on `facerec bench`'s layout. */
#include "facerec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "timing.h"


static int fail(const char *what) {
    fprintf(stderr, "liveness_speed: %s: %s\n", what, fr_last_error());
    return 1;
}

int main(int argc, char **argv) {
    const char *models = NULL, *image = NULL;
    int repeat = 15;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--models") && i + 1 < argc) models = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (argv[i][0] != '-' && !image) image = argv[i];
        else {
            fprintf(stderr, "usage: liveness_speed [--models DIR] [--repeat N] [IMAGE]\n");
            return 2;
        }
    }
    if (repeat < 1 || repeat > 10000) {
        fprintf(stderr, "liveness_speed: --repeat wants 1..10000\n");
        return 2;
    }
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.models_dir = models;
    cfg.detector = "mtcnn";
    cfg.load_embedder = 0;
    cfg.liveness = 1;
    fr_engine *engines[2]; /* on 1 and 2 threads */
    for (int t = 0; t < 2; t++) {
        cfg.threads = t + 1;
        if (fr_engine_open(&cfg, &engines[t]) != FR_OK) return fail("opening the engine");
    }
    fr_engine *eng = engines[0];
    char path[4096];
    if (!image) {
        const char *dir = models ? models : getenv("FACEREC_MODELS");
        snprintf(path, sizeof path, "%s/face-api/demo/sample1.jpg", dir ? dir : "models");
        image = path;
    }
    fr_image *photo, *frame;
    if (fr_image_load(image, &photo) != FR_OK) return fail(image);
    if (fr_image_resize(photo, 640, 480, &frame) != FR_OK) return fail("resizing");
    fr_image_free(photo);
    fr_face *faces;
    int n;
    if (fr_detect(eng, frame, &faces, &n) != FR_OK) return fail("detecting");
    if (n == 0) {
        fprintf(stderr, "liveness_speed: %s: no face in the 640x480 frame\n", image);
        return 1;
    }
    float *scores = malloc((size_t)n * sizeof *scores);
    double *t_detect = malloc((size_t)repeat * sizeof(double));
    double *t_live = malloc((size_t)repeat * sizeof(double));
    double *t_frame = malloc((size_t)repeat * sizeof(double));
    if (!scores || !t_detect || !t_live || !t_frame) {
        fprintf(stderr, "liveness_speed: out of memory\n");
        return 1;
    }
    printf("liveness_speed: median of %d runs after 2 warm-up runs; %s resized to 640x480, "
           "%d faces (MTCNN)\n", repeat, image, n);
    printf("threads  time  MTCNN detect ms  liveness ms/face  detect+liveness ms/frame  fps\n");
    /* wall time with 1 and 2 threads, then CPU time with 1 */
    for (int round = 0; round < 3; round++) {
        int threads = round == 1 ? 2 : 1;
        clockid_t clock = round == 2 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
        eng = engines[threads - 1];
        for (int r = -2; r < repeat; r++) {
            fr_face *found;
            int n_found;
            double t0 = clock_ms(clock);
            if (fr_detect(eng, frame, &found, &n_found) != FR_OK) return fail("detecting");
            double t1 = clock_ms(clock);
            if (fr_liveness(eng, frame, faces, n, scores) != FR_OK) return fail("liveness");
            double t2 = clock_ms(clock);
            fr_faces_free(found);
            if (r < 0) continue;
            t_detect[r] = t1 - t0;
            t_live[r] = (t2 - t1) / n;
            t_frame[r] = t2 - t0;
        }
        double frame_ms = median(t_frame, repeat);
        printf("%7d  %4s  %15.2f  %16.2f  %24.2f  %5.1f\n", threads, round == 2 ? "cpu" : "wall",
               median(t_detect, repeat),
               median(t_live, repeat), frame_ms, 1000.0 / frame_ms);
    }
    free(scores);
    free(t_detect);
    free(t_live);
    free(t_frame);
    fr_faces_free(faces);
    fr_image_free(frame);
    for (int t = 0; t < 2; t++) fr_engine_close(engines[t]);
    return 0;
}
