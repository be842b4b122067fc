/* lec_import_doc.c -- input documents: a PDF (poppler-glib, rendered with
 * cairo) or one image (SDL2_image), as gray pages.
 *
 * Sizes are checked before anything big is allocated: a PDF page's size in
 * points is known before rendering, so an oversized page is rendered at a
 * lower dpi (with a warning); an image's size is read from its file header
 * (PNG IHDR, JPEG SOF, BMP, PNM, TIFF IFD; GIF is refused), so an oversized image is
 * refused before SDL2_image decodes it (a 20000 x 20000 px PNG of white paper
 * is a few kB on disk but 1.6 GB decoded). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL.h>
#include <SDL_image.h>
#include <cairo.h>
#include <poppler.h>

#include "lec_import.h"

struct lec_import_doc {
    char path[4096];
    lec_import_config cfg;
    PopplerDocument *pdf; /* NULL for an image */
    int n_pages;
    int img_w, img_h;     /* image size from its header */
};

void lec_import_config_default(lec_import_config *cfg)
{
    cfg->dpi = 150;
    cfg->password = NULL;
    cfg->max_side_px = LEC_IMPORT_MAX_SIDE_PX;
    cfg->max_area_px = LEC_IMPORT_MAX_AREA_PX;
    cfg->max_skew_deg = 3;
    cfg->clean_page = 1;
}

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint32_t le32(const uint8_t *p) { return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0]; }
static unsigned be16(const uint8_t *p) { return (unsigned)p[0] << 8 | p[1]; }
static unsigned le16(const uint8_t *p) { return (unsigned)p[1] << 8 | p[0]; }

/* PNM header: magic, then width and height as ASCII with '#' comments */
static int pnm_size(const uint8_t *b, size_t n, long *w, long *h)
{
    size_t i = 2;
    long v[2];
    for (int k = 0; k < 2; k++) {
        for (;;) {
            while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n'))
                i++;
            if (i < n && b[i] == '#') {
                while (i < n && b[i] != '\n')
                    i++;
                continue;
            }
            break;
        }
        if (i >= n || b[i] < '0' || b[i] > '9')
            return 0;
        long x = 0;
        while (i < n && b[i] >= '0' && b[i] <= '9' && x < 100000000)
            x = x * 10 + (b[i++] - '0');
        v[k] = x;
    }
    *w = v[0];
    *h = v[1];
    return 1;
}

/* TIFF: first IFD's ImageWidth (256) and ImageLength (257) */
static int tiff_size(FILE *f, const uint8_t *b, long *w, long *h)
{
    int le = b[0] == 'I';
    uint32_t off = le ? le32(b + 4) : be32(b + 4);
    uint8_t e[12], c[2];
    if (fseek(f, (long)off, SEEK_SET) != 0 || fread(c, 1, 2, f) != 2)
        return 0;
    unsigned n = le ? le16(c) : be16(c);
    *w = *h = -1;
    for (unsigned i = 0; i < n && i < 1000; i++) {
        if (fread(e, 1, 12, f) != 12)
            return 0;
        unsigned tag = le ? le16(e) : be16(e), type = le ? le16(e + 2) : be16(e + 2);
        long v = type == 3 ? (long)(le ? le16(e + 8) : be16(e + 8))
                           : (long)(le ? le32(e + 8) : be32(e + 8));
        if (tag == 256)
            *w = v;
        else if (tag == 257)
            *h = v;
    }
    return *w > 0 && *h > 0;
}

/* JPEG: walk the markers to the first SOFn (C0..CF except C4, C8, CC) */
static int jpeg_size(FILE *f, long *w, long *h)
{
    uint8_t m[4];
    if (fseek(f, 2, SEEK_SET) != 0)
        return 0;
    for (int guard = 0; guard < 10000; guard++) {
        if (fread(m, 1, 2, f) != 2 || m[0] != 0xFF)
            return 0;
        while (m[1] == 0xFF)
            if (fread(m + 1, 1, 1, f) != 1)
                return 0;
        uint8_t t = m[1];
        if (t == 0xD8 || (t >= 0xD0 && t <= 0xD7) || t == 0x01)
            continue; /* markers without a length */
        if (fread(m, 1, 2, f) != 2)
            return 0;
        unsigned len = be16(m);
        if (len < 2)
            return 0;
        if (t >= 0xC0 && t <= 0xCF && t != 0xC4 && t != 0xC8 && t != 0xCC) {
            uint8_t s[5];
            if (fread(s, 1, 5, f) != 5)
                return 0;
            *h = be16(s + 1);
            *w = be16(s + 3);
            return 1;
        }
        if (fseek(f, (long)len - 2, SEEK_CUR) != 0)
            return 0;
    }
    return 0;
}

