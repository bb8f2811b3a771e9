// How deep sequences nest in a file, found before DCMTK parses it: DCMTK's reader recurses once
// per sequence and item, so a file nested some thousands deep overflows the stack of whatever
// process opens it. The walk reads tags and lengths only, forward (values are skipped): from the
// file, or from a deflated dataset as it inflates.
#include "cdicom_internal.hpp"
#include <zlib.h>
#include <climits>
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr uint32_t undefinedLength = 0xFFFFFFFFu;

/// Bytes at increasing offsets: the file itself, or its deflated dataset inflated as the walk
/// goes (only a window is kept; a read behind it fails).
struct Reader {
    FILE *f;
    bool bigEndian = false;
    // Deflated: the dataset's bytes [windowStart, windowStart + window.size()) so far.
    bool inflating = false;
    z_stream z{};
    std::vector<unsigned char> in, window;
    long windowStart = 0;
    size_t inflated = 0, limit = 0;
    bool ended = false;

    ~Reader() { if (inflating) inflateEnd(&z); }

    /// Switches to the deflated dataset starting at `offset` in the file; false when zlib cannot start.
    bool inflateFrom(long offset, size_t maxBytes) {
        if (std::fseek(f, offset, SEEK_SET) != 0 || inflateInit2(&z, -MAX_WBITS) != Z_OK) return false;
        inflating = true;
        limit = maxBytes;
        in.resize(1 << 16);
        return true;
    }

    bool read(long offset, unsigned char *out, size_t n) {
        if (!inflating) return std::fseek(f, offset, SEEK_SET) == 0 && std::fread(out, 1, n, f) == n;
        if (offset < windowStart) return false;
        long end = offset + long(n);
        while (windowStart + long(window.size()) < end) {
            // Drop what lies before the read, then inflate more.
            long drop = std::min<long>(offset - windowStart, long(window.size()));
            window.erase(window.begin(), window.begin() + drop);
            windowStart += drop;
            if (!more()) return false;
        }
        std::memcpy(out, window.data() + (offset - windowStart), n);
        return true;
    }

    bool more() {
        if (ended || inflated > limit) return false;
        if (z.avail_in == 0) {
            size_t got = std::fread(in.data(), 1, in.size(), f);
            if (got == 0) return false;
            z.next_in = in.data();
            z.avail_in = uInt(got);
        }
        unsigned char chunk[1 << 14];
        z.next_out = chunk;
        z.avail_out = sizeof chunk;
        int status = inflate(&z, Z_NO_FLUSH);
        if (status != Z_OK && status != Z_STREAM_END) return false;
        ended = status == Z_STREAM_END;
        size_t produced = sizeof chunk - z.avail_out;
        inflated += produced;
        window.insert(window.end(), chunk, chunk + produced);
        return produced > 0 || !ended;
    }

    uint16_t u16(const unsigned char *p) const { return bigEndian ? uint16_t(p[0] << 8 | p[1]) : uint16_t(p[1] << 8 | p[0]); }
    uint32_t u32(const unsigned char *p) const {
        return bigEndian ? uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]
                         : uint32_t(p[3]) << 24 | uint32_t(p[2]) << 16 | uint32_t(p[1]) << 8 | p[0];
    }
};

/// VRs whose length takes 4 bytes after 2 reserved ones (explicit VR).
bool longForm(const char vr[2]) {
    static const char *names[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "UC", "UN", "UR", "UT", "SV", "UV"};
    for (const char *n : names) if (vr[0] == n[0] && vr[1] == n[1]) return true;
    return false;
}

bool isVR(const unsigned char *p) { return p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' && p[1] <= 'Z'; }

}  // namespace

