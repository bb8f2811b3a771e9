import Foundation
import Glibc
import Logging

/// A minimal HTTP/1.0 endpoint on a loopback address serving `GET /metrics` (and nothing
/// else) from a thread of its own; one request per connection. A full HTTP stack would add
/// minutes to every build for one read-only page.
public final class MetricsServer: @unchecked Sendable {
    // @unchecked: `listener` is written in start() before the thread starts and read by stop();
    // the serving thread alone closes the socket (see stop()).
    private var listener: Int32 = -1
    private let metrics: DaemonMetrics
    private let logger: Logger

    public init(metrics: DaemonMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Binds and starts serving; returns the bound port (useful with port 0 in tests).
    @discardableResult
    public func start(address: String, port: Int) throws(SystemCallError) -> Int {
        let ipv6 = address == "::1"
        let fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw SystemCallError("socket", path: "metrics") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var bound: Int32
        if ipv6 {
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = in_port_t(UInt16(port).bigEndian)
            a.sin6_addr = in6addr_loopback
            bound = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        } else {
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = in_port_t(UInt16(port).bigEndian)
            a.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
            bound = withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
        if bound != 0 || listen(fd, 16) != 0 {
            let error = SystemCallError("bind", path: "\(address):\(port)")
            close(fd)
            throw error
        }
        var actual = sockaddr_in6()
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let boundPort = Int(UInt16(bigEndian: actual.sin6_port))
        listener = fd
        let thread = Thread { [self] in serve(fd) }
        thread.name = "metrics"
        thread.start()
        return boundPort
    }

    /// Wakes the serving thread, which closes the socket itself: were it closed here, its number
    /// could go to the next server's socket while the old thread still polls it, and the old
    /// thread would answer the new server's scrapes with stale figures (seen in the tests).
    public func stop() {
        if listener >= 0 {
            shutdown(listener, Int32(SHUT_RDWR))
            listener = -1
        }
    }

    /// A connection whose request line has not arrived yet.
    private struct Pending {
        var fd: Int32
        var request: [UInt8] = []
        var deadline: ContinuousClock.Instant
    }

    static let requestSeconds = 2
    static let maximumPending = 64

    /// One thread, many connections: clients that connect and say nothing wait beside the others
    /// (each until its own 2 s deadline) instead of in front of them; a scrape is answered as
    /// soon as its request line is in.
    private func serve(_ fd: Int32) {
        var pending: [Pending] = []
        defer {
            for p in pending { close(p.fd) }
            close(fd)
        }
        while true {
            var fds =
                [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
                + pending.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            if poll(&fds, nfds_t(fds.count), 250) < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[0].revents & Int16(POLLNVAL | POLLERR | POLLHUP) != 0 { return }  // stop() shut the listener down
            let now = ContinuousClock.now
            var waiting: [Pending] = []
            for (index, var client) in pending.enumerated() {
                var complete = now >= client.deadline
                if fds[index + 1].revents != 0 {
                    var chunk = [UInt8](repeating: 0, count: 2048)
                    let n = chunk.withUnsafeMutableBytes {
                        recv(client.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT))
                    }
                    if n > 0 {
                        client.request += chunk[0..<n]
                    } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                        complete = true
                    }
                    if client.request.contains(10) || client.request.count >= 8192 { complete = true }
                }
                if complete {
                    respond(client.fd, request: client.request)
                    close(client.fd)
                } else {
                    waiting.append(client)
                }
            }
            pending = waiting
            if fds[0].revents & Int16(POLLIN) != 0 {
                let client = accept(fd, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    if pending.count >= Self.maximumPending { close(pending.removeFirst().fd) }
                    pending.append(Pending(fd: client, deadline: now + .seconds(Self.requestSeconds)))
                } else if ![EINTR, ECONNABORTED, EAGAIN].contains(errno) {
                    return
                }
            }
        }
    }

    private func respond(_ client: Int32, request: [UInt8]) {
        // The response goes out blocking, with a bound: a client that does not read gets dropped.
        _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: Self.requestSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let firstLine = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = firstLine.split(separator: " ")
        let body: [UInt8]
        let status: String
        var contentType = "text/plain; charset=utf-8"
        if parts.count >= 2, parts[0] == "GET", parts[1] == "/metrics" {
            status = "200 OK"
            body = metrics.exposition()
            contentType = "text/plain; version=0.0.4; charset=utf-8"
        } else {
            status = "404 Not Found"
            body = Array("only GET /metrics is served\n".utf8)
        }
        let head =
            "HTTP/1.0 \(status)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let response = Array(head.utf8) + body
        var offset = 0
        while offset < response.count {
            let n = response[offset...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            offset += n
        }
    }
}
