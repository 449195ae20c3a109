/* request.c: what handlers read from a request: query arguments, the JSON body, image bytes
 * (multipart, JSON base64 or raw body), decoded within the server's limits. */
#include "serve.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *request_arg(const request *req, const char *key) {
    for (int i = 0; i < req->n_args; i++)
        if (!strcmp(req->arg_keys[i], key)) return req->arg_values[i];
    return NULL;
}

static int is_json_type(const char *type) {
    return !strncasecmp(type, "application/json", 16) || !strncasecmp(type, "text/json", 9);
}

json_t *request_json(request *req, reply *out) {
    if (req->json_parsed) return req->json_body;
    req->json_parsed = 1;
    if (req->post || req->n_parts || req->body.size == 0) return NULL;
    /* JSON by its type, or by its look when no type is given */
    int untyped = !req->content_type[0];
    if (!is_json_type(req->content_type) && !(untyped && (req->body.data[0] == '{' || req->body.data[0] == '[')))
        return NULL;
    json_error_t err;
    req->json_body = json_loadb(req->body.data, req->body.size, JSON_REJECT_DUPLICATES, &err);
    if (!req->json_body) {
        reply_error(out, 400, "malformed JSON body: line %d, column %d: %s", err.line, err.column,
                    err.text);
        req->json_parsed = 2; /* an error was given */
    }
    return req->json_body;
}

static const form_part *find_part(const request *req, const char *field) {
    for (int i = 0; i < req->n_parts; i++)
        if (field ? !strcmp(req->parts[i].field, field) : req->parts[i].filename != NULL)
            return &req->parts[i];
    return NULL;
}

int request_image_bytes(request *req, const char *field, const char *alt_field,
                        const uint8_t **data, size_t *size, uint8_t **owned, reply *out) {
    *owned = NULL;
    if (req->n_parts || req->post) {
        const form_part *part = find_part(req, field);
        if (!part && alt_field) part = find_part(req, alt_field);
        if (!part || part->data.size == 0) {
            reply_error(out, 400, "the form has no image in field '%s'", field);
            return 0;
        }
        *data = (const uint8_t *)part->data.data;
        *size = part->data.size;
        return 1;
    }
    json_t *body = request_json(req, out);
    if (req->json_parsed == 2) return 0;
    if (body) {
        json_t *v = json_object_get(body, field);
        if (!v && alt_field) v = json_object_get(body, alt_field);
        if (!json_is_string(v)) {
            reply_error(out, 400, "the JSON body has no base64 image in '%s'", field);
            return 0;
        }
        const char *text = json_string_value(v);
        size_t len = json_string_length(v);
        const char *comma = strncmp(text, "data:", 5) == 0 ? strchr(text, ',') : NULL;
        if (comma) { /* a data URL, as a browser's FileReader makes */
            len -= (size_t)(comma + 1 - text);
            text = comma + 1;
        }
        if (!base64_decode(text, len, owned, size)) {
            reply_error(out, 400, "'%s' is not valid base64", field);
            return 0;
        }
        *data = *owned;
        return 1;
    }
    if (req->body.size == 0) {
        reply_error(out, 400, "no image: send it as a multipart field '%s', as base64 in a JSON body, "
                              "or as the raw body", field);
        return 0;
    }
    if (strncasecmp(req->content_type, "image/", 6) != 0 &&
        strncasecmp(req->content_type, "application/octet-stream", 24) != 0) {
        reply_error(out, 415, "Content-Type '%s': send an image/* or application/octet-stream "
                              "body, multipart/form-data or application/json",
                    req->content_type);
        return 0;
    }
    *data = (const uint8_t *)req->body.data;
    *size = req->body.size;
    return 1;
}

int decode_image(server *srv, const uint8_t *data, size_t size, fr_image **img, reply *out) {
    fr_status st = fr_image_decode(data, size, "the uploaded image", img);
    if (st == FR_E_LIMIT) {
        reply_error(out, 413, "%s", fr_last_error());
        return 0;
    }
    if (st != FR_OK) {
        reply_error(out, st == FR_E_NOMEM ? 503 : 400, "%s", fr_last_error());
        return 0;
    }
    if ((int64_t)(*img)->width * (*img)->height > srv->opt.max_pixels) {
        reply_error(out, 413, "the image is %dx%d pixels, more than the limit of %lld pixels",
                    (*img)->width, (*img)->height, (long long)srv->opt.max_pixels);
        fr_image_free(*img);
        *img = NULL;
        return 0;
    }
    return 1;
}

fr_image *request_image(server *srv, request *req, const char *field, const char *alt_field,
                        reply *out) {
    const uint8_t *data;
    size_t size;
    uint8_t *owned;
    if (!request_image_bytes(req, field, alt_field, &data, &size, &owned, out)) return NULL;
    fr_image *img = NULL;
    int ok = decode_image(srv, data, size, &img, out);
    free(owned);
    return ok ? img : NULL;
}