/// False, with a reason, when sequences and items nest deeper than `maxDepth`. Files it cannot
/// walk (damaged) pass: DCMTK's own checks see to them.
bool cdicom_nesting_within(const char *path, int maxDepth, size_t maxInflated, std::string &reason) {
    FILE *f = std::fopen(path, "rb");
    if (!f) return true;
    Reader r{f};
    std::fseek(f, 0, SEEK_END);
    long size = std::ftell(f);
    long pos = 0;
    bool explicitVR = true;
    unsigned char b[12];
    if (size >= 132 && r.read(128, b, 4) && std::memcmp(b, "DICM", 4) == 0) {
        // The meta group (always explicit VR little endian) names the dataset's transfer syntax.
        pos = 132;
        std::string syntax;
        while (r.read(pos, b, 8) && r.u16(b) == 0x0002) {
            uint32_t length = longForm(reinterpret_cast<const char *>(b + 4)) ? (r.read(pos + 8, b + 8, 4) ? r.u32(b + 8) : 0) : r.u16(b + 6);
            long header = longForm(reinterpret_cast<const char *>(b + 4)) ? 12 : 8;
            if (r.u16(b + 2) == 0x0010 && length < 80) {
                std::vector<unsigned char> uid(length);
                if (r.read(pos + header, uid.data(), length)) syntax.assign(uid.begin(), uid.end());
                while (!syntax.empty() && (syntax.back() == 0 || syntax.back() == ' ')) syntax.pop_back();
            }
            if (length == undefinedLength) { std::fclose(f); return true; }
            pos += header + long(length);
        }
        if (syntax == "1.2.840.10008.1.2.1.99") {
            // Deflated explicit VR little endian: walk the dataset as it inflates, from offset 0.
            if (!r.inflateFrom(pos, maxInflated)) { std::fclose(f); return true; }
            pos = 0;
            size = LONG_MAX;
        }
        explicitVR = syntax != "1.2.840.10008.1.2";
        r.bigEndian = syntax == "1.2.840.10008.1.2.2";
    } else if (r.read(0, b, 8)) {
        explicitVR = isVR(b + 4);
    }

    // Ends of the open sequences and items (undefinedLength: closed by a delimiter).
    std::vector<long> open;
    while (pos + 8 <= size) {
        while (!open.empty() && open.back() != long(undefinedLength) && pos >= open.back()) open.pop_back();
        if (!r.read(pos, b, 8)) break;
        uint16_t group = r.u16(b), element = r.u16(b + 2);
        if (group == 0xFFFE) {
            uint32_t length = r.u32(b + 4);
            pos += 8;
            if (element == 0xE000) {
                open.push_back(length == undefinedLength ? long(undefinedLength) : pos + long(length));
            } else if ((element == 0xE00D || element == 0xE0DD) && !open.empty() && open.back() == long(undefinedLength)) {
                open.pop_back();
            }
        } else {
            uint32_t length;
            long header;
            bool sequence;
            if (explicitVR) {
                if (!isVR(b + 4)) break;   // not walkable as explicit VR: DCMTK decides
                char vr[2] = {char(b[4]), char(b[5])};
                if (longForm(vr)) {
                    if (!r.read(pos + 8, b + 8, 4)) break;
                    length = r.u32(b + 8);
                    header = 12;
                } else {
                    length = r.u16(b + 6);
                    header = 8;
                }
                sequence = (vr[0] == 'S' && vr[1] == 'Q') || length == undefinedLength;
            } else {
                length = r.u32(b + 4);
                header = 8;
                sequence = length == undefinedLength || DcmTag(group, element).getEVR() == EVR_SQ;
            }
            pos += header;
            if (sequence) {
                open.push_back(length == undefinedLength ? long(undefinedLength) : pos + long(length));
            } else {
                pos += long(length);
            }
        }
        if (int(open.size()) > maxDepth) {
            reason = "DCMTK cannot parse it: sequences nest deeper than " + std::to_string(maxDepth)
                + " levels (the reader recurses once per level)";
            std::fclose(f);
            return false;
        }
    }
    std::fclose(f);
    return true;
}
