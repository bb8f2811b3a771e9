import Foundation

/// NumPy .npy files of float32 in C order, the exchange format of `lcovnet model forward`.
public enum NPYFile {
    public static func read(_ path: String) throws -> (shape: [Int], values: [Float]) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw InferenceError("\(path): cannot read")
        }
        guard data.count > 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
            throw InferenceError("\(path): not a NumPy .npy file")
        }
        let major = data[data.startIndex + 6]
        let headerStart = major == 1 ? 10 : 12
        let headerLength =
            major == 1
            ? Int(data[data.startIndex + 8]) | Int(data[data.startIndex + 9]) << 8
            : data.subdata(in: 8..<12).withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        guard headerStart + headerLength <= data.count,
            let header = String(data: data.subdata(in: headerStart..<(headerStart + headerLength)), encoding: .ascii)
        else { throw InferenceError("\(path): truncated .npy header") }
        guard header.contains("'descr': '<f4'") else {
            throw InferenceError("\(path): only little-endian float32 (<f4) is supported")
        }
        guard header.contains("'fortran_order': False") else {
            throw InferenceError("\(path): Fortran-order arrays are not supported")
        }
        guard let open = header.firstIndex(of: "("), let close = header[open...].firstIndex(of: ")") else {
            throw InferenceError("\(path): .npy header has no shape")
        }
        let shape = header[header.index(after: open)..<close].split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        let count = shape.reduce(1, *)
        let start = headerStart + headerLength
        guard data.count - start == count * 4 else {
            throw InferenceError("\(path): shape \(shape) needs \(count * 4) bytes, file has \(data.count - start)")
        }
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBytes { dst in
            data.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[start...])) }
        }
        return (shape, values)
    }

    public static func write(_ path: String, shape: [Int], values: UnsafeBufferPointer<Float>) throws {
        precondition(shape.reduce(1, *) == values.count, "shape does not match the value count")
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        header += String(repeating: " ", count: (64 - (10 + header.count + 1) % 64) % 64) + "\n"
        var out = Data(
            [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)])
        out.append(contentsOf: Array(header.utf8))
        out.append(Data(buffer: values))
        do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw InferenceError("\(path): cannot write (\(error.localizedDescription))")
        }
    }
}
