#ifndef CDICOM_H
#define CDICOM_H
// A C-only view of DCMTK 3.6.7 (and OpenJPEG for JPEG 2000) for lcovnet's Ingest module.
// Handles are opaque; every call that can fail returns 0 on success or -1 with one line in err.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CDICOM_UID_LENGTH 68

/// Registers DCMTK's decoders and encoders and silences its logger. Idempotent, thread-safe.
void cdicom_initialize(void);

typedef struct cdicom_file cdicom_file;

/// Geometry and value mapping of one frame (single-frame files have one frame).
typedef struct cdicom_frame_info {
    int has_position;      double position[3];      // ImagePositionPatient
    int has_orientation;   double orientation[6];   // ImageOrientationPatient
    int has_pixel_spacing; double pixel_spacing[2]; // PixelSpacing (row spacing, column spacing)
    int has_slice_thickness; double slice_thickness;
    int has_rescale;       double rescale_slope, rescale_intercept;
} cdicom_frame_info;

/// The attributes series assembly needs, from the file meta information and the dataset.
typedef struct cdicom_attributes {
    char transfer_syntax_uid[CDICOM_UID_LENGTH];
    char media_sop_class_uid[CDICOM_UID_LENGTH];
    char media_sop_instance_uid[CDICOM_UID_LENGTH];
    char sop_class_uid[CDICOM_UID_LENGTH];
    char sop_instance_uid[CDICOM_UID_LENGTH];
    char study_instance_uid[CDICOM_UID_LENGTH];
    char series_instance_uid[CDICOM_UID_LENGTH];
    char frame_of_reference_uid[CDICOM_UID_LENGTH];
    char modality[20];
    char image_type[160];           // values joined by backslashes
    char photometric_interpretation[20];
    char series_description[68];
    int uid_too_long;  // a UID above did not fit its buffer (DICOM allows 64 characters): it would be cut
    int has_series_number;   int series_number;
    int has_instance_number; int instance_number;
    int has_acquisition_number; int acquisition_number;
    int has_gantry_tilt;     double gantry_tilt;
    int rows, columns, samples_per_pixel;
    int bits_allocated, bits_stored, high_bit, pixel_representation;
    int number_of_frames;    // 1 when the attribute is absent
    int has_pixel_data;
    long long pixel_data_bytes;  // PixelData's value length; -1 when encapsulated or absent
    int has_per_frame_groups;  // enhanced multi-frame: per-frame functional groups present
    cdicom_frame_info frame;   // top level, overridden by shared functional groups
} cdicom_attributes;

/// Opens a DICOM file (Part 10 or a raw dataset that starts with a plausible tag).
/// headers_only leaves large values (pixel data) on disk. A deflated dataset is inflated once
/// to count its bytes before DCMTK reads it: beyond max_inflated_bytes the call returns -2
/// (DCMTK would hold the whole inflated dataset in memory). Sequences nested deeper than
/// max_nesting return -3 before DCMTK reads the file (its reader recurses once per level).
int cdicom_open(const char *path, int headers_only, size_t max_inflated_bytes, int max_nesting, cdicom_file **out,
                char *err, size_t errlen);
void cdicom_close(cdicom_file *file);

int cdicom_read_attributes(cdicom_file *file, cdicom_attributes *out, char *err, size_t errlen);

/// The frame's geometry: top level, then shared functional groups, then the frame's own
/// per-frame functional group, later ones winning.
int cdicom_read_frame_info(cdicom_file *file, int frame, cdicom_frame_info *out, char *err, size_t errlen);

/// Decodes one frame to stored values (BitsStored/HighBit applied, sign-extended when
/// PixelRepresentation is 1), rows top to bottom as in the file, columns left to right.
/// out must hold rows × columns values.
int cdicom_decode_frame(cdicom_file *file, int frame, int32_t *out, size_t count, char *err, size_t errlen);

/// Decodes one frame straight to Hounsfield units: round(stored × slope + intercept), clamped
/// to int16 (*clamped counts clamped voxels), with the row order reversed when flip_rows is set
/// (the last DICOM row first, as dcm2niix stores it).
int cdicom_decode_frame_hu(cdicom_file *file, int frame, double slope, double intercept, int flip_rows,
                           int16_t *out, size_t count, size_t *clamped, char *err, size_t errlen);

// MARK: Writing

