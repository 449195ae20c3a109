/* augment.c: random changes of a face for training: the face shifted and scaled in its crop
 * (as a less exact alignment would place it), mirrored, brighter or darker. */
#include "train/train_internal.h"

#include "face/face.h"

#include <math.h>

void train_augment_defaults(train_augment_config *cfg) {
    cfg->copies = 2;
    cfg->shift = 0.05f;
    cfg->scale = 0.05f;
    cfg->brightness = 0.2f;
}

void train_augment_draw(const train_augment_config *cfg, train_rng *rng, train_augmentation *a) {
    a->mirror = train_rng_below(rng, 2);
    a->dx = train_rng_uniform(rng, -cfg->shift, cfg->shift);
    a->dy = train_rng_uniform(rng, -cfg->shift, cfg->shift);
    a->scale = train_rng_uniform(rng, 1.0f - cfg->scale, 1.0f + cfg->scale);
    a->brightness = train_rng_uniform(rng, 1.0f - cfg->brightness, 1.0f + cfg->brightness);
}

fr_status train_augmented_crop(const fr_engine *eng, const fr_image *img, const fr_face *face,
                               const train_augmentation *a, fr_image **crop) {
    *crop = NULL;
    /* Moving the points the alignment reads by (dx, dy) moves the crop window, and the face
     * the other way in it; spreading them by 1/scale about their centre grows the window, so
     * the face fills scale times its share of the crop. */
    fr_face moved = *face;
    float cx = 0.0f, cy = 0.0f;
    for (int i = 0; i < face->n_landmarks; i++) {
        cx += face->landmarks[i][0];
        cy += face->landmarks[i][1];
    }
    if (face->n_landmarks > 0) {
        cx /= (float)face->n_landmarks;
        cy /= (float)face->n_landmarks;
    } else {
        cx = face->x + 0.5f * face->w;
        cy = face->y + 0.5f * face->h;
    }
    float spread = 1.0f / a->scale, tx = -a->dx * face->w, ty = -a->dy * face->h;
    for (int i = 0; i < face->n_landmarks; i++) {
        moved.landmarks[i][0] = cx + (face->landmarks[i][0] - cx) * spread + tx;
        moved.landmarks[i][1] = cy + (face->landmarks[i][1] - cy) * spread + ty;
    }
    moved.x = cx + (face->x - cx) * spread + tx;
    moved.y = cy + (face->y - cy) * spread + ty;
    moved.w = face->w * spread;
    moved.h = face->h * spread;

    fr_image *aligned;
    fr_status st = fr_engine_align(eng, img, &moved, &aligned);
    if (st != FR_OK) return st;
    if (a->mirror) {
        fr_image *mirrored;
        st = fr_image_mirror(aligned, &mirrored);
        fr_image_free(aligned);
        if (st != FR_OK) return st;
        aligned = mirrored;
    }
    size_t n = (size_t)aligned->width * aligned->height * 3;
    for (size_t i = 0; i < n; i++) {
        float v = roundf((float)aligned->rgb[i] * a->brightness);
        aligned->rgb[i] = (uint8_t)FR_CLAMP(v, 0.0f, 255.0f);
    }
    *crop = aligned;
    return FR_OK;
}