/* Image size from the header; 0 with a message if unknown or unreadable. */
static lec_status image_size(const char *path, long *w, long *h, lec_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return lec_error_set(err, LEC_EIO, "%s: cannot open", path);
    uint8_t b[64];
    size_t n = fread(b, 1, sizeof b, f);
    int ok = 0;
    const char *kind = "unknown";
    *w = *h = -1;
    if (n >= 24 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0) {
        kind = "PNG";
        *w = (long)be32(b + 16);
        *h = (long)be32(b + 20);
        ok = 1;
    } else if (n >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) {
        kind = "JPEG";
        ok = jpeg_size(f, w, h);
    } else if (n >= 6 && (memcmp(b, "GIF87a", 6) == 0 || memcmp(b, "GIF89a", 6) == 0)) {
        /* Refused: SDL2_image 2.6's GIF decoder writes out of bounds on damaged
         * files (found by tests/fuzz/fuzz_import, confirmed with valgrind), and
         * no scanner or engraver produces GIF sheet music. */
        fclose(f);
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "%s: GIF images are not accepted (their decoder is unsafe on damaged "
                             "files); convert the page to PNG",
                             path);
    } else if (n >= 26 && b[0] == 'B' && b[1] == 'M') {
        kind = "BMP";
        *w = (long)(int32_t)le32(b + 18);
        *h = labs((long)(int32_t)le32(b + 22));
        ok = 1;
    } else if (n >= 8 && ((b[0] == 'I' && b[1] == 'I' && b[2] == 42 && b[3] == 0) ||
                          (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && b[3] == 42))) {
        kind = "TIFF";
        ok = tiff_size(f, b, w, h);
    } else if (n >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6') {
        kind = "PNM";
        ok = pnm_size(b, n, w, h);
    } else {
        fclose(f);
        return lec_error_set(err, LEC_EUNSUPPORTED,
                             "%s: not a PDF and not an image format we read (PNG, JPEG, TIFF, "
                             "BMP, PNM)",
                             path);
    }
    fclose(f);
    if (!ok || *w <= 0 || *h <= 0)
        return lec_error_set(err, LEC_EFORMAT, "%s: broken %s header (no image size)", path, kind);
    return LEC_OK;
}

static int is_pdf(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char b[1025];
    size_t n = fread(b, 1, 1024, f);
    fclose(f);
    b[n] = 0;
    /* the header may follow some junk within the first 1024 bytes */
    return memmem(b, n, "%PDF-", 5) != NULL;
}

