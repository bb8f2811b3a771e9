// Thin C layer over nifticlib: plain structs in, plain structs out, an int status and a message.
#include "cnifti.h"
#include "/usr/include/nifti/nifti1_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *what, const char *path) {
    if (err && errlen) snprintf(err, errlen, "%s%s%s", what, path ? ": " : "", path ? path : "");
    return -1;
}

static void header_from_nim(const nifti_image *nim, cnifti_header *h) {
    memset(h, 0, sizeof *h);
    h->dim[0] = nim->nx;
    h->dim[1] = nim->ny > 0 ? nim->ny : 1;
    h->dim[2] = nim->nz > 0 ? nim->nz : 1;
    h->datatype = nim->datatype;
    h->bytes_per_voxel = nim->nbyper;
    h->pixdim[0] = nim->dx;
    h->pixdim[1] = nim->dy;
    h->pixdim[2] = nim->dz;
    h->qform_code = nim->qform_code;
    h->sform_code = nim->sform_code;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            h->qto_xyz[r][c] = nim->qto_xyz.m[r][c];
            h->sto_xyz[r][c] = nim->sto_xyz.m[r][c];
        }
    h->scl_slope = nim->scl_slope;
    h->scl_inter = nim->scl_inter;
    h->xyz_units = nim->xyz_units;
    memcpy(h->descrip, nim->descrip, sizeof h->descrip);
    h->descrip[sizeof h->descrip - 1] = 0;
}

// Builds a header-only nifti_image (data NULL) from our header: sform from sto_xyz, qform
// from qto_xyz through nifticlib's own quaternion conversion.
static nifti_image *nim_from_header(const cnifti_header *h) {
    int dims[8] = {3, h->dim[0], h->dim[1], h->dim[2], 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, h->datatype, 0);
    if (!nim) return NULL;
    nim->dx = nim->pixdim[1] = h->pixdim[0];
    nim->dy = nim->pixdim[2] = h->pixdim[1];
    nim->dz = nim->pixdim[3] = h->pixdim[2];
    nim->scl_slope = h->scl_slope;
    nim->scl_inter = h->scl_inter;
    nim->xyz_units = h->xyz_units ? h->xyz_units : NIFTI_UNITS_MM;
    nim->qform_code = h->qform_code;
    nim->sform_code = h->sform_code;
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            nim->sto_xyz.m[r][c] = (float)h->sto_xyz[r][c];
            nim->qto_xyz.m[r][c] = (float)h->qto_xyz[r][c];
        }
    float dx, dy, dz;
    nifti_mat44_to_quatern(nim->qto_xyz, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d,
                           &nim->qoffset_x, &nim->qoffset_y, &nim->qoffset_z, &dx, &dy, &dz, &nim->qfac);
    nim->pixdim[0] = nim->qfac;
    strncpy(nim->descrip, h->descrip, sizeof nim->descrip - 1);
    nim->nifti_type = NIFTI_FTYPE_NIFTI1_1;
    return nim;
}

// The checks nifticlib makes of a header, made quietly: nifti_image_read prints "** ERROR"
// lines on stderr for a bad header whatever the debug level. Swaps nhdr to native order.
static int check_header(struct nifti_1_header *nhdr, int *swapped, char *err, size_t errlen, const char *path) {
    *swapped = 0;
    if (nhdr->sizeof_hdr != 348) {
        if (nhdr->sizeof_hdr == 540) return fail(err, errlen, "a NIfTI-2 file (only NIfTI-1 is read)", path);
        swap_nifti_header(nhdr, 1);
        if (nhdr->sizeof_hdr != 348) return fail(err, errlen, "not a NIfTI-1 header (sizeof_hdr is not 348)", path);
        *swapped = 1;
    }
    if (memcmp(nhdr->magic, "n+1", 4) != 0) return fail(err, errlen, "not a single-file NIfTI-1 image (magic is not n+1)", path);
    if (nhdr->dim[0] < 1 || nhdr->dim[0] > 7) return fail(err, errlen, "NIfTI-1 header has a bad dim[0] (not 1...7)", path);
    if (!nifti_hdr_looks_good(nhdr)) return fail(err, errlen, "NIfTI-1 header fails nifticlib's checks", path);
    return 0;
}

// Reads and checks the header of a .nii or .nii.gz before nifticlib parses it.
static int check_file_header(const char *path, char *err, size_t errlen) {
    znzFile file = znzopen(path, "rb", nifti_is_gzfile(path));
    if (znz_isnull(file)) return fail(err, errlen, "cannot open the file", path);
    struct nifti_1_header nhdr;
    size_t got = znzread(&nhdr, 1, sizeof nhdr, file);
    znzclose(file);
    if (got < 348) return fail(err, errlen, "file is shorter than a NIfTI-1 header", path);
    int swapped;
    return check_header(&nhdr, &swapped, err, errlen, path);
}

struct cnifti_reader {
    nifti_image *nim;   // header only: data stays NULL
    znzFile file;       // positioned at the next unread voxel
};

