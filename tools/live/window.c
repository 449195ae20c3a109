/* window.c: the preview window (SDL2): frames with their boxes and names; ESC or q quits. */
#include "live/live.h"

#include "common/common.h"

#include <SDL2/SDL.h>

#include <stdlib.h>

struct live_window {
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;
    int texture_w, texture_h;
};

int live_window_display_available(void) {
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    return (x11 && *x11) || (wayland && *wayland);
}

fr_status live_window_open(const char *title, int width, int height, live_window **out) {
    *out = NULL;
    if (!live_window_display_available())
        return fr_error(FR_E_UNSUPPORTED, "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)");
    if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0)
        return fr_error(FR_E_UNSUPPORTED, "cannot open a window: %s", SDL_GetError());
    live_window *w = calloc(1, sizeof *w);
    if (!w) {
        SDL_QuitSubSystem(SDL_INIT_VIDEO);
        return fr_error(FR_E_NOMEM, "out of memory for the window");
    }
    w->window = SDL_CreateWindow(title, SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, width,
                                 height, SDL_WINDOW_RESIZABLE);
    if (w->window) w->renderer = SDL_CreateRenderer(w->window, -1, 0);
    if (!w->renderer) {
        fr_status st = fr_error(FR_E_UNSUPPORTED, "cannot open a window: %s", SDL_GetError());
        live_window_close(w);
        return st;
    }
    *out = w;
    return FR_OK;
}

void live_window_close(live_window *w) {
    if (!w) return;
    if (w->texture) SDL_DestroyTexture(w->texture);
    if (w->renderer) SDL_DestroyRenderer(w->renderer);
    if (w->window) SDL_DestroyWindow(w->window);
    free(w);
    SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

fr_status live_window_show(live_window *w, const fr_image *frame) {
    if (!w->texture || w->texture_w != frame->width || w->texture_h != frame->height) {
        if (w->texture) SDL_DestroyTexture(w->texture);
        w->texture = SDL_CreateTexture(w->renderer, SDL_PIXELFORMAT_RGB24,
                                       SDL_TEXTUREACCESS_STREAMING, frame->width, frame->height);
        if (!w->texture)
            return fr_error(FR_E_UNSUPPORTED, "window: cannot make a %dx%d texture: %s",
                            frame->width, frame->height, SDL_GetError());
        w->texture_w = frame->width;
        w->texture_h = frame->height;
    }
    if (SDL_UpdateTexture(w->texture, NULL, frame->rgb, 3 * frame->width) != 0 ||
        SDL_RenderClear(w->renderer) != 0 ||
        SDL_RenderCopy(w->renderer, w->texture, NULL, NULL) != 0)
        return fr_error(FR_E_IO, "window: cannot draw the frame: %s", SDL_GetError());
    SDL_RenderPresent(w->renderer);
    return FR_OK;
}

int live_window_poll_quit(live_window *w) {
    (void)w;
    SDL_Event e;
    int quit = 0;
    while (SDL_PollEvent(&e)) {
        if (e.type == SDL_QUIT) quit = 1;
        if (e.type == SDL_KEYDOWN &&
            (e.key.keysym.sym == SDLK_ESCAPE || e.key.keysym.sym == SDLK_q))
            quit = 1;
    }
    return quit;
}
