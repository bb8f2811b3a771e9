// How deep sequences nest in a file, found before DCMTK parses it: DCMTK's reader recurses once
// per sequence and item, so a file nested some thousands deep overflows the stack of whatever
// process opens it. The walk reads tags and lengths only (values are skipped with fseek).
#include "cdicom_internal.hpp"
#include <cstdio>
#include <cstring>
#include <cstdint>
#include <string>
#include <vector>

namespace {

constexpr uint32_t undefinedLength = 0xFFFFFFFFu;

struct Reader {
    FILE *f;
    bool bigEndian = false;
    bool read(long offset, unsigned char *out, size_t n) {
        return std::fseek(f, offset, SEEK_SET) == 0 && std::fread(out, 1, n, f) == n;
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
/// walk (deflated, damaged) pass: DCMTK's own checks (and the inflate limit) see to them.
bool cdicom_nesting_within(const char *path, int maxDepth, std::string &reason) {
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
        if (syntax == "1.2.840.10008.1.2.1.99") { std::fclose(f); return true; }   // deflated: see inflatesWithin
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
