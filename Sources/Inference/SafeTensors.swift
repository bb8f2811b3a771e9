import Foundation

/// A safetensors file: an 8-byte little-endian header length, a JSON header naming each tensor's
/// dtype, shape and byte range, then the raw little-endian data.
public struct SafeTensors: Sendable {
    public struct Tensor: Sendable {
        /// safetensors dtype name: F32, F64, F16, BF16, I8, U8, I32, I64.
        public var dtype: String
        public var shape: [Int]
        public var bytes: Data

        public init(dtype: String, shape: [Int], bytes: Data) {
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public init(shape: [Int], values: [Float]) {
            self.init(dtype: "F32", shape: shape, bytes: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }

        public init(shape: [Int], values: [Int8]) {
            self.init(dtype: "I8", shape: shape, bytes: values.withUnsafeBufferPointer { Data(buffer: $0) })
        }

        public var count: Int { shape.reduce(1, *) }

        /// An F32 tensor as F16 (round to nearest); other dtypes as they are. Throws where a value
        /// lies beyond F16's range (65504), which would turn into infinity.
        public func halved(name: String) throws -> Tensor {
            guard dtype == "F32" else { return self }
            let values = try floats()
            if let big = values.first(where: { !(abs($0) <= 65504) }) {
                throw InferenceError("safetensors: \(name) holds \(big), beyond F16's range")
            }
            let halves = values.map { Float16($0).bitPattern.littleEndian }
            return Tensor(dtype: "F16", shape: shape, bytes: halves.withUnsafeBufferPointer { Data(buffer: $0) })
        }

        /// The values converted to Float (floating-point and integer dtypes).
        public func floats() throws -> [Float] {
            let n = count
            return try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) -> [Float] in
                func load<T>(_: T.Type, _ convert: (T) -> Float) throws -> [Float] {
                    guard raw.count == n * MemoryLayout<T>.size else {
                        throw InferenceError("safetensors: \(dtype) tensor of shape \(shape) has \(raw.count) bytes")
                    }
                    return (0..<n).map {
                        convert(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self))
                    }
                }
                switch dtype {
                case "F32": return try load(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
                case "F64": return try load(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
                case "F16": return try load(UInt16.self) { Float(Float16(bitPattern: UInt16(littleEndian: $0))) }
                case "BF16": return try load(UInt16.self) { Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16) }
                case "I8": return try load(Int8.self) { Float($0) }
                case "U8": return try load(UInt8.self) { Float($0) }
                case "I32": return try load(Int32.self) { Float(Int32(littleEndian: $0)) }
                case "I64": return try load(Int64.self) { Float(Int64(littleEndian: $0)) }
                default: throw InferenceError("safetensors: unsupported dtype \(dtype)")
                }
            }
        }
    }

    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw InferenceError("\(path): cannot read (\(error.localizedDescription))")
        }
        guard data.count >= 8 else { throw InferenceError("\(path): too short for safetensors") }
        let headerLength = data.prefix(8).withUnsafeBytes {
            Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)))
        }
        guard headerLength > 0, 8 + headerLength <= data.count else {
            throw InferenceError("\(path): safetensors header length \(headerLength) exceeds the file")
        }
        let body = 8 + headerLength
        guard let header = try? JSONSerialization.jsonObject(with: data.subdata(in: 8..<body)) as? [String: Any] else {
            throw InferenceError("\(path): safetensors header is not a JSON object")
        }
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                offsets[0] <= offsets[1], body + offsets[1] <= data.count
            else { throw InferenceError("\(path): safetensors entry \(name) is malformed") }
            tensors[name] = Tensor(
                dtype: dtype, shape: shape, bytes: data.subdata(in: (body + offsets[0])..<(body + offsets[1])))
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Writes the tensors in name order, data aligned to 8 bytes.
    public func write(to path: String) throws {
        var header: [String: Any] = [:]
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            header[name] = ["dtype": t.dtype, "shape": t.shape, "data_offsets": [offset, offset + t.bytes.count]]
            offset += t.bytes.count
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names { out.append(tensors[name]!.bytes) }
        do { try out.write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw InferenceError("\(path): cannot write (\(error.localizedDescription))")
        }
    }
}