lec_import_doc *lec_import_doc_open(const char *path, const lec_import_config *cfg,
                                    lec_error *err)
{
    lec_import_doc *d = calloc(1, sizeof *d);
    if (!d) {
        lec_error_set(err, LEC_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    snprintf(d->path, sizeof d->path, "%s", path);
    if (cfg)
        d->cfg = *cfg;
    else
        lec_import_config_default(&d->cfg);
    if (d->cfg.max_side_px <= 0 || d->cfg.max_side_px > LEC_IMPORT_MAX_SIDE_PX)
        d->cfg.max_side_px = LEC_IMPORT_MAX_SIDE_PX;
    if (!(d->cfg.max_area_px > 0) || d->cfg.max_area_px > LEC_IMPORT_MAX_AREA_PX)
        d->cfg.max_area_px = LEC_IMPORT_MAX_AREA_PX;
    if (!(d->cfg.dpi >= 10 && d->cfg.dpi <= 1200)) {
        lec_error_set(err, LEC_EINVAL, "%s: dpi %g out of range [10, 1200]", path, d->cfg.dpi);
        goto bad;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        lec_error_set(err, LEC_EIO, "%s: cannot open", path);
        goto bad;
    }
    fclose(f);
    if (is_pdf(path)) {
        char *abs = realpath(path, NULL);
        GError *ge = NULL;
        char *uri = abs ? g_filename_to_uri(abs, NULL, &ge) : NULL;
        free(abs);
        if (!uri) {
            lec_error_set(err, LEC_EIO, "%s: cannot make a file URI%s%s", path, ge ? ": " : "",
                          ge ? ge->message : "");
            if (ge)
                g_error_free(ge);
            goto bad;
        }
        d->pdf = poppler_document_new_from_file(uri, d->cfg.password, &ge);
        g_free(uri);
        if (!d->pdf) {
            if (ge && ge->domain == POPPLER_ERROR && ge->code == POPPLER_ERROR_ENCRYPTED)
                lec_error_set(err, LEC_EUNSUPPORTED,
                              d->cfg.password
                                  ? "%s: the PDF is encrypted and the password given is wrong"
                                  : "%s: the PDF is encrypted (password-protected); give its "
                                    "password with --password",
                              path);
            else
                lec_error_set(err, LEC_EFORMAT, "%s: not a readable PDF: %s", path,
                              ge ? ge->message : "unknown poppler error");
            if (ge)
                g_error_free(ge);
            goto bad;
        }
        d->n_pages = poppler_document_get_n_pages(d->pdf);
        if (d->n_pages <= 0) {
            lec_error_set(err, LEC_EFORMAT, "%s: the PDF has no pages", path);
            goto bad;
        }
        return d;
    }
    long w = 0, h = 0;
    if (image_size(path, &w, &h, err))
        goto bad;
    if (w > d->cfg.max_side_px || h > d->cfg.max_side_px || (double)w * h > d->cfg.max_area_px) {
        lec_error_set(err, LEC_EUNSUPPORTED,
                      "%s: the image is %ldx%ld px, beyond the limit of %d px a side and %.0f "
                      "Mpx; scale it to 150-300 dpi first (e.g. a page is 1240x1754 px at 150 dpi)",
                      path, w, h, d->cfg.max_side_px, d->cfg.max_area_px / 1e6);
        goto bad;
    }
    d->img_w = (int)w;
    d->img_h = (int)h;
    d->n_pages = 1;
    return d;
bad:
    lec_import_doc_destroy(d);
    return NULL;
}

int lec_import_doc_n_pages(const lec_import_doc *d) { return d->n_pages; }
int lec_import_doc_is_pdf(const lec_import_doc *d) { return d->pdf != NULL; }

void lec_import_doc_destroy(lec_import_doc *d)
{
    if (!d)
        return;
    if (d->pdf)
        g_object_unref(d->pdf);
    free(d);
}

static lec_status render_pdf_page(lec_import_doc *d, int i, lec_import_image *out, float *dpi_out,
                                  char *warn, size_t warn_cap, lec_error *err)
{
    PopplerPage *pg = poppler_document_get_page(d->pdf, i);
    if (!pg)
        return lec_error_set(err, LEC_EFORMAT, "%s: page %d cannot be read", d->path, i + 1);
    double wpt = 0, hpt = 0;
    poppler_page_get_size(pg, &wpt, &hpt);
    if (!(wpt > 0 && hpt > 0 && wpt < 1e6 && hpt < 1e6)) {
        g_object_unref(pg);
        return lec_error_set(err, LEC_EFORMAT, "%s: page %d has an invalid size %gx%g pt",
                             d->path, i + 1, wpt, hpt);
    }
    double dpi = d->cfg.dpi;
    double wpx = wpt * dpi / 72, hpx = hpt * dpi / 72;
    double f = fmin(d->cfg.max_side_px / fmax(wpx, hpx), sqrt(d->cfg.max_area_px / (wpx * hpx)));
    if (f < 1) {
        double dpi2 = floor(dpi * f * 100) / 100;
        if (warn)
            snprintf(warn, warn_cap,
                     "%s: page %d is %.0fx%.0f pt (%.0fx%.0f px at %g dpi), beyond the limit of "
                     "%d px a side and %.0f Mpx: rendered at %.2f dpi instead",
                     d->path, i + 1, wpt, hpt, wpx, hpx, dpi, d->cfg.max_side_px,
                     d->cfg.max_area_px / 1e6, dpi2);
        dpi = dpi2;
        if (dpi < 1) {
            g_object_unref(pg);
            return lec_error_set(err, LEC_EUNSUPPORTED, "%s: page %d is absurdly large (%gx%g pt)",
                                 d->path, i + 1, wpt, hpt);
        }
    }
    int w = (int)ceil(wpt * dpi / 72 - 1e-6), h = (int)ceil(hpt * dpi / 72 - 1e-6);
    lec_status st = lec_import_image_alloc(out, w, h, err);
    if (st) {
        g_object_unref(pg);
        return lec_error_prefix(err, "%s: page %d: ", d->path, i + 1);
    }
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        cairo_surface_destroy(s);
        g_object_unref(pg);
        lec_import_image_free(out);
        return lec_error_set(err, LEC_ENOMEM, "%s: page %d: cannot create a %dx%d px surface",
                             d->path, i + 1, w, h);
    }
    cairo_t *cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_scale(cr, dpi / 72, dpi / 72);
    poppler_page_render(pg, cr);
    cairo_destroy(cr);
    cairo_surface_flush(s);
    const uint8_t *px = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < h; y++) {
        const uint32_t *row = (const uint32_t *)(px + (size_t)y * stride);
        for (int x = 0; x < w; x++) {
            uint32_t v = row[x];
            double l = 0.299 * ((v >> 16) & 255) + 0.587 * ((v >> 8) & 255) + 0.114 * (v & 255);
            out->gray[(size_t)y * w + x] = (uint8_t)lround(l);
        }
    }
    cairo_surface_destroy(s);
    g_object_unref(pg);
    if (dpi_out)
        *dpi_out = (float)dpi;
    return LEC_OK;
}