typedef enum cdicom_transfer_syntax {
    CDICOM_TS_IMPLICIT_LITTLE = 0,
    CDICOM_TS_EXPLICIT_LITTLE = 1,
    CDICOM_TS_EXPLICIT_BIG = 2,
    CDICOM_TS_DEFLATED = 3,
    CDICOM_TS_RLE = 4,
    CDICOM_TS_JPEG_LOSSLESS_SV1 = 5,   // JPEG process 14, selection value 1
    CDICOM_TS_JPEG_LS_LOSSLESS = 6,
    CDICOM_TS_JPEG2000_LOSSLESS = 7,   // through OpenJPEG
} cdicom_transfer_syntax;

/// One frame (or, with frame_count > 1, an enhanced multi-frame CT object) to write.
typedef struct cdicom_slice {
    int transfer_syntax;                // cdicom_transfer_syntax
    const char *sop_class_uid;
    const char *sop_instance_uid;       // "" writes an empty value
    const char *media_sop_instance_uid; // the file meta's copy, kept when the dataset's is empty
    const char *study_instance_uid;
    const char *series_instance_uid;    // "" writes an empty value
    const char *frame_of_reference_uid;
    const char *modality;
    const char *image_type;             // backslash-separated
    const char *patient_name;           // phantom names only
    const char *patient_id;
    const char *series_description;
    int series_number;
    int instance_number;
    int rows, columns;
    int bits_stored;                    // 12 or 16
    int pixel_representation;           // 0 unsigned, 1 signed
    double rescale_slope, rescale_intercept;
    double pixel_spacing[2];            // row spacing, column spacing
    double slice_thickness;
    double orientation[6];
    int has_gantry_tilt; double gantry_tilt;
    int frame_count;                    // 1: classic CT Image Storage
    const double *positions;            // 3 × frame_count
    const uint16_t *pixels;             // frame_count × rows × columns stored values, DICOM row order
} cdicom_slice;

int cdicom_write(const char *path, const cdicom_slice *slice, char *err, size_t errlen);

/// One segment of a DICOM Segmentation: the label-map value it covers, its name and codes.
typedef struct cdicom_seg_segment {
    int label;
    const char *name;                                                   // Segment Label
    const char *category_value, *category_scheme, *category_meaning;    // Segmented Property Category
    const char *type_value, *type_scheme, *type_meaning;                // Segmented Property Type
    const char *modifier_value, *modifier_scheme, *modifier_meaning;    // laterality, or NULL
} cdicom_seg_segment;

/// The label map's grid as DICOM sees it: frames of rows × columns, one per slice.
typedef struct cdicom_seg_grid {
    int rows, columns, slices;
    double orientation[6];        // ImageOrientationPatient
    double pixel_spacing[2];      // row spacing, column spacing
    double slice_thickness;
    const double *positions;      // ImagePositionPatient, 3 per slice
} cdicom_seg_grid;

/// Writes a binary DICOM Segmentation (dcmseg) of `labels` (slices × rows × columns, column
/// fastest): one segment per entry of `segments` that has voxels, one frame per segment and slice
/// it covers (empty frames left out). Patient, study and frame of reference are taken from
/// `source_file`; `source_instances` (one SOP Instance UID per slice, or NULL when the slices do
/// not map 1:1 to source images) become each frame's derivation reference.
int cdicom_write_seg(const char *source_file, const char *const *source_instances, const cdicom_seg_grid *grid,
                     const unsigned char *labels, const cdicom_seg_segment *segments, int segment_count,
                     const char *series_description, int series_number, const char *software_version,
                     const char *out_path, char *err, size_t errlen);

// MARK: Reading a DICOM Segmentation (dcmseg)

typedef struct cdicom_seg cdicom_seg;

typedef struct cdicom_seg_info {
    int frame_count, segment_count;
    int fractional;   // 0 binary, 1 fractional (a frame's value over half the maximum counts as in)
} cdicom_seg_info;

/// A segment's names: Segment Label, the property type's Code Meaning and its first modifier's
/// (laterality), each cut to fit.
typedef struct cdicom_seg_segment_info {
    char label[68];
    char type_meaning[68];
    char modifier_meaning[68];
} cdicom_seg_segment_info;

/// Opens a segmentation whose frames the caller checked to be rows × columns (the headers, read
/// with cdicom_open first, bound what dcmseg allocates: it reads all frames, packed).
int cdicom_seg_open(const char *path, int rows, int columns, cdicom_seg **out, cdicom_seg_info *info, char *err, size_t errlen);
void cdicom_seg_close(cdicom_seg *seg);

