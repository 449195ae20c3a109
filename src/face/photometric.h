/* photometric.h: photometric normalisation of an aligned face crop, before it is embedded,
 * for faces under hard light (a lamp from the side, underexposure). Chosen by name
 * (fr_config.photometric):
 *
 *   none        the crop as it is (the default)
 *   histeq      histogram equalisation of the luminance (Y of BT.601) over the crop, each
 *               pixel's R, G, B scaled by its new Y over its old (colour kept)
 *   tan-triggs  Tan and Triggs's illumination normalisation of the luminance (IEEE TIP 2010:
 *               gamma 0.2, taken of Y + 1 so that black pixels stay off the infinite slope of
 *               Y^0.2 at 0; difference of Gaussians sigma 1 and 2, edges repeated; contrast
 *               equalisation with alpha 0.1 and tau 10, then tau * tanh(x / tau)), mapped to
 *               0..255 and written to R, G and B alike
 *
 * Both are checked against a NumPy reference (tests/reference/photometric.py,
 * tests/reference/README_PHOTOMETRIC.md).
 */
#ifndef FR_FACE_PHOTOMETRIC_H
#define FR_FACE_PHOTOMETRIC_H

#include "facerec.h"

typedef enum photometric_kind { PHOTOMETRIC_NONE = 0, PHOTOMETRIC_HISTEQ, PHOTOMETRIC_TAN_TRIGGS } photometric_kind;

/* The kind of a name (NULL: none); FR_E_ARG naming the known ones otherwise. */
fr_status photometric_find(const char *name, photometric_kind *kind);
const char *photometric_name(photometric_kind kind);

/* Normalise crop in place. scratch holds 3 * width * height floats. */
void photometric_apply(photometric_kind kind, fr_image *crop, float *scratch);

#endif
