#ifndef CNIFTI_H
#define CNIFTI_H
// nifti1_io.h includes <znzlib.h>; the forwarding znzlib.h beside this file resolves it
// without adding /usr/include/nifti to the header path through unsafe flags.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What lcovnet needs of a NIfTI-1 header, in plain fields.
typedef struct cnifti_header {
    int dim[3];              // nx, ny, nz
    int datatype;            // NIFTI_TYPE_*
    int bytes_per_voxel;
    float pixdim[3];
    int qform_code, sform_code;
    double qto_xyz[4][4];    // voxel → RAS (mm) from the quaternion
    double sto_xyz[4][4];    // voxel → RAS (mm) from the sform rows
    float scl_slope, scl_inter;
    int xyz_units;
    char descrip[80];
} cnifti_header;

/// A .nii or .nii.gz opened for reading through nifticlib: header parsed, voxels streamed.
typedef struct cnifti_reader cnifti_reader;

/// Reads the header (nifti_image_read without data) and positions a znzlib stream at the voxels.
/// Returns 0 with *reader set (close with cnifti_close), or -1 with a message in err.
int cnifti_open(const char *path, cnifti_header *header, cnifti_reader **reader, char *err, size_t errlen);

/// Reads the next `bytes` voxel bytes (a whole number of voxels) into data, in this machine's
/// byte order. Returns 0, or -1 with a message in err when the file ends early or fails.
int cnifti_read_voxels(cnifti_reader *reader, void *data, size_t bytes, char *err, size_t errlen);

void cnifti_close(cnifti_reader *reader);

/// Writes a .nii or .nii.gz (through nifticlib, gzip when the name ends in .gz).
int cnifti_write_file(const char *path, const cnifti_header *header, const void *data, char *err, size_t errlen);

/// Serialises the 348-byte NIfTI-1 header plus the 4-byte extension flag (352 bytes, the
/// bytes that precede the voxels in a .nii) into out, through nifticlib's own conversion.
int cnifti_encode_header(const cnifti_header *header, unsigned char out[352], char *err, size_t errlen);

/// Parses the first 352 bytes of a .nii (byte-swapping when needed); *vox_offset receives where
/// the voxels start and *swapped whether they are big-endian relative to this machine.
int cnifti_decode_header(const unsigned char *bytes, size_t count, cnifti_header *header,
                         long *vox_offset, int *swapped, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
