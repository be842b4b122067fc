/* fuzz_import.c -- PDF/image import (engine/import/lec_import.h): format
 * detection by signature, the header size check before decoding, poppler
 * (PDF) or SDL2_image (PNG, JPEG, GIF, BMP, TIFF, PNM...), gray conversion,
 * then the staff detector on what was decoded. Limits are lowered (800 px a
 * side, 0.25 Mpx, PDFs at 36 dpi, deskew search +-1 degree) so that an input
 * costs milliseconds, not seconds; the size checks are the same code at any
 * limit. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "lec_import.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_temp_file(".page", data, size);
    if (!path)
        return 0;
    lec_import_config cfg;
    lec_import_config_default(&cfg);
    cfg.dpi = 36;
    cfg.max_side_px = 800;
    cfg.max_area_px = 2.5e5;
    cfg.max_skew_deg = 1;
    lec_error err;
    lec_error_clear(&err);
    lec_import_doc *d = lec_import_doc_open(path, &cfg, &err);
    if (!d) {
        fuzz_check_error(err.code, &err, path, "lec_import_doc_open");
        return 0;
    }
    int n = lec_import_doc_n_pages(d);
    for (int i = 0; i < n && i < 3; i++) {
        lec_import_image img = {0};
        char warn[512];
        float dpi = 0;
        lec_status st = lec_import_doc_page(d, i, &img, &dpi, warn, sizeof warn, &err);
        if (st != LEC_OK) {
            fuzz_check_error(st, &err, path, "lec_import_doc_page");
            continue;
        }
        if (img.width_px <= 0 || img.height_px <= 0 || img.width_px > cfg.max_side_px ||
            img.height_px > cfg.max_side_px ||
            (double)img.width_px * img.height_px > cfg.max_area_px)
            abort(); /* the limits must hold for what was decoded */
        lec_import_result res = {0};
        if (lec_import_detect(&img, &cfg, &res, &err) == LEC_OK) {
            for (size_t k = 0; k < res.n_systems; k++)
                if (res.systems[k].first_staff < 0 ||
                    (size_t)(res.systems[k].first_staff + res.systems[k].n_staves) > res.n_staves)
                    abort();
        }
        lec_import_result_free(&res);
        lec_import_image_free(&img);
    }
    lec_import_doc_destroy(d);
    return 0;
}
