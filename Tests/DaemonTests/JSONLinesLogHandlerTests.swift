import Daemon
import Foundation
import Logging
import Testing

@Suite struct JSONLinesLogHandlerTests {
    /// Logs through a pipe and returns the lines written.
    func capture(_ body: (Logger) -> Void) throws -> [String] {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let control = LogLevelControl(.info)
        let logger = Logger(label: "test") { label in
            JSONLinesLogHandler(label: label, control: control, sink: LineSink(descriptor: fds[1]))
        }
        body(logger)
        close(fds[1])
        let data = FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile()
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func eachEventIsOneJSONObjectWithTheMetadataKeys() throws {
        let lines = try capture { logger in
            logger.info(
                "series done",
                metadata: [
                    "job.id": "j1", "series.uid": "1.2.3", "duration_ms": .stringConvertible(42),
                    "note": "quote \" and\nnewline"
                ])
            logger.debug("not shown at info")
            logger.error("second")
        }
        #expect(lines.count == 2)
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["message"] as? String == "series done")
        #expect(first["level"] as? String == "info")
        #expect(first["job.id"] as? String == "j1")
        #expect(first["series.uid"] as? String == "1.2.3")
        #expect(first["duration_ms"] as? Int == 42)
        #expect(first["note"] as? String == "quote \" and\nnewline")
        #expect((first["time"] as? String)?.hasSuffix("Z") == true)
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["level"] as? String == "error")
    }

    struct DiskFull: Error, CustomStringConvertible { var description: String { "no space left on /out" } }

    /// An error handed to the logger itself (not in the metadata) still reaches the line.
    @Test func anErrorPassedToTheLoggerIsLogged() throws {
        let lines = try capture { logger in
            logger.log(level: .error, "write failed", error: DiskFull(), metadata: ["job.id": "j2"])
            logger.log(level: .error, "metadata wins", error: DiskFull(), metadata: ["error": "named by the caller"])
        }
        let first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(first["error"] as? String == "no space left on /out")
        #expect(first["job.id"] as? String == "j2")
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        #expect(second["error"] as? String == "named by the caller")
    }

    @Test func patientKeysNeverReachTheOutput() throws {
        let lines = try capture { logger in
            logger.info(
                "oops",
                metadata: [
                    "PatientName": "DOE^JANE", "patient.id": "12345", "birth_date": "19700101", "stage": "ingest"
                ])
        }
        #expect(lines.count == 1)
        #expect(!lines[0].contains("DOE^JANE") && !lines[0].contains("12345") && !lines[0].contains("19700101"))
        #expect(lines[0].contains("\"stage\":\"ingest\""))
    }

    @Test func theSharedLevelChangesEveryLogger() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let control = LogLevelControl(.warning)
        let logger = Logger(label: "a") {
            JSONLinesLogHandler(label: $0, control: control, sink: LineSink(descriptor: fds[1]))
        }
        logger.info("hidden")
        control.level = .debug
        logger.debug("shown")
        close(fds[1])
        let text = String(
            decoding: FileHandle(fileDescriptor: fds[0], closeOnDealloc: true).readDataToEndOfFile(), as: UTF8.self)
        #expect(!text.contains("hidden") && text.contains("shown"))
    }
}

/// A SeriesInstanceUID holding ESC sequences and a newline is printed escaped (`status`, `convert`).
@Suite struct ControlCharacterTests {
    @Test func controlCharactersAreEscapedAndTheRestKept() {
        let hostile = "1.2.3\u{1B}[2J\u{1B}]0;owned\u{07}\nforged line\r\u{9B}é 東"
        let shown = hostile.escapingControlCharacters
        #expect(shown == "1.2.3\\u{1B}[2J\\u{1B}]0;owned\\u{7}\\u{A}forged line\\u{D}\\u{9B}é 東")
        #expect(!shown.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        #expect("1.2.840.10008".escapingControlCharacters == "1.2.840.10008")
    }
}
