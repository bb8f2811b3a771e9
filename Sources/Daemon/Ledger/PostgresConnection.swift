internal import CPostgres
import Foundation

/// One libpq connection, used by one caller at a time (the ledger serializes its calls): text
/// parameters and text results, reconnecting once when the server went away between calls.
final class PostgresConnection {
    private var handle: OpaquePointer?
    private let url: String

    /// Connects to `url` (`postgresql://user@host:port/database`, or libpq's key=value form).
    init(url: String) throws(LedgerError) {
        self.url = url
        try connect()
    }

    deinit { PQfinish(handle) }

    private func connect() throws(LedgerError) {
        PQfinish(handle)
        handle = PQconnectdb(url)
        guard PQstatus(handle) == CONNECTION_OK else {
            let reason = Self.message(PQerrorMessage(handle))
            PQfinish(handle)
            handle = nil
            throw LedgerError.unavailable("PostgreSQL at \(Self.redacted(url)): \(reason)")
        }
        // Notices (e.g. "relation already exists, skipping") are not errors: keep them off stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
    }

    /// Runs one statement; rows as text (nil for SQL NULL). A connection found broken before
    /// the statement reached the server is made again once; within a transaction it is not
    /// (the transaction is gone: the caller's whole transaction fails and is retried by it).
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = [], retry: Bool = true) throws(LedgerError) -> [[String?]] {
        if handle == nil || PQstatus(handle) != CONNECTION_OK {
            guard retry else { throw LedgerError.unavailable("the PostgreSQL connection was lost") }
            try connect()
        }
        let result = Self.withCStrings(parameters) { values in
            PQexecParams(handle, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let reason = Self.message(result.map { PQresultErrorMessage($0) } ?? PQerrorMessage(handle))
            if PQstatus(handle) != CONNECTION_OK {
                if retry {
                    try connect()
                    return try execute(sql, parameters, retry: false)
                }
                throw LedgerError.unavailable("PostgreSQL: \(reason)")
            }
            let state =
                result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
            throw LedgerError.statement(reason, sqlState: state)
        }
        var rows: [[String?]] = []
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        rows.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            rows.append(
                (0..<columnCount).map { c in
                    PQgetisnull(result, Int32(r), Int32(c)) != 0
                        ? nil : String(cString: PQgetvalue(result, Int32(r), Int32(c)))
                })
        }
        return rows
    }

    /// `body` inside BEGIN … COMMIT (ROLLBACK when it throws).
    func transaction<T>(_ body: () throws(LedgerError) -> T) throws(LedgerError) -> T {
        try execute("BEGIN")
        do {
            let value = try body()
            try execute("COMMIT", retry: false)
            return value
        } catch {
            _ = try? execute("ROLLBACK", retry: false)
            throw error
        }
    }

    private static func withCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
        let copies = strings.map { $0.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        return body(copies.map { $0.map { UnsafePointer($0) } })
    }

    private static func message(_ text: UnsafePointer<CChar>?) -> String {
        text.map { String(cString: $0) }?.split(separator: "\n").first.map(String.init) ?? "unknown error"
    }

    /// The URL without its password, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url), parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? url
    }
}
