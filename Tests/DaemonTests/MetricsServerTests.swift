import Daemon
import Foundation
import Glibc
import Logging
import Testing

@Suite struct MetricsServerTests {
    /// A TCP connection to the server on loopback.
    static func connection(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw SystemCallError("connect", path: "127.0.0.1:\(port)")
        }
        return fd
    }

    /// One HTTP/1.0 request over loopback; returns the whole response.
    func get(_ path: String, port: Int) throws -> String {
        let fd = try Self.connection(port: port)
        defer { close(fd) }
        let request = Array("GET \(path) HTTP/1.0\r\nHost: localhost\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += chunk[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }

    @Test func servesTheMetricsOnLoopbackOnly() throws {
        let metrics = DaemonMetrics()
        metrics.seriesDone.increment()
        metrics.seriesDone.increment()
        metrics.record(stage: "process", seconds: 0.25)
        let server = MetricsServer(metrics: metrics, logger: Logger(label: "test"))
        let port = try server.start(address: "127.0.0.1", port: 0)
        defer { server.stop() }
        let response = try get("/metrics", port: port)
        #expect(response.hasPrefix("HTTP/1.0 200 OK"))
        #expect(response.contains("\nlcovnet_series_done_total 2\n"))
        #expect(response.contains("lcovnet_stage_duration_seconds_count{stage=\"process\"} 1"))
        #expect(response.contains("lcovnet_resident_memory_bytes "))
        #expect(try get("/", port: port).hasPrefix("HTTP/1.0 404"))
    }

    /// 30 clients that connect and say nothing do not hold up a real scrape (once: 36 s).
    @Test func idleClientsDoNotDelayAScrape() throws {
        let server = MetricsServer(metrics: DaemonMetrics(), logger: Logger(label: "test"))
        let port = try server.start(address: "127.0.0.1", port: 0)
        defer { server.stop() }
        var idle: [Int32] = []
        defer { for fd in idle { close(fd) } }
        for _ in 0..<30 { idle.append(try Self.connection(port: port)) }
        let start = ContinuousClock.now
        let response = try get("/metrics", port: port)
        let waited = ContinuousClock.now - start
        #expect(response.hasPrefix("HTTP/1.0 200 OK"))
        #expect(waited < .seconds(5), "the scrape waited \(waited) behind idle clients")
    }
}