static lec_status load_image(lec_import_doc *d, lec_import_image *out, lec_error *err)
{
    SDL_Surface *img = IMG_Load(d->path);
    if (!img)
        return lec_error_set(err, LEC_EFORMAT, "%s: cannot decode the image: %s", d->path,
                             IMG_GetError());
    if (img->w != d->img_w || img->h != d->img_h) {
        lec_error_set(err, LEC_EFORMAT, "%s: decoded %dx%d px but the header says %dx%d", d->path,
                      img->w, img->h, d->img_w, d->img_h);
        SDL_FreeSurface(img);
        return LEC_EFORMAT;
    }
    SDL_Surface *rgba = SDL_ConvertSurfaceFormat(img, SDL_PIXELFORMAT_RGBA32, 0);
    SDL_FreeSurface(img);
    if (!rgba)
        return lec_error_set(err, LEC_EFORMAT, "%s: cannot convert the image: %s", d->path,
                             SDL_GetError());
    lec_status st = lec_import_image_alloc(out, rgba->w, rgba->h, err);
    if (st) {
        SDL_FreeSurface(rgba);
        return lec_error_prefix(err, "%s: ", d->path);
    }
    for (int y = 0; y < rgba->h; y++) {
        const uint8_t *row = (const uint8_t *)rgba->pixels + (size_t)y * (size_t)rgba->pitch;
        for (int x = 0; x < rgba->w; x++) {
            const uint8_t *p = row + 4 * x;
            /* Rec. 601 luma, composited on white paper by alpha (as lec_unroll) */
            double a = p[3] / 255.0;
            double l = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
            out->gray[(size_t)y * rgba->w + x] = (uint8_t)lround(a * l + (1 - a) * 255);
        }
    }
    SDL_FreeSurface(rgba);
    return LEC_OK;
}

lec_status lec_import_doc_page(lec_import_doc *d, int i, lec_import_image *out, float *dpi_out,
                               char *warn, size_t warn_cap, lec_error *err)
{
    if (warn && warn_cap)
        warn[0] = 0;
    if (dpi_out)
        *dpi_out = 0;
    if (i < 0 || i >= d->n_pages)
        return lec_error_set(err, LEC_EINVAL, "%s: no page %d (it has %d)", d->path, i + 1,
                             d->n_pages);
    if (d->pdf)
        return render_pdf_page(d, i, out, dpi_out, warn, warn_cap, err);
    return load_image(d, out, err);
}
