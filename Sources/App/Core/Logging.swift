import Foundation
import Vapor

/// One JSON object per line: time, level, label, message, metadata (request-id included), source.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                    file: String, function: String, line: UInt) {
        var object: [String: String] = [
            "time": ISO8601DateFormatter().string(from: Date()),
            "level": level.rawValue,
            "label": label,
            "message": message.description,
            "source": source,
        ]
        for (key, value) in metadata.merging(extra ?? [:], uniquingKeysWith: { _, new in new }) {
            object[key] = "\(value)"
        }
        if let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) {
            FileHandle.standardError.write(data + Data("\n".utf8))
        }
    }
}

/// Echoes the request id (from `X-Request-Id`, or the one Vapor made) so a person can quote it in a bug report.
struct RequestIDMiddleware: AsyncMiddleware {
    func respond(to req: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        let response = try await next.respond(to: req)
        if let id = req.logger[metadataKey: "request-id"] {
            response.headers.replaceOrAdd(name: "X-Request-Id", value: "\(id)")
        }
        return response
    }
}

/// Sets up logging: Vapor's console format, or JSON lines with `INTERBA_LOG_FORMAT=json`.
public func bootstrapLogging(_ environment: inout Vapor.Environment) throws {
    if Vapor.Environment.get("INTERBA_LOG_FORMAT") == "json" {
        let level = Logger.Level(rawValue: Vapor.Environment.get("LOG_LEVEL") ?? "info") ?? .info
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level) }
    } else {
        try LoggingSystem.bootstrap(from: &environment)
    }
}