int cnifti_open(const char *path, cnifti_header *header, cnifti_reader **reader, char *err, size_t errlen) {
    nifti_set_debug_level(0);   // failures come back as our one-line message, not on stderr
    *reader = NULL;
    if (check_file_header(path, err, errlen) != 0) return -1;
    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim) return fail(err, errlen, "not a readable NIfTI-1 file", path);
    if (nim->nt > 1 || nim->nu > 1 || nim->nv > 1 || nim->nw > 1) {
        nifti_image_free(nim);
        return fail(err, errlen, "NIfTI file has more than 3 dimensions", path);
    }
    // What nifti_image_load does before reading, minus the whole-volume buffer.
    if (!nim->iname || nim->nbyper <= 0 || nim->iname_offset < 0) {
        nifti_image_free(nim);
        return fail(err, errlen, "NIfTI file has no readable voxel data", path);
    }
    znzFile file = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
    if (znz_isnull(file)) {
        nifti_image_free(nim);
        return fail(err, errlen, "cannot open the voxel data", path);
    }
    if (znzseek(file, (znz_off_t)nim->iname_offset, SEEK_SET) < 0) {
        znzclose(file);
        nifti_image_free(nim);
        return fail(err, errlen, "cannot seek to the voxel data", path);
    }
    cnifti_reader *r = malloc(sizeof *r);
    if (!r) {
        znzclose(file);
        nifti_image_free(nim);
        return fail(err, errlen, "out of memory", path);
    }
    r->nim = nim;
    r->file = file;
    header_from_nim(nim, header);
    *reader = r;
    return 0;
}

int cnifti_read_voxels(cnifti_reader *reader, void *data, size_t bytes, char *err, size_t errlen) {
    // nifti_read_buffer swaps bytes and zeroes non-finite floats, as nifti_image_load does.
    size_t got = nifti_read_buffer(reader->file, data, bytes, reader->nim);
    if (got != bytes) return fail(err, errlen, "NIfTI file is truncated (fewer voxel bytes than its header declares)", NULL);
    return 0;
}

void cnifti_close(cnifti_reader *reader) {
    if (!reader) return;
    znzclose(reader->file);
    nifti_image_free(reader->nim);
    free(reader);
}

int cnifti_encode_header(const cnifti_header *header, unsigned char out[352], char *err, size_t errlen) {
    nifti_image *nim = nim_from_header(header);
    if (!nim) return fail(err, errlen, "nifticlib could not build a header", NULL);
    struct nifti_1_header nhdr = nifti_convert_nim2nhdr(nim);
    nifti_image_free(nim);
    nhdr.vox_offset = 352;
    memcpy(nhdr.magic, "n+1", 4);
    memcpy(out, &nhdr, 348);
    memset(out + 348, 0, 4);   // no extensions
    return 0;
}

int cnifti_decode_header(const unsigned char *bytes, size_t count, cnifti_header *header,
                         long *vox_offset, int *swapped, char *err, size_t errlen) {
    if (count < 348) return fail(err, errlen, "file is shorter than a NIfTI-1 header", NULL);
    struct nifti_1_header nhdr;
    memcpy(&nhdr, bytes, 348);
    if (check_header(&nhdr, swapped, err, errlen, NULL) != 0) return -1;
    nifti_image *nim = nifti_convert_nhdr2nim(nhdr, NULL);
    if (!nim) return fail(err, errlen, "nifticlib could not convert the header", NULL);
    if (nim->nt > 1 || nim->nu > 1 || nim->nv > 1 || nim->nw > 1) {
        nifti_image_free(nim);
        return fail(err, errlen, "NIfTI file has more than 3 dimensions", NULL);
    }
    header_from_nim(nim, header);
    *vox_offset = (long)nhdr.vox_offset;
    nifti_image_free(nim);
    return 0;
}

int cnifti_write_file(const char *path, const cnifti_header *header, const void *data, char *err, size_t errlen) {
    unsigned char head[352];
    if (cnifti_encode_header(header, head, err, errlen) != 0) return -1;
    size_t n = strlen(path);
    int gz = n > 3 && strcmp(path + n - 3, ".gz") == 0;
    znzFile f = znzopen(path, "wb", gz);
    if (znz_isnull(f)) return fail(err, errlen, "cannot open for writing", path);
    size_t bytes = (size_t)header->dim[0] * header->dim[1] * header->dim[2] * header->bytes_per_voxel;
    int ok = znzwrite(head, 1, sizeof head, f) == sizeof head;
    // znzwrite takes an int-sized count in its gzip path: write in chunks well below 2 GiB.
    const unsigned char *p = data;
    while (ok && bytes > 0) {
        size_t chunk = bytes > (1u << 28) ? (1u << 28) : bytes;
        ok = znzwrite(p, 1, chunk, f) == chunk;
        p += chunk;
        bytes -= chunk;
    }
    int closed = znzclose(f);
    if (!ok || closed != 0) return fail(err, errlen, "write failed (disk full or I/O error)", path);
    return 0;
}