/// Segment `number` (1-based, as frames reference it).
int cdicom_seg_read_segment(cdicom_seg *seg, int number, cdicom_seg_segment_info *out, char *err, size_t errlen);

/// Frame `frame` (0-based): the segment it belongs to, and its pixels as 0/1 bytes, rows top to
/// bottom as in the file (count must be rows × columns). Its position comes from
/// cdicom_read_frame_info on the same file.
int cdicom_seg_frame(cdicom_seg *seg, int frame, int *segment_number, unsigned char *mask, size_t count, char *err, size_t errlen);

/// One ROI of an RT Structure Set: its number, name, display colour and closed planar contours
/// (contour n lies on slice contour_slices[n] and has contour_point_counts[n] points, x y z in
/// patient mm, all contours' points one after the other in `points`).
typedef struct cdicom_rt_roi {
    int number;
    const char *name;
    unsigned char color[3];
    int contour_count;
    const int *contour_slices;
    const int *contour_point_counts;
    const double *points;
} cdicom_rt_roi;

/// Writes an RT Structure Set (DCMTK dcmrt) of the ROIs, interpreted type ORGAN, on the source
/// series: patient, study and frame of reference taken from `source_file`; each contour refers to
/// its slice's image when `source_instances` (one SOP Instance UID per slice) is given.
int cdicom_write_rtstruct(const char *source_file, const char *const *source_instances, int slices,
                          const cdicom_rt_roi *rois, int roi_count, int series_number, const char *software_version,
                          const char *out_path, char *err, size_t errlen);

/// DICOM over TLS (BCP 195 profile): PEM files; certificate NULL or "": no TLS. With `trusted`,
/// the peer must present a certificate chaining to it; without, the peer is not verified.
typedef struct cdicom_tls_options {
    const char *certificate;
    const char *private_key;
    const char *trusted;
} cdicom_tls_options;

/// What the storage SCP reports back while it runs (called on its thread).
enum cdicom_scp_event_kind {
    CDICOM_SCP_STORED = 1,          // text: the instance's file, relative to the intake folder
    CDICOM_SCP_REFUSED = 2,         // text: why the association was refused
    CDICOM_SCP_STORE_FAILED = 3,    // text: why an instance was not stored (answered with a failure status)
    CDICOM_SCP_ASSOCIATION = 4,     // text: the calling AE title of an accepted association
    CDICOM_SCP_RELEASED = 5,        // text: the calling AE title, at release or abort
};
typedef void (*cdicom_scp_event)(void *context, int kind, const char *text);

typedef struct cdicom_scp_options {
    int listen_socket;                  // bound and listening (the caller chose address and port)
    const char *ae_title;
    const char *const *accepted_calling; // calling AE titles let in; NULL or none: any
    int accepted_count;
    unsigned max_pdu;
    unsigned acse_timeout_seconds, dimse_timeout_seconds;
    const char *intake;                 // instances go to intake/<SeriesInstanceUID>/<SOPInstanceUID>.dcm
    unsigned long long minimum_free_bytes;  // associations are refused while the intake's disk has less
    cdicom_scp_event event;
    void *context;
    cdicom_tls_options tls;
} cdicom_scp_options;

/// Runs a storage SCP (C-ECHO; C-STORE of CT images) on the listening socket until the process
/// ends. Each instance is written to a hidden file, synced, then renamed into place and its folder
/// synced before success is answered. Returns only on a setup failure (-1 with one line in err).
int cdicom_run_storage_scp(const cdicom_scp_options *options, char *err, size_t errlen);

typedef struct cdicom_scu_options {
    const char *host;
    int port;
    const char *calling_ae_title, *called_ae_title;
    unsigned max_pdu, acse_timeout_seconds, dimse_timeout_seconds;
    cdicom_tls_options tls;
} cdicom_scu_options;

/// cdicom_send_files' result when no association could be made or it broke off (try again later).
#define CDICOM_SCU_UNREACHABLE 2

/// Sends the files with C-STORE in one association. Returns 0 when the association ran (each
/// file's DIMSE status in statuses: 0 success, 0xBxxx warning = stored, others refused; err names
/// how many were refused), CDICOM_SCU_UNREACHABLE when the peer could not be reached or the
/// association broke off, -1 on a local failure (an unreadable file).
int cdicom_send_files(const cdicom_scu_options *options, const char *const *files, int count, int *statuses,
                      char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
