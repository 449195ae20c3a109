/* landmark_fit.c: whether 68 points are a face's: their fit to the mean face shape.
 *
 * The mean shape is that of the 68-point net's landmarks on 440 detected, unlit faces of the
 * relit set's tune half (tests/reference/mean_shape68.py: each shape centred and scaled to a
 * root-mean-square radius of 1, aligned by generalised Procrustes, made upright). */
#include "face/face.h"

#include <math.h>

static const float mean_shape[68][2] = {
    {-1.4129f, -0.6987f}, {-1.3725f, -0.3253f}, {-1.3079f, 0.0243f}, {-1.2347f, 0.3220f},
    {-1.1175f, 0.6585f}, {-0.9266f, 0.9130f}, {-0.6967f, 1.0916f}, {-0.4019f, 1.2751f},
    {0.0260f, 1.3765f}, {0.4399f, 1.2671f}, {0.6968f, 1.1013f}, {0.9021f, 0.9358f},
    {1.0796f, 0.6601f}, {1.2076f, 0.3308f}, {1.2666f, 0.0148f}, {1.3246f, -0.3171f},
    {1.3369f, -0.6766f}, {-1.0878f, -0.9952f}, {-0.9153f, -1.0933f}, {-0.7086f, -1.1198f},
    {-0.5136f, -1.1020f}, {-0.3392f, -1.0419f}, {0.3419f, -1.0369f}, {0.5070f, -1.0956f},
    {0.6977f, -1.1202f}, {0.9109f, -1.0932f}, {1.0613f, -1.0024f}, {-0.0027f, -0.6714f},
    {0.0054f, -0.4300f}, {0.0091f, -0.2025f}, {-0.0013f, 0.0033f}, {-0.2164f, 0.1259f},
    {-0.1191f, 0.1659f}, {0.0043f, 0.1926f}, {0.1330f, 0.1566f}, {0.2301f, 0.1337f},
    {-0.8167f, -0.7298f}, {-0.6914f, -0.7683f}, {-0.5222f, -0.7743f}, {-0.3697f, -0.6945f},
    {-0.4966f, -0.6378f}, {-0.6809f, -0.6514f}, {0.3495f, -0.6958f}, {0.5070f, -0.7797f},
    {0.6842f, -0.7729f}, {0.7952f, -0.7126f}, {0.6756f, -0.6403f}, {0.4955f, -0.6548f},
    {-0.4881f, 0.5603f}, {-0.3103f, 0.4790f}, {-0.0991f, 0.4266f}, {0.0114f, 0.4450f},
    {0.1164f, 0.4177f}, {0.3444f, 0.4922f}, {0.5214f, 0.5647f}, {0.3368f, 0.7023f},
    {0.1830f, 0.7774f}, {0.0117f, 0.7986f}, {-0.1412f, 0.7795f}, {-0.3108f, 0.7145f},
    {-0.4625f, 0.5642f}, {-0.1500f, 0.5348f}, {0.0094f, 0.5371f}, {0.1626f, 0.5416f},
    {0.4795f, 0.5627f}, {0.1658f, 0.6208f}, {0.0175f, 0.6390f}, {-0.1332f, 0.6273f},
};

void landmark_fit(const float points[68][2], landmark_fit_result *fit) {
    double cx = 0, cy = 0;
    for (int i = 0; i < 68; i++) cx += points[i][0], cy += points[i][1];
    cx /= 68, cy /= 68;
    double ms = 0;
    for (int i = 0; i < 68; i++) {
        double x = points[i][0] - cx, y = points[i][1] - cy;
        ms += x * x + y * y;
    }
    double radius = sqrt(ms / 68);
    fit->radius = (float)radius;
    fit->drift = 0; /* measured by the caller, who has the network */
    if (!(radius > 0)) { /* all points in one place */
        fit->residual = 1, fit->angle = 0, fit->drift = 0;
        return;
    }
    /* both shapes of unit radius: the best rotation and scale leave 1 - (a^2 + b^2) of the
     * mean square, a and b the correlations below (Procrustes in the plane) */
    double a = 0, b = 0;
    for (int i = 0; i < 68; i++) {
        double x = (points[i][0] - cx) / radius, y = (points[i][1] - cy) / radius;
        a += x * mean_shape[i][0] + y * mean_shape[i][1];
        b += x * mean_shape[i][1] - y * mean_shape[i][0];
    }
    a /= 68, b /= 68;
    double left = 1 - (a * a + b * b);
    fit->residual = (float)sqrt(left > 0 ? left : 0);
    /* the rotation taking the points onto the mean shape, as the points' tilt (degrees) */
    fit->angle = (float)(-atan2(b, a) * 180 / 3.14159265358979323846);
}
