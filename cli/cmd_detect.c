/* cmd_detect.c: facerec detect [--json] [--annotate OUT] IMAGE... */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: facerec detect [options] IMAGE...\n"
    "Find every face: box, score and landmarks (the detector's own 5 points with mtcnn, the\n"
    "default; the landmark net's 68 with the other detectors). Exits 3 if an image had no\n"
    "face (after the others).\n\n"
    "  --json              one JSON object per image, one per line\n"
    "  --annotate OUT      draw the faces on the image and save it (only with one IMAGE)\n"
    "  --crops DIR         save each face, with a margin, as DIR/<image stem>_<n>.jpg\n"
    "  --liveness          score each face as live or an attack (a photo or a screen held\n"
    "                      up to the camera): probability of live, live when >= 0.93\n" CLI_ENGINE_HELP;

static void annotate(fr_image *img, const fr_face *faces, int n) {
    int thick = img->width > 800 ? 3 : 2;
    for (int i = 0; i < n; i++) {
        const fr_face *f = &faces[i];
        fr_image_draw_rect(img, (int)f->x, (int)f->y, (int)f->w, (int)f->h, 0, 255, 0, thick);
        for (int k = 0; k < f->n_landmarks; k++)
            fr_image_draw_rect(img, (int)f->landmarks[k][0] - 1, (int)f->landmarks[k][1] - 1, 3, 3,
                               255, 0, 0, 1);
        char label[32];
        snprintf(label, sizeof label, "%.2f", f->score);
        fr_image_draw_text(img, (int)f->x, (int)f->y - 10 * thick / 2 - 2, label, 0, 255, 0, thick / 2 + 1);
    }
}

/* Each face box grown by a quarter on every side, so that an enrolled crop still has the
 * context a detector needs to find the face again. Returns CLI_OK or an exit status. */
static int save_crops(const fr_image *img, const fr_face *faces, int n, const char *dir,
                      const char *image_path) {
    const char *base = strrchr(image_path, '/');
    base = base ? base + 1 : image_path;
    const char *dot = strrchr(base, '.');
    int stem_len = dot ? (int)(dot - base) : (int)strlen(base);
    int status = CLI_OK;
    for (int i = 0; i < n; i++) {
        const fr_face *f = &faces[i];
        float mx = f->w * 0.25f, my = f->h * 0.25f;
        fr_image *crop;
        fr_status st = fr_image_crop(img, (int)(f->x - mx), (int)(f->y - my), (int)(f->w + 2 * mx),
                                     (int)(f->h + 2 * my), &crop);
        if (st == FR_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%.*s_%d.jpg", dir, stem_len, base, i + 1);
            st = fr_image_save(crop, path, 95);
            fr_image_free(crop);
        }
        if (st != FR_OK) status = cli_combine_status(status, cli_fail(st));
    }
    return status;
}

int cmd_detect(int argc, char **argv) {
    static const struct option options[] = {
        {"json", no_argument, 0, 'j'}, {"annotate", required_argument, 0, 'a'},
        {"crops", required_argument, 0, 'c'}, {"liveness", no_argument, 0, 'l'}, {"help", no_argument, 0, 'h'}, CLI_ENGINE_LONG_OPTIONS, {0, 0, 0, 0}};
    fr_config cfg;
    fr_config_init(&cfg);
    cfg.load_embedder = 0;
    int json = 0;
    const char *annotate_path = NULL, *crops_dir = NULL;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'a': annotate_path = optarg; break;
        case 'c': crops_dir = optarg; break;
        case 'l': cfg.liveness = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default:
            if (cli_parse_engine_option("detect", opt, optarg, &cfg)) return CLI_USAGE;
        }
    }
    if (optind >= argc) return cli_usage_error("detect", "no image given");
    if (annotate_path && argc - optind != 1)
        return cli_usage_error("detect", "--annotate takes exactly one IMAGE");

    fr_engine *eng;
    fr_status st = fr_engine_open(&cfg, &eng);
    if (st != FR_OK) return cli_fail(st);
    int status = CLI_OK;
    for (int a = optind; a < argc; a++) {
        fr_image *img;
        int loaded = cli_load_image(argv[a], &img);
        if (loaded) {
            status = cli_combine_status(status, loaded);
            continue;
        }
        fr_face *faces;
        int n;
        st = fr_detect(eng, img, &faces, &n);
        if (st != FR_OK) {
            status = cli_combine_status(status, cli_fail_file(argv[a], st));
            fr_image_free(img);
            continue;
        }
        if (n == 0) status = cli_combine_status(status, CLI_NO_FACE);
        float *liveness = NULL;
        int live_status = cfg.liveness ? cli_liveness(eng, img, faces, n, &liveness) : CLI_OK;
        if (live_status != CLI_OK) {
            status = cli_combine_status(status, live_status);
            fr_faces_free(faces);
            fr_image_free(img);
            continue;
        }
        if (json) {
            if (!cli_json_image(stdout, argv[a], faces, n, 0, liveness))
                status = cli_combine_status(status, CLI_E_INPUT);
        } else {
            printf("%s: %d face%s\n", argv[a], n, n == 1 ? "" : "s");
            for (int i = 0; i < n; i++) {
                printf("  %2d  box %7.1f %7.1f %7.1f %7.1f  score %.3f", i + 1, faces[i].x,
                       faces[i].y, faces[i].w, faces[i].h, faces[i].score);
                if (liveness) cli_print_liveness(liveness[i]);
                putchar('\n');
            }
        }
        free(liveness);
        if (crops_dir) status = cli_combine_status(status, save_crops(img, faces, n, crops_dir, argv[a]));
        if (annotate_path) {
            annotate(img, faces, n);
            st = fr_image_save(img, annotate_path, 90);
            if (st != FR_OK) status = cli_combine_status(status, cli_fail(st));
        }
        fr_faces_free(faces);
        fr_image_free(img);
    }
    fr_engine_close(eng);
    return status;
}
